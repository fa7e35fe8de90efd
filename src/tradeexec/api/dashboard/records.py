"""View models of what the store recorded: the signals inbox, a signal's story, orders,
fills and PnL per day. Built in Python from the service's reads; the templates only print
them (every value here is already text, with its label, so no page needs colour to be read).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tradeexec.service import TradingService
from tradeexec.signal_state import SignalStatus
from tradeexec.store.records import FillRecord, OrderRecord, SignalRecord, SignalTimeline

__all__ = [
    "FillRow",
    "OrderRow",
    "PnlView",
    "SignalRow",
    "StoryView",
    "fill_rows",
    "num",
    "order_rows",
    "pnl_view",
    "signal_rows",
    "story_view",
    "when",
]

_GOOD = frozenset({"filled", "accepted", "noop", "flattened"})
_BAD = frozenset({"rejected", "failed", "expired"})
_SOURCES = {"tradingview": "TradingView", "agent": "agent", "mcp": "MCP", "cli": "CLI"}


def num(value: Decimal | float | int | str | None) -> str:
    """A number as plain text (no exponent, no trailing zeros); a dash for none."""
    if value is None or value == "":
        return "—"
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    text = format(exact.normalize(), "f")
    return "0" if text in ("-0", "") else text


def when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def tone(status: str) -> str:
    """A CSS class for a status; the status word is always printed beside it."""
    return "good" if status in _GOOD else "bad" if status in _BAD else "busy"


# ----------------------------------------------------------------------------- signals


@dataclass(frozen=True)
class SignalRow:
    id: int
    at: str
    source: str
    account: str
    symbol: str
    intent: str
    confidence: str
    status: str
    reason: str
    tone: str
    live: bool  # still running: the row will change


def _intent(payload: dict[str, Any]) -> str:
    if payload.get("target_position") is not None:
        return f"target {num(payload['target_position'])}"
    side = str(payload.get("side") or "?")
    size = payload.get("quantity") or payload.get("notional")
    unit = " notional" if payload.get("quantity") is None and payload.get("notional") else ""
    words = [side, num(size) + unit if size is not None else ""]
    if payload.get("stop_loss") is not None:
        words.append(f"SL {num(payload['stop_loss'])}")
    if payload.get("take_profit") is not None:
        words.append(f"TP {num(payload['take_profit'])}")
    return " ".join(w for w in words if w)


def signal_row(record: SignalRecord) -> SignalRow:
    status = record.status
    return SignalRow(
        id=record.id,
        at=when(record.created_at),
        source=_SOURCES.get(record.source, record.source),
        account=record.account,
        symbol=record.symbol,
        intent=_intent(record.payload),
        confidence=num(record.confidence),
        status=status,
        reason="" if record.status_reason in (None, status) else str(record.status_reason),
        tone=tone(status),
        live=not SignalStatus(status).is_terminal,
    )


async def signal_rows(service: TradingService, **filters: Any) -> list[SignalRow]:
    return [signal_row(r) for r in await service.list_signals(**filters)]


# ------------------------------------------------------------------------------- story


@dataclass(frozen=True)
class Step:
    """One line of a timeline: when, what, and the detail under it."""

    at: str
    title: str
    detail: str = ""
    tone: str = "busy"
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderStory:
    role: str
    summary: str
    client_order_id: str
    exchange_order_id: str
    status: str
    tone: str
    history: tuple[Step, ...]
    fills: tuple[FillRow, ...]


@dataclass(frozen=True)
class StoryView:
    signal: SignalRow
    key: str
    decisions: tuple[Step, ...]
    orders: tuple[OrderStory, ...]
    events: tuple[Step, ...]
    payload: str  # what came in (secrets were removed before it was recorded)
    parsed: str  # what tradeexec read from it
    realized_pnl: str
    fees: str


def _decision(d: Any) -> Step:
    lines = [f"{k}: {v}" for k, v in (d.sizing or {}).items() if not isinstance(v, dict | list)]
    plan = d.plan or {}
    lines += [f"plan {k}: {v}" for k, v in plan.items() if not isinstance(v, dict | list)]
    verdict = "approved" if d.approved else f"refused: {d.reason_code or 'no reason code'}"
    return Step(when(d.created_at), f"decision — {verdict}", d.detail, tone="good" if d.approved
                else "bad", lines=tuple(lines))  # fmt: skip


def _order_story(timeline: Any) -> OrderStory:
    o: OrderRecord = timeline.order
    price = o.trigger_price or o.price
    summary = f"{o.side} {num(o.quantity)} {o.order_type}" + (f" @ {num(price)}" if price else "")
    summary += f", filled {num(o.filled_quantity)}"
    if o.average_price:
        summary += f" at {num(o.average_price)}"
    history = tuple(
        Step(when(h.at), f"{h.from_status or '—'} → {h.to_status}", h.event + (
            f": {h.detail}" if h.detail else ""), tone=tone(h.to_status))
        for h in timeline.history
    )  # fmt: skip
    return OrderStory(
        role=o.role,
        summary=summary,
        client_order_id=o.client_order_id,
        exchange_order_id=o.exchange_order_id or "—",
        status=o.status,
        tone=tone(o.status),
        history=history,
        fills=tuple(fill_row(f) for f in timeline.fills),
    )


def _event(e: Any) -> Step:
    data = {k: v for k, v in e.data.items() if v not in (None, [], {})}
    lines = tuple(f"{k}: {json.dumps(v, default=str)[:300]}" for k, v in data.items())
    return Step(when(e.at), e.kind.replace("_", " "), tone="bad" if "fail" in e.kind else "busy",
                lines=lines)  # fmt: skip


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


async def story_view(service: TradingService, key: str) -> StoryView | None:
    timeline: SignalTimeline | None = await service.signal_timeline(key)
    if timeline is None:
        return None
    fills = [f for o in timeline.orders for f in o.fills]
    payload = timeline.signal.payload
    return StoryView(
        signal=signal_row(timeline.signal),
        key=timeline.signal.idempotency_key,
        decisions=tuple(_decision(d) for d in timeline.decisions),
        orders=tuple(_order_story(o) for o in timeline.orders),
        events=tuple(_event(e) for e in timeline.events),
        payload=_json(payload.get("raw") or payload),
        parsed=_json({k: v for k, v in payload.items() if k != "raw" and v is not None}),
        realized_pnl=num(sum((f.realized_pnl or Decimal(0) for f in fills), Decimal(0))),
        fees=num(sum((f.fee or Decimal(0) for f in fills), Decimal(0))),
    )


# ------------------------------------------------------------------------ orders, fills


@dataclass(frozen=True)
class OrderRow:
    id: int
    signal_id: int | None
    at: str
    account: str
    symbol: str
    role: str
    side: str
    type: str
    quantity: str
    price: str
    filled: str
    average: str
    status: str
    tone: str
    client_order_id: str
    exchange_order_id: str


def order_row(o: OrderRecord) -> OrderRow:
    return OrderRow(
        id=o.id, signal_id=o.signal_id, at=when(o.updated_at), account=o.account,
        symbol=o.symbol, role=o.role, side=o.side, type=o.order_type, quantity=num(o.quantity),
        price=num(o.trigger_price or o.price), filled=num(o.filled_quantity),
        average=num(o.average_price), status=o.status, tone=tone(o.status),
        client_order_id=o.client_order_id, exchange_order_id=o.exchange_order_id or "—",
    )  # fmt: skip


async def order_rows(
    service: TradingService,
    *,
    account: str | None,
    symbol: str | None,
    status: str | None,
    limit: int = 200,
) -> list[OrderRow]:
    """Recorded orders, newest first (the store's list, filtered by symbol here)."""
    statuses = [status] if status else None
    found = await service.pipeline.db(service.store.list_orders, account, statuses, limit)
    wanted = symbol.upper() if symbol else None
    return [order_row(o) for o in found if wanted is None or wanted in o.symbol.upper()]


@dataclass(frozen=True)
class FillRow:
    at: str
    account: str
    symbol: str
    side: str
    quantity: str
    price: str
    fee: str
    realized_pnl: str
    trade_id: str
    order_id: int | None


def fill_row(f: FillRecord) -> FillRow:
    fee = num(f.fee) + (f" {f.fee_currency}" if f.fee is not None and f.fee_currency else "")
    return FillRow(
        at=when(f.at), account=f.account, symbol=f.symbol, side=f.side, quantity=num(f.quantity),
        price=num(f.price), fee=fee, realized_pnl=num(f.realized_pnl),
        trade_id=f.exchange_trade_id, order_id=f.order_id,
    )  # fmt: skip


_WINDOW = 500  # the change feed's page size


async def recent_fills(service: TradingService, since: datetime | None, most: int) -> list[Any]:
    """Fills newest first (at most ``most``, none older than ``since``), read through the
    change feed's query in windows of fill ids going back from the newest."""
    now = (await service.changes_after(None)).cursor
    out: list[FillRecord] = []
    upper = now.fill
    while upper > 0 and len(out) < most:
        lower = max(0, upper - _WINDOW)
        changes = await service.changes_after(replace(now, fill=lower))
        window = [f for f in changes.fills if f.id <= upper]
        out.extend(sorted(window, key=lambda f: f.id, reverse=True))
        upper = lower
        if since is not None and window and min(f.at for f in window) < since:
            break
    return [f for f in out if since is None or f.at >= since][:most]


async def fill_rows(
    service: TradingService, *, account: str | None, symbol: str | None, limit: int = 200
) -> list[FillRow]:
    wanted = symbol.upper() if symbol else None
    found = await recent_fills(service, None, 2000)
    return [
        fill_row(f)
        for f in found
        if (account is None or f.account == account)
        and (wanted is None or wanted in f.symbol.upper())
    ][:limit]


# --------------------------------------------------------------------------------- PnL


@dataclass(frozen=True)
class PnlDay:
    day: str
    account: str
    realized: str
    fees: str
    net: str
    fills: int


@dataclass(frozen=True)
class PnlView:
    days: int
    rows: tuple[PnlDay, ...]
    totals: dict[str, str]
    chart: str  # JSON for the chart: {"days": [...], "series": {account: [net...]}}
    accounts: tuple[str, ...] = field(default=())


async def pnl_view(service: TradingService, *, account: str | None, days: int) -> PnlView:
    """Realised PnL, fees and their difference per UTC day and account (fees assumed in the
    PnL currency, as the risk check's daily loss figure assumes)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    fills = await recent_fills(service, start, 100_000)
    names = [account] if account else list(service.manager.names)
    sums: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for f in fills:
        if f.account not in names:
            continue
        key = (f.at.astimezone(UTC).strftime("%Y-%m-%d"), f.account)
        sums[key][0] += f.realized_pnl or Decimal(0)
        sums[key][1] += f.fee or Decimal(0)
        counts[key] += 1
    labels = [(start + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)]
    rows = tuple(
        PnlDay(day, name, num(s[0]), num(s[1]), num(s[0] - s[1]), counts[(day, name)])
        for day in reversed(labels)
        for name in names
        if (s := sums.get((day, name))) is not None
    )
    series = {
        name: [float(sums[(d, name)][0] - sums[(d, name)][1]) if (d, name) in sums else 0.0
               for d in labels]
        for name in names
    }  # fmt: skip
    totals = {
        name: num(sum((s[0] - s[1] for (d, n), s in sums.items() if n == name), Decimal(0)))
        for name in names
    }
    chart = json.dumps({"days": labels, "series": series}).replace("<", "\\u003c")
    return PnlView(days, rows, totals, chart, tuple(names))
