"""Who may call: bearer tokens with scopes for the REST API, shared secrets and source
addresses for webhooks. Every secret comparison is constant-time and looks at every
candidate, so neither the answer's timing nor its content tells which part was wrong."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tradeexec.api.problems import Problem
from tradeexec.api.settings import ApiSettings, Network, Scope, Token

__all__ = ["client_ip", "find_by_secret", "ip_allowed", "require"]

_bearer = HTTPBearer(auto_error=False, description="A token from the config (or the banner)")
_S = TypeVar("_S", bound=object)


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def find_by_secret(candidates: Iterable[_S], secret: str, key: Callable[[_S], str]) -> _S | None:
    """The candidate whose secret is ``secret``; every one is compared, in constant time."""
    wanted = _digest(secret)
    found: _S | None = None
    for candidate in candidates:
        if hmac.compare_digest(_digest(key(candidate)), wanted) and found is None:
            found = candidate
    return found


def settings_of(request: Request) -> ApiSettings:
    settings = request.app.state.settings
    assert isinstance(settings, ApiSettings)
    return settings


def require(scope: Scope) -> Callable[..., Awaitable[Token]]:
    """A dependency: the caller's token, which must allow ``scope`` (401 / 403 otherwise)."""

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(_bearer),
    ) -> Token:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Problem(401, "unauthorized", "a bearer token is required", headers=challenge)
        token = find_by_secret(
            settings_of(request).tokens, credentials.credentials, lambda t: t.secret
        )
        if token is None:
            raise Problem(401, "unauthorized", "unknown token", headers=challenge)
        if not token.allows(scope):
            raise Problem(
                403,
                "forbidden",
                f"token {token.name!r} ({', '.join(sorted(token.scopes))}) "
                f"lacks the {scope!r} scope",
            )
        return token

    return dependency


def client_ip(request: Request, trusted: tuple[Network, ...]) -> str | None:
    """The caller's address: the peer, or - only when the peer is a trusted proxy - the
    nearest address in ``X-Forwarded-For`` that is not itself a trusted proxy."""
    peer = request.client.host if request.client else None
    if peer is None or not _within(peer, trusted):
        return peer
    forwarded = [
        part.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for part in header.split(",")
        if part.strip()
    ]
    for hop in reversed(forwarded):
        if not _within(hop, trusted):
            return hop
    return forwarded[0] if forwarded else peer


def ip_allowed(ip: str | None, allowed: tuple[Network, ...]) -> bool:
    return ip is not None and _within(ip, allowed)


def _within(ip: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)
