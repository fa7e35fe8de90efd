"""Signals in: one delivery worked on once, re-deliveries answered from the store, signals left
unfinished resumed, and webhooks answered as soon as the signal is durable.

`SignalIntake` is the front half of the `Pipeline`: `execute` (record, run, answer), `accept`
(record, answer, run in the background), `resume` (finish what a crash left), and the
follow-ups that resume a signal whose order's outcome was unknown. The run itself is the
pipeline's (`_run_locked`).

`accept`'s record is the one write an answer waits on while executions run: it goes to the
store's writer thread as urgent (ahead of the executions' commits, `store/worker.py`), and
the accepted signal waits in its account's queue (`Backlog`), not as a task of its own.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from tradeexec import errors
from tradeexec.exchanges.factory import ExchangeManager
from tradeexec.execution.backlog import Backlog
from tradeexec.execution.journal import Journal
from tradeexec.execution.recording import AlreadyRecorded, SignalRef
from tradeexec.execution.redelivery import Claim, content_conflict
from tradeexec.execution.report import ExecutionReport
from tradeexec.execution.signals import Signal, json_safe, scrub
from tradeexec.signal_state import SignalStatus
from tradeexec.store.records import SignalRecord
from tradeexec.store.repository import Store

log = logging.getLogger(__name__)

ST = SignalStatus


@dataclass(frozen=True)
class Accepted:
    """What `Pipeline.accept` answers: the signal's id, whether this delivery recorded it,
    and either the answer now (a re-delivery) or the execution's future (its report)."""

    signal_id: int | None
    created: bool
    answer: ExecutionReport | None
    running: asyncio.Future[ExecutionReport] | None


class SignalIntake(Journal, ABC):
    #: after an unknown outcome, the signal is resumed by itself after these pauses
    follow_up_delays: tuple[float, ...] = (1.0, 3.0, 10.0)
    #: signals of one account whose callers wait for the outcome (`execute`: REST, MCP, the
    #: CLI) at most in this process; one more is refused before it is recorded, so a venue
    #: that hangs cannot pile up connections, tasks and file descriptors without bound (an
    #: exit is never refused: closing a position must always get in line)
    max_waiting_per_account: int = 64

    def __init__(self, store: Store, manager: ExchangeManager) -> None:
        super().__init__(store)
        self.manager = manager
        # idempotency keys being executed or resumed in this process: a re-delivery waits
        # for the first to finish, then answers with what it came to
        self._running: dict[str, asyncio.Future[None]] = {}
        self._following: set[int] = set()
        self._follow_ups: set[asyncio.Task[None]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()  # re-deliveries resumed in the background
        self._waiting: dict[str, int] = {}  # account -> `execute` calls not finished
        self.backlog = Backlog(partial(self._run_locked, resumed=False))  # accepted signals

    @abstractmethod
    async def _run_locked(
        self, signal: Signal, signal_id: int | SignalRef, *, resumed: bool
    ) -> ExecutionReport:
        """Run (or resume) one signal under its account's lock: a recorded one, or one whose
        record is due with the run's first commit (`recording`)."""

    # ------------------------------------------------------------- follow-ups
    def _follow_up(self, signal_id: int) -> None:
        """An order's outcome is unknown: resume the signal by itself after a pause or two,
        so what it may have opened gets its stop without waiting for a re-delivery or the
        reconcile loop."""
        if signal_id in self._following:
            return
        self._following.add(signal_id)
        task = asyncio.get_running_loop().create_task(self._resume_later(signal_id))
        self._follow_ups.add(task)
        task.add_done_callback(self._follow_ups.discard)

    async def _resume_later(self, signal_id: int) -> None:
        try:
            for delay in self.follow_up_delays:
                await asyncio.sleep(delay)
                record = await self.records.get_signal(signal_id)
                if record is None or record.status != ST.EXECUTING:
                    return
                try:
                    await self.resume(record)
                except Exception:  # the reconcile loop is the next net; say why
                    log.exception("follow-up of signal %s failed", signal_id)
        finally:
            self._following.discard(signal_id)

    async def close(self, grace_s: float = 10.0) -> None:
        """Let accepted signals finish (up to ``grace_s``), then stop them and the follow-ups:
        what they did not finish, start-up recovery will."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        await self.backlog.close(grace_s)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - loop.time()))
        pending = [*self._tasks, *self._follow_ups]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def is_running(self, idempotency_key: str) -> bool:
        return idempotency_key in self._running

    # ------------------------------------------------------------------ entry
    async def accept(self, signal: Signal) -> Accepted:
        """Record the signal durably, then execute it in the background: returns as soon as
        the record is committed (a webhook must answer within seconds whatever the venue is
        doing; a crash after this is recovered by the lifecycle). A re-delivered key gets the
        store's answer at once; one left unfinished by an earlier process is resumed in the
        background."""
        signal = self._with_account(signal)
        key = signal.idempotency_key
        if key in self._running:  # being worked on here: the store says how far it got
            return Accepted(None, False, await self._answer_duplicate(signal), None)
        claim = self._claim(key)
        claim.__enter__()
        try:
            signal_id, created = await self._record(signal, urgent=True)
        except BaseException:
            claim.__exit__()
            raise
        if created and not self.lease.owns(signal.account or ""):
            claim.__exit__()
            await self._hand_over(signal.account)
            return Accepted(signal_id, True, None, None)
        if created:
            return Accepted(signal_id, True, None, self._background(signal, signal_id, claim))
        claim.__exit__()
        record = await self.records.get_signal(signal_id)
        assert record is not None
        conflict = content_conflict(signal, record)
        if conflict is not None:
            return Accepted(
                signal_id, False, await self._conflict(signal, signal_id, conflict), None
            )
        if not SignalStatus(record.status).is_terminal and not self.lease.owns(record.account):
            await self._hand_over(record.account)
            return Accepted(signal_id, False, None, None)
        if not SignalStatus(record.status).is_terminal:
            task = asyncio.get_running_loop().create_task(self.execute(signal))
            self._track(task)
            return Accepted(signal_id, False, None, task)
        return Accepted(signal_id, False, await self._answer_duplicate(signal), None)

    def _background(
        self, signal: Signal, signal_id: int, claim: Claim
    ) -> asyncio.Future[ExecutionReport]:
        """Queue a recorded signal behind its account's others (the claim is released when
        it has run)."""
        assert signal.account is not None
        return self.backlog.add(signal.account, signal, signal_id, claim)

    async def _hand_over(self, account: str | None) -> None:
        """Another replica holds ``account`` (see `lease.py`; never so for `SoleOwner`): the
        signal is recorded, so wake its owner, which executes it (a lost wake-up costs only
        latency: the owner's reconcile finds every unfinished signal)."""
        assert account is not None
        await self.records.wake_owner(account)

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _with_account(self, signal: Signal) -> Signal:
        if signal.account is not None:
            return signal
        return replace(signal, account=self.manager.default_name())

    async def _record(self, signal: Signal, *, urgent: bool = False) -> tuple[int, bool]:
        """Record the signal once per key, durably: ``(signal_id, created)``; ``urgent`` when
        an answer waits on it alone (`accept`)."""
        step = self._signal_step(signal)
        ((signal_id, created),) = await self.records.write(step, urgent=urgent)
        return int(signal_id), bool(created)

    def _signal_step(self, signal: Signal) -> Callable[[], Any]:
        assert signal.account is not None
        return partial(
            self.store.record_signal,
            idempotency_key=signal.idempotency_key,
            account=signal.account,
            symbol=signal.symbol,
            source=signal.source.value,
            payload=signal.to_record(),
            confidence=signal.confidence,
        )

    async def _conflict(
        self, signal: Signal, signal_id: int, conflict: dict[str, Any]
    ) -> ExecutionReport:
        await self.event(
            "idempotency_conflict",
            signal.account,
            signal_id,
            idempotency_key=signal.idempotency_key,
            diff=conflict,
        )
        return ExecutionReport.conflict(signal, signal_id, conflict)

    async def record_invalid(
        self, data: object, source: str, exc: errors.InvalidSignal
    ) -> ExecutionReport:
        """Bad input is recorded too: a signal row ``rejected`` with the refusal's code (its
        secrets scrubbed), and an event; nothing is decided or sent. A key already used by
        another signal keeps that signal; the answer is the same refusal."""
        fields = data if isinstance(data, Mapping) else {}
        given = fields.get("idempotency_key") or fields.get("client_order_id")
        key = str(given)[:128] if given else f"invalid-{secrets.token_hex(12)}"
        account = str(fields.get("account") or self.manager.default_name())[:64]
        symbol = str(fields.get("symbol") or "")[:64]
        payload = json_safe(dict(scrub(fields))) if fields else {"raw": repr(data)[:500]}

        def record() -> int | None:
            signal_id, created = self.store.record_signal(
                idempotency_key=key,
                account=account,
                symbol=symbol,
                source=source,
                payload=payload,
                status=ST.REJECTED.value,
            )
            if not created:
                return None
            self.store.set_signal_status(signal_id, ST.REJECTED.value, exc.code)
            self.store.append_event(
                "signal_invalid", account, {"error": exc.to_dict()}, signal_id=signal_id
            )
            return int(signal_id)

        (signal_id,) = await self.write(record)
        return ExecutionReport(
            status=ST.REJECTED.value,
            idempotency_key=key,
            symbol=symbol,
            account=account,
            signal_id=signal_id,
            reason=exc.code,
            error=str(exc),
        )

    async def execute(self, signal: Signal) -> ExecutionReport:
        """Record the signal, run it, answer with its outcome (see `max_waiting_per_account`
        for the one refusal made before anything is recorded)."""
        signal = self._with_account(signal)
        account = signal.account or ""
        waiting = self._waiting.get(account, 0)
        if waiting >= self.max_waiting_per_account and not (signal.reduce_only or signal.is_close):
            raise errors.ExchangeUnavailable(
                f"account {account!r} already has {waiting} signals waiting for its venue; "
                "nothing was recorded: send this one again later (the same idempotency key)"
            )
        self._waiting[account] = waiting + 1
        try:
            return await self._record_and_run(signal)
        finally:
            self._waiting[account] -= 1
            if not self._waiting[account]:
                del self._waiting[account]

    async def _record_and_run(self, signal: Signal) -> ExecutionReport:
        key = signal.idempotency_key
        running = self._running.get(key)
        if running is not None:  # the same key is being worked on here: wait, then answer
            await asyncio.wait({running})
            return await self._answer_duplicate(signal)
        with self._claim(key):
            # executed here, the signal is recorded in the run's first commit, the durable
            # one that decides (`recording`); handed over, it is recorded durably at once
            if self.lease.owns(signal.account or ""):
                pending = SignalRef(record=self._signal_step(signal))
                try:
                    return await self._run_locked(signal, pending, resumed=False)
                except AlreadyRecorded as taken:  # by an earlier delivery: answer as one
                    return await self._redelivered(signal, taken.signal_id)
            signal_id, created = await self._record(signal)
            await self._hand_over(signal.account)  # another replica executes it
            if created:  # the store's word for it: recorded, not decided yet
                return ExecutionReport(
                    status=ST.RECEIVED.value,
                    idempotency_key=key,
                    symbol=signal.symbol,
                    account=signal.account,
                    signal_id=signal_id,
                    confidence=signal.confidence,
                    reason="owner_executes",
                )
            return await self._answer_duplicate(signal)

    async def _redelivered(self, signal: Signal, signal_id: int) -> ExecutionReport:
        """A key an earlier delivery recorded: a conflict if its content differs, else the
        original's answer, after finishing it if an earlier process left it unfinished."""
        record = await self.records.get_signal(signal_id)
        assert record is not None
        conflict = content_conflict(signal, record)
        if conflict is not None:
            return await self._conflict(signal, signal_id, conflict)
        if not SignalStatus(record.status).is_terminal:
            # left unfinished by an earlier process (a crash): finish it now
            await self._resume(record)
        return await self._answer_duplicate(signal)

    def _claim(self, key: str) -> Claim:
        return Claim(self._running, key)

    async def resume(self, record: SignalRecord) -> ExecutionReport | None:
        """Finish a signal an earlier process left unfinished (None: it is running here)."""
        if record.idempotency_key in self._running:
            return None
        with self._claim(record.idempotency_key):
            return await self._resume(record)

    async def _resume(self, record: SignalRecord) -> ExecutionReport:
        signal = Signal.from_record(record.payload)
        signal = replace(signal, account=record.account)
        return await self._run_locked(signal, record.id, resumed=True)

    async def _answer_duplicate(self, signal: Signal) -> ExecutionReport:
        """A re-delivered key: the original's true status and outcome, as the store holds it."""
        record = await self.records.get_signal_by_key(signal.idempotency_key)
        assert record is not None
        orders = await self.records.orders_for_signal(record.id)
        await self.event(
            "signal_duplicate", record.account, record.id, idempotency_key=signal.idempotency_key
        )
        return ExecutionReport.duplicate(signal, record, orders)
