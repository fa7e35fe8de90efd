"""The dashboard's read-only pages: thin routes that build a view model (``records.py``,
``venues.py``) and render it. Bad filter values answer 400 with the page saying why."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Header, Query, Request
from fastapi.responses import HTMLResponse
from sse_starlette.sse import EventSourceResponse
from starlette.responses import RedirectResponse, Response

from tradeexec.api.dashboard import records, venues
from tradeexec.api.dashboard.session import (
    check_csrf,
    end_session,
    safe_next,
    sign_in,
    start_session,
)
from tradeexec.api.dashboard.web import Viewer, error_page, page, templates
from tradeexec.api.feed import EVENT_TYPES, Feed
from tradeexec.api.routes import service_of
from tradeexec.domain import SignalSource
from tradeexec.service import TradingService
from tradeexec.signal_state import SignalStatus

__all__ = ["router"]

router = APIRouter(prefix="/ui", include_in_schema=False)
Text = Annotated[str | None, Query(max_length=64)]
_STATUSES = tuple(s.value for s in SignalStatus)
_SOURCES = tuple(s.value for s in SignalSource)


class BadFilter(ValueError):
    pass


def _account(service: TradingService, account: str | None) -> str | None:
    if not account:
        return None
    if account not in service.manager.names:
        raise BadFilter(f"no account named {account!r}")
    return account


def _choice(value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    if not value:
        return None
    if value not in allowed:
        raise BadFilter(f"unknown {what} {value!r}: one of {', '.join(allowed)}")
    return value


# ------------------------------------------------------------------------------ sign-in


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: Text = None) -> Response:
    return templates.TemplateResponse(request, "login.html", {"next": safe_next(next)})


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    token: Annotated[str, Form(max_length=512)] = "",
    next: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin.split("://", 1)[-1] != request.headers.get("host"):
        return await error_page(request, None, 403, "the sign-in came from another site")
    found = sign_in(request, token.strip())
    if found is None:
        return templates.TemplateResponse(
            request, "login.html", {"next": safe_next(next), "error": "unknown token"},
            status_code=401,
        )  # fmt: skip
    response = RedirectResponse(safe_next(next), status_code=303)
    start_session(request, response, found)
    return response


@router.post("/logout")
async def logout(request: Request, session: Viewer) -> Response:
    form = await request.form()
    csrf = form.get("csrf")
    refused = check_csrf(request, session, csrf if isinstance(csrf, str) else None)
    if refused:
        return await error_page(request, session, 403, refused)
    response = RedirectResponse("/ui/login", status_code=303)
    end_session(response)
    return response


# ----------------------------------------------------------------------------- signals


def _signal_filters(
    service: TradingService, account: str | None, status: str | None, source: str | None
) -> dict[str, Any]:
    return {
        "account": _account(service, account),
        "status": _choice(status, _STATUSES, "status"),
        "source": _choice(source, _SOURCES, "source"),
    }


@router.get("/signals", response_class=HTMLResponse)
async def signals(
    request: Request,
    session: Viewer,
    account: Text = None,
    status: Text = None,
    source: Text = None,
    cursor: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    service = service_of(request)
    try:
        filters = _signal_filters(service, account, status, source)
    except BadFilter as exc:
        return await error_page(request, session, 400, str(exc))
    rows = await records.signal_rows(service, **filters, before_id=cursor, limit=50)
    query = urlencode({k: v for k, v in filters.items() if v})
    return await page(
        request, session, "signals.html", rows=rows, filters=filters, query=query,
        live=cursor is None, next_cursor=rows[-1].id if len(rows) == 50 else None,
        account_names=service.manager.names, statuses=_STATUSES,
        sources=_SOURCES,
    )  # fmt: skip


@router.get("/signals/rows", response_class=HTMLResponse)
async def signal_rows(
    request: Request, session: Viewer, account: Text = None, status: Text = None,
    source: Text = None,
) -> Response:  # fmt: skip
    """The inbox's rows (htmx swaps them in when the event stream says a signal changed)."""
    service = service_of(request)
    try:
        filters = _signal_filters(service, account, status, source)
    except BadFilter as exc:
        return HTMLResponse(str(exc), status_code=400)
    rows = await records.signal_rows(service, **filters, limit=50)
    return templates.TemplateResponse(request, "_signal_rows.html", {"rows": rows})


@router.get("/signals/{key}", response_class=HTMLResponse)
async def story(request: Request, session: Viewer, key: str) -> Response:
    if len(key) > 128 or (key.isascii() and key.isdigit() and int(key) > 2**63 - 1):
        return await error_page(request, session, 404, "no such signal")
    view = await records.story_view(service_of(request), key)
    if view is None:
        return await error_page(request, session, 404, f"no signal with id or key {key!r}")
    return await page(request, session, "story.html", story=view)


@router.get("/events")
async def events(
    request: Request,
    _: Viewer,
    types: Annotated[str | None, Query(max_length=200)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    """``GET /events`` for the signed-in browser (EventSource cannot send a bearer header):
    the same feed, the same event names."""
    wanted = frozenset(t.strip() for t in (types or "").split(",") if t.strip()) or None
    if wanted and wanted - set(EVENT_TYPES):
        return Response("unknown event type", status_code=400, media_type="text/plain")
    after = (
        int(last_event_id)
        if last_event_id and last_event_id.isascii() and last_event_id.isdigit()
        else None
    )
    feed: Feed = request.app.state.feed

    async def stream() -> AsyncIterator[dict[str, Any]]:
        async for item in feed.subscribe(after, wanted):
            yield {"id": str(item.seq), "event": item.type, "data": json.dumps(item.data)}

    return EventSourceResponse(stream(), ping=15)


# --------------------------------------------------------------------------- the venues


@router.get("/positions", response_class=HTMLResponse)
async def positions(request: Request, session: Viewer) -> Response:
    accounts = await venues.positions_view(service_of(request))
    return await page(request, session, "positions.html", accounts=accounts, held=accounts)


@router.get("/banner", response_class=HTMLResponse)
async def banner(request: Request, session: Viewer) -> Response:
    accounts = await venues.positions_view(service_of(request))
    return templates.TemplateResponse(
        request, "_banner.html",
        {"banner": venues.unprotected(accounts),
         "banner_errors": [(a.account, a.error) for a in accounts if a.error]},
    )  # fmt: skip


@router.get("/orders", response_class=HTMLResponse)
async def orders(
    request: Request, session: Viewer, account: Text = None, symbol: Text = None,
    status: Text = None,
) -> Response:  # fmt: skip
    service = service_of(request)
    try:
        name = _account(service, account)
    except BadFilter as exc:
        return await error_page(request, session, 400, str(exc))
    found = await records.order_rows(service, account=name, symbol=symbol, status=status)
    fills = await records.fill_rows(service, account=name, symbol=symbol)
    return await page(
        request, session, "orders.html", orders=found, fills=fills,
        filters={"account": name or "", "symbol": symbol or "", "status": status or ""},
        account_names=service.manager.names,
    )  # fmt: skip


@router.get("/pnl", response_class=HTMLResponse)
async def pnl(
    request: Request,
    session: Viewer,
    account: Text = None,
    days: Annotated[int, Query(ge=1, le=366)] = 14,
) -> Response:
    service = service_of(request)
    try:
        name = _account(service, account)
    except BadFilter as exc:
        return await error_page(request, session, 400, str(exc))
    view = await records.pnl_view(service, account=name, days=days)
    return await page(
        request, session, "pnl.html", pnl=view, account=name or "",
        account_names=service.manager.names,
    )  # fmt: skip


@router.get("/health", response_class=HTMLResponse)
async def health(request: Request, session: Viewer) -> Response:
    view = await venues.health_view(service_of(request))
    return await page(request, session, "health.html", health=view)
