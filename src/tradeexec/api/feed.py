"""What happened, as it happens: the store's change feed for ``GET /events`` (Server-Sent
Events) and the metrics that count from it.

One task polls the store for rows added since it last looked (signals, risk decisions,
order transitions, fills, events; see ``store.queries.changes_after``) and for status
changes of the signals it saw still running, numbers each item, keeps the last
``history`` items (a client reconnecting with ``Last-Event-ID`` gets what it missed) and
hands each to every subscriber. Polling the store rather than hooking the pipeline means
signals recorded by other processes (the CLI, another replica) appear too.

Every ``gauge_interval_s`` it also refreshes the gauges that need the venues: each
account's trading state and its unprotected positions.

On PostgreSQL a row's id is taken when it is inserted but the row is seen only when its
transaction commits, so a row can appear after one with a higher id was already read (two
replicas, or two tasks, writing at once). The feed therefore re-reads a window of
``LOOKBACK`` ids behind the newest it has seen in each table and publishes only the rows it
has not published yet. SQLite commits one writer at a time, in id order: no window there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from tradeexec import errors
from tradeexec.api.schemas import jsonable
from tradeexec.service import TradingService
from tradeexec.signal_state import SignalStatus
from tradeexec.store.queries import Changes, Cursor
from tradeexec.telemetry import Telemetry

__all__ = ["EVENT_TYPES", "Feed", "FeedItem"]

log = logging.getLogger("tradeexec.api.feed")

EVENT_TYPES = ("signal", "decision", "order", "fill", "event")
#: ids re-read behind the newest seen, per table, on PostgreSQL (see the module docstring):
#: more than the transactions that can be in flight at once
LOOKBACK = 64
_TABLES = tuple(f.name for f in fields(Cursor))


@dataclass(frozen=True)
class FeedItem:
    seq: int
    type: str
    data: dict[str, Any]


class Feed:
    def __init__(
        self,
        service: TradingService,
        telemetry: Telemetry,
        *,
        poll_interval_s: float = 0.25,
        gauge_interval_s: float = 10.0,
        history: int = 1000,
    ) -> None:
        self.service = service
        self.telemetry = telemetry
        self.poll_interval_s = poll_interval_s
        self.gauge_interval_s = gauge_interval_s
        self._items: deque[FeedItem] = deque(maxlen=history)
        self._seq = 0
        self._subscribers: set[asyncio.Queue[FeedItem | None]] = set()
        self._running: dict[int, str] = {}  # signal id -> last status seen, while not ended
        self._cursor = Cursor()
        self._lookback = LOOKBACK if service.store.engine.dialect.name == "postgresql" else 0
        self._seen: dict[str, set[int]] = {table: set() for table in _TABLES}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._cursor = (await self.service.changes_after(None)).cursor
        if self._lookback:  # what is already there is not news
            self._fresh(await self.service.changes_after(self._behind()))
        self._tasks = [
            asyncio.create_task(self._poll_forever(), name="tradeexec-feed"),
            asyncio.create_task(self._gauges_forever(), name="tradeexec-gauges"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for queue in list(self._subscribers):
            queue.put_nowait(None)

    # ------------------------------------------------------------------ subscribers
    async def subscribe(
        self, after: int | None = None, types: frozenset[str] | None = None
    ) -> AsyncIterator[FeedItem]:
        """Items as they come (first those after ``after`` still kept), until the feed
        stops. A subscriber too slow to keep up is dropped (it reconnects with its
        Last-Event-ID)."""
        queue: asyncio.Queue[FeedItem | None] = asyncio.Queue(maxsize=1000)
        backlog = [i for i in self._items if after is not None and i.seq > after]
        self._subscribers.add(queue)
        try:
            for item in backlog:
                if types is None or item.type in types:
                    yield item
            while True:
                got = await queue.get()
                if got is None:
                    return
                if types is None or got.type in types:
                    yield got
        finally:
            self._subscribers.discard(queue)

    def _publish(self, type_: str, data: dict[str, Any]) -> None:
        self._seq += 1
        item = FeedItem(self._seq, type_, data)
        self._items.append(item)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)

    # ------------------------------------------------------------------ polling
    async def _poll_forever(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:  # keep the feed alive; say why
                log.exception("event feed poll failed")
            await asyncio.sleep(self.poll_interval_s)

    def _behind(self) -> Cursor:
        return Cursor(*(max(0, getattr(self._cursor, t) - self._lookback) for t in _TABLES))

    def _fresh(self, changes: Changes) -> Changes:
        """``changes`` less the rows already published (read again in the window behind
        the cursor); moves the cursor to the newest id seen."""
        if not self._lookback:
            self._cursor = changes.cursor
            return changes
        newest = {t: max(getattr(self._cursor, t), getattr(changes.cursor, t)) for t in _TABLES}
        self._cursor = Cursor(**newest)
        for table in _TABLES:  # forget what no window will reach again
            floor = newest[table] - self._lookback
            self._seen[table] = {i for i in self._seen[table] if i > floor}

        def new(table: str, rows: Sequence[Any], key: Callable[[Any], int]) -> list[Any]:
            seen = self._seen[table]
            kept = [row for row in rows if key(row) not in seen]
            seen.update(key(row) for row in kept)
            return kept

        return replace(
            changes,
            cursor=self._cursor,
            signals=new("signal", changes.signals, lambda r: r.id),
            decisions=new("decision", changes.decisions, lambda r: r.id),
            orders=new("history", changes.orders, lambda r: r[0].id),
            fills=new("fill", changes.fills, lambda r: r.id),
            events=new("event", changes.events, lambda r: r.id),
        )

    async def poll(self) -> None:
        after = self._behind() if self._lookback else self._cursor
        changes = self._fresh(await self.service.changes_after(after))
        self.telemetry.record_changes(changes)
        self._publish_changes(changes)
        # a state change shows in the gauge at once, not at the next refresh
        for account in {e.account for e in changes.events if e.account and "account" in e.kind}:
            if account in self.service.manager.names:
                state = await self.service.state(account)
                self.telemetry.set_account_state(account, state.state.value)
        if self._running:
            for record in await self.service.signals_now(list(self._running)):
                if record.status != self._running[record.id]:
                    self._publish("signal", _signal(record))
                    self._track(record.id, record.status)

    def _track(self, signal_id: int, status: str) -> None:
        if SignalStatus(status).is_terminal:
            self._running.pop(signal_id, None)
        else:
            self._running[signal_id] = status

    def _publish_changes(self, changes: Changes) -> None:
        for signal in changes.signals:
            self._publish("signal", _signal(signal))
            self._track(signal.id, signal.status)
        for decision in changes.decisions:
            self._publish("decision", jsonable(decision))
        for transition, order in changes.orders:
            self._publish(
                "order",
                {
                    **jsonable(order),
                    "transition": {
                        "from": transition.from_status,
                        "to": transition.to_status,
                        "event": transition.event,
                        "at": transition.at.isoformat(),
                    },
                },
            )
        for fill in changes.fills:
            self._publish("fill", jsonable(fill))
        for event in changes.events:
            self._publish("event", jsonable(event))

    # ------------------------------------------------------------------- gauges
    async def _gauges_forever(self) -> None:
        while True:
            await self.refresh_gauges()
            await asyncio.sleep(self.gauge_interval_s)

    async def refresh_gauges(self) -> None:
        async def one(name: str) -> None:
            try:
                state = await self.service.state(name)
                self.telemetry.set_account_state(name, state.state.value)
                count = await asyncio.wait_for(self.service.unprotected_positions(name), 30)
                self.telemetry.set_unprotected(name, count)
            except (errors.TradeExecError, TimeoutError) as exc:
                log.debug("gauges of %s not refreshed: %s", name, exc)
            except Exception:
                log.exception("gauges of %s not refreshed", name)

        await asyncio.gather(*(one(n) for n in self.service.manager.names))


def _signal(record: Any) -> dict[str, Any]:
    """A signal without its payload (the story is at GET /signals/{id})."""
    return {
        "id": record.id,
        "idempotency_key": record.idempotency_key,
        "account": record.account,
        "symbol": record.symbol,
        "source": record.source,
        "status": record.status,
        "status_reason": record.status_reason,
        "created_at": record.created_at.isoformat(),
    }
