"""The REST API: thin routes over `TradingService` (each takes the service and the caller's
token from ``Depends`` and holds no trading rule). Scopes: ``read`` for every GET, ``trade``
for signals, cancels and closes, ``admin`` for halt and resume."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from tradeexec import errors
from tradeexec.api.auth import require
from tradeexec.api.problems import Problem, documented
from tradeexec.api.schemas import HaltRequest, ResumeRequest, SignalRequest, jsonable
from tradeexec.api.settings import Token
from tradeexec.domain import SignalSource
from tradeexec.execution.report import ExecutionReport
from tradeexec.service import TradingService
from tradeexec.signal_state import SignalStatus
from tradeexec.telemetry import CONTENT_TYPE, Telemetry

__all__ = ["router"]

T = TypeVar("T")

router = APIRouter()
_MAX_ID = 2**63 - 1  # the store's integer ids
Read = Annotated[Token, Depends(require("read"))]
Trade = Annotated[Token, Depends(require("trade"))]
Admin = Annotated[Token, Depends(require("admin"))]

_AUTH_TEXT: dict[int | str, str] = {
    401: "No or unknown bearer token",
    403: "The token lacks the scope",
    413: "Body too large",
    422: "Invalid request",
}
_VENUE_TEXT: dict[int | str, str] = {
    **_AUTH_TEXT,
    404: "Unknown account",
    502: "The venue refused (e.g. our credentials)",
    503: "The venue is unreachable",
    504: "The venue did not answer in time",
}
_AUTH = documented(_AUTH_TEXT)
_VENUE = documented(_VENUE_TEXT)


def service_of(request: Request) -> TradingService:
    service = request.app.state.service
    assert isinstance(service, TradingService)
    return service


def telemetry_of(request: Request) -> Telemetry:
    telemetry = request.app.state.telemetry
    assert isinstance(telemetry, Telemetry)
    return telemetry


Service = Annotated[TradingService, Depends(service_of)]
AccountQuery = Annotated[str | None, Query(max_length=64, description="Default: every account")]


def _known(service: TradingService, account: str | None) -> str | None:
    if account is not None and account not in service.manager.names:
        raise Problem(404, "unknown_account", f"no account named {account!r}")
    return account


async def _per_account(
    service: TradingService, account: str | None, read: Callable[[str], Awaitable[T]]
) -> dict[str, Any]:
    """``read`` for one account or every account (concurrently); each failure is reported
    for its account, so one venue down does not hide the others."""
    names = [account] if account else service.manager.names
    results = await asyncio.gather(*(read(n) for n in names), return_exceptions=True)
    out: dict[str, Any] = {"accounts": {}, "errors": {}}
    for name, result in zip(names, results, strict=True):
        if isinstance(result, errors.TradeExecError):
            out["errors"][name] = {"code": result.code, "detail": str(result)}
        elif isinstance(result, BaseException):
            raise result
        else:
            out["accounts"][name] = jsonable(result)
    if account and out["errors"]:  # one account asked for: its failure is the answer
        failed = results[0]
        assert isinstance(failed, errors.TradeExecError)
        raise failed
    return out


# ------------------------------------------------------------------------------ probes


@router.get("/health", tags=["probes"], summary="Alive (no token needed)")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    tags=["probes"],
    summary="Store writable, every venue reachable with accepted credentials",
    responses={
        **_AUTH,
        503: {"description": "Not ready (the body says what)", "content": {"application/json": {}}},
    },
)
async def ready(service: Service, _: Read) -> JSONResponse:
    result = await service.ready()
    return JSONResponse(result, status_code=200 if result["ready"] else 503)


@router.get(
    "/metrics",
    tags=["probes"],
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses=_AUTH,
)
async def metrics(request: Request, _: Read) -> Response:
    return Response(telemetry_of(request).render(), media_type=CONTENT_TYPE)


# ----------------------------------------------------------------------------- signals


@router.post(
    "/signals",
    tags=["signals"],
    summary="Submit a signal (agents); answers with what happened",
    responses=documented(
        {
            **_AUTH_TEXT,
            202: "wait=false: recorded, executing in the background",
            404: "Unknown account",
            409: "The idempotency key was used for a different signal",
        }
    ),
)
async def submit_signal(
    request: Request,
    service: Service,
    _: Trade,
    body: Annotated[SignalRequest, Body()],
    wait: Annotated[bool, Query(description="false: answer once recorded")] = True,
) -> JSONResponse:
    started = time.perf_counter()
    telemetry = telemetry_of(request)
    _known(service, body.account)
    data = body.model_dump(exclude_none=True)
    if wait:
        return _report_response(await service.submit(data, SignalSource.AGENT), telemetry, started)
    outcome = await service.accept_request(data, SignalSource.AGENT)
    if isinstance(outcome, ExecutionReport):
        return _report_response(outcome, telemetry, started)
    if outcome.answer is not None:
        return _report_response(outcome.answer, telemetry, started)
    telemetry.acknowledged(time.perf_counter() - started)
    key = data.get("idempotency_key") or data.get("client_order_id")
    return JSONResponse(
        {"status": "accepted", "signal_id": outcome.signal_id, "idempotency_key": key},
        status_code=202,
    )


def _report_response(report: ExecutionReport, telemetry: Telemetry, started: float) -> JSONResponse:
    telemetry.acknowledged(time.perf_counter() - started)
    telemetry.signal("agent", report.status)
    if report.reason == "idempotency_conflict":
        raise Problem(409, "idempotency_conflict", report.error or "", signal_id=report.signal_id)
    if report.reason == errors.InvalidSignal.code:  # bad input: a 4xx (it is recorded)
        raise Problem(
            422, report.reason, report.error or "invalid signal", signal_id=report.signal_id
        )
    status = 202 if report.reason == "owner_executes" else 200  # another replica executes it
    return JSONResponse(report.to_dict(), status_code=status)


@router.get("/signals", tags=["signals"], summary="Recorded signals, newest first", responses=_AUTH)
async def list_signals(
    service: Service,
    _: Read,
    account: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[SignalStatus | None, Query()] = None,
    source: Annotated[SignalSource | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="Recorded at or after")] = None,
    until: Annotated[datetime | None, Query(description="Recorded before")] = None,
    cursor: Annotated[
        int | None, Query(ge=1, le=_MAX_ID, description="next_cursor of the page before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    for moment in (since, until):
        if moment is not None and moment.utcoffset() is None:
            raise Problem(422, "invalid_request", "give times with a timezone (e.g. Z)")
    found = await service.list_signals(
        account=account, status=status.value if status else None,
        source=source.value if source else None, since=since, until=until,
        before_id=cursor, limit=limit,
    )  # fmt: skip
    return {
        "signals": jsonable(found),
        "next_cursor": found[-1].id if len(found) == limit else None,
    }


@router.get(
    "/signals/{signal_id}",
    tags=["signals"],
    summary="One signal's whole story: decision, orders with history, fills, events",
    responses=documented({**_AUTH_TEXT, 404: "No such signal"}),
)
async def signal_story(service: Service, _: Read, signal_id: str) -> dict[str, Any]:
    too_big = signal_id.isascii() and signal_id.isdigit() and int(signal_id) > _MAX_ID
    timeline = None if too_big else await service.signal_timeline(signal_id)
    if timeline is None:
        raise Problem(404, "not_found", f"no signal with id or key {signal_id!r}")
    out: dict[str, Any] = jsonable(timeline)
    return out


# ------------------------------------------------------------------------- the venues


@router.get(
    "/accounts", tags=["accounts"], summary="Accounts and their trading state", responses=_AUTH
)
async def accounts(service: Service, _: Read) -> dict[str, Any]:
    return {"accounts": await service.accounts()}


@router.get(
    "/cluster", tags=["accounts"], summary="Replicas and which holds which account", responses=_AUTH
)
async def cluster(request: Request, service: Service, _: Read) -> dict[str, Any]:
    """This replica (null: one process on its own store, it owns every account), the replicas
    holding a running lease, and each account's lease: holder, epoch, age (since it was taken)
    and seconds left (a renewal every third of the lease is the holder's heartbeat)."""
    replica = request.app.state.replica
    now = await asyncio.to_thread(service.store.database_time)
    leases = await asyncio.to_thread(service.store.leases)
    rows = [
        {
            "account": lease.account,
            "holder": lease.holder,
            "epoch": lease.epoch,
            "running": lease.expires_at > now,
            "age_s": round((now - lease.acquired_at).total_seconds(), 3),
            "since_renewal_s": round((now - lease.renewed_at).total_seconds(), 3),
            "expires_in_s": round((lease.expires_at - now).total_seconds(), 3),
        }
        for lease in leases
    ]
    return {
        "replica_id": None if replica is None else replica.replica_id,
        "held_here": [] if replica is None else sorted(replica.leases.held),
        "replicas": sorted({row["holder"] for row in rows if row["running"]}),
        "leases": rows,
    }


@router.get("/orders", tags=["accounts"], summary="Open orders on the venues", responses=_VENUE)
async def open_orders(
    service: Service,
    _: Read,
    account: AccountQuery = None,
    symbol: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    _known(service, account)
    return await _per_account(service, account, lambda n: service.orders(n, symbol))


@router.get(
    "/positions", tags=["accounts"], summary="Open positions on the venues", responses=_VENUE
)
async def positions(service: Service, _: Read, account: AccountQuery = None) -> dict[str, Any]:
    _known(service, account)

    async def read(name: str) -> list[Any]:
        return [p for p in await service.positions(name) if p.quantity]

    return await _per_account(service, account, read)


@router.get("/balances", tags=["accounts"], summary="Balances per currency", responses=_VENUE)
async def balances(service: Service, _: Read, account: AccountQuery = None) -> dict[str, Any]:
    _known(service, account)
    return await _per_account(service, account, service.balances)


@router.post(
    "/orders/{order_id}/cancel",
    tags=["trading"],
    summary="Cancel an open order (allowed in every trading state)",
    responses=documented({**_VENUE_TEXT, 404: "Unknown account, or no such open order"}),
)
async def cancel_order(
    service: Service,
    _: Trade,
    order_id: str,
    symbol: Annotated[str, Query(max_length=64)],
    account: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    _known(service, account)
    order = await service.cancel(symbol, order_id=order_id, account=account)
    if order is None:
        raise Problem(404, "order_not_found", f"no open order {order_id!r} on {symbol}")
    return {"order": jsonable(order)}


@router.post(
    "/positions/{symbol}/close",
    tags=["trading"],
    summary="Close one position at market, reduce-only (allowed even when HALTED)",
    responses=_VENUE,
)
async def close_position(
    service: Service, _: Trade, symbol: str, account: AccountQuery = None
) -> dict[str, Any]:
    _known(service, account)
    report = await service.close_position(symbol, account=account)
    out: dict[str, Any] = report.to_dict()
    return out


# --------------------------------------------------------------------- kill switch


@router.post(
    "/halt",
    tags=["operations"],
    summary="The kill switch, in tiers: pause_entries, halt, close_only, flatten",
    responses=documented({**_AUTH_TEXT, 404: "Unknown account"}),
)
async def halt(service: Service, _: Admin, body: HaltRequest | None = None) -> dict[str, Any]:
    body = body or HaltRequest()
    _known(service, body.account)
    result = await service.kill_switch(body.tier, body.account, reason=body.reason)
    done = all(r.get("complete", True) for r in result.values())
    return {"tier": body.tier, "complete": done, "accounts": jsonable(result)}


@router.post(
    "/resume",
    tags=["operations"],
    summary="Allow trading again (ACTIVE)",
    responses=documented({**_AUTH_TEXT, 404: "Unknown account"}),
)
async def resume(service: Service, _: Admin, body: ResumeRequest | None = None) -> dict[str, Any]:
    body = body or ResumeRequest()
    _known(service, body.account)
    await service.resume(body.account, reason=body.reason)
    names = [body.account] if body.account else service.manager.names
    return {"accounts": [(await service.state(n)).to_dict() for n in names]}
