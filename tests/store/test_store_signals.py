"""One signal per idempotency key, also under concurrent deliveries; decisions and status."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from tradeexec.store import RecordNotFound, Store


def _count(store: Store, table: str) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_a_repeated_key_returns_the_existing_signal_and_writes_nothing(store: Store) -> None:
    first = store.record_signal(
        idempotency_key="tv-1", account="main", symbol="BTC", source="tradingview", payload={"a": 1}
    )
    again = store.record_signal(
        idempotency_key="tv-1", account="other", symbol="ETH", source="rest", payload={"a": 2}
    )

    assert first[1] is True
    assert again == (first[0], False)
    assert _count(store, "signals") == 1
    signal = store.get_signal(first[0])
    assert signal is not None
    assert (signal.account, signal.symbol, signal.payload) == ("main", "BTC", {"a": 1})


def _deliver_concurrently(store: Store, key: str, threads: int) -> list[tuple[int, bool]]:
    barrier = threading.Barrier(threads)

    def deliver(n: int) -> tuple[int, bool]:
        barrier.wait()
        return store.record_signal(
            idempotency_key=key, account="main", symbol="BTC", source=f"t{n}", payload={"n": n}
        )

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(deliver, range(threads)))


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_deliveries_of_one_key_make_exactly_one_signal(
    store: Store, round_: int
) -> None:
    results = _deliver_concurrently(store, f"race-{round_}", threads=5)

    ids = {signal_id for signal_id, _ in results}
    assert len(ids) == 1
    assert sorted(created for _, created in results) == [False, False, False, False, True]
    assert _count(store, "signals") == 1


def test_concurrent_deliveries_on_an_in_memory_store() -> None:
    store = Store.from_url("sqlite://")
    try:
        results = _deliver_concurrently(store, "mem", threads=5)
        others = [
            store.record_signal(
                idempotency_key=f"mem-{n}", account="main", symbol="BTC", source="t", payload={}
            )
            for n in range(3)
        ]
    finally:
        store.close()

    assert len({signal_id for signal_id, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    assert len({signal_id for signal_id, _ in others} | {results[0][0]}) == 4


async def test_async_callers_use_the_store_through_threads(store: Store) -> None:
    async def deliver(n: int) -> tuple[int, bool]:
        return await asyncio.to_thread(
            store.record_signal,
            idempotency_key=f"async-{n % 2}",
            account="main",
            symbol="BTC",
            source="agent",
            payload={},
        )

    results = await asyncio.gather(*(deliver(n) for n in range(8)))

    assert [created for _, created in results].count(True) == 2
    assert len({signal_id for signal_id, _ in results}) == 2


def test_signals_are_found_by_key_and_their_status_can_change(
    store: Store, make_signal: Callable[..., int]
) -> None:
    signal_id = make_signal(idempotency_key="k-status")

    store.set_signal_status(signal_id, "executed")

    by_key = store.get_signal_by_key("k-status")
    assert by_key is not None
    assert (by_key.id, by_key.status) == (signal_id, "executed")
    assert store.get_signal_by_key("missing") is None
    assert store.get_signal(signal_id + 1000) is None
    with pytest.raises(RecordNotFound):
        store.set_signal_status(signal_id + 1000, "executed")


def test_a_new_signal_starts_received(store: Store, make_signal: Callable[..., int]) -> None:
    signal = store.get_signal(make_signal())

    assert signal is not None
    assert signal.status == "received"


def test_decisions_are_recorded_in_order_with_reason_and_sizing(
    store: Store, make_signal: Callable[..., int]
) -> None:
    signal_id = make_signal()
    refused = store.record_decision(signal_id, False, "confidence_below_threshold", "0.5 < 0.7")
    approved = store.record_decision(
        signal_id, True, None, "ok", {"quantity": "0.010", "method": "risk"}
    )

    decisions = store.decisions_for_signal(signal_id)

    assert [d.id for d in decisions] == [refused, approved]
    assert (decisions[0].approved, decisions[0].reason_code, decisions[0].detail) == (
        False,
        "confidence_below_threshold",
        "0.5 < 0.7",
    )
    assert decisions[0].sizing is None
    assert decisions[1].sizing == {"quantity": "0.010", "method": "risk"}


def test_records_survive_reopening_the_file(db_url: str, tmp_path: Path) -> None:
    first = Store.from_url(db_url)
    signal_id, _ = first.record_signal(
        idempotency_key="durable", account="main", symbol="BTC", source="t", payload={}
    )
    first.close()

    second = Store.from_url(db_url)
    try:
        assert second.record_signal(
            idempotency_key="durable", account="main", symbol="BTC", source="t", payload={}
        ) == (signal_id, False)
    finally:
        second.close()
