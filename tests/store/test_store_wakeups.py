"""LISTEN/NOTIFY wakes an account's owner when a signal is recorded elsewhere (PostgreSQL)."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest

from tradeexec.store import Store
from tradeexec.store.wakeups import WakeupListener
from tradeexec.testing import PostgresServer


@pytest.fixture
def pg_store(tradeexec_postgres: PostgresServer) -> Iterator[Store]:
    name, url = tradeexec_postgres.new_store_database("wakeups")
    store = Store.from_url(url, migrate=False)
    yield store
    store.close()
    tradeexec_postgres.drop_database(name)


def test_a_committed_signal_wakes_the_listener_and_a_rolled_back_one_does_not(
    pg_store: Store,
) -> None:
    woken: queue.Queue[str] = queue.Queue()
    listener = WakeupListener(pg_store.engine, woken.put).start()
    try:
        with pytest.raises(RuntimeError), pg_store.batch():
            pg_store.wake_owner("rolled-back")
            raise RuntimeError("the recording failed")
        with pg_store.batch():
            pg_store.record_signal(
                idempotency_key="k1", account="main", symbol="BTC", source="test", payload={}
            )
            pg_store.wake_owner("main")

        assert woken.get(timeout=10) == "main"  # notifications arrive in commit order
        assert woken.empty()
    finally:
        listener.close()


def test_the_listener_is_refused_on_sqlite(store: Store, backend: str) -> None:
    if backend == "sqlite":
        with pytest.raises(ValueError, match="PostgreSQL"):
            WakeupListener(store.engine, print)
    else:
        store.wake_owner("main")  # on PostgreSQL with no listener: nothing to do, no error
