"""`Store`: every read and write of the durable store, and the only module that holds SQL.

Each public method is one transaction on its own session, so a `Store` can be shared by
threads (async callers use `asyncio.to_thread(store.method, ...)`). Methods return frozen
records (`records.py`), never live ORM objects.

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
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import fields
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Executable

from tradeexec.numeric import decimal_text
from tradeexec.store.db import DEFAULT_URL, WRITE_OPTIONS, create_engine_for, session_factory
from tradeexec.store.db import upgrade as upgrade_schema
from tradeexec.store.models import (
    ORDER_ROLES,
    TRADING_STATES,
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

_INSERT_SIGNAL = insert(_SIGNALS)
_SIGNAL_ID_BY_KEY = select(_SIGNALS.c.id).where(_SIGNALS.c.idempotency_key == bindparam("b_key"))
_UPDATE_SIGNAL = update(_SIGNALS).where(_SIGNALS.c.id == bindparam("b_id"))
_SIGNAL_EXISTS = select(_SIGNALS.c.id).where(_SIGNALS.c.id == bindparam("b_id"))
_INSERT_DECISION = insert(_DECISIONS)

_INSERT_ORDER = insert(_ORDERS)
# The current row under the write lock: FOR UPDATE on PostgreSQL; SQLite renders no clause, its
# write transactions (BEGIN IMMEDIATE) already hold the database's single write lock.
_ORDER_FOR_UPDATE = select(_ORDERS).where(_ORDERS.c.id == bindparam("b_id")).with_for_update()
_UPDATE_ORDER = update(_ORDERS).where(_ORDERS.c.id == bindparam("b_id"))
_INSERT_HISTORY = insert(_HISTORY)
_ORDER_ID_BY_CLIENT_ID = select(_ORDERS.c.id).where(
    _ORDERS.c.account == bindparam("b_account"),
    _ORDERS.c.client_order_id == bindparam("b_client_order_id"),
)
_COUNT_ORDERS = (
    select(func.count())
    .select_from(_ORDERS)
    .where(
        _ORDERS.c.account == bindparam("b_account"), _ORDERS.c.created_at >= bindparam("b_since")
    )
)
_COUNT_ORDERS_OF_ROLES = _COUNT_ORDERS.where(
    _ORDERS.c.role.in_(bindparam("b_roles", expanding=True))
)

_INSERT_FILL = insert(_FILLS)
_FILL_ID_BY_TRADE = select(_FILLS.c.id).where(
    _FILLS.c.account == bindparam("b_account"),
    _FILLS.c.exchange_trade_id == bindparam("b_trade_id"),
)
_PNL_AND_FEES_SINCE = select(_FILLS.c.realized_pnl, _FILLS.c.fee).where(
    _FILLS.c.account == bindparam("b_account"), _FILLS.c.at >= bindparam("b_since")
)
_INSERT_POSITION = insert(_POSITIONS)
_INSERT_EVENT = insert(_EVENTS)

_TRADING_STATE = select(_ACCOUNT_STATE.c.trading_state, _ACCOUNT_STATE.c.reason).where(
    _ACCOUNT_STATE.c.account == bindparam("b_account")
)
_UPDATE_TRADING_STATE = update(_ACCOUNT_STATE).where(
    _ACCOUNT_STATE.c.account == bindparam("b_account")
)
_INSERT_TRADING_STATE = insert(_ACCOUNT_STATE)


def _insert(connection: Connection, statement: Executable, values: Mapping[str, Any]) -> int:
    """Execute a single-row INSERT; the new row's id."""
    key = connection.execute(statement, values).inserted_primary_key
    assert key is not None
    return int(key[0])


class Store:
    """The durable store. Build one with `Store.from_url(url)` or `Store(engine)`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._read = session_factory(engine)
        self._write_engine = engine.execution_options(**WRITE_OPTIONS)
        # A private in-memory SQLite database is one shared connection: one transaction at a time.
        self._serial: AbstractContextManager[Any] = (
            threading.RLock() if isinstance(engine.pool, StaticPool) else nullcontext()
        )
        self._batch = threading.local()

    @classmethod
    def from_url(cls, url: str = DEFAULT_URL, *, migrate: bool = True) -> Store:
        """A store on `url` (SQLite file by default), its schema migrated to the latest."""
        engine = create_engine_for(url)
        if migrate:
            upgrade_schema(engine)
        return cls(engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        """Close the pooled connections (the Store must not be used afterwards)."""
        self._engine.dispose()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run several write methods as ONE transaction (one commit, one disk sync).

        Inside the block every write method joins the batch's transaction; nothing is
        visible to other connections until the block ends, and an exception rolls back all
        of it. The batch belongs to the calling thread: call it from one synchronous
        function (e.g. inside one ``asyncio.to_thread``). Nested batches join the outer one.
        The transaction begins with the block (on SQLite it takes the write lock then).

        A duplicate that a method answers without raising (`record_signal` of a key seen
        before, `record_fill` of a trade recorded before) undoes only its own insert, by a
        savepoint: the rest of the batch still commits. A write that raises (e.g.
        `DuplicateClientOrderId`, `RecordNotFound`) is meant to end the batch: let the
        exception leave the block, which rolls all of it back.
        """
        if self._batch_connection() is not None:
            yield
            return
        with self._serial, self._write_engine.begin() as connection:
            self._batch.connection = connection
            try:
                yield
            finally:
                self._batch.connection = None

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
        with self._serial, self._read() as session, session.begin():
            yield session

    @contextmanager
    def _querying(self) -> Iterator[Connection]:
        """One read transaction for Core statements."""
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

    # -- signals and decisions -----------------------------------------------------------

    def record_signal(
        self,
        *,
        idempotency_key: str,
        account: str,
        symbol: str,
        source: str,
        payload: Mapping[str, Any],
        confidence: Decimal | float | None = None,
        status: str = DEFAULT_SIGNAL_STATUS,
        created_at: datetime | None = None,
    ) -> tuple[int, bool]:
        """Record a signal once per idempotency key: `(signal_id, created)`.

        A key seen before returns the existing signal's id with `created=False`, also when
        concurrent deliveries race (the unique constraint decides, the losers read the winner).
        """
        values = {
            "idempotency_key": idempotency_key,
            "account": account,
            "symbol": symbol,
            "source": source,
            "payload": _json_object(payload),
            "confidence": _confidence(confidence),
            "status": _text(status),
            "created_at": _aware(created_at, "created_at"),
        }
        return self._insert_once(
            _INSERT_SIGNAL, values, _SIGNAL_ID_BY_KEY, {"b_key": idempotency_key}
        )

    def get_signal(self, signal_id: int) -> SignalRecord | None:
        with self._reading() as session:
            row = session.get(SignalRow, signal_id)
            return None if row is None else _record(SignalRecord, row)

    def get_signal_by_key(self, idempotency_key: str) -> SignalRecord | None:
        with self._reading() as session:
            row = session.scalar(
                select(SignalRow).where(SignalRow.idempotency_key == idempotency_key)
            )
            return None if row is None else _record(SignalRecord, row)

    def set_signal_status(
        self,
        signal_id: int,
        status: str,
        reason: str | None = None,
        *,
        expect: Collection[str] | None = None,
    ) -> bool:
        """Move a signal to ``status`` with its ``reason``.

        With ``expect`` (the statuses it may be in now; see `signal_state.predecessors`) the
        update is conditional, in the same statement: False when the signal was elsewhere
        (already ended by another path), so two writers can never both end one signal.
        """
        values = {"b_id": signal_id, "status": _text(status), "status_reason": reason}
        with self._writing() as connection:
            if expect is None:
                if connection.execute(_UPDATE_SIGNAL, values).rowcount == 0:
                    raise RecordNotFound(f"no signal {signal_id}")
                return True
            guarded = _UPDATE_SIGNAL.where(_SIGNALS.c.status.in_(_texts(expect)))
            if connection.execute(guarded, values).rowcount == 1:
                return True
            if connection.execute(_SIGNAL_EXISTS, {"b_id": signal_id}).first() is None:
                raise RecordNotFound(f"no signal {signal_id}")
            return False

    def set_signal_account(self, signal_id: int, account: str) -> None:
        """Move a signal to another account (a failover, before anything was sent)."""
        with self._writing() as connection:
            values = {"b_id": signal_id, "account": _text(account)}
            if connection.execute(_UPDATE_SIGNAL, values).rowcount == 0:
                raise RecordNotFound(f"no signal {signal_id}")

    def unfinished_signals(
        self, statuses: Collection[str], account: str | None = None, limit: int = 500
    ) -> list[SignalRecord]:
        """Signals in one of ``statuses`` (the non-terminal ones), oldest first."""
        query = select(SignalRow).where(SignalRow.status.in_(_texts(statuses)))
        if account is not None:
            query = query.where(SignalRow.account == account)
        with self._reading() as session:
            rows = session.scalars(query.order_by(SignalRow.id).limit(limit))
            return [_record(SignalRecord, r) for r in rows]

    def record_decision(
        self,
        signal_id: int,
        approved: bool,
        reason_code: str | None = None,
        detail: str = "",
        sizing: Mapping[str, Any] | None = None,
        *,
        at: datetime | None = None,
        plan: Mapping[str, Any] | None = None,
    ) -> int:
        """Record the risk verdict on a signal (with the reason code when refused); ``plan``
        is what an approved verdict asked for, kept so an interrupted signal can resume."""
        values = {
            "signal_id": signal_id,
            "approved": approved,
            "reason_code": None if reason_code is None else _text(reason_code),
            "detail": detail,
            "sizing": None if sizing is None else _json_object(sizing),
            "plan": None if plan is None else _json_object(plan),
            "created_at": _aware(at, "at"),
        }
        with self._writing() as connection:
            return _insert(connection, _INSERT_DECISION, values)

    def decisions_for_signal(self, signal_id: int) -> list[DecisionRecord]:
        with self._reading() as session:
            return [_record(DecisionRecord, r) for r in _decisions(session, signal_id)]

    # -- orders ----------------------------------------------------------------------------

    def record_order_intent(
        self,
        *,
        account: str,
        symbol: str,
        client_order_id: str,
        role: str,
        side: str,
        order_type: str,
        quantity: Decimal,
        signal_id: int | None = None,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        reduce_only: bool = False,
        status: str = DEFAULT_ORDER_STATUS,
        exchange_order_id: str | None = None,
        event: str = "intent",
        detail: str | None = None,
        at: datetime | None = None,
    ) -> int:
        """Record an order before it is sent; its first state-history row says so.

        Raises `DuplicateClientOrderId` (carrying the existing order id) if the account
        already has an order with this client order id.
        """
        role = _text(role)
        if role not in ORDER_ROLES:
            raise ValueError(f"unknown order role {role!r}; expected one of {ORDER_ROLES}")
        when = _aware(at, "at")
        values = {
            "signal_id": signal_id,
            "account": account,
            "symbol": symbol,
            "client_order_id": client_order_id,
            "exchange_order_id": exchange_order_id,
            "role": role,
            "side": _text(side),
            "order_type": _text(order_type),
            "quantity": _decimal(quantity, "quantity"),
            "price": _decimal_or_none(price, "price"),
            "trigger_price": _decimal_or_none(trigger_price, "trigger_price"),
            "reduce_only": reduce_only,
            "status": _text(status),
            "filled_quantity": Decimal(0),
            "average_price": None,
            "created_at": when,
            "updated_at": when,
        }
        first = {
            "from_status": None,
            "to_status": values["status"],
            "event": _text(event),
            "at": when,
            "detail": detail,
        }
        try:
            # No savepoint: a duplicate raises, and inside a batch that ends the batch.
            with self._writing() as connection:
                order_id = _insert(connection, _INSERT_ORDER, values)
                connection.execute(_INSERT_HISTORY, {"order_id": order_id, **first})
                return order_id
        except IntegrityError as exc:
            key = {"b_account": account, "b_client_order_id": client_order_id}
            batch = self._batch_connection()
            if batch is not None and batch.dialect.name == "sqlite":
                # SQLite undid only the failed INSERT, so the batch can still read (and it is
                # the only connection to an in-memory database); it sees its own rows too.
                existing = batch.execute(_ORDER_ID_BY_CLIENT_ID, key).scalar()
            else:  # PostgreSQL aborts the whole transaction: read what is committed
                with self._querying() as connection:
                    existing = connection.execute(_ORDER_ID_BY_CLIENT_ID, key).scalar()
            if existing is None:
                raise
            raise DuplicateClientOrderId(account, client_order_id, int(existing)) from exc

    def update_order(
        self,
        order_id: int,
        *,
        status: str | None = None,
        exchange_order_id: str | None = None,
        filled_quantity: Decimal | None = None,
        average_price: Decimal | None = None,
        event: str | None = None,
        detail: str | None = None,
        at: datetime | None = None,
    ) -> OrderRecord:
        """Apply what was learned about an order; `None` leaves a field unchanged.

        A status different from the recorded one appends a state-history row
        (`event` names the cause, default "update"). The transition is not validated here.
        """
        changes: dict[str, Any] = {}
        if exchange_order_id is not None:
            changes["exchange_order_id"] = exchange_order_id
        if filled_quantity is not None:
            changes["filled_quantity"] = _decimal(filled_quantity, "filled_quantity")
        if average_price is not None:
            changes["average_price"] = _decimal(average_price, "average_price")
        new_status = None if status is None else _text(status)
        with self._writing() as connection:
            row = connection.execute(_ORDER_FOR_UPDATE, {"b_id": order_id}).one_or_none()
            when = _aware(at, "at")  # after the lock, so default times follow the history
            if row is None:
                raise RecordNotFound(f"no order {order_id}")
            current = row._asdict()
            if new_status is not None and new_status != current["status"]:
                changes["status"] = new_status
            changes["updated_at"] = when
            connection.execute(_UPDATE_ORDER, {"b_id": order_id, **changes})
            if "status" in changes:
                connection.execute(
                    _INSERT_HISTORY,
                    {
                        "order_id": order_id,
                        "from_status": current["status"],
                        "to_status": new_status,
                        "event": _text(event) if event is not None else "update",
                        "at": when,
                        "detail": detail,
                    },
                )
        return OrderRecord(**{**current, **changes})

    def get_order(self, order_id: int) -> OrderRecord | None:
        with self._reading() as session:
            row = session.get(OrderRow, order_id)
            return None if row is None else _record(OrderRecord, row)

    def get_order_by_client_id(self, account: str, client_order_id: str) -> OrderRecord | None:
        with self._reading() as session:
            row = session.scalar(
                select(OrderRow).where(
                    OrderRow.account == account, OrderRow.client_order_id == client_order_id
                )
            )
            return None if row is None else _record(OrderRecord, row)

    def get_order_by_exchange_id(self, account: str, exchange_order_id: str) -> OrderRecord | None:
        with self._reading() as session:
            row = session.scalars(
                select(OrderRow)
                .where(OrderRow.account == account, OrderRow.exchange_order_id == exchange_order_id)
                .order_by(OrderRow.id.desc())
            ).first()
            return None if row is None else _record(OrderRecord, row)

    def orders_for_signal(self, signal_id: int) -> list[OrderRecord]:
        """The signal's orders, oldest first."""
        with self._reading() as session:
            return [_record(OrderRecord, r) for r in _orders_of_signal(session, signal_id)]

    def list_orders(
        self,
        account: str | None = None,
        statuses: Iterable[str] | None = None,
        limit: int = 100,
    ) -> list[OrderRecord]:
        """The most recent orders (newest first), optionally for one account / some statuses."""
        stmt = select(OrderRow).order_by(OrderRow.id.desc()).limit(limit)
        if account is not None:
            stmt = stmt.where(OrderRow.account == account)
        if statuses is not None:
            stmt = stmt.where(OrderRow.status.in_(_texts(statuses)))
        with self._reading() as session:
            return [_record(OrderRecord, r) for r in session.scalars(stmt)]

    def count_orders_since(
        self, account: str, since: datetime, roles: Iterable[str] | None = None
    ) -> int:
        """How many orders (of these roles) the account recorded since a time (rate limits)."""
        params: dict[str, Any] = {"b_account": account, "b_since": _aware(since, "since")}
        stmt = _COUNT_ORDERS
        if roles is not None:
            stmt = _COUNT_ORDERS_OF_ROLES
            params["b_roles"] = _texts(roles)
        with self._querying() as connection:
            return int(connection.execute(stmt, params).scalar() or 0)

    def orders_in_flight(
        self, account: str, statuses: Iterable[str] | None = None
    ) -> list[OrderRecord]:
        """The account's orders in `statuses` (default `IN_FLIGHT_STATUSES`: not terminal),
        oldest first."""
        wanted = _texts(IN_FLIGHT_STATUSES if statuses is None else statuses)
        stmt = (
            select(OrderRow)
            .where(OrderRow.account == account, OrderRow.status.in_(wanted))
            .order_by(OrderRow.id)
        )
        with self._reading() as session:
            return [_record(OrderRecord, r) for r in session.scalars(stmt)]

    def order_history(self, order_id: int) -> list[OrderTransitionRecord]:
        """The order's status changes in the order they were recorded."""
        with self._reading() as session:
            return [_record(OrderTransitionRecord, r) for r in _history(session, [order_id])]

    # -- fills and positions ---------------------------------------------------------------

    def record_fill(
        self,
        *,
        account: str,
        symbol: str,
        exchange_trade_id: str,
        side: str,
        quantity: Decimal,
        price: Decimal,
        order_id: int | None = None,
        fee: Decimal | None = None,
        fee_currency: str | None = None,
        realized_pnl: Decimal | None = None,
        at: datetime | None = None,
    ) -> bool:
        """Record a fill; False (and nothing written) if this trade id is already recorded."""
        values = {
            "order_id": order_id,
            "account": account,
            "symbol": symbol,
            "exchange_trade_id": exchange_trade_id,
            "side": _text(side),
            "quantity": _decimal(quantity, "quantity"),
            "price": _decimal(price, "price"),
            "fee": _decimal_or_none(fee, "fee"),
            "fee_currency": fee_currency,
            "realized_pnl": _decimal_or_none(realized_pnl, "realized_pnl"),
            "at": _aware(at, "at"),
        }
        key = {"b_account": account, "b_trade_id": exchange_trade_id}
        _, created = self._insert_once(_INSERT_FILL, values, _FILL_ID_BY_TRADE, key)
        return created

    def fills_for_order(self, order_id: int) -> list[FillRecord]:
        """The order's fills, oldest first."""
        with self._reading() as session:
            return [_record(FillRecord, r) for r in _fills(session, [order_id])]

    def daily_realized_pnl(self, account: str, day_start_utc: datetime) -> Decimal:
        """Realized PnL minus fees of the account's fills at or after `day_start_utc`.

        Fees are assumed to be in the PnL currency (USDT on Binance USD-M, USDC on
        Hyperliquid); a fee paid in another asset (BNB) would need converting first.
        """
        params = {"b_account": account, "b_since": _aware(day_start_utc, "day_start_utc")}
        total = Decimal(0)
        with self._querying() as connection:
            for pnl, fee in connection.execute(_PNL_AND_FEES_SINCE, params):
                total += (pnl or Decimal(0)) - (fee or Decimal(0))
        return total

    def record_position_snapshot(
        self,
        *,
        account: str,
        symbol: str,
        quantity: Decimal,
        entry_price: Decimal | None = None,
        mark_price: Decimal | None = None,
        unrealized_pnl: Decimal | None = None,
        at: datetime | None = None,
    ) -> int:
        """Record a position as seen now; `quantity` is signed (negative is short)."""
        values = {
            "account": account,
            "symbol": symbol,
            "quantity": _decimal(quantity, "quantity"),
            "entry_price": _decimal_or_none(entry_price, "entry_price"),
            "mark_price": _decimal_or_none(mark_price, "mark_price"),
            "unrealized_pnl": _decimal_or_none(unrealized_pnl, "unrealized_pnl"),
            "at": _aware(at, "at"),
        }
        with self._writing() as connection:
            return _insert(connection, _INSERT_POSITION, values)

    def latest_positions(
        self, account: str, *, include_flat: bool = False
    ) -> list[PositionSnapshotRecord]:
        """The newest snapshot per symbol (by `at`), sorted by symbol; flat ones on request."""
        ranked = (
            select(
                PositionSnapshotRow,
                func.row_number()
                .over(
                    partition_by=PositionSnapshotRow.symbol,
                    order_by=(PositionSnapshotRow.at.desc(), PositionSnapshotRow.id.desc()),
                )
                .label("rank"),
            )
            .where(PositionSnapshotRow.account == account)
            .subquery()
        )
        latest = aliased(PositionSnapshotRow, ranked)
        stmt = select(latest).where(ranked.c.rank == 1).order_by(latest.symbol)
        with self._reading() as session:
            records = [_record(PositionSnapshotRecord, r) for r in session.scalars(stmt)]
        return [r for r in records if include_flat or r.quantity != 0]

    # -- events ----------------------------------------------------------------------------

    def append_event(
        self,
        kind: str,
        account: str | None,
        data: Mapping[str, Any] | None = None,
        signal_id: int | None = None,
        order_id: int | None = None,
        *,
        at: datetime | None = None,
    ) -> int:
        """Append to the event log (never updated or deleted). Decimals in `data` become
        strings and datetimes ISO-8601 strings, so the JSON stays exact."""
        values = {
            "at": _aware(at, "at"),
            "account": account,
            "kind": _text(kind),
            "signal_id": signal_id,
            "order_id": order_id,
            "data": _json_object(data or {}),
        }
        with self._writing() as connection:
            return _insert(connection, _INSERT_EVENT, values)

    def events(
        self,
        signal_id: int | None = None,
        account: str | None = None,
        *,
        order_id: int | None = None,
        kind: str | None = None,
        limit: int = 100,
    ) -> list[EventRecord]:
        """The latest `limit` events matching every given filter, in the order they were
        appended (oldest first)."""
        stmt = select(EventRow).order_by(EventRow.id.desc()).limit(limit)
        if signal_id is not None:
            stmt = stmt.where(EventRow.signal_id == signal_id)
        if account is not None:
            stmt = stmt.where(EventRow.account == account)
        if order_id is not None:
            stmt = stmt.where(EventRow.order_id == order_id)
        if kind is not None:
            stmt = stmt.where(EventRow.kind == _text(kind))
        with self._reading() as session:
            newest_first = [_record(EventRecord, r) for r in session.scalars(stmt)]
        return newest_first[::-1]

    # -- what happened to a signal -------------------------------------------------------------

    def signal_timeline(self, signal_id: int) -> SignalTimeline | None:
        """The signal, its risk decisions, its orders (each with state history and fills)
        and the events tagged with the signal or its orders; one consistent read."""
        with self._reading() as session:
            signal = session.get(SignalRow, signal_id)
            if signal is None:
                return None
            decisions = _decisions(session, signal_id)
            orders = _orders_of_signal(session, signal_id)
            order_ids = [o.id for o in orders]
            history = _history(session, order_ids)
            fills = _fills(session, order_ids)
            tagged = [EventRow.signal_id == signal_id]
            if order_ids:
                tagged.append(EventRow.order_id.in_(order_ids))
            events = session.scalars(
                select(EventRow).where(or_(*tagged)).order_by(EventRow.id)
            ).all()
            return SignalTimeline(
                signal=_record(SignalRecord, signal),
                decisions=tuple(_record(DecisionRecord, d) for d in decisions),
                orders=tuple(
                    OrderTimeline(
                        order=_record(OrderRecord, o),
                        history=tuple(
                            _record(OrderTransitionRecord, h) for h in history if h.order_id == o.id
                        ),
                        fills=tuple(_record(FillRecord, f) for f in fills if f.order_id == o.id),
                    )
                    for o in orders
                ),
                events=tuple(_record(EventRecord, e) for e in events),
            )

    # -- trading state ---------------------------------------------------------------------

    def get_trading_state(self, account: str) -> tuple[str, str | None]:
        """`(state, reason)`; an account never set is ACTIVE with no reason."""
        with self._querying() as connection:
            row = connection.execute(_TRADING_STATE, {"b_account": account}).one_or_none()
        if row is None:
            return DEFAULT_TRADING_STATE, None
        return row.trading_state, row.reason

    def set_trading_state(self, account: str, state: str, reason: str | None = None) -> None:
        """Set the account's state; any case is accepted ("halted", `TradingState.HALTED`),
        stored and returned as upper case ("HALTED")."""
        state = _text(state).strip().upper()
        if state not in TRADING_STATES:
            raise ValueError(f"unknown trading state {state!r}; expected one of {TRADING_STATES}")
        with self._writing() as connection:
            changed = {"trading_state": state, "reason": reason, "updated_at": utcnow()}
            updating = {"b_account": account, **changed}
            if connection.execute(_UPDATE_TRADING_STATE, updating).rowcount:
                return
            # The account's first state. On PostgreSQL another writer may create the row first
            # (SQLite serialises writers): then update that row. The savepoint keeps this
            # transaction, or the batch it belongs to, usable after the duplicate.
            try:
                with connection.begin_nested():
                    connection.execute(_INSERT_TRADING_STATE, {"account": account, **changed})
            except IntegrityError:
                if not connection.execute(_UPDATE_TRADING_STATE, updating).rowcount:
                    raise


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
