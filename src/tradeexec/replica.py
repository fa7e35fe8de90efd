"""`ReplicaCoordinator`: one `TradingService` as one of several replicas on a shared
PostgreSQL database (DESIGN.md section 9).

It gives the service's journal this replica's leases (`execution/lease.py`), so the replica
acts only for the accounts it holds, and runs the background work a replica needs in place
of the service's own reconcile loop (build the service with ``reconcile_interval_s=0``):

- every ``ttl_s / 3``: renew the leases held, take the free or lapsed ones; an account just
  taken (``Takeover``: its owner died, hung, or shut down) gets the lifecycle recovery and a
  reconcile (`TradingService.reconcile`) before anything else, and the takeover is logged
  with how long the account was without an owner;
- every ``reconcile_interval_s``: reconcile the accounts held, and only those (a reconcile
  cancels and places orders: the non-owners must not);
- on a wake-up (``LISTEN``, `store/wakeups.py`) for an account held: execute at once the
  signals recorded for it by other replicas (still ``received``), oldest first.

`stop` gives the leases up, so the next replica need not wait for them to run out.

With a `Telemetry` (the app gives it its own) every lease change is counted, the leases held
are a gauge, and a takeover's length is observed once the account's first reconcile under the
new owner succeeds: from the previous holder's last renewal (the database's clock) to then.
The same figure is recorded as a ``takeover_complete`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from tradeexec.execution.lease import ReplicaLeases, Takeover
from tradeexec.service import TradingService
from tradeexec.signal_state import SignalStatus
from tradeexec.store.leases import bound_idle_transactions
from tradeexec.store.wakeups import WakeupListener
from tradeexec.telemetry import Telemetry

log = logging.getLogger(__name__)

__all__ = ["ReplicaCoordinator"]


@dataclass
class ReplicaCoordinator:
    service: TradingService
    replica_id: str
    ttl_s: float = 10.0
    reconcile_interval_s: float = 5.0
    takeovers: list[Takeover] = field(default_factory=list)
    telemetry: Telemetry | None = None
    leases: ReplicaLeases = field(init=False)
    # account -> the previous holder's last renewal, until the first reconcile succeeds
    _taken_from: dict[str, datetime] = field(default_factory=dict)
    _recoveries: set[asyncio.Task[None]] = field(default_factory=set)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _listener: WakeupListener | None = None
    _woken: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    def __post_init__(self) -> None:
        self.leases = ReplicaLeases(
            self.service.store,
            self.replica_id,
            ttl_s=self.ttl_s,
            margin_s=self.ttl_s / 5,
            on_change=self._lease_changed,
        )
        self.service.pipeline.lease = self.leases

    def _lease_changed(self, account: str, reason: str) -> None:  # on a worker thread
        if self.telemetry is not None:
            self.telemetry.lease_changed(account, reason)

    def _count_held(self) -> None:
        if self.telemetry is not None:
            self.telemetry.set_leases_held(sum(map(self.leases.owns, self.leases.held)))

    @property
    def accounts(self) -> list[str]:
        return list(self.service.manager.names)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def woken(account: str) -> None:  # on the listener's thread
            loop.call_soon_threadsafe(self._woken.put_nowait, account)

        # a replica paused inside a transaction must not hold the lease row for good
        bound_idle_transactions(self.service.store.engine, max(self.ttl_s, 1.0))
        if self.service.store.engine.dialect.name == "postgresql":
            listener = WakeupListener(self.service.store.engine, woken)
            self._listener = await asyncio.to_thread(listener.start)
        await self.hold_leases()
        self._tasks = [
            asyncio.create_task(self._every(self.ttl_s / 3, self.hold_leases)),
            asyncio.create_task(self._every(self.reconcile_interval_s, self.reconcile_held)),
            asyncio.create_task(self._wakeups()),
        ]

    async def hold_leases(self) -> None:
        taken = await self.leases.refresh(self.accounts)
        self._count_held()
        for account in [a for a in self._taken_from if not self.leases.owns(a)]:
            del self._taken_from[account]  # lost again before a reconcile: not this takeover's
        for takeover in taken:
            self.takeovers.append(takeover)
            lease = takeover.lease
            self._taken_from.pop(lease.account, None)
            if takeover.reason == "taken_over" and takeover.previous is not None:
                self._taken_from[lease.account] = takeover.previous.renewed_at
            log.warning(
                "replica %s took account %s (epoch %s, %s s without an owner)",
                self.replica_id,
                lease.account,
                lease.epoch,
                "?" if takeover.waited_s is None else f"{takeover.waited_s:.2f}",
            )
            await self.service.record_event(
                "lease_taken",
                lease.account,
                replica=self.replica_id,
                epoch=lease.epoch,
                waited_s=takeover.waited_s,
            )
            # recovery first (what the last owner left), beside the renewals: a reconcile
            # can take longer than the lease, and awaited here it would let it lapse
            task = asyncio.create_task(self._reconcile(lease.account))
            self._recoveries.add(task)
            task.add_done_callback(self._recoveries.discard)

    async def reconcile_held(self) -> None:
        for account in self.accounts:
            if self.leases.owns(account):
                await self._reconcile(account)

    async def _wakeups(self) -> None:
        """Signals handed over by other replicas. The wake-ups queued meanwhile are served by
        one pass per account (concurrently across accounts) that executes the account's
        signals still ``received``, oldest first; not a whole reconcile, which costs a round
        of venue reads each time (the periodic one still runs)."""
        while True:
            woken = {await self._woken.get()}
            while not self._woken.empty():
                woken.add(self._woken.get_nowait())
            await asyncio.gather(*(self._take_up(a) for a in sorted(woken) if self.leases.owns(a)))

    async def _take_up(self, account: str) -> None:
        store, pipeline = self.service.store, self.service.pipeline
        try:
            received = [SignalStatus.RECEIVED.value]
            for record in await asyncio.to_thread(store.unfinished_signals, received, account):
                if not self.leases.owns(account):
                    return
                await pipeline.resume(record)  # None: already running here
        except Exception:  # the periodic reconcile resumes what is left; say why
            log.exception("replica %s: signals of %s not taken up", self.replica_id, account)

    async def _reconcile(self, account: str) -> None:
        started = time.monotonic()
        try:
            await self.service.reconcile(account)
        except Exception:  # the next pass retries; say why
            log.exception("replica %s: reconcile of %s failed", self.replica_id, account)
            return
        took = time.monotonic() - started
        log.debug("reconcile of %s took %.2fs", account, took)
        since = self._taken_from.pop(account, None)
        if since is not None:
            now = await asyncio.to_thread(self.service.store.database_time)
            seconds = max(0.0, (now - since).total_seconds())
            if self.telemetry is not None:
                self.telemetry.took_over(seconds)
            await self.service.record_event(
                "takeover_complete", account, replica=self.replica_id, seconds=seconds,
                reconcile_s=round(took, 3),
            )  # fmt: skip

    async def _every(self, seconds: float, work: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await work()
            except Exception:  # the database away for a moment: the next pass retries
                log.exception("replica %s: background work failed", self.replica_id)

    async def stop(self, *, release: bool = True) -> None:
        """Stop the background work; ``release`` gives the leases up (a clean shutdown)."""
        tasks = [*self._tasks, *self._recoveries]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._listener is not None:
            await asyncio.to_thread(self._listener.close)
            self._listener = None
        if release:
            await asyncio.to_thread(self.leases.release_all)
            self._count_held()
