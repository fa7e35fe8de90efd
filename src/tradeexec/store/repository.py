"""`Store`: every read and write of the durable store, and the only package that holds SQL.

`Store` is one object built from one module per kind of record: `signals` (signals and
risk decisions), `orders` (orders and their state history), `fills` (fills and position
snapshots), `events` (events and a signal's timeline), `trading_state` (ACTIVE / REDUCING /
HALTED per account), `leases` (which replica executes for an account), on the plumbing of
`base` (engines, transactions, argument checks).
See `base` for how writes and reads are done.
"""

from __future__ import annotations

from tradeexec.store.base import (
    DEFAULT_ORDER_STATUS,
    DEFAULT_SIGNAL_STATUS,
    DEFAULT_TRADING_STATE,
    IN_FLIGHT_STATUSES,
    DuplicateClientOrderId,
    RecordNotFound,
    _record,
)
from tradeexec.store.events import EventStore
from tradeexec.store.fills import FillStore
from tradeexec.store.leases import LeaseStore
from tradeexec.store.orders import OrderStore
from tradeexec.store.signals import SignalStore
from tradeexec.store.trading_state import TradingStateStore

__all__ = [
    "DEFAULT_ORDER_STATUS",
    "DEFAULT_SIGNAL_STATUS",
    "DEFAULT_TRADING_STATE",
    "IN_FLIGHT_STATUSES",
    "DuplicateClientOrderId",
    "RecordNotFound",
    "Store",
    "_record",
]


class Store(SignalStore, OrderStore, FillStore, EventStore, TradingStateStore, LeaseStore):
    """The durable store. Build one with `Store.from_url(url)` or `Store(engine)`.

    Each public method is one transaction on its own (or joins `batch()`), so a `Store` can
    be shared by threads; async callers use its typed front, `front.AsyncStore(store)`, which
    runs the same methods on the store's one writer thread (`Store.thread`)."""
