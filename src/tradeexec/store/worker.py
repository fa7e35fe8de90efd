"""`StoreThread`: one dedicated thread per `Store` that runs the async front's calls in order.

Before, every store call of the order path was its own `asyncio.to_thread`: a hand-off to
the default executor's pool (a concurrent future, a context copy, a pool thread woken)
and back, 0.3-0.4 ms each on a loaded 2-core machine, four or more per signal. One long-lived
thread reading a queue costs one queue put and one `call_soon_threadsafe` per call, and
runs the calls in the order they were made: a read queued after a write sees it, and two
writes never contend for SQLite's lock inside one process.

A call is never interrupted once it started: cancelling the awaiting task only drops the
answer (the write it asked for still happens or fails as a whole, as with `to_thread`).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")

_Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():  # the caller stopped waiting; the call itself ran
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class StoreThread:
    """Runs callables one at a time on one daemon thread, answering on the caller's loop."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], R]) -> asyncio.Future[R]:
        """Queue ``fn``; the future (on the running loop) gets its result or exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._jobs.put((fn, loop, future))
        return future

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the calls already queued, then end the thread."""
        self._jobs.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, loop, future = job
            try:
                ok, value = True, fn()
            except BaseException as exc:  # handed to the caller, whatever it is
                ok, value = False, exc
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                loop.call_soon_threadsafe(_settle, future, ok, value)
