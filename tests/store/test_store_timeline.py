"""Reading what happened to a signal: the timeline and the event log."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal

import pytest

from tradeexec.store import Store


def test_the_timeline_assembles_everything_recorded_about_a_signal(
    store: Store, make_signal: Callable[..., int], make_order: Callable[..., int]
) -> None:
    signal_id = make_signal(payload={"side": "buy", "stop_loss": "66000"})
    other_signal = make_signal()
    store.append_event("signal_received", "main", {"source": "tradingview"}, signal_id=signal_id)
    store.record_decision(signal_id, True, None, "all checks passed", {"quantity": "0.010"})
    entry = make_order(signal_id=signal_id, role="entry")
    stop = make_order(signal_id=signal_id, role="stop_loss", side="sell", reduce_only=True)
    store.update_order(entry, status="submitted", exchange_order_id="1001", event="ack")
    store.update_order(entry, status="filled", filled_quantity=Decimal("0.010"), event="fill")
    store.record_fill(
        order_id=entry,
        account="main",
        symbol="BTC/USDT:USDT",
        exchange_trade_id="tr-1",
        side="buy",
        quantity=Decimal("0.010"),
        price=Decimal("67500"),
        fee=Decimal("0.27"),
        fee_currency="USDT",
    )
    store.append_event("order_filled", "main", {"trade": "tr-1"}, order_id=entry)
    store.append_event("bracket_placed", "main", {}, signal_id=signal_id, order_id=stop)
    store.append_event("signal_received", "main", {}, signal_id=other_signal)
    store.append_event("heartbeat", "main", {})
    store.set_signal_status(signal_id, "executed")

    timeline = store.signal_timeline(signal_id)

    assert timeline is not None
    assert (timeline.signal.id, timeline.signal.status) == (signal_id, "executed")
    assert [(d.approved, d.detail) for d in timeline.decisions] == [(True, "all checks passed")]
    assert [(o.order.id, o.order.role) for o in timeline.orders] == [
        (entry, "entry"),
        (stop, "stop_loss"),
    ]
    entry_line, stop_line = timeline.orders
    assert [h.to_status for h in entry_line.history] == ["pending_submit", "submitted", "filled"]
    assert [f.exchange_trade_id for f in entry_line.fills] == ["tr-1"]
    assert [h.to_status for h in stop_line.history] == ["pending_submit"]
    assert stop_line.fills == ()
    # Events tagged with the signal or with one of its orders, in the order they happened.
    assert [e.kind for e in timeline.events] == [
        "signal_received",
        "order_filled",
        "bracket_placed",
    ]


def test_the_timeline_of_a_refused_signal_has_no_orders(
    store: Store, make_signal: Callable[..., int]
) -> None:
    signal_id = make_signal()
    store.record_decision(signal_id, False, "trading_halted", "account HALTED: daily loss")

    timeline = store.signal_timeline(signal_id)

    assert timeline is not None
    assert timeline.orders == ()
    assert timeline.events == ()
    assert [d.reason_code for d in timeline.decisions] == ["trading_halted"]


def test_an_unknown_signal_has_no_timeline(store: Store) -> None:
    assert store.signal_timeline(12345) is None


def test_records_are_frozen_values(store: Store, make_signal: Callable[..., int]) -> None:
    timeline = store.signal_timeline(make_signal())
    assert timeline is not None

    with pytest.raises(dataclasses.FrozenInstanceError):
        timeline.signal.status = "tampered"  # type: ignore[misc]


def test_events_filter_and_return_the_latest_in_append_order(
    store: Store, make_signal: Callable[..., int], make_order: Callable[..., int]
) -> None:
    signal_id = make_signal()
    order_id = make_order(signal_id=signal_id)
    ids = [store.append_event("tick", "main", {"n": n}) for n in range(5)]
    tagged = store.append_event("placed", "main", {"x": Decimal("1.50")}, signal_id, order_id)
    sub = store.append_event("tick", "sub", {})
    system = store.append_event("started", None, None)

    assert [e.id for e in store.events(account="main", limit=3)] == [ids[3], ids[4], tagged]
    assert [e.id for e in store.events(signal_id=signal_id)] == [tagged]
    assert [e.id for e in store.events(order_id=order_id)] == [tagged]
    assert [e.id for e in store.events(kind="tick")] == [*ids, sub]
    assert [e.id for e in store.events(limit=2)] == [sub, system]
    [placed] = store.events(signal_id=signal_id)
    assert placed.data == {"x": "1.50"}
    assert (placed.signal_id, placed.order_id, placed.account) == (signal_id, order_id, "main")
    [started] = store.events(kind="started")
    assert (started.account, started.data) == (None, {})
