"""Who is looking at the dashboard: an API token exchanged for a session cookie.

The sign-in form takes a token (the same tokens and scopes as the REST API: ``read`` to
look, ``admin`` for the kill switch) and answers with a cookie that is HttpOnly,
SameSite=Strict and Path=/ (Secure behind HTTPS). The cookie is not the token: it is
``v1.<token name>.<expiry>.<signature>``, signed with a key derived from the token's own
secret, so

- every replica and every restart accepts it without shared session state;
- removing or rotating the token ends its sessions at once;
- nothing in the browser can be replayed as a bearer token against the API.

State-changing requests carry a CSRF token (a hidden ``csrf`` field, or the
``X-CSRF-Token`` header htmx sends), an HMAC of the session cookie under the same key, and
must not come from another origin (``Origin``, when the browser sends it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request
from starlette.responses import Response

from tradeexec.api.auth import find_by_secret, settings_of
from tradeexec.api.settings import Token

__all__ = [
    "COOKIE",
    "Session",
    "check_csrf",
    "current_session",
    "end_session",
    "safe_next",
    "sign_in",
    "start_session",
]

COOKIE = "tradeexec_session"
LIFETIME_S = 12 * 3600
_KEY_LABEL = b"tradeexec dashboard session v1\x00"


@dataclass(frozen=True)
class Session:
    token: Token
    cookie: str
    expires: int

    @property
    def csrf(self) -> str:
        return _mac(self.token, "csrf." + self.cookie)

    @property
    def is_admin(self) -> bool:
        return self.token.allows("admin")


def _key(token: Token) -> bytes:
    return hashlib.sha256(_KEY_LABEL + token.secret.encode("utf-8", "surrogatepass")).digest()


def _mac(token: Token, message: str) -> str:
    digest = hmac.new(_key(token), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def sign_in(request: Request, secret: str) -> Token | None:
    """The token whose secret this is, if it may at least read (constant-time lookup)."""
    token = find_by_secret(settings_of(request).tokens, secret, lambda t: t.secret)
    return token if token is not None and token.allows("read") else None


def start_session(request: Request, response: Response, token: Token) -> None:
    expires = int(time.time()) + LIFETIME_S
    body = f"v1.{_b64(token.name)}.{expires}"
    response.set_cookie(
        COOKIE,
        f"{body}.{_mac(token, body)}",
        max_age=LIFETIME_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def end_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


def current_session(request: Request) -> Session | None:
    """The signed-in session, or None (no cookie, a bad signature, expired, token gone)."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or len(cookie) > 512:
        return None
    parts = cookie.split(".")
    if len(parts) != 4 or parts[0] != "v1" or not (parts[2].isascii() and parts[2].isdigit()):
        return None
    try:
        name = _unb64(parts[1])
    except (ValueError, UnicodeDecodeError):
        return None
    token = next((t for t in settings_of(request).tokens if t.name == name), None)
    if token is None or not token.allows("read"):
        return None
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_mac(token, body), parts[3]):
        return None
    expires = int(parts[2])
    if expires < time.time():
        return None
    return Session(token, cookie, expires)


def check_csrf(request: Request, session: Session, submitted: str | None) -> str | None:
    """Why a state-changing request is refused (None: it may go ahead)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        return "the request came from another site"
    sent = submitted or request.headers.get("x-csrf-token") or ""
    if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        return "the form's CSRF token is missing or wrong: reload the page and try again"
    return None


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if not target or not target.startswith("/ui/") or "//" in target or "\\" in target:
        return "/ui/signals"
    return target
