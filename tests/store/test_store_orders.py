"""Order intents, updates with state history, lookups and listings."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

import pytest

from tradeexec.store import DuplicateClientOrderId, RecordNotFound, Store


class Status(StrEnum):  # stands in for domain.OrderStatus
    SUBMITTED = "submitted"
    FILLED = "filled"


def test_an_intent_is_recorded_with_its_first_history_row(
    store: Store, make_signal: Callable[..., int]
) -> None:
    signal_id = make_signal()
    order_id = store.record_order_intent(
        signal_id=signal_id,
        account="main",
        symbol="BTC/USDT:USDT",
        client_order_id="te-abc",
        role="stop_loss",
        side="sell",
        order_type="stop_market",
        quantity=Decimal("0.010"),
        trigger_price=Decimal("66000"),
        reduce_only=True,
        detail="bracket for entry",
    )

    order = store.get_order(order_id)
    assert order is not None
    assert (order.signal_id, order.role, order.status, order.reduce_only) == (
        signal_id,
        "stop_loss",
        "pending_submit",
        True,
    )
    assert (order.quantity, order.trigger_price, order.price) == (
        Decimal("0.010"),
        Decimal("66000"),
        None,
    )
    assert order.filled_quantity == 0
    assert order.exchange_order_id is None
    [first] = store.order_history(order_id)
    assert (first.from_status, first.to_status, first.event, first.detail) == (
        None,
        "pending_submit",
        "intent",
        "bracket for entry",
    )


def test_a_status_change_appends_history_and_a_same_status_update_does_not(
    store: Store, make_order: Callable[..., int]
) -> None:
    order_id = make_order()
    t0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    store.update_order(order_id, status="submitted", exchange_order_id="8401", event="ack", at=t0)
    store.update_order(
        order_id,
        status="partially_filled",
        filled_quantity=Decimal("0.004"),
        average_price=Decimal("67500.5"),
        event="fill",
        detail="trade 1",
        at=t0 + timedelta(seconds=1),
    )
    updated = store.update_order(
        order_id,
        status="partially_filled",
        filled_quantity=Decimal("0.006"),
        event="fill",
        at=t0 + timedelta(seconds=2),
    )

    history = store.order_history(order_id)
    assert [(h.from_status, h.to_status, h.event) for h in history] == [
        (None, "pending_submit", "intent"),
        ("pending_submit", "submitted", "ack"),
        ("submitted", "partially_filled", "fill"),
    ]
    assert history[2].detail == "trade 1"
    assert history[2].at == t0 + timedelta(seconds=1)
    # Fields not given keep their values; given ones change.
    assert (updated.status, updated.exchange_order_id) == ("partially_filled", "8401")
    assert (updated.filled_quantity, updated.average_price) == (
        Decimal("0.006"),
        Decimal("67500.5"),
    )
    assert updated.updated_at == t0 + timedelta(seconds=2)
    assert store.get_order(order_id) == updated


def test_a_status_change_without_an_event_name_is_recorded_as_update(
    store: Store, make_order: Callable[..., int]
) -> None:
    order_id = make_order()

    store.update_order(order_id, status="canceled")

    assert store.order_history(order_id)[-1].event == "update"


def test_enum_statuses_are_stored_as_their_values(
    store: Store, make_order: Callable[..., int]
) -> None:
    order_id = make_order(status=Status.SUBMITTED)

    store.update_order(order_id, status=Status.FILLED, event="fill")

    order = store.get_order(order_id)
    assert order is not None
    assert type(order.status) is str
    assert order.status == "filled"
    assert [h.to_status for h in store.order_history(order_id)] == ["submitted", "filled"]


def test_updating_an_unknown_order_fails(store: Store) -> None:
    with pytest.raises(RecordNotFound):
        store.update_order(999, status="submitted")


def test_concurrent_updates_of_one_order_all_land(
    store: Store, make_order: Callable[..., int]
) -> None:
    # Read-then-write transactions from several threads: on SQLite this needs BEGIN IMMEDIATE,
    # a deferred transaction would fail with "database is locked" instead of waiting.
    order_id = make_order()
    statuses = [f"s{n}" for n in range(8)]
    barrier = threading.Barrier(len(statuses))

    def update(status: str) -> None:
        barrier.wait()
        store.update_order(order_id, status=status, event="race")

    with ThreadPoolExecutor(max_workers=len(statuses)) as pool:
        list(pool.map(update, statuses))

    history = store.order_history(order_id)
    assert len(history) == 1 + len(statuses)
    # Each change starts from the status the previous one left: no lost update.
    for before, after in itertools.pairwise(history):
        assert after.from_status == before.to_status


def test_a_client_order_id_is_unique_per_account(
    store: Store, make_order: Callable[..., int]
) -> None:
    first = make_order(account="main", client_order_id="te-1")

    with pytest.raises(DuplicateClientOrderId) as raised:
        make_order(account="main", client_order_id="te-1", quantity=Decimal(5))
    other_account = make_order(account="sub", client_order_id="te-1")

    assert raised.value.order_id == first
    assert other_account != first
    assert len(store.list_orders(account="main")) == 1


def test_an_unknown_role_is_refused(store: Store, make_order: Callable[..., int]) -> None:
    with pytest.raises(ValueError, match="unknown order role 'hedge'"):
        make_order(role="hedge")


def test_orders_are_found_by_client_id_and_exchange_id(
    store: Store, make_order: Callable[..., int]
) -> None:
    order_id = make_order(account="main", client_order_id="te-find")
    make_order(account="sub", client_order_id="te-find")
    store.update_order(order_id, exchange_order_id="x-77")

    by_client = store.get_order_by_client_id("main", "te-find")
    by_exchange = store.get_order_by_exchange_id("main", "x-77")

    assert by_client is not None and by_client.id == order_id
    assert by_exchange is not None and by_exchange.id == order_id
    assert store.get_order_by_client_id("other", "te-find") is None
    assert store.get_order_by_exchange_id("sub", "x-77") is None


def test_orders_for_a_signal_come_oldest_first_and_only_its_own(
    store: Store, make_signal: Callable[..., int], make_order: Callable[..., int]
) -> None:
    signal_id = make_signal()
    entry = make_order(signal_id=signal_id, role="entry")
    stop = make_order(signal_id=signal_id, role="stop_loss", reduce_only=True)
    make_order(signal_id=make_signal(), role="entry")
    make_order(role="adopted")

    assert [o.id for o in store.orders_for_signal(signal_id)] == [entry, stop]


def test_list_orders_filters_by_account_and_status_newest_first(
    store: Store, make_order: Callable[..., int]
) -> None:
    a = make_order(account="main")
    b = make_order(account="main")
    c = make_order(account="sub")
    d = make_order(account="main")
    store.update_order(b, status="filled")

    assert [o.id for o in store.list_orders()] == [d, c, b, a]
    assert [o.id for o in store.list_orders(account="main", limit=2)] == [d, b]
    assert [o.id for o in store.list_orders(statuses=["filled"])] == [b]
    assert [o.id for o in store.list_orders(statuses="filled")] == [b]
    assert [o.id for o in store.list_orders(account="sub", statuses={"filled"})] == []


def test_orders_in_flight_are_the_accounts_non_terminal_orders(
    store: Store, make_order: Callable[..., int]
) -> None:
    pending = make_order()
    submitted = make_order()
    unknown = make_order()
    filled = make_order()
    canceled = make_order()
    make_order(account="sub")
    store.update_order(submitted, status="submitted")
    store.update_order(unknown, status="unknown")
    store.update_order(filled, status="filled")
    store.update_order(canceled, status="canceled")

    assert [o.id for o in store.orders_in_flight("main")] == [pending, submitted, unknown]
    assert [o.id for o in store.orders_in_flight("main", None)] == [pending, submitted, unknown]
    assert [o.id for o in store.orders_in_flight("main", statuses={"unknown"})] == [unknown]
