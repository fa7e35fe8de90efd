"""Read-only queries for the service's surfaces (REST lists, the SSE feed, the webhook's
out-of-order check, readiness). The SQL stays in ``store/``; like `Store`, every function is
synchronous (async callers use ``AsyncStore.read``) and returns frozen records or plain data.

They run on the `Store`'s own sessions, so an in-memory SQLite store is serialised the same
way and PostgreSQL works unchanged.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text

from tradeexec.store.models import (
    EventRow,
    FillRow,
    OrderRow,
    OrderStateHistoryRow,
    RiskDecisionRow,
    SignalRow,
)
from tradeexec.store.records import (
    DecisionRecord,
    EventRecord,
    FillRecord,
    OrderRecord,
    OrderTransitionRecord,
    SignalRecord,
)
from tradeexec.store.repository import Store, _record

__all__ = [
    "Changes",
    "Cursor",
    "changes_after",
    "latest_cursor",
    "latest_target_alert",
    "list_signals",
    "signals_by_ids",
    "store_writable",
]


def list_signals(
    store: Store,
    *,
    account: str | None = None,
    status: str | None = None,
    source: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[SignalRecord]:
    """Signals newest first, filtered; ``before_id`` is the cursor (the last id of the
    previous page). ``since`` / ``until`` bound the time the signal was recorded."""
    stmt = select(SignalRow).order_by(SignalRow.id.desc()).limit(limit)
    if account is not None:
        stmt = stmt.where(SignalRow.account == account)
    if status is not None:
        stmt = stmt.where(SignalRow.status == status)
    if source is not None:
        stmt = stmt.where(SignalRow.source == source)
    if since is not None:
        stmt = stmt.where(SignalRow.created_at >= since)
    if until is not None:
        stmt = stmt.where(SignalRow.created_at < until)
    if before_id is not None:
        stmt = stmt.where(SignalRow.id < before_id)
    with store._reading() as session:
        return [_record(SignalRecord, row) for row in session.scalars(stmt)]


def signals_by_ids(store: Store, ids: Collection[int]) -> list[SignalRecord]:
    if not ids:
        return []
    stmt = select(SignalRow).where(SignalRow.id.in_(list(ids))).order_by(SignalRow.id)
    with store._reading() as session:
        return [_record(SignalRecord, row) for row in session.scalars(stmt)]


def latest_target_alert(
    store: Store, *, webhook_source: str, symbol: str, scan: int = 200
) -> datetime | None:
    """The alert time (``created_at`` of the signal) of the newest target-position alert
    recorded for this webhook source and symbol, among the last ``scan`` such signals."""
    raw_source = SignalRow.payload["raw"]["webhook_source"].as_string()
    target = SignalRow.payload["target_position"].as_string()
    stmt = (
        select(SignalRow.payload["created_at"].as_string())
        .where(
            SignalRow.source == "tradingview",
            SignalRow.symbol == symbol,
            raw_source == webhook_source,
            target.is_not(None),
        )
        .order_by(SignalRow.id.desc())
        .limit(scan)
    )
    with store._querying() as connection:
        found = [datetime.fromisoformat(v) for v in connection.scalars(stmt) if v]
    return max(found, default=None)


def store_writable(store: Store) -> None:
    """Take the write lock and let it go (raises when the store cannot be written)."""
    with store._writing() as connection:
        connection.execute(text("SELECT 1"))


# ------------------------------------------------------------------------- the change feed


@dataclass(frozen=True)
class Cursor:
    """The newest row seen per table."""

    signal: int = 0
    decision: int = 0
    history: int = 0
    fill: int = 0
    event: int = 0


@dataclass(frozen=True)
class Changes:
    cursor: Cursor
    signals: Sequence[SignalRecord]
    decisions: Sequence[DecisionRecord]
    # each order transition with the order as it is now
    orders: Sequence[tuple[OrderTransitionRecord, OrderRecord]]
    fills: Sequence[FillRecord]
    events: Sequence[EventRecord]


def latest_cursor(store: Store) -> Cursor:
    with store._querying() as connection:
        values = [
            int(connection.execute(select(func.coalesce(func.max(model.id), 0))).scalar() or 0)
            for model in (SignalRow, RiskDecisionRow, OrderStateHistoryRow, FillRow, EventRow)
        ]
    return Cursor(*values)


def changes_after(store: Store, cursor: Cursor, limit: int = 500) -> Changes:
    """Every row added after ``cursor`` (up to ``limit`` per table), oldest first."""

    def newer(model: Any, after: int) -> Any:
        return select(model).where(model.id > after).order_by(model.id).limit(limit)

    with store._reading() as session:
        signals = [
            _record(SignalRecord, r) for r in session.scalars(newer(SignalRow, cursor.signal))
        ]
        decisions = [
            _record(DecisionRecord, r)
            for r in session.scalars(newer(RiskDecisionRow, cursor.decision))
        ]
        history = list(session.scalars(newer(OrderStateHistoryRow, cursor.history)))
        order_ids = {h.order_id for h in history}
        orders = {
            o.id: _record(OrderRecord, o)
            for o in session.scalars(select(OrderRow).where(OrderRow.id.in_(order_ids)))
        }
        fills = [_record(FillRecord, r) for r in session.scalars(newer(FillRow, cursor.fill))]
        events = [_record(EventRecord, r) for r in session.scalars(newer(EventRow, cursor.event))]
    transitions = [(_record(OrderTransitionRecord, h), orders[h.order_id]) for h in history]
    return Changes(
        cursor=Cursor(
            signal=signals[-1].id if signals else cursor.signal,
            decision=decisions[-1].id if decisions else cursor.decision,
            history=transitions[-1][0].id if transitions else cursor.history,
            fill=fills[-1].id if fills else cursor.fill,
            event=events[-1].id if events else cursor.event,
        ),
        signals=signals,
        decisions=decisions,
        orders=transitions,
        fills=fills,
        events=events,
    )
