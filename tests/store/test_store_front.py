"""The store's typed async front: one writer thread per store, calls in order, write batches
as one transaction, durable or relaxed commits; and `record_answer`'s read-free update."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from decimal import Decimal
from functools import partial

import pytest
from sqlalchemy import event

from tradeexec.store import RecordNotFound, Store
from tradeexec.store.front import AsyncStore


async def test_calls_run_in_order_on_the_one_writer_thread(
    store: Store, make_signal: Callable[..., int]
) -> None:
    front = AsyncStore(store)
    signal_id = make_signal()
    seen: list[str] = []

    def where(tag: str) -> str:
        seen.append(tag)
        return threading.current_thread().name

    names = await asyncio.gather(*(front.run(where, str(i)) for i in range(20)))
    assert len(set(names)) == 1 and names[0] != threading.current_thread().name
    assert seen == [str(i) for i in range(20)]  # queued order is run order
    # a write and the read queued right after it: the read sees it
    written, record = await asyncio.gather(
        front.set_signal_status(signal_id, "executing", "sending"), front.get_signal(signal_id)
    )
    assert written is True and record is not None and record.status == "executing"
    assert AsyncStore(store).store.thread is store.thread  # one thread per Store


async def test_a_write_batch_is_one_transaction_and_an_error_undoes_all_of_it(
    store: Store, make_signal: Callable[..., int]
) -> None:
    front = AsyncStore(store)
    signal_id = make_signal()
    decided = partial(store.record_decision, signal_id, True, None, "ok")
    missing = partial(store.set_signal_status, 10**9, "executing", None)
    with pytest.raises(RecordNotFound):
        await front.write(decided, missing)
    assert await front.decisions_for_signal(signal_id) == []
    ids = await front.write(decided, partial(store.set_signal_status, signal_id, "executing"))
    assert isinstance(ids[0], int) and ids[1] is True
    assert len(await front.decisions_for_signal(signal_id)) == 1
    assert (await front.events(signal_id)) == []  # and the thread is still serving


async def test_relaxed_batches_skip_the_disk_sync_and_durable_ones_do_not(
    db_url: str, backend: str
) -> None:
    """What each commit asks of the database: SQLite's `synchronous` (2 FULL, 1 NORMAL), or
    PostgreSQL's `synchronous_commit`, read inside the batch's own transaction. (The test
    server runs with it off for speed; this store's connections ask for the usual on, which
    a durable commit keeps and a relaxed one turns off for itself.)"""
    if backend == "postgresql":
        db_url += "&" if "?" in db_url else "?"
        db_url += "options=-csynchronous_commit%3Don"
    store = Store.from_url(db_url, migrate=False)
    front = AsyncStore(store)
    query = "PRAGMA synchronous" if backend == "sqlite" else "SHOW synchronous_commit"

    def setting() -> str:
        connection = store._batch_connection()
        assert connection is not None
        return str(connection.exec_driver_sql(query).scalar())

    durable = {"sqlite": "2", "postgresql": "on"}[backend]
    relaxed = {"sqlite": "1", "postgresql": "off"}[backend]
    assert await front.write(setting, durable=False) == [relaxed]
    assert await front.write(setting) == [durable]
    assert await front.write(setting, durable=False) == [relaxed]
    with store.batch():  # the synchronous API stays durable
        assert setting() == durable
    with (
        pytest.raises(RuntimeError, match="cannot join a relaxed"),
        store.batch(durable=False),
        store.batch(),
    ):
        pass
    store.close()


def test_record_answer_moves_a_known_intent_and_writes_its_history(
    store: Store, make_order: Callable[..., int]
) -> None:
    order_id = make_order()
    store.record_answer(
        order_id,
        was="pending_submit",
        status="filled",
        exchange_order_id="X1",
        filled_quantity=Decimal("0.010"),
        average_price=Decimal("67500.5"),
    )
    order = store.get_order(order_id)
    assert order is not None
    assert (order.status, order.exchange_order_id) == ("filled", "X1")
    assert (order.filled_quantity, order.average_price) == (Decimal("0.010"), Decimal("67500.5"))
    history = store.order_history(order_id)
    assert [(h.from_status, h.to_status, h.event) for h in history] == [
        (None, "pending_submit", "intent"),
        ("pending_submit", "filled", "acknowledged"),
    ]


def test_record_answer_on_an_order_that_moved_on_reads_it_first(
    store: Store, make_order: Callable[..., int]
) -> None:
    """Another writer got there first (the reconciler saw it submitted): the history says
    where it really came from, not where the caller thought it was."""
    order_id = make_order()
    store.update_order(order_id, status="submitted", event="reconciled")
    store.record_answer(order_id, was="pending_submit", status="filled", exchange_order_id="X2")
    history = store.order_history(order_id)
    assert [(h.from_status, h.to_status) for h in history][-1] == ("submitted", "filled")
    with pytest.raises(RecordNotFound):
        store.record_answer(10**9, was="pending_submit", status="filled")


async def test_closing_the_store_ends_its_writer_thread(db_url: str) -> None:
    store = Store.from_url(db_url)
    thread = store.thread
    assert await AsyncStore(store).get_signal(1) is None
    store.close()
    assert not thread.alive


async def test_write_batches_queued_together_share_one_commit(
    store: Store, make_signal: Callable[..., int]
) -> None:
    """Group commit: batches waiting behind a busy writer thread commit together (one disk
    sync), a failing one undoes only its own writes, and every caller gets its own answer."""
    front = AsyncStore(store)
    signals = [make_signal() for _ in range(4)]
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: commits.append(1))
    gate = threading.Event()
    busy = asyncio.ensure_future(front.run(gate.wait, 10))
    writes = [
        front.write(partial(store.record_decision, s, True, None, "ok"), durable=i == 0)
        for i, s in enumerate(signals)
    ]
    failing = front.write(
        partial(store.record_decision, signals[0], False, "x", "undone"),
        partial(store.set_signal_status, 10**9, "executing", None),
        durable=False,
    )
    answers = asyncio.gather(*writes, failing, return_exceptions=True)
    for _ in range(3):  # each task runs up to its queued job (no wall-clock wait)
        await asyncio.sleep(0)
    gate.set()
    await busy
    *ok, refused = await answers
    assert all(isinstance(a, list) and isinstance(a[0], int) for a in ok)
    assert isinstance(refused, RecordNotFound)
    assert len(commits) == 1  # five batches, one commit
    decisions = [await front.decisions_for_signal(s) for s in signals]
    assert [len(d) for d in decisions] == [1, 1, 1, 1]  # the failing one left nothing
    assert all(d[0].approved for d in decisions)


async def test_a_batch_in_a_group_reads_what_the_batches_before_it_wrote(store: Store) -> None:
    """Grouped batches keep the order they were queued in: a read inside a later batch sees
    an earlier one's write (a reconciler's state check after an operator's halt), exactly as
    if each had committed alone."""
    front = AsyncStore(store)
    gate = threading.Event()
    busy = asyncio.ensure_future(front.run(gate.wait, 10))
    halt = front.write(partial(store.set_trading_state, "main", "HALTED", "operator"))
    seen = front.write(partial(store.get_trading_state, "main"), durable=False)
    answers = asyncio.gather(halt, seen)
    for _ in range(3):  # each task runs up to its queued job (no wall-clock wait)
        await asyncio.sleep(0)
    gate.set()
    await busy
    _, (state,) = await answers
    assert state == ("HALTED", "operator")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_deadlock_between_two_writers_is_run_again_not_answered(db_url: str) -> None:
    """Two replicas' batches insert the same two idempotency keys in opposite order: PostgreSQL
    rolls one back as a deadlock. That batch runs again on its own (the other has committed by
    then) and finds both keys, instead of its caller (a webhook) answering a 500."""
    stores = [Store.from_url(db_url), Store.from_url(db_url)]
    barrier = threading.Barrier(2, timeout=20)
    tries: list[str] = []

    def insert_both(store: Store, first: str, second: str) -> list[bool]:
        tries.append(first)
        created = [_record(store, first)]
        if tries.count(first) == 1:  # both hold one key, then reach for the other's
            barrier.wait()
        created.append(_record(store, second))
        return created

    try:
        answers = await asyncio.gather(
            AsyncStore(stores[0]).write(partial(insert_both, stores[0], "dl-a", "dl-b")),
            AsyncStore(stores[1]).write(partial(insert_both, stores[1], "dl-b", "dl-a")),
        )
    finally:
        for store in stores:
            store.close()
    assert len(tries) == 3  # one of the two ran twice: the deadlock's victim, again
    created = sorted(flag for [flags] in answers for flag in flags)
    assert created == [False, False, True, True]  # each key recorded once, found by the other
    check = Store.from_url(db_url)
    try:
        assert all(check.get_signal_by_key(key) is not None for key in ("dl-a", "dl-b"))
    finally:
        check.close()


def _record(store: Store, key: str) -> bool:
    _id, created = store.record_signal(
        idempotency_key=key, account="main", symbol="BTC/USDT:USDT", source="test",
        payload={"side": "buy"},
    )  # fmt: skip
    return created


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_connections_the_server_closed_are_replaced_not_failed(
    store: Store, make_signal: Callable[..., int], db_url: str
) -> None:
    """The server ends the store's pooled connections (as a restart, a fail-over or the
    idle-in-transaction timeout of a paused replica does); the next call still answers."""
    from sqlalchemy import create_engine, text

    signal_id = make_signal()
    assert store.get_signal(signal_id) is not None  # a connection is now in the pool
    killer = create_engine(db_url)
    try:
        with killer.begin() as connection:
            ended = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
    finally:
        killer.dispose()
    assert ended and ended >= 1
    record = store.get_signal(signal_id)
    assert record is not None and record.id == signal_id
