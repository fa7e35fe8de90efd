"""The durable store: signals, risk decisions, orders, fills, positions, events, trading state.

Everything is written before the next step acts on it (DESIGN.md, "Write before you act"), so a
restart can tell what was intended, sent, acknowledged and filled. SQLite by default, any
SQLAlchemy database by URL::

    from tradeexec.store import Store

    store = Store.from_url("sqlite:///./.tradeexec/tradeexec.db")  # migrates to the latest
    signal_id, created = store.record_signal(idempotency_key=..., ...)

Async code uses the typed front, `AsyncStore(store)` (`front`): the same methods as
coroutines, run in order on the store's one writer thread (`worker`), write batches as one
transaction each, durable (fsync'd) or relaxed (`db` says what a relaxed commit can lose).

Modules: `models` (tables), one module per kind of record (`signals`, `orders`, `fills`,
`events`, `trading_state`, `paper_state`, `leases`), `repository` (`Store`: all of them),
`front` + `worker` (the async front and its thread), `records` (what `Store` returns), `db`
(engines, sessions, migrations, durability).
"""

from tradeexec.store.db import DEFAULT_URL, create_engine_for, session_factory, upgrade
from tradeexec.store.front import AsyncStore
from tradeexec.store.records import (
    DecisionRecord,
    EventRecord,
    FillRecord,
    OrderRecord,
    OrderTimeline,
    OrderTransitionRecord,
    PositionSnapshotRecord,
    SignalRecord,
    SignalTimeline,
)
from tradeexec.store.repository import (
    IN_FLIGHT_STATUSES,
    DuplicateClientOrderId,
    RecordNotFound,
    Store,
)

__all__ = [
    "DEFAULT_URL",
    "IN_FLIGHT_STATUSES",
    "AsyncStore",
    "DecisionRecord",
    "DuplicateClientOrderId",
    "EventRecord",
    "FillRecord",
    "OrderRecord",
    "OrderTimeline",
    "OrderTransitionRecord",
    "PositionSnapshotRecord",
    "RecordNotFound",
    "SignalRecord",
    "SignalTimeline",
    "Store",
    "create_engine_for",
    "session_factory",
    "upgrade",
]
