"""What the store hands back: frozen, detached values, never live ORM objects.

A live ORM object could lazy-load on another thread after its session is gone; these records
are plain data, safe to pass to `asyncio.to_thread` callers, log, or serialise. Money is
`Decimal`, timestamps are timezone-aware UTC `datetime`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalRecord:
    id: int
    idempotency_key: str
    account: str
    symbol: str
    source: str
    payload: dict[str, Any]
    confidence: Decimal | None
    status: str
    created_at: datetime
    status_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionRecord:
    id: int
    signal_id: int
    approved: bool
    reason_code: str | None
    detail: str
    sizing: dict[str, Any] | None
    created_at: datetime
    plan: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRecord:
    id: int
    signal_id: int | None
    account: str
    symbol: str
    client_order_id: str
    exchange_order_id: str | None
    role: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    reduce_only: bool
    status: str
    filled_quantity: Decimal
    average_price: Decimal | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTransitionRecord:
    """One row of an order's state history; `from_status` is None for the first."""

    id: int
    order_id: int
    from_status: str | None
    to_status: str
    event: str
    at: datetime
    detail: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FillRecord:
    id: int
    order_id: int | None
    account: str
    symbol: str
    exchange_trade_id: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal | None
    fee_currency: str | None
    realized_pnl: Decimal | None
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionSnapshotRecord:
    id: int
    account: str
    symbol: str
    quantity: Decimal  # signed: negative is short
    entry_price: Decimal | None
    mark_price: Decimal | None
    unrealized_pnl: Decimal | None
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    id: int
    at: datetime
    account: str | None
    kind: str
    signal_id: int | None
    order_id: int | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTimeline:
    """An order with its state history (in recorded order) and fills (by time)."""

    order: OrderRecord
    history: tuple[OrderTransitionRecord, ...]
    fills: tuple[FillRecord, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalTimeline:
    """Everything recorded about one signal: read top to bottom to see what happened.

    `events` holds the events tagged with the signal or with any of its orders, in the order
    they were appended.
    """

    signal: SignalRecord
    decisions: tuple[DecisionRecord, ...]
    orders: tuple[OrderTimeline, ...]
    events: tuple[EventRecord, ...]
