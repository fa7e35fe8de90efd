"""Acknowledgements first on the store's writer thread: an urgent call (a webhook alert's
record, which its answer waits on) runs before the ordinary calls already waiting (the
background executions' commits); each kind keeps its own order."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from functools import partial

from tradeexec.store import Store
from tradeexec.store.front import AsyncStore
from tradeexec.store.worker import StoreThread


async def _until_queued(thread: StoreThread, n: int) -> None:
    """Let the tasks run up to their queued job (no wall-clock wait)."""
    for _ in range(1000):
        if thread.waiting >= n:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{thread.waiting} calls queued, expected {n}")


async def test_urgent_calls_run_before_the_ordinary_ones_waiting_each_kind_in_order() -> None:
    thread = StoreThread("test-writer")
    try:
        started, gate = threading.Event(), threading.Event()
        ran: list[str] = []

        def block() -> None:
            started.set()
            gate.wait(10)

        busy = thread.submit(block)
        assert await asyncio.to_thread(started.wait, 10)  # busy: what follows waits
        futures = [
            thread.submit(partial(ran.append, name), urgent=name.startswith("u"))
            for name in ("o1", "u1", "o2", "u2", "o3")
        ]
        assert thread.waiting == 5
        gate.set()
        await busy
        await asyncio.gather(*futures)
        assert ran == ["u1", "u2", "o1", "o2", "o3"]
    finally:
        thread.stop()
    assert not thread.alive


async def test_an_alert_record_commits_ahead_of_execution_writes_queued_before_it(
    store: Store, make_signal: Callable[..., int]
) -> None:
    """The order the writer thread ran them in is the order of the ids the store handed out:
    the urgent record, queued last, gets the lowest; the ordinary ones keep theirs; a read
    queued among them still runs after the writes queued before it."""
    front = AsyncStore(store)
    signal_id = make_signal()

    def record(key: str) -> Callable[[], tuple[int, bool]]:
        return partial(
            store.record_signal, idempotency_key=key, account="main",
            symbol="BTC/USDT:USDT", source="tradingview", payload={"k": key},
        )  # fmt: skip

    started, gate = threading.Event(), threading.Event()

    def block() -> None:
        started.set()
        gate.wait(10)

    busy = asyncio.ensure_future(front.run(block))
    await asyncio.sleep(0)
    assert await asyncio.to_thread(started.wait, 10)  # the thread is busy: the rest wait
    first = asyncio.ensure_future(front.write(record("exec-1")))
    read = asyncio.ensure_future(front.run(store.get_signal_by_key, "exec-1"))
    second = asyncio.ensure_future(
        front.write(partial(store.record_decision, signal_id, True, None, "ok"), record("exec-2"))
    )
    alert = asyncio.ensure_future(front.write(record("alert"), urgent=True))
    await _until_queued(store.thread, 4)
    gate.set()
    await busy
    ((alert_id, _),) = await alert
    ((first_id, _),) = await first
    _, (second_id, _) = await second
    assert alert_id < first_id < second_id
    seen = await read
    assert seen is not None and seen.id == first_id
