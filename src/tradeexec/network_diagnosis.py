"""Why a venue could not be reached, in words an operator can act on.

ccxt reports every transport failure as ``ExchangeNotAvailable: binanceusdm GET <url>``,
which says where but not why. The cause is in the exception chain (aiohttp's connector
error, the OSError under it); `why_unreachable` names it: connection refused, DNS lookup
failed, timed out, TLS failed, connection dropped, network unreachable.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl

__all__ = ["why_unreachable"]

_URL = re.compile(r"\b(?:GET|POST|PUT|DELETE|PATCH)\s+(https?://[^/\s?]+)")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 12:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _where(chain: list[BaseException]) -> str | None:
    for exc in chain:
        host, port = getattr(exc, "host", None), getattr(exc, "port", None)
        if isinstance(host, str) and host:
            return f"{host}:{port}" if port else host
    for exc in chain:
        found = _URL.search(str(exc))
        if found:
            return found.group(1)
    return None


def _reason(exc: BaseException) -> str | None:
    """The failure one exception of the chain stands for, if it is a recognisable one."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, socket.gaierror) or "ClientConnectorDNSError" in names:
        return "DNS lookup failed"
    if isinstance(exc, ssl.SSLError) or names & {
        "ClientConnectorCertificateError",
        "ClientConnectorSSLError",
        "ClientSSLError",
        "ServerFingerprintMismatch",
    }:
        detail = getattr(exc, "reason", None) or getattr(exc, "verify_message", None)
        return f"TLS failed: {detail}" if detail else "TLS failed"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError) or names & {"RequestTimeout", "ServerTimeoutError"}:
        return "timed out"
    if isinstance(exc, ConnectionResetError) or "ServerDisconnectedError" in names:
        return "connection dropped by the server"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "network unreachable"
    return None


def why_unreachable(exc: BaseException) -> str | None:
    """``"connection refused: 127.0.0.1:1"``, ``"DNS lookup failed: api.example:443"``...;
    None when the chain holds no transport failure."""
    chain = _chain(exc)
    # the deepest recognisable cause is the most precise (an OSError under aiohttp's error)
    for cause in reversed(chain):
        reason = _reason(cause)
        if reason is not None:
            where = _where(chain)
            return f"{reason}: {where}" if where else reason
    return None
