"""The accounts page and the kill switch, in the REST API's tiers (``POST /halt``):

- ``pause_entries``: REDUCING, no new exposure (exits pass, resting orders stay);
- ``halt``: HALTED, only cancels and operator closes pass;
- ``close_only``: HALTED and every open order cancelled;
- ``flatten``: HALTED, orders cancelled, positions closed at market;
- ``resume``: ACTIVE again.

Each for one account or for all, and each behind a confirmation: the button leads to a page
saying what will happen, where the operator types the account's name (or ``all``). The
POST needs the admin scope, the session's CSRF token and that typed confirmation; it then
redirects (303) to the accounts page, which shows the states and what the kill switch did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import RedirectResponse, Response

from tradeexec.api.dashboard import venues
from tradeexec.api.dashboard.session import Session, check_csrf
from tradeexec.api.dashboard.web import Viewer, error_page, page
from tradeexec.api.routes import service_of
from tradeexec.service import TradingService

__all__ = ["ACTIONS", "router"]

router = APIRouter(prefix="/ui", include_in_schema=False)


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    effect: str
    danger: bool = True


ACTIONS = {
    a.name: a
    for a in (
        Action("pause_entries", "Pause entries",
               "REDUCING: no new exposure; exits and reducing orders still pass, resting "
               "stops and targets stay.", danger=False),
        Action("halt", "Halt", "HALTED: nothing new is sent; only cancels and operator "
               "closes pass. Resting orders stay."),
        Action("close_only", "Close only", "HALTED, and every open order is cancelled "
               "(stops and targets too): positions stay open, unprotected."),
        Action("flatten", "Flatten", "HALTED, every open order cancelled, and every position "
               "closed at market (reduce-only)."),
        Action("resume", "Resume", "ACTIVE: trading allowed again.", danger=False),
    )
}  # fmt: skip


def _target(service: TradingService, account: str | None) -> str | None:
    """The account named, ``all``, or None when it is neither."""
    if account == "all" or (account and account in service.manager.names):
        return account
    return None


@router.get("/accounts", response_class=HTMLResponse)
async def accounts(request: Request, session: Viewer, done: Annotated[
        str | None, Query(max_length=64)] = None) -> Response:  # fmt: skip
    rows = await venues.accounts_view(service_of(request))
    action = ACTIONS.get(done or "")
    return await page(
        request, session, "accounts.html", rows=rows, actions=list(ACTIONS.values()),
        done=action.label if action else None,
    )  # fmt: skip


@router.get("/accounts/confirm", response_class=HTMLResponse)
async def confirm(
    request: Request,
    session: Viewer,
    action: Annotated[str, Query(max_length=32)],
    account: Annotated[str, Query(max_length=64)] = "all",
) -> Response:
    refused = _refusal(request, session, action, account)
    if refused is not None:
        return await error_page(request, session, *refused)
    return await page(
        request, session, "confirm.html", action=ACTIONS[action], account=account, error=None
    )


def _refusal(
    request: Request, session: Session, action: str, account: str
) -> tuple[int, str] | None:
    if not session.is_admin:
        return 403, f"token {session.token.name!r} lacks the admin scope the kill switch needs"
    if action not in ACTIONS:
        return 400, f"unknown action {action!r}: one of {', '.join(ACTIONS)}"
    if _target(service_of(request), account) is None:
        return 400, f"no account named {account!r} (or 'all')"
    return None


@router.post("/accounts/kill", response_class=HTMLResponse)
async def kill(request: Request, session: Viewer) -> Response:
    form = await request.form()
    fields = {k: v if isinstance(v, str) else "" for k, v in form.items()}
    action, account = fields.get("action", ""), fields.get("account", "")
    refused = _refusal(request, session, action, account)
    if refused is None and (why := check_csrf(request, session, fields.get("csrf"))):
        refused = (403, why)
    if refused is not None:
        return await error_page(request, session, *refused)
    if fields.get("confirm", "").strip() != account:
        return await page(
            request, session, "confirm.html", status_code=400, action=ACTIONS[action],
            account=account, error=f"type {account!r} exactly to confirm",
        )  # fmt: skip
    service = service_of(request)
    target = None if account == "all" else account
    reason = (fields.get("reason") or "").strip()[:200] or f"{action} (dashboard)"
    reason = f"{reason} — by {session.token.name}"
    if action == "resume":
        await service.resume(target, reason=reason)
    else:  # a kill-switch tier: the service's one mapping
        await service.kill_switch(action, target, reason=reason)
    return RedirectResponse(f"/ui/accounts?done={action}", status_code=303)
