"""Keeping a `PaperTrader`'s engine in step with the paper account's row in the store.

Without a store (plain library use, a trader built directly) every call runs on the engine
in memory, as it always did. With one (`store/paper_state.py`):

- ``connect`` restores the account from its row (none yet: the configured starting balance);
- every read first asks for the row's version, and reloads the account if another process
  wrote since (one small query per read);
- every change (an order, a cancel, a mark move, leverage) runs inside one write transaction
  holding the row: reload if stale, apply on the engine, save the engine's export, commit.
  Changes from several processes therefore take turns, each starting from the last committed
  state, and order ids keep rising across processes and restarts.

Whatever fails mid-way (a refusal, a lost race, the database) leaves the row as it was and
marks the engine stale, so the next call reloads it: memory never drifts from the store. A
database failure before the change is applied is `ExchangeUnavailable` (nothing happened);
one while committing an order or a cancel is `OrderOutcomeUnknown`, settled like any venue's
by asking for the order by its client id.

Calls with a store run in a worker thread (`asyncio.to_thread`): the event loop keeps serving
while SQLite waits for another process's write lock. One lock per trader keeps the engine to
one thread at a time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from tradeexec import errors

if TYPE_CHECKING:
    from tradeexec.sim.engine import Engine
    from tradeexec.store.paper_state import PaperSnapshot, PaperStateStore

T = TypeVar("T")

# closed orders and fills kept in a snapshot (open orders are always kept): enough for
# reconciling recent orders by id or client id, without the row growing for ever
KEEP_CLOSED_ORDERS = 500
KEEP_FILLS = 1000
_ATTEMPTS = 5
_STALE = -1  # a version no row has: the next call reloads


class PaperSync:
    """One paper account's engine and its row (``store`` None: memory only)."""

    def __init__(
        self, store: PaperStateStore | None, engine: Engine, account: str, venue: str
    ) -> None:
        self.store = store
        self._engine = engine
        self._account = account
        self._venue = venue
        self._fresh = engine.export_account(account)  # what a missing row means
        self._version = 0
        self._guard = threading.RLock()

    @property
    def version(self) -> int:
        """The version of the row the engine holds (0: none yet)."""
        return self._version

    # ------------------------------------------------------------------ async
    async def read(self, fn: Callable[[], T]) -> T:
        if self.store is None:
            return fn()
        return await asyncio.to_thread(self.read_now, fn)

    async def write(self, fn: Callable[[], T], *, order_call: bool = False) -> T:
        """Apply ``fn`` to the engine and persist it (``order_call``: a create or cancel,
        whose commit failing leaves its outcome unknown)."""
        if self.store is None:
            return fn()
        return await asyncio.to_thread(self.write_now, fn, order_call)

    # ------------------------------------------------------------------- sync
    def read_now(self, fn: Callable[[], T]) -> T:
        with self._guard:
            if self.store is not None:
                self._refresh(self.store)
            return fn()

    def write_now(self, fn: Callable[[], T], order_call: bool = False) -> T:
        from sqlalchemy.exc import SQLAlchemyError

        from tradeexec.store.paper_state import PaperStateConflict

        with self._guard:
            if self.store is None:
                return fn()
            for _ in range(_ATTEMPTS):
                applied = saved = False
                try:
                    with self.store.locked(self._account) as row:
                        self._adopt(row.current)
                        applied = True
                        result = fn()
                        version = row.save(self._venue, self._export())
                        saved = True
                except PaperStateConflict:
                    self._version = _STALE  # someone else wrote first: reload and redo
                    continue
                except SQLAlchemyError as exc:
                    if applied:
                        self._version = _STALE
                    raise self._db_error(exc, saved and order_call) from exc
                except BaseException:
                    self._version = _STALE  # a refusal or a bug: drop what it changed
                    raise
                self._version = version
                return result
            raise errors.ExchangeUnavailable(
                f"paper account {self._account!r}: its state kept changing under us; try again",
                exchange="paper",
            )

    def restore(self) -> None:
        """Load the account's row (at connect); no row: the account as configured."""
        if self.store is not None:
            with self._guard:
                self._version = _STALE
                self._refresh(self.store)

    # -------------------------------------------------------------- internals
    def _export(self) -> dict[str, Any]:
        return self._engine.export_account(
            self._account, closed_orders=KEEP_CLOSED_ORDERS, fills=KEEP_FILLS
        )

    def _refresh(self, store: PaperStateStore) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            if store.version(self._account) != self._version:
                self._adopt(store.load(self._account))
        except SQLAlchemyError as exc:
            raise self._db_error(exc, False) from exc

    def _adopt(self, snapshot: PaperSnapshot | None) -> None:
        """Make the engine hold ``snapshot`` (None: the account as configured)."""
        if snapshot is None:
            if self._version != 0:
                self._engine.import_account(self._fresh)
                self._version = 0
            return
        if snapshot.version == self._version:
            return
        if snapshot.venue != self._venue:
            raise errors.ConfigError(
                f"paper account {self._account!r} holds a {snapshot.venue} paper venue in the "
                f"store, but is configured as {self._venue}: use another account name"
            )
        try:
            self._engine.import_account(snapshot.state)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise errors.ExchangeUnavailable(
                f"paper account {self._account!r}: its stored state cannot be read ({exc!r})",
                exchange="paper",
            ) from exc
        self._version = snapshot.version

    def _db_error(self, exc: Exception, unknown: bool) -> errors.ExchangeError:
        detail = (str(exc).splitlines() or [type(exc).__name__])[0]
        if unknown:
            return errors.OrderOutcomeUnknown(
                f"paper account {self._account!r}: committing its state failed: {detail}",
                exchange="paper",
            )
        return errors.ExchangeUnavailable(
            f"paper account {self._account!r}: its state store failed: {detail}",
            exchange="paper",
        )
