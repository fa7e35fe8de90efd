"""The durable store: signals, risk decisions, orders, fills, positions, events, trading state.

Everything is written before the next step acts on it (DESIGN.md, "Write before you act"), so a
restart can tell what was intended, sent, acknowledged and filled. SQLite by default, any
SQLAlchemy database by URL::

    from tradeexec.store import Store

    store = Store.from_url("sqlite:///./.tradeexec/tradeexec.db")  # migrates to the latest
    signal_id, created = store.record_signal(idempotency_key=..., ...)

Modules: `models` (tables), `repository` (`Store`, all SQL), `records` (what `Store` returns),
`db` (engines, sessions, migrations).
"""

from tradeexec.store.db import DEFAULT_URL, create_engine_for, session_factory, upgrade
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
