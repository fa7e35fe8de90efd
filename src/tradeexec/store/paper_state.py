"""The paper venue's state in the store: per paper account, one row for the account and one
per order and per fill, written as they change.

A paper account's venue (balances, positions, open and recent orders, fills, marks, the next
order and trade ids) is the simulator engine's export of that account, kept as JSON with every
Decimal a string (exact on SQLite and PostgreSQL alike). It is stored in parts: ``paper_state``
holds the export without its orders and fills (small, rewritten at every change, and carrying
the version), ``paper_orders`` one row per order (written when the order is placed and again
when it changes), ``paper_fills`` one row per fill (written once). A change therefore writes
what it touched, not the account's whole history. `PaperStateStore` is the only code that
touches these tables; what goes into a snapshot is the engine's business (`sim/snapshot.py`),
keeping it in step with a trader is `exchanges/paper_sync.py`'s.

Two processes may use one paper account at once (a running service and a CLI command, two
replicas on one PostgreSQL). Every change is one write transaction (`PaperTransaction`) whose
first statement raises the version it started from: ``UPDATE paper_state SET version = v + 1
... WHERE version = v``. That statement takes the account's row lock (on SQLite the database's
single write lock, taken by ``BEGIN IMMEDIATE``), so changes take turns; when it matches no
row another process committed first, `PaperStateConflict` is raised, nothing is written, and
the caller reloads and tries again. Nothing is ever overwritten blindly, and a reader `load`s
a consistent account (the row is held ``FOR SHARE`` on PostgreSQL while the parts are read; a
SQLite read transaction is a snapshot).

The paper venue's commits are relaxed (not synced to the disk, `db.py`): they are the venue's
side of an order, which the store learns again by asking for the order's client id. A power
cut may roll the paper venue back a few orders, to the same moment as the rest of the store
(one WAL, replayed up to its last whole commit), never to before an order intent the store
recorded durably: such an order is found missing on the venue and settled as never sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import BindParameter

from tradeexec.store.db import RELAXED, WRITE_OPTIONS, create_engine_for, is_sqlite_memory
from tradeexec.store.db import upgrade as upgrade_schema
from tradeexec.store.models import PaperFillRow, PaperOrderRow, PaperStateRow, utcnow

__all__ = [
    "PaperChange",
    "PaperSnapshot",
    "PaperStateConflict",
    "PaperStateStore",
    "PaperTransaction",
]


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


_STATE, _ORDERS, _FILLS = _table(PaperStateRow), _table(PaperOrderRow), _table(PaperFillRow)
_ACCOUNT: BindParameter[str] = bindparam("b_account")

_VERSION = select(_STATE.c.version).where(_STATE.c.account == _ACCOUNT)
_ROW_FOR_SHARE = select(_STATE).where(_STATE.c.account == _ACCOUNT).with_for_update(read=True)
_ORDER_DATA = (
    select(_ORDERS.c.data).where(_ORDERS.c.account == _ACCOUNT).order_by(_ORDERS.c.order_id)
)
_FILL_DATA = select(_FILLS.c.data).where(_FILLS.c.account == _ACCOUNT).order_by(_FILLS.c.trade_id)
_INSERT_STATE = insert(_STATE)
_UPDATE_STATE = update(_STATE).where(
    _STATE.c.account == _ACCOUNT, _STATE.c.version == bindparam("b_version")
)
_INSERT_ORDERS = insert(_ORDERS)
_DELETE_ORDERS = delete(_ORDERS).where(
    _ORDERS.c.account == _ACCOUNT,
    _ORDERS.c.order_id.in_(bindparam("b_ids", expanding=True)),
)
_INSERT_FILLS = insert(_FILLS)
_DELETE_FILLS_BELOW = delete(_FILLS).where(
    _FILLS.c.account == _ACCOUNT, _FILLS.c.trade_id < bindparam("b_below")
)
_DELETE = {
    table: delete(table).where(table.c.account == _ACCOUNT) for table in (_ORDERS, _FILLS, _STATE)
}


class PaperStateConflict(RuntimeError):
    """Another process changed the account since the version we hold: reload and try again."""


@dataclass(frozen=True, slots=True)
class PaperSnapshot:
    """One paper account's state as last committed, whole (the engine's export: the account,
    marks and next ids, with its stored orders and fills); `version` counts the committed
    changes (from 1)."""

    account: str
    version: int
    venue: str
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PaperChange:
    """What one committed change writes: the export without orders and fills (``core``),
    the orders placed (``new_orders``) and changed (``changed_orders``), the new fills; and
    what the account stops keeping (``dropped_orders`` by id, fills below ``fills_below``)."""

    core: dict[str, Any]
    new_orders: Sequence[dict[str, Any]] = ()
    changed_orders: Sequence[dict[str, Any]] = ()
    new_fills: Sequence[dict[str, Any]] = ()
    dropped_orders: Sequence[int] = ()
    fills_below: int | None = None


class PaperTransaction:
    """One open write transaction on a paper account (`PaperStateStore.transaction`)."""

    def __init__(self, connection: Connection, account: str) -> None:
        self._connection = connection
        self.account = account

    def save(self, venue: str, seen: int, change: PaperChange) -> int:
        """Write ``change`` on top of version ``seen`` (0: the account has no row yet); the
        new version. `PaperStateConflict` if the row is not at ``seen`` any more (nothing
        written). Committed when the `transaction` block ends."""
        connection, account = self._connection, self.account
        values = {"venue": venue, "state": change.core, "updated_at": utcnow()}
        if seen == 0:
            try:
                with connection.begin_nested():
                    connection.execute(_INSERT_STATE, {"account": account, "version": 1, **values})
            except IntegrityError as exc:  # another process inserted first
                raise PaperStateConflict(f"paper account {account!r}: {exc}") from exc
        else:  # first: it takes the row's lock, and checks nobody wrote since `seen`
            params = {"b_account": account, "b_version": seen, "version": seen + 1}
            if connection.execute(_UPDATE_STATE, {**params, **values}).rowcount != 1:
                raise PaperStateConflict(f"paper account {account!r} changed after version {seen}")
        written = [*change.new_orders, *change.changed_orders]
        ids = [int(o["order_id"]) for o in change.changed_orders] + list(change.dropped_orders)
        if ids:
            connection.execute(_DELETE_ORDERS, {"b_account": account, "b_ids": ids})
        if written:
            rows = [
                {"account": account, "order_id": int(o["order_id"]), "data": o} for o in written
            ]
            connection.execute(_INSERT_ORDERS, rows)
        if change.fills_below is not None:
            connection.execute(
                _DELETE_FILLS_BELOW, {"b_account": account, "b_below": change.fills_below}
            )
        if change.new_fills:
            rows = [
                {"account": account, "trade_id": int(f["trade_id"]), "data": f}
                for f in change.new_fills
            ]
            connection.execute(_INSERT_FILLS, rows)
        return seen + 1


class PaperStateStore:
    """Paper accounts' venue state on a store's engine (see the module docstring)."""

    def __init__(self, engine: Engine, *, owns_engine: bool = False) -> None:
        if is_sqlite_memory(engine.url):
            # one shared connection, serialised by the Store's own lock: not ours to use from
            # another thread; and nothing in it outlives the process anyway
            raise ValueError("paper state needs a database file or server, not sqlite memory")
        self._engine = engine
        self._write_engine = engine.execution_options(**WRITE_OPTIONS)
        self._relaxed_engine = engine.execution_options(**RELAXED)
        self._owns_engine = owns_engine

    @classmethod
    def open(cls, url: str) -> PaperStateStore:
        """A store of its own on `url`, its schema migrated to the latest (close it)."""
        engine = create_engine_for(url)
        try:
            upgrade_schema(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, owns_engine=True)

    @staticmethod
    def usable(engine: Engine) -> bool:
        """Can paper state live on this engine? (Not on a private in-memory SQLite one.)"""
        return not is_sqlite_memory(engine.url)

    def close(self) -> None:
        if self._owns_engine:
            self._engine.dispose()

    def version(self, account: str) -> int:
        """The account's current version; 0 when it has no state yet."""
        with self._engine.connect() as connection, connection.begin():
            found = connection.execute(_VERSION, {"b_account": account}).scalar()
        return 0 if found is None else int(found)

    def load(self, account: str) -> PaperSnapshot | None:
        """The account's state, whole and consistent (None: it has none yet)."""
        params = {"b_account": account}
        with self._engine.connect() as connection, connection.begin():
            row = connection.execute(_ROW_FOR_SHARE, params).one_or_none()
            if row is None:
                return None
            orders = list(connection.execute(_ORDER_DATA, params).scalars())
            fills = list(connection.execute(_FILL_DATA, params).scalars())
        state = {**dict(row.state), "orders": orders, "fills": fills}
        return PaperSnapshot(row.account, int(row.version), row.venue, state)

    @contextmanager
    def transaction(self, account: str) -> Iterator[PaperTransaction]:
        """One write transaction on the account: `PaperTransaction.save` a change, and it
        commits when the block ends (an exception rolls it back); relaxed (see the module
        docstring)."""
        with self._relaxed_engine.begin() as connection:
            yield PaperTransaction(connection, account)

    def delete(self, account: str) -> bool:
        """Forget an account's paper state (it starts afresh on its next connect)."""
        with self._write_engine.begin() as connection:
            # the account's row first, as every change takes it: never a lock cycle with one
            connection.execute(_VERSION.with_for_update(), {"b_account": account})
            for table in (_ORDERS, _FILLS):
                connection.execute(_DELETE[table], {"b_account": account})
            return bool(connection.execute(_DELETE[_STATE], {"b_account": account}).rowcount)
