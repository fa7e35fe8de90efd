"""`Backlog`: accepted signals waiting to be executed, one queue and one worker per account.

A webhook alert (or REST ``wait=false``) is answered as soon as its record is durable; its
execution waits here. Each account's signals run one at a time in the order they were
accepted (the pipeline holds an account's lock for each anyway), by one worker task per
account that exists only while the account has something queued.

Why a queue and not a task per signal: a waiting signal is a small entry in a deque (its
parsed signal, its id, its claim on the idempotency key), not a task parked on the account's
lock, so a burst of alerts or a hung venue's backlog costs memory in proportion and nothing
else: no scheduling, no socket, no file descriptor, and another account's worker never waits
behind it. Nothing here is the durable copy: every queued signal is already recorded, so one
left queued when the process stops (or dies) is resumed by start-up recovery.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tradeexec.execution.redelivery import Claim
from tradeexec.execution.report import ExecutionReport
from tradeexec.execution.signals import Signal

log = logging.getLogger(__name__)

Run = Callable[[Signal, int], Awaitable[ExecutionReport]]


@dataclass(frozen=True)
class _Queued:
    signal: Signal
    signal_id: int
    claim: Claim  # released when the signal has run (or is dropped at close)
    done: asyncio.Future[ExecutionReport]


def _retrieve(future: asyncio.Future[ExecutionReport]) -> None:
    """The worker logged the failure; nobody has to read it."""
    if not future.cancelled():
        future.exception()


class Backlog:
    """Per-account queues of recorded signals, each drained by its own worker task."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._queues: dict[str, deque[_Queued]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    def add(
        self, account: str, signal: Signal, signal_id: int, claim: Claim
    ) -> asyncio.Future[ExecutionReport]:
        """Queue a recorded signal (its key claimed); the future gets its report."""
        done: asyncio.Future[ExecutionReport] = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieve)
        self._queues.setdefault(account, deque()).append(_Queued(signal, signal_id, claim, done))
        if account not in self._workers:
            self._workers[account] = asyncio.get_running_loop().create_task(
                self._work(account), name=f"backlog-{account}"
            )
        return done

    def waiting(self, account: str) -> int:
        """Signals of ``account`` accepted and not finished (the running one included)."""
        return len(self._queues.get(account, ()))

    async def _work(self, account: str) -> None:
        queue = self._queues[account]
        try:
            while queue:
                item = queue[0]
                try:
                    report = await self._run(item.signal, item.signal_id)
                except asyncio.CancelledError:
                    item.done.cancel()
                    raise
                except Exception as exc:  # recorded, not finished: recovery's to finish
                    log.exception("background execution of signal %s failed", item.signal_id)
                    if not item.done.done():
                        item.done.set_exception(exc)
                else:
                    if not item.done.done():
                        item.done.set_result(report)
                finally:
                    queue.popleft()
                    item.claim.__exit__()
        finally:  # stopped (close): what is still queued is recorded; start-up resumes it
            for item in queue:
                item.claim.__exit__()
                item.done.cancel()
            queue.clear()
            del self._queues[account]
            del self._workers[account]

    async def close(self, grace_s: float) -> None:
        """Let the queues drain for up to ``grace_s``, then stop the workers."""
        workers = set(self._workers.values())
        if workers:
            await asyncio.wait(workers, timeout=grace_s)
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
