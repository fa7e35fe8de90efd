"""`StoreThread`: one dedicated thread per `Store` that runs the async front's calls in order.

Before, every store call of the order path was its own `asyncio.to_thread`: a hand-off to
the default executor's pool (a concurrent future, a context copy, a pool thread woken)
and back, 0.3-0.4 ms each on a loaded 2-core machine, four or more per signal. One long-lived
thread reading a queue costs one queue put and one `call_soon_threadsafe` per call, and
runs the calls in the order they were made: a read queued after a write sees it, and two
writes never contend for SQLite's lock inside one process.

A call is never interrupted once it started: cancelling the awaiting task only drops the
answer (the write it asked for still happens or fails as a whole, as with `to_thread`).

Group commit: write batches (`WriteBatch`) found waiting in the queue one behind the other
(concurrent signals of several accounts, queued while a commit synced to the disk) run as
ONE transaction, each inside its own savepoint: one commit, one disk sync for all of them
(synced if any of them asked to be), and a batch that fails undoes only its own writes. Each
caller is answered only once that commit is done; if the commit itself fails, each batch
runs again on its own, so each caller learns its own outcome.

Acknowledgements first: a call submitted ``urgent`` (the durable record a webhook alert is
answered on) runs before every ordinary call already waiting, so a burst of background
executions' commits cannot hold up the answers; ordinary calls keep their order among
themselves, and so do urgent ones. Within one task nothing changes (each call is awaited
before the next is made); across tasks, an ordinary call may see an urgent write made after
it was queued, never miss one made before.

A call the database refused for a passing conflict with another writer (PostgreSQL's
deadlock or serialization failure: several replicas inserting the same idempotency keys in
another order) was rolled back whole, so it runs again on its own, a few times, before its
caller sees the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

R = TypeVar("R")

_Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]
#: a queue entry: (rank, sequence number, job); None is the end, after everything queued
_Entry = tuple[int, int, _Job | None]
_URGENT, _ORDINARY, _END = 0, 1, 2
_Outcome = tuple[bool, Any]
#: at most this many write batches share one commit
MAX_GROUP = 32
#: SQLSTATEs of a transaction the database rolled back for a conflict with another writer
_CONFLICTS = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
#: how often a call refused for such a conflict runs again
CONFLICT_RETRIES = 3


def is_write_conflict(exc: BaseException) -> bool:
    """A passing conflict with another writer: the whole transaction was rolled back."""
    orig = exc.orig if isinstance(exc, DBAPIError) else None
    return getattr(orig, "sqlstate", None) in _CONFLICTS


class _Batching(Protocol):
    def batch(self, *, durable: bool = True) -> AbstractContextManager[None]: ...
    def _batch_connection(self) -> Connection | None: ...


class WriteBatch:
    """Write steps run as one transaction (`Store.batch`): what `AsyncStore.write` queues on
    the writer thread; a named job, so the thread can group batches and a profiler can say
    what it holds."""

    def __init__(self, store: _Batching, steps: Sequence[Callable[[], Any]], durable: bool) -> None:
        self.store = store
        self.steps = steps
        self.durable = durable

    def __call__(self) -> list[Any]:
        with self.store.batch(durable=self.durable):
            return [step() for step in self.steps]


def run_group(batches: Sequence[WriteBatch]) -> list[_Outcome]:
    """Several write batches of one store in ONE transaction, each in a savepoint (see the
    module docstring); each batch's outcome, valid once this returns."""
    store = batches[0].store
    outcomes: list[_Outcome] = []
    try:
        with store.batch(durable=any(b.durable for b in batches)):
            connection = store._batch_connection()
            assert connection is not None
            for batch in batches:
                try:
                    with connection.begin_nested():
                        outcomes.append((True, [step() for step in batch.steps]))
                except Exception as exc:  # this batch only: its savepoint is rolled back
                    outcomes.append((False, exc))
    except BaseException:  # the shared commit failed: each alone, each its own answer
        return [_run_one(batch) for batch in batches]
    return [
        _run_one(batch) if not ok and is_write_conflict(value) else (ok, value)
        for batch, (ok, value) in zip(batches, outcomes, strict=True)
    ]


def _run_one(fn: Callable[[], Any]) -> _Outcome:
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            return True, fn()
        except BaseException as exc:  # handed to the caller, whatever it is
            if attempt == CONFLICT_RETRIES or not is_write_conflict(exc):
                return False, exc
    raise AssertionError("unreachable")


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():  # the caller stopped waiting; the call itself ran
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class StoreThread:
    """Runs callables one at a time on one daemon thread, answering on the caller's loop;
    urgent ones first (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.PriorityQueue[_Entry] = queue.PriorityQueue()
        self._sequence = itertools.count()  # ties broken by arrival: FIFO within a rank
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], R], *, urgent: bool = False) -> asyncio.Future[R]:
        """Queue ``fn``; the future (on the running loop) gets its result or exception.
        ``urgent``: run before the ordinary calls waiting (acknowledgements only)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        rank = _URGENT if urgent else _ORDINARY
        self._jobs.put((rank, next(self._sequence), (fn, loop, future)))
        return future

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the calls already queued, then end the thread."""
        self._jobs.put((_END, next(self._sequence), None))
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def waiting(self) -> int:
        """Calls queued and not started (a gauge for diagnosis)."""
        return self._jobs.qsize()

    def _serve(self) -> None:
        while True:
            _, _, job = self._jobs.get()
            if job is None:
                return
            group: list[_Job] = [job]
            batches: list[WriteBatch] = []
            if isinstance(job[0], WriteBatch):
                group, batches = self._gather(job, job[0])
            outcomes = [_run_one(job[0])] if len(group) == 1 else run_group(batches)
            for (_, loop, future), (ok, value) in zip(group, outcomes, strict=True):
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                    loop.call_soon_threadsafe(_settle, future, ok, value)

    def _gather(self, first: _Job, batch: WriteBatch) -> tuple[list[_Job], list[WriteBatch]]:
        """``first`` (whose job is ``batch``) and the write batches of the same store next in
        the queue (urgent ones first); the next entry that is not one of them goes back to
        its place (its rank and sequence number), to run after."""
        group, batches = [first], [batch]
        while len(group) < MAX_GROUP:
            try:
                entry = self._jobs.get_nowait()
            except queue.Empty:
                break
            job = entry[2]
            if job is None or not (isinstance(job[0], WriteBatch) and job[0].store is batch.store):
                self._jobs.put(entry)
                break
            group.append(job)
            batches.append(job[0])
        return group, batches
