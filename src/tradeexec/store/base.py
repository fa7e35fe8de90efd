"""The store's plumbing: engines and transactions, the tables' handles, the argument checks,
and the exceptions. One module per kind of record builds on it (signals, orders, fills,
events, trading_state); `repository.Store` is all of them together.

Each public method is one transaction on its own session, so a `Store` can be shared by
threads; async code uses the typed front (`front.AsyncStore`), which runs them on the store's
one writer thread (`worker.StoreThread`). Methods return frozen records (`records.py`), never
live ORM objects. A write commits durably (synced to the disk) unless it runs inside
`batch(durable=False)`; see `db.py` for what a relaxed commit can lose.

The store records; it does not judge. Order status transitions are validated by
`order_state.py` before `update_order` is called, risk rules live in `risk.py`. What the store
does enforce is what must hold even across crashes and concurrent deliveries: one signal per
idempotency key, one order per (account, client order id), one fill per (account, exchange
trade id), exact money, aware UTC timestamps.

The writes of the order path and the reads the risk gate makes per signal are SQLAlchemy Core
statements on the tables' `Table` objects, built once at import and executed on a plain
`Connection`: no unit of work, no identity map, and no statement construction or cache-key
generation per call (SQLAlchemy caches the compiled form of each). They go through the same
column types (`DecimalString`, `UTCDateTime`, JSON) as the ORM, so money stays exact and
times aware UTC. Reads that build records for operators still use the ORM.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import fields
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Self, TypeVar

from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Executable

from tradeexec.numeric import decimal_text
from tradeexec.store.db import DEFAULT_URL, DURABLE, RELAXED, create_engine_for, session_factory
from tradeexec.store.db import upgrade as upgrade_schema
from tradeexec.store.models import (
    AccountStateRow,
    Base,
    EventRow,
    FillRow,
    OrderRow,
    OrderStateHistoryRow,
    PositionSnapshotRow,
    RiskDecisionRow,
    SignalRow,
    utcnow,
)
from tradeexec.store.worker import StoreThread

DEFAULT_SIGNAL_STATUS = "received"
DEFAULT_ORDER_STATUS = "pending_submit"
DEFAULT_TRADING_STATE = "ACTIVE"
# Non-terminal values of `domain.OrderStatus`: orders that may still change on the exchange.
IN_FLIGHT_STATUSES: frozenset[str] = frozenset(
    {"pending_submit", "submitted", "partially_filled", "cancel_pending", "unknown"}
)


class RecordNotFound(LookupError):
    """The signal or order asked for is not in the store."""


class DuplicateClientOrderId(ValueError):
    """An order with this client order id is already recorded for the account.

    `order_id` is the existing order's id: the intent was recorded before (a retry or a
    re-delivery), so look at that order instead of sending another.
    """

    def __init__(self, account: str, client_order_id: str, order_id: int) -> None:
        super().__init__(
            f"order with client id {client_order_id!r} already recorded for account "
            f"{account!r} (order {order_id})"
        )
        self.account = account
        self.client_order_id = client_order_id
        self.order_id = order_id


# -- statements built once (see the module docstring) -------------------------------------------
#
# Parameters are passed at execution. An INSERT or UPDATE without `.values()` takes its columns
# from the parameter names; the WHERE clause's parameters are named `b_*` so they never collide
# with a column. A new row's id comes from `inserted_primary_key`: the cursor's lastrowid on
# SQLite (what the ORM used; cheaper than reading a RETURNING row), RETURNING on PostgreSQL.


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


_SIGNALS = _table(SignalRow)
_DECISIONS = _table(RiskDecisionRow)
_ORDERS = _table(OrderRow)
_HISTORY = _table(OrderStateHistoryRow)
_FILLS = _table(FillRow)
_POSITIONS = _table(PositionSnapshotRow)
_EVENTS = _table(EventRow)
_ACCOUNT_STATE = _table(AccountStateRow)


def _insert(connection: Connection, statement: Executable, values: Mapping[str, Any]) -> int:
    """Execute a single-row INSERT; the new row's id."""
    key = connection.execute(statement, values).inserted_primary_key
    assert key is not None
    return int(key[0])


class StoreBase:
    """Engines and transactions; the kinds of record are in the sibling modules."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._read = session_factory(engine)
        self._write_engine = engine.execution_options(**DURABLE)
        self._relaxed_engine = engine.execution_options(**RELAXED)
        # A private in-memory SQLite database is one shared connection: one transaction at a time.
        self._serial: AbstractContextManager[Any] = (
            threading.RLock() if isinstance(engine.pool, StaticPool) else nullcontext()
        )
        self._batch = threading.local()
        self._thread: StoreThread | None = None
        self._thread_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str = DEFAULT_URL, *, migrate: bool = True) -> Self:
        """A store on `url` (SQLite file by default), its schema migrated to the latest."""
        engine = create_engine_for(url)
        if migrate:
            upgrade_schema(engine)
        return cls(engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def thread(self) -> StoreThread:
        """The store's one writer thread (started at first use): the async front's calls run
        there in the order they were made."""
        with self._thread_lock:
            if self._thread is None:
                self._thread = StoreThread(f"store-writer-{id(self):x}")
            return self._thread

    def close(self) -> None:
        """Stop the writer thread, close the pooled connections (the Store must not be used
        afterwards)."""
        with self._thread_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.stop()
        self._engine.dispose()

    @contextmanager
    def batch(self, *, durable: bool = True) -> Iterator[None]:
        """Run several write methods as ONE transaction (one commit, at most one disk sync).

        ``durable=False`` relaxes the commit (no disk sync; a power cut may lose it, a process
        crash does not): only for writes reconciliation can rebuild, never an order's intent
        before it is sent. A relaxed batch cannot hold a durable one.

        Inside the block every write method joins the batch's transaction; nothing is
        visible to other connections until the block ends, and an exception rolls back all
        of it. The batch belongs to the calling thread: call it from one synchronous
        function (e.g. one job of the writer thread). Nested batches join the outer one.
        The transaction begins with the block (on SQLite it takes the write lock then).

        A duplicate that a method answers without raising (`record_signal` of a key seen
        before, `record_fill` of a trade recorded before) undoes only its own insert, by a
        savepoint: the rest of the batch still commits. A write that raises (e.g.
        `DuplicateClientOrderId`, `RecordNotFound`) is meant to end the batch: let the
        exception leave the block, which rolls all of it back.
        """
        if self._batch_connection() is not None:
            if durable and not getattr(self._batch, "durable", True):
                raise RuntimeError("a durable batch cannot join a relaxed one")
            yield
            return
        engine = self._write_engine if durable else self._relaxed_engine
        with self._serial, engine.begin() as connection:
            self._batch.connection = connection
            self._batch.durable = durable
            try:
                yield
            finally:
                self._batch.connection = None
                self._batch.durable = True

    def _batch_connection(self) -> Connection | None:
        """The calling thread's open batch, if any."""
        current: Connection | None = getattr(self._batch, "connection", None)
        return current

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction (`BEGIN IMMEDIATE` on SQLite), or the open batch's."""
        current = self._batch_connection()
        if current is not None:  # inside batch(): join its transaction
            yield current
            return
        with self._serial, self._write_engine.begin() as connection:
            yield connection

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        """An ORM read: inside a batch on the batch's own transaction, so it sees what the
        batch wrote (and, grouped, what the batches before it wrote: `worker.run_group`)."""
        current = self._batch_connection()
        if current is not None:
            with Session(bind=current, expire_on_commit=False) as session:
                yield session
            return
        with self._serial, self._read() as session, session.begin():
            yield session

    @contextmanager
    def _querying(self) -> Iterator[Connection]:
        """One read transaction for Core statements, or the open batch's (see `_reading`)."""
        current = self._batch_connection()
        if current is not None:
            yield current
            return
        with self._serial, self._engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def _reading_committed(self) -> Iterator[Connection]:
        """A read on a connection of its own, outside any batch: what is committed (on
        PostgreSQL a failed statement aborts the batch's transaction until it ends)."""
        with self._serial, self._engine.connect() as connection, connection.begin():
            yield connection

    def _insert_once(
        self,
        statement: Executable,
        values: Mapping[str, Any],
        existing: Executable,
        key: Mapping[str, Any],
    ) -> tuple[int, bool]:
        """Insert a row a unique constraint may already hold: `(new id, True)`, or the id of
        the row already there (`existing` with `key` finds it) and False.

        Concurrent inserts of one key are decided by the constraint; the losers read the
        winner. Any other IntegrityError (a foreign key, a NOT NULL) is raised.
        """
        batch = self._batch_connection()
        try:
            if batch is None:
                with self._writing() as connection:
                    return _insert(connection, statement, values), True
            with batch.begin_nested():  # a duplicate undoes this insert, not the whole batch
                return _insert(batch, statement, values), True
        except IntegrityError:
            if batch is None:  # our transaction is over (rolled back): read what won
                with self._querying() as connection:
                    found = connection.execute(existing, key).scalar()
            else:  # the batch's own earlier writes count too
                found = batch.execute(existing, key).scalar()
            if found is None:
                raise
            return int(found), False


# -- queries shared by several methods ----------------------------------------------------------


def _decisions(session: Session, signal_id: int) -> Sequence[RiskDecisionRow]:
    return session.scalars(
        select(RiskDecisionRow)
        .where(RiskDecisionRow.signal_id == signal_id)
        .order_by(RiskDecisionRow.created_at, RiskDecisionRow.id)
    ).all()


def _orders_of_signal(session: Session, signal_id: int) -> Sequence[OrderRow]:
    return session.scalars(
        select(OrderRow).where(OrderRow.signal_id == signal_id).order_by(OrderRow.id)
    ).all()


def _history(session: Session, order_ids: Sequence[int]) -> Sequence[OrderStateHistoryRow]:
    if not order_ids:
        return []
    return session.scalars(
        select(OrderStateHistoryRow)
        .where(OrderStateHistoryRow.order_id.in_(order_ids))
        .order_by(OrderStateHistoryRow.id)  # the order the changes were made in
    ).all()


def _fills(session: Session, order_ids: Sequence[int]) -> Sequence[FillRow]:
    if not order_ids:
        return []
    return session.scalars(
        select(FillRow).where(FillRow.order_id.in_(order_ids)).order_by(FillRow.at, FillRow.id)
    ).all()


# -- argument checks and conversions ---------------------------------------------------------------


def _text(value: str) -> str:
    """A str, or the value of a str-valued Enum (`OrderStatus.FILLED` -> "filled")."""
    if isinstance(value, Enum):
        return str(value.value)
    return value


def _texts(values: Iterable[str]) -> list[str]:
    if isinstance(values, str):  # one status, not its characters
        return [values]
    return [_text(v) for v in values]


def _aware(value: datetime | None, name: str) -> datetime:
    if value is None:
        return utcnow()
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def _decimal(value: Decimal | int, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__} {value!r}")
    exact = Decimal(value)
    if not exact.is_finite():
        raise ValueError(f"{name} must be finite, got {exact}")
    return exact


def _decimal_or_none(value: Decimal | int | None, name: str) -> Decimal | None:
    return None if value is None else _decimal(value, name)


def _confidence(value: Decimal | float | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):  # a score, not money: its shortest repr is what was meant
        return _decimal(Decimal(repr(value)), "confidence")
    return _decimal(value, "confidence")


def _jsonable(value: Any) -> Any:
    """`value` as plain JSON: Decimal -> exact string, datetime/date -> ISO 8601, Enum -> value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(_jsonable(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    raise TypeError(f"cannot store {type(value).__name__} as JSON: {value!r}")


def _json_object(value: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    result: dict[str, Any] = _jsonable(value)
    return result


# -- rows to records ---------------------------------------------------------------------------


_R = TypeVar("_R")


def _record(cls: type[_R], row: object) -> _R:
    """Copy a row into its record type; each record field has a column of the same name."""
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})  # type: ignore[arg-type]
