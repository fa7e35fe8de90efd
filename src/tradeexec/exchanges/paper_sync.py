"""Keeping a `PaperTrader`'s engine in step with the paper account's rows in the store.

Without a store (plain library use, a trader built directly) every call runs on the engine
in memory, as it always did. With one (`store/paper_state.py`):

- ``connect`` restores the account from its rows (none yet: the configured starting balance);
- a read first asks for the account's version, and reloads the account if another process
  wrote since (one small query);
- a change (an order, a cancel, a mark move, leverage) runs on the engine, then one write
  transaction writes what it touched (the account's row, the orders it placed or changed,
  its fills), checking the version it started from in the same statement (``UPDATE ...
  WHERE version = v``). If another process wrote first, that statement finds no row: the
  transaction rolls back, the engine reloads, and the change runs again on the committed
  state. Changes from several processes therefore take turns, each starting from
  the last committed state, and order ids keep rising across processes and restarts.

Calls made together (the pipeline's ``gather`` of a ticker, the balance and the positions; the
stop and the target of a bracket) run as one batch: one version check for the reads, one
transaction for the changes, one trip to the worker thread. Each call keeps its own outcome.

Whatever fails mid-way (a refusal, a lost race, the database) leaves the rows as they were and
the engine is reloaded before it is used again: memory never drifts from the store. A refusal
stands only if the account's version shows the engine held the committed state when it was
refused; otherwise the call runs again after the reload. A database failure before the change
is written is `ExchangeUnavailable` (nothing happened); one while committing an order or a
cancel is `OrderOutcomeUnknown`, settled like any venue's by asking for the order by its client
id.

The store keeps every open order, the last `KEEP_CLOSED_ORDERS` closed ones and the last
`KEEP_FILLS` fills: once the kept history has grown by a slack beyond that, one change drops
the oldest from the store and from the engine together (enough for reconciling recent orders
by id or client id, without the account growing for ever).

Calls with a store run in a worker thread (`asyncio.to_thread`): the event loop keeps serving
while SQLite waits for another process's write lock. One lock per trader keeps the engine to
one thread at a time.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from tradeexec import errors
from tradeexec.sim.snapshot import fill_to_dict, order_to_dict

if TYPE_CHECKING:
    from tradeexec.sim.engine import Engine
    from tradeexec.store.paper_state import PaperChange, PaperSnapshot, PaperStateStore

T = TypeVar("T")

# closed orders and fills kept in the store (open orders are always kept); each may exceed
# its number by its slack before the oldest are dropped, in one go
KEEP_CLOSED_ORDERS = 500
KEEP_FILLS = 1000
SLACK_CLOSED_ORDERS = 250
SLACK_FILLS = 500
_ATTEMPTS = 5
_STALE = -1  # a version no row has: the next call reloads


@dataclass(eq=False, slots=True)
class _Call:
    """One read or change on the engine, and its outcome once settled."""

    fn: Callable[[], Any]
    writes: bool
    order_call: bool = False
    done: bool = False
    result: Any = None
    error: Exception | None = None

    def run(self) -> None:
        self.result, self.error = None, None
        try:
            self.result = self.fn()
        except Exception as exc:
            self.error = exc

    def settle(self, error: Exception | None = None) -> None:
        if error is not None:
            self.error = error
        self.done = True

    def outcome(self) -> Any:
        if not self.done:
            raise errors.ExchangeUnavailable("paper call did not finish", exchange="paper")
        if self.error is not None:
            raise self.error
        return self.result


@dataclass(eq=False, slots=True)
class _Turn:
    """One event loop's calls waiting for a batch, and the lock whose holder runs one."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    queue: list[_Call] = field(default_factory=list)


class _Retry(Exception):
    """Roll the transaction back; the calls not settled yet run again after a reload."""


class PaperSync:
    """One paper account's engine and its rows (``store`` None: memory only)."""

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
        # per event loop: the calls waiting for a batch, and the turn to run one
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turn] = (
            weakref.WeakKeyDictionary()
        )
        self._kept_closed = 0  # closed orders and fills the store holds (see _change)
        self._kept_fills = 0

    @property
    def version(self) -> int:
        """The version of the account the engine holds (0: none yet)."""
        return self._version

    # ------------------------------------------------------------------ async
    async def read(self, fn: Callable[[], T]) -> T:
        if self.store is None:
            return fn()
        return cast(T, await self._submit(_Call(fn, writes=False)))

    async def write(self, fn: Callable[[], T], *, order_call: bool = False) -> T:
        """Apply ``fn`` to the engine and persist it (``order_call``: a create or cancel,
        whose commit failing leaves its outcome unknown)."""
        if self.store is None:
            return fn()
        return cast(T, await self._submit(_Call(fn, writes=True, order_call=order_call)))

    async def _submit(self, call: _Call) -> Any:
        loop = asyncio.get_running_loop()
        turn = self._loops.get(loop)
        if turn is None:
            turn = self._loops[loop] = _Turn()
        turn.queue.append(call)
        async with turn.lock:
            if not call.done:  # else a batch ahead of it ran it
                await asyncio.sleep(0)  # calls made alongside this one join its batch
                batch, turn.queue = turn.queue, []
                running = asyncio.ensure_future(asyncio.to_thread(self._run, batch))
                try:
                    await asyncio.shield(running)
                except asyncio.CancelledError:
                    await asyncio.wait([running])  # the batch's other calls need its end
                    raise
        return call.outcome()

    # ------------------------------------------------------------------- sync
    def read_now(self, fn: Callable[[], T]) -> T:
        call = _Call(fn, writes=False)
        self._run([call])
        return cast(T, call.outcome())

    def write_now(self, fn: Callable[[], T], order_call: bool = False) -> T:
        call = _Call(fn, writes=True, order_call=order_call)
        self._run([call])
        return cast(T, call.outcome())

    def restore(self) -> None:
        """Load the account's rows (at connect); none: the account as configured."""
        if self.store is not None:
            with self._guard:
                self._version = _STALE
                self._refresh(self.store, check=False)

    def _run(self, calls: list[_Call]) -> None:
        with self._guard:
            store = self.store
            if store is None:
                for call in calls:
                    call.run()
                    call.settle()
                return
            try:
                self._run_batch(store, calls)
            except BaseException:
                self._version = _STALE
                raise

    def _run_batch(self, store: PaperStateStore, calls: list[_Call]) -> None:
        pending = calls
        for _ in range(_ATTEMPTS):
            writes = any(call.writes for call in pending)
            try:
                self._refresh(store, check=not writes)  # a change checks as it writes
            except errors.TradeExecError as exc:
                for call in pending:
                    call.settle(exc)
                return
            if not writes:
                for call in pending:
                    call.run()
                    call.settle()
                return
            pending = self._write(store, pending)
            if not pending:
                return
        for call in pending:
            call.settle(
                errors.ExchangeUnavailable(
                    f"paper account {self._account!r}: its state kept changing under us; try again",
                    exchange="paper",
                )
            )

    # -------------------------------------------------------------- writing
    def _write(self, store: PaperStateStore, calls: list[_Call]) -> list[_Call]:
        """Run ``calls`` on the engine, then commit what they changed in one transaction;
        the calls to run again (after a reload), or none. The engine works before the
        transaction begins: the write's version check catches a stale engine, and the
        database's write lock (SQLite's is the whole database's) is held for the statements
        only."""
        from sqlalchemy.exc import SQLAlchemyError

        from tradeexec.store.paper_state import PaperStateConflict

        before = self._engine.export_account(self._account, closed_orders=0, fills=0)
        for call in calls:
            call.run()
        failed = [call for call in calls if call.error is not None]
        saved = False
        try:
            if failed:
                if store.version(self._account) != self._version:
                    raise _Retry  # refused on a stale engine: run them all again
                for call in failed:  # refused on the committed state: that stands
                    call.settle()
                if len(failed) == len(calls) and self._unchanged(before):
                    return []  # nothing changed: nothing to write or reload
                raise _Retry  # the others again, on an engine free of the refusals
            change, pruned = self._change(before)
            with store.transaction(self._account) as tx:
                version = tx.save(self._venue, self._version, change)
                saved = True
        except (_Retry, PaperStateConflict):
            self._version = _STALE
            return [call for call in calls if not call.done]
        except SQLAlchemyError as exc:
            self._version = _STALE
            for call in calls:
                if not call.done:
                    call.settle(self._db_error(exc, saved and call.order_call))
            return []
        self._version = version
        if pruned is not None:
            self._engine.import_account(pruned)  # the engine drops what the store dropped
            self._count_kept()
        for call in calls:
            call.settle()
        return []

    def _unchanged(self, before: dict[str, Any]) -> bool:
        """Does the engine hold what it held at ``before`` (ids used up aside)?"""
        after = self._engine.export_account(self._account, closed_orders=0, fills=0)
        newest = next(reversed(self._engine.orders), 0)
        return (
            newest < before["next_order_id"]
            and after["next_trade_id"] == before["next_trade_id"]
            and {**after, "next_order_id": 0} == {**before, "next_order_id": 0}
        )

    def _change(self, before: dict[str, Any]) -> tuple[PaperChange, dict[str, Any] | None]:
        """What the engine changed since ``before`` (its export without closed orders and
        fills), and the trimmed export the engine takes on when the change drops history."""
        from tradeexec.store.paper_state import PaperChange

        engine, account = self._engine, self._account
        core = engine.export_account(account, closed_orders=0, fills=0)
        open_now = {o["order_id"]: o for o in core.pop("orders")}
        del core["fills"]
        changed = []
        for was in before["orders"]:  # only open orders change; closed ones are final
            now = open_now.get(was["order_id"]) or order_to_dict(engine.orders[was["order_id"]])
            if now != was:
                changed.append(now)
        new = []
        for order in reversed(engine.orders.values()):  # registered in id order
            if order.order_id < before["next_order_id"]:
                break
            if order.account_id == account:
                new.append(open_now.get(order.order_id) or order_to_dict(order))
        new.reverse()
        fills = []
        for fill in reversed(engine.fills):
            if fill.trade_id < before["next_trade_id"]:
                break
            if fill.account_id == account:
                fills.append(fill_to_dict(fill))
        fills.reverse()
        self._kept_closed += sum(1 for o in (*changed, *new) if o["order_id"] not in open_now)
        self._kept_fills += len(fills)
        if (
            self._kept_closed <= KEEP_CLOSED_ORDERS + SLACK_CLOSED_ORDERS
            and self._kept_fills <= KEEP_FILLS + SLACK_FILLS
        ):
            return PaperChange(core, new, changed, fills), None
        trimmed = engine.export_account(account, closed_orders=KEEP_CLOSED_ORDERS, fills=KEEP_FILLS)
        kept = {o["order_id"] for o in trimmed["orders"]}
        dropped = [oid for oid, o in engine.orders.items() if o.account_id == account]
        dropped = [oid for oid in dropped if oid not in kept]
        gone = set(dropped)
        below = trimmed["fills"][0]["trade_id"] if trimmed["fills"] else before["next_trade_id"]
        change = PaperChange(
            core,
            [o for o in new if o["order_id"] not in gone],
            [o for o in changed if o["order_id"] not in gone],
            [f for f in fills if f["trade_id"] >= below],
            dropped,
            below,
        )
        return change, trimmed

    # -------------------------------------------------------------- reading
    def _refresh(self, store: PaperStateStore, *, check: bool) -> None:
        """Reload the engine if it is stale, or (``check``) if another process wrote."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            if self._version == _STALE or (check and store.version(self._account) != self._version):
                self._adopt(store.load(self._account))
        except SQLAlchemyError as exc:
            raise self._db_error(exc, False) from exc

    def _adopt(self, snapshot: PaperSnapshot | None) -> None:
        """Make the engine hold ``snapshot`` (None: the account as configured)."""
        if snapshot is None:
            if self._version != 0:
                self._engine.import_account(self._fresh)
                self._version = 0
                self._count_kept()
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
        self._count_kept()

    def _count_kept(self) -> None:
        mine = [o for o in self._engine.orders.values() if o.account_id == self._account]
        self._kept_closed = sum(1 for o in mine if not o.status.is_open)
        self._kept_fills = len(self._engine.account_fills(self._account))

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
