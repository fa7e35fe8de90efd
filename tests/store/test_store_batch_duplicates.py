"""Duplicates inside a batch, and what the order path's writes cost in SQL statements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, text

from tradeexec.store import DuplicateClientOrderId, Store


def _count(store: Store, table: str) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _signal(store: Store, key: str) -> tuple[int, bool]:
    return store.record_signal(
        idempotency_key=key, account="main", symbol="BTC", source="t", payload={}
    )


def _fill(store: Store, trade_id: str, order_id: int) -> bool:
    return store.record_fill(
        account="main", symbol="BTC/USDT:USDT", exchange_trade_id=trade_id, side="buy",
        quantity=Decimal("0.004"), price=Decimal("67500.1"), order_id=order_id,
    )  # fmt: skip


def test_a_duplicate_signal_in_a_batch_undoes_only_itself(store: Store) -> None:
    signal_id, _ = _signal(store, "dup")

    with store.batch():
        store.record_decision(signal_id, True, None, "before")
        assert _signal(store, "dup") == (signal_id, False)
        store.append_event("after", "main", signal_id=signal_id)

    assert _count(store, "signals") == 1
    assert [d.detail for d in store.decisions_for_signal(signal_id)] == ["before"]
    assert [e.kind for e in store.events(signal_id)] == ["after"]


def test_a_key_recorded_earlier_in_the_same_batch_is_a_duplicate(store: Store) -> None:
    with store.batch():
        first = _signal(store, "twice")
        again = _signal(store, "twice")

    assert first[1] is True
    assert again == (first[0], False)
    assert _count(store, "signals") == 1


def test_a_duplicate_fill_in_a_batch_undoes_only_itself(
    store: Store, make_order: Callable[..., int]
) -> None:
    order_id = make_order()
    assert _fill(store, "t-1", order_id) is True

    with store.batch():
        assert _fill(store, "t-1", order_id) is False
        assert _fill(store, "t-2", order_id) is True
        store.update_order(order_id, status="filled", filled_quantity=Decimal("0.008"))

    assert [f.exchange_trade_id for f in store.fills_for_order(order_id)] == ["t-1", "t-2"]
    order = store.get_order(order_id)
    assert order is not None
    assert (order.status, order.filled_quantity) == ("filled", Decimal("0.008"))


def test_a_duplicate_client_order_id_ends_the_batch(
    store: Store, make_signal: Callable[..., int], make_order: Callable[..., int]
) -> None:
    signal_id = make_signal()
    existing = make_order(client_order_id="cid-taken")

    with pytest.raises(DuplicateClientOrderId) as raised, store.batch():
        store.record_decision(signal_id, True, None, "ok")
        make_order(client_order_id="cid-taken")

    assert raised.value.order_id == existing
    assert store.decisions_for_signal(signal_id) == []


def test_a_duplicate_client_order_id_in_a_batch_on_an_in_memory_store() -> None:
    # One connection carries the batch: the existing order is looked up on it.
    store = Store.from_url("sqlite://")
    try:
        intent: dict[str, Any] = {
            "account": "main", "symbol": "BTC/USDT:USDT", "client_order_id": "cid-mem",
            "role": "entry", "side": "buy", "order_type": "market", "quantity": Decimal("0.1"),
        }  # fmt: skip
        existing = store.record_order_intent(**intent)
        with pytest.raises(DuplicateClientOrderId) as raised, store.batch():
            store.record_order_intent(**intent)
        assert raised.value.order_id == existing
        assert store.get_order(existing) is not None
    finally:
        store.close()


def test_an_accounts_first_state_set_in_a_batch_commits_with_it(store: Store) -> None:
    with store.batch():
        store.set_trading_state("fresh", "HALTED", "kill switch")
        store.append_event("account_halted", "fresh")
    assert store.get_trading_state("fresh") == ("HALTED", "kill switch")

    with pytest.raises(RuntimeError), store.batch():
        store.set_trading_state("other", "HALTED", "never")
        raise RuntimeError("crash")
    assert store.get_trading_state("other") == ("ACTIVE", None)


@contextmanager
def _statements(store: Store) -> Iterator[list[str]]:
    """The first word of each SQL statement sent while the block runs; BEGIN for each
    transaction begun (whether the driver sends it or, on SQLite, the store's hook)."""
    seen: list[str] = []

    def begun(*_: Any) -> None:
        seen.append("BEGIN")

    def sent(*args: Any) -> None:
        verb = args[2].split()[0].upper()
        if verb != "BEGIN":
            seen.append(verb)

    event.listen(store.engine, "begin", begun)
    event.listen(store.engine, "before_cursor_execute", sent)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", sent)
        event.remove(store.engine, "begin", begun)


def test_the_order_path_writes_are_one_statement_per_row(
    store: Store, make_signal: Callable[..., int], make_order: Callable[..., int]
) -> None:
    signal_id = make_signal()
    order_id = make_order(signal_id=signal_id)

    with _statements(store) as seen:
        _signal(store, "new")  # its own transaction; no savepoint outside a batch
    assert seen == ["BEGIN", "INSERT"]

    with store.batch():
        with _statements(store) as seen:
            store.record_order_intent(
                account="main", symbol="BTC/USDT:USDT", client_order_id="cid-count",
                role="stop_loss", side="sell", order_type="stop_market",
                quantity=Decimal("0.01"), signal_id=signal_id,
            )  # fmt: skip
        assert seen == ["INSERT", "INSERT"]  # the order and its first history row

        with _statements(store) as seen:
            store.update_order(order_id, status="submitted", exchange_order_id="x-1")
        assert seen == ["SELECT", "UPDATE", "INSERT"]  # read under lock, write, history

        with _statements(store) as seen:
            store.update_order(order_id, status="submitted", filled_quantity=Decimal(0))
        assert seen == ["SELECT", "UPDATE"]  # same status: no history row

        with _statements(store) as seen:
            store.set_signal_status(signal_id, "filled")
            store.record_decision(signal_id, True, None, "ok")
            store.append_event("k", "main", signal_id=signal_id)
        assert seen == ["UPDATE", "INSERT", "INSERT"]

        with _statements(store) as seen:
            _signal(store, "in-batch")  # a duplicate is expected here: a savepoint
        assert seen == ["SAVEPOINT", "INSERT", "RELEASE"]


def test_the_risk_gates_reads_are_one_statement_each(store: Store) -> None:
    now = datetime.now(UTC)
    with _statements(store) as seen:
        store.get_trading_state("main")
        store.count_orders_since("main", now - timedelta(seconds=60), roles=("entry", "close"))
        store.daily_realized_pnl("main", now - timedelta(hours=1))
    assert seen == ["BEGIN", "SELECT"] * 3
