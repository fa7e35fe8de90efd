"""Binance SIGNED-endpoint authentication, as fapi/sapi check it.

- The API key travels in the ``X-MBX-APIKEY`` header: missing or malformed -> -2014, unknown
  -> -2015 (both HTTP 401).
- ``signature`` is the hex HMAC-SHA256, keyed with the secret, of the *total params*: the raw
  query string concatenated with the raw request body, exactly as sent (still URL-encoded),
  without the ``signature`` parameter itself. Missing -> -1102, wrong -> -1022.
- ``timestamp`` (ms) is mandatory. It is refused with -1021 if it is more than 1000 ms ahead of
  the server clock or older than ``recvWindow`` (default 5000, at most 60000).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

from tradeexec.sim import binance_errors as err

API_KEY_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")
_ALPHABET = string.ascii_letters + string.digits
DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
MAX_AHEAD_MS = 1000


def random_token(length: int = 64) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass(frozen=True, slots=True)
class Credential:
    api_key: str
    secret: str
    account_id: str


def _strip_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` without its ``signature=`` component, and that signature (if any)."""
    if not raw:
        return "", None
    kept: list[str] = []
    signature: str | None = None
    for part in raw.split("&"):
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


class KeyStore:
    """API keys and secrets of the simulated accounts."""

    def __init__(self) -> None:
        self._by_key: dict[str, Credential] = {}

    def add(self, account_id: str) -> Credential:
        cred = Credential(random_token(64), random_token(64), account_id)
        self._by_key[cred.api_key] = cred
        return cred

    def clear(self) -> None:
        self._by_key.clear()

    def account_for(self, api_key: str | None) -> str | None:
        """The account a key belongs to, without checking anything else (for fault routing)."""
        cred = self._by_key.get(api_key or "")
        return cred.account_id if cred else None

    def check_key(self, api_key: str | None) -> Credential:
        """API-key-only endpoints (``USER_STREAM``/``MARKET_DATA``) and step one of SIGNED."""
        if not api_key or not API_KEY_RE.match(api_key):
            raise err.API_KEY_FORMAT.error()
        cred = self._by_key.get(api_key)
        if cred is None:
            raise err.REJECTED_API_KEY.error()
        return cred

    def verify(
        self,
        api_key: str | None,
        raw_query: str,
        raw_body: str,
        params: dict[str, str],
        now_ms: int,
    ) -> Credential:
        """Authenticate a SIGNED request; return its credential or raise the Binance error."""
        cred = self.check_key(api_key)
        query, sig_q = _strip_signature(raw_query)
        body, sig_b = _strip_signature(raw_body)
        signature = sig_q if sig_q is not None else sig_b
        if "timestamp" not in params or not params["timestamp"].isdigit():
            raise err.mandatory("timestamp")
        if not signature:
            raise err.mandatory("signature")
        timestamp = int(params["timestamp"])
        recv_raw = params.get("recvWindow", str(DEFAULT_RECV_WINDOW))
        if not recv_raw.isdigit():
            raise err.illegal_chars("recvWindow", "^[0-9]{1,20}$")
        recv_window = int(recv_raw)
        if recv_window > MAX_RECV_WINDOW or recv_window <= 0:
            raise err.invalid_param("recvWindow")
        if timestamp >= now_ms + MAX_AHEAD_MS:
            raise err.AHEAD_OF_SERVER.error()
        if now_ms - timestamp > recv_window:
            raise err.OUTSIDE_RECV_WINDOW.error()
        expected = hmac.new(
            cred.secret.encode(), (query + body).encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise err.BAD_SIGNATURE.error()
        return cred
