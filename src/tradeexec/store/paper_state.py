"""The paper venue's state in the store: one row per paper account, read and written whole.

A paper account's venue (balances, positions, open and recent orders, fills, marks, the next
order and trade ids) is the simulator engine's export of that account, kept as JSON with every
Decimal a string (exact on SQLite and PostgreSQL alike). `PaperStateStore` is the only code
that touches the ``paper_state`` table; what goes into a snapshot is the engine's business
(`sim/snapshot.py`), keeping it in step with a trader is `exchanges/paper_sync.py`'s.

Two processes may use one paper account at once (a running service and a CLI command, two
replicas on one PostgreSQL): every change happens inside `locked`, one write transaction that
holds the row from the read to the write (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite
the database's single write lock, taken by ``BEGIN IMMEDIATE``), so changes take turns and
each starts from the state the previous one committed. Each write also checks the version it
read (``UPDATE ... WHERE version = :seen``); a lost race (two first inserts on PostgreSQL, or
a row changed without the lock) raises `PaperStateConflict`, and the caller re-reads and
tries again. Nothing is ever overwritten blindly.

The paper venue's commits are relaxed (not synced to the disk, `db.py`): they are the venue's
side of an order, which the store learns again by asking for the order's client id. A power
cut may roll the paper venue back a few orders, to the same moment as the rest of the store
(one WAL, replayed up to its last whole commit), never to before an order intent the store
recorded durably: such an order is found missing on the venue and settled as never sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tradeexec.store.db import RELAXED, WRITE_OPTIONS, create_engine_for, is_sqlite_memory
from tradeexec.store.db import upgrade as upgrade_schema
from tradeexec.store.models import PaperStateRow, utcnow

__all__ = ["LockedPaperState", "PaperSnapshot", "PaperStateConflict", "PaperStateStore"]

_TABLE = PaperStateRow.__table__
assert isinstance(_TABLE, Table)

_VERSION = select(_TABLE.c.version).where(_TABLE.c.account == bindparam("b_account"))
_ROW = select(_TABLE).where(_TABLE.c.account == bindparam("b_account"))
_ROW_FOR_UPDATE = _ROW.with_for_update()
_INSERT = insert(_TABLE)
_UPDATE = update(_TABLE).where(
    _TABLE.c.account == bindparam("b_account"), _TABLE.c.version == bindparam("b_version")
)
_DELETE = delete(_TABLE).where(_TABLE.c.account == bindparam("b_account"))


class PaperStateConflict(RuntimeError):
    """The row changed between our read and our write: re-read and try again."""


@dataclass(frozen=True, slots=True)
class PaperSnapshot:
    """One paper account's state as last committed; `version` counts the writes (from 1)."""

    account: str
    version: int
    venue: str
    state: dict[str, Any]


def _snapshot(row: Any) -> PaperSnapshot | None:
    if row is None:
        return None
    return PaperSnapshot(row.account, int(row.version), row.venue, dict(row.state))


class LockedPaperState:
    """The account's row, held by the open write transaction of `PaperStateStore.locked`."""

    def __init__(self, connection: Connection, account: str, current: PaperSnapshot | None):
        self._connection = connection
        self.account = account
        self.current = current

    def save(self, venue: str, state: dict[str, Any]) -> int:
        """Write the new state (committed when the `locked` block ends); its version."""
        values = {"venue": venue, "state": state, "updated_at": utcnow()}
        if self.current is None:
            try:
                with self._connection.begin_nested():
                    self._connection.execute(
                        _INSERT, {"account": self.account, "version": 1, **values}
                    )
            except IntegrityError as exc:  # another process inserted first (PostgreSQL)
                raise PaperStateConflict(f"paper account {self.account!r}: {exc}") from exc
            version = 1
        else:
            version = self.current.version + 1
            params = {"b_account": self.account, "b_version": self.current.version}
            done = self._connection.execute(_UPDATE, {**params, "version": version, **values})
            if done.rowcount != 1:
                raise PaperStateConflict(
                    f"paper account {self.account!r} changed after version {self.current.version}"
                )
        self.current = PaperSnapshot(self.account, version, venue, state)
        return version


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
        with self._engine.connect() as connection, connection.begin():
            return _snapshot(connection.execute(_ROW, {"b_account": account}).one_or_none())

    @contextmanager
    def locked(self, account: str) -> Iterator[LockedPaperState]:
        """One write transaction holding the account's row: read `current`, `save` a new
        state, and it commits when the block ends (an exception rolls it back); relaxed (see
        the module docstring)."""
        with self._relaxed_engine.begin() as connection:
            row = connection.execute(_ROW_FOR_UPDATE, {"b_account": account}).one_or_none()
            yield LockedPaperState(connection, account, _snapshot(row))

    def delete(self, account: str) -> bool:
        """Forget an account's paper state (it starts afresh on its next connect)."""
        with self._write_engine.begin() as connection:
            return bool(connection.execute(_DELETE, {"b_account": account}).rowcount)
