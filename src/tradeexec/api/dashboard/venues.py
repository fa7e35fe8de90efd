"""View models of what the venues report now: positions with their protection, open
orders, accounts with their trading state, health.

Protection is judged as the reconciler judges it (``reconcile._stop_cover``: the stops
resting on the venue on the closing side, unfilled part) and as the
``tradeexec_unprotected_positions`` gauge counts it (``TradingService.unprotected_positions``):
a position whose resting stops cover less than its size is under-protected, none at all is
unprotected. The target's cover is shown beside it, for information.

Every venue read has a deadline, and one account failing is shown for that account only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from tradeexec import errors
from tradeexec.api.dashboard.records import num, when
from tradeexec.domain import Order, OrderSide, OrderType, Position
from tradeexec.execution.reconcile import _stop_cover as stop_cover
from tradeexec.service import TradingService

__all__ = [
    "AccountPositions",
    "AccountRow",
    "HealthView",
    "PositionRow",
    "accounts_view",
    "health_view",
    "positions_view",
    "unprotected",
]

T = TypeVar("T")
VENUE_DEADLINE_S = 8.0
_TARGETS = (OrderType.TAKE_PROFIT_MARKET, OrderType.TAKE_PROFIT_LIMIT)


async def _venue(read: Awaitable[T]) -> T:
    try:
        return await asyncio.wait_for(read, VENUE_DEADLINE_S)
    except TimeoutError:
        raise errors.RequestTimeout(f"the venue did not answer in {VENUE_DEADLINE_S:g} s") from None


def _failure(exc: BaseException) -> str:
    if isinstance(exc, errors.TradeExecError):
        return f"{exc.code}: {exc}"[:300]
    raise exc


# ---------------------------------------------------------------------------- positions


@dataclass(frozen=True)
class PositionRow:
    account: str
    symbol: str
    side: str
    quantity: str
    entry: str
    mark: str
    unrealized_pnl: str
    stops: str  # trigger prices of the resting stops
    stop_cover: str
    targets: str
    target_cover: str
    protection: str  # "protected", "under-protected", "unprotected"

    @property
    def at_risk(self) -> bool:
        return self.protection != "protected"


@dataclass(frozen=True)
class AccountPositions:
    account: str
    positions: tuple[PositionRow, ...]
    open_orders: tuple[dict[str, str], ...]
    error: str | None = None


def _closing(orders: list[Order], position: Position, types: tuple[OrderType, ...]) -> list[Order]:
    side = OrderSide.SELL if position.quantity > 0 else OrderSide.BUY
    return [o for o in orders if o.symbol == position.symbol and o.side is side and o.type in types]


def position_row(account: str, position: Position, resting: list[Order]) -> PositionRow:
    size = abs(position.quantity)
    covered = stop_cover(resting, position)
    stops = _closing(resting, position, (OrderType.STOP_MARKET, OrderType.STOP_LIMIT))
    targets = _closing(resting, position, _TARGETS)
    target_cover = sum((o.quantity - o.filled_quantity for o in targets), Decimal(0))
    protection = (
        "protected" if covered >= size else "unprotected" if covered == 0 else "under-protected"
    )
    return PositionRow(
        account=account,
        symbol=position.symbol,
        side="long" if position.quantity > 0 else "short",
        quantity=num(size),
        entry=num(position.entry_price),
        mark=num(position.mark_price),
        unrealized_pnl=num(position.unrealized_pnl),
        stops=", ".join(num(o.trigger_price) for o in stops) or "none",
        stop_cover=f"{num(covered)} of {num(size)}",
        targets=", ".join(num(o.trigger_price or o.price) for o in targets) or "none",
        target_cover=f"{num(target_cover)} of {num(size)}",
        protection=protection,
    )


def _order(o: Order) -> dict[str, str]:
    return {
        "id": o.id, "client_order_id": o.client_order_id or "—", "symbol": o.symbol,
        "side": o.side.value, "type": o.type.value, "quantity": num(o.quantity),
        "filled": num(o.filled_quantity), "price": num(o.trigger_price or o.price),
        "reduce_only": "yes" if o.reduce_only else "no", "status": o.status.value,
    }  # fmt: skip


async def _account_positions(service: TradingService, name: str) -> AccountPositions:
    try:
        positions = [p for p in await _venue(service.positions(name)) if p.quantity]
        resting = await _venue(service.orders(name))
    except Exception as exc:
        return AccountPositions(name, (), (), _failure(exc))
    return AccountPositions(
        name,
        tuple(position_row(name, p, resting) for p in positions),
        tuple(_order(o) for o in resting),
    )


async def positions_view(service: TradingService) -> list[AccountPositions]:
    """Every account's positions with protection and open orders (concurrently)."""
    names = service.manager.names
    return list(await asyncio.gather(*(_account_positions(service, n) for n in names)))


def unprotected(accounts: list[AccountPositions]) -> list[PositionRow]:
    """The banner's rows: every position not fully covered by resting stops."""
    return [p for a in accounts for p in a.positions if p.at_risk]


# ----------------------------------------------------------------------------- accounts


@dataclass(frozen=True)
class AccountRow:
    name: str
    type: str
    default: bool
    state: str
    reason: str
    last_kill_switch: str  # what the last kill switch did here, or ""


async def accounts_view(service: TradingService) -> list[AccountRow]:
    rows = []
    for account in await service.accounts():
        name = account["account"]
        last = await service.pipeline.db(
            service.store.events, None, name, kind="kill_switch", limit=1
        )
        summary = ""
        if last:
            data = last[-1].data
            done = "complete" if data.get("complete", True) else "NOT complete"
            summary = f"{when(last[-1].at)}: {done}"
            if data.get("failures"):
                summary += f" ({len(data['failures'])} failure(s): retried while HALTED)"
        rows.append(
            AccountRow(
                name=name, type=str(account["type"]), default=bool(account["default"]),
                state=str(account["state"]).upper(), reason=account.get("reason") or "",
                last_kill_switch=summary,
            )
        )  # fmt: skip
    return rows


# ------------------------------------------------------------------------------- health


@dataclass(frozen=True)
class HealthView:
    ready: bool
    store: str
    venues: tuple[dict[str, str], ...]
    reconcile: tuple[dict[str, str], ...]
    reconcile_interval: str
    lease: str


def _start_result(result: Any) -> str:
    if result is None:
        return "nothing to reconcile at start-up"
    if isinstance(result, errors.TradeExecError):
        return f"failed: {result.code}"
    report = result.to_dict() if hasattr(result, "to_dict") else {}
    parts = [f"{k}: {len(v) if isinstance(v, list) else v}" for k, v in report.items()
             if k != "account" and v]  # fmt: skip
    return ", ".join(parts) or "clean"


async def health_view(service: TradingService) -> HealthView:
    ready = await service.ready()
    store = ready["store"]
    venues = tuple(
        {
            "account": name,
            "venue": str(h.get("venue") or "—"),
            "status": "ok" if h.get("ok") else "NOT ok",
            "latency": f"{h['latency_ms']:.0f} ms" if h.get("latency_ms") is not None else "—",
            "credentials": str(h.get("credentials") or "—"),
            "error": f"{h.get('code') or ''} {h.get('error') or ''}".strip()[:300],
        }
        for name, h in ready["accounts"].items()
    )
    reconcile = []
    for name in service.manager.names:
        failed = await service.pipeline.db(
            service.store.events, None, name, kind="reconcile_failed", limit=1
        )
        reconcile.append(
            {
                "account": name,
                "start": _start_result(service.last_start.get(name)),
                "last_failure": when(failed[-1].at) if failed else "none",
            }
        )
    interval = service.reconcile_interval_s
    return HealthView(
        ready=bool(ready["ready"]),
        store="writable" if store["ok"] else f"NOT writable: {store['error']}",
        venues=venues,
        reconcile=tuple(reconcile),
        reconcile_interval=f"every {interval:g} s" if interval > 0 else "off (start-up only)",
        lease="not shown yet: TradingService exposes no lease holders",
    )
