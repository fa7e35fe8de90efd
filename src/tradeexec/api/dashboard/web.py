"""What every dashboard route shares: the templates, the signed-in viewer as a dependency
(no session: a redirect to the sign-in page, or 401 for htmx and the event stream), and
rendering a page with the unprotected-positions banner at its top."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from tradeexec.api.dashboard.session import Session, current_session
from tradeexec.api.dashboard.venues import AccountPositions, positions_view, unprotected
from tradeexec.api.routes import service_of
from tradeexec.service import TradingService

__all__ = [
    "NAV",
    "SignInNeeded",
    "Viewer",
    "error_page",
    "page",
    "redirect_to_sign_in",
    "templates",
]

HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=HERE / "templates")  # autoescaping on (Starlette)
NAV = (
    ("signals", "Signals"),
    ("positions", "Positions"),
    ("orders", "Orders & fills"),
    ("pnl", "PnL"),
    ("accounts", "Accounts"),
    ("health", "Health"),
)


class SignInNeeded(Exception):
    """No valid session: pages go to the sign-in form, fragments and streams get 401."""


def viewer(request: Request) -> Session:
    session = current_session(request)
    if session is None:
        raise SignInNeeded
    return session


Viewer = Annotated[Session, Depends(viewer)]


def redirect_to_sign_in(request: Request, _: Exception) -> Response:
    if request.headers.get("hx-request") or request.url.path == "/ui/events":
        return Response(
            "sign in again", status_code=401, headers={"HX-Redirect": "/ui/login"},
            media_type="text/plain",
        )  # fmt: skip
    target = request.url.path
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(f"/ui/login?{_next(target)}", status_code=303)


def _next(target: str) -> str:
    return urlencode({"next": target})


async def page(
    request: Request,
    session: Session,
    template: str,
    *,
    status_code: int = 200,
    accounts: list[AccountPositions] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A full page: the viewer, the CSRF token for forms, the navigation, the banner."""
    service: TradingService = service_of(request)
    if accounts is None:
        accounts = await positions_view(service)
    return templates.TemplateResponse(
        request,
        template,
        {
            "viewer": session.token.name,
            "is_admin": session.is_admin,
            "csrf": session.csrf,
            "nav": NAV,
            "banner": unprotected(accounts),
            "banner_errors": [(a.account, a.error) for a in accounts if a.error],
            **context,
        },
        status_code=status_code,
    )


async def error_page(
    request: Request, session: Session | None, status_code: int, message: str
) -> HTMLResponse:
    if session is None:
        return templates.TemplateResponse(
            request, "login.html", {"error": message, "next": "/ui/signals"},
            status_code=status_code,
        )  # fmt: skip
    return await page(request, session, "error.html", status_code=status_code, message=message)
