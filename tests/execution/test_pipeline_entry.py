"""Signal -> gate -> size -> risk -> entry -> TP/SL -> record, on every venue.

What reached the venue is read from the venue itself (the engine's orders, the simulator's
request log); what was recorded is read from the store.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from tradeexec.domain import OrderType, SignalSource, TradingState
from tradeexec.sim.engine import OrderKind, OrderStatus

if TYPE_CHECKING:
    from tradeexec.execution.report import ExecutionReport
    from tradeexec.testing import VenueHarness

Q = Decimal("0.1")
STOP, TARGET = Decimal(66000), Decimal(69000)


async def test_entry_with_stop_and_target_is_sent_and_recorded(venue: VenueHarness) -> None:
    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)

    assert report.status == "filled" and report.success, report
    entry, stop, target = venue.engine_orders()
    assert entry.spec.kind in (OrderKind.MARKET, OrderKind.LIMIT)  # Hyperliquid: IOC limit
    assert (entry.spec.side.value, entry.spec.reduce_only) == ("BUY", False)
    assert (entry.status, entry.filled_qty) == (OrderStatus.FILLED, Q)
    assert stop.spec.kind is OrderKind.STOP_MARKET and stop.status is OrderStatus.NEW
    assert target.spec.kind is OrderKind.TAKE_PROFIT_MARKET and target.status is OrderStatus.NEW
    assert stop.spec.reduce_only and target.spec.reduce_only
    assert (stop.spec.trigger_price, target.spec.trigger_price) == (STOP, TARGET)
    assert venue.engine_position() == Q
    assert {role: o.id for role, o in report.orders.items()} == {
        "entry": str(entry.order_id),
        "stop_loss": str(stop.order_id),
        "take_profit": str(target.order_id),
    }

    timeline = await venue.service.signal_timeline(report.idempotency_key)
    assert timeline.signal.status == "filled"
    (decision,) = timeline.decisions
    assert decision.approved and decision.reason_code is None
    by_role = {o.order.role: o for o in timeline.orders}
    assert set(by_role) == {"entry", "stop_loss", "take_profit"}
    recorded = by_role["entry"]
    assert recorded.order.exchange_order_id == str(entry.order_id)
    assert recorded.order.client_order_id == entry.spec.client_id
    assert recorded.order.status == "filled" and recorded.order.filled_quantity == Q
    # write before you act: the intent is the first state, the acknowledgement the second
    assert [h.to_status for h in recorded.history] == ["pending_submit", "filled"]
    for role, engine_order in (("stop_loss", stop), ("take_profit", target)):
        leg = by_role[role].order
        assert leg.exchange_order_id == str(engine_order.order_id)
        assert leg.status == "submitted" and leg.reduce_only
    # the same signal's three client ids are distinct and all derived from its key
    assert len({o.spec.client_id for o in (entry, stop, target)}) == 3


async def test_short_entry_brackets_on_the_other_side(venue: VenueHarness) -> None:
    report = await venue.submit(
        side="sell", quantity=Q, stop_loss=Decimal(69000), take_profit=Decimal(66000)
    )
    assert report.status == "filled", report
    _, stop, target = venue.engine_orders()
    assert venue.engine_position() == -Q
    assert stop.spec.side.value == target.spec.side.value == "BUY"
    assert (stop.spec.trigger_price, target.spec.trigger_price) == (Decimal(69000), Decimal(66000))


# ------------------------------------------------------------------ risk refusals


async def assert_refused(
    venue: VenueHarness, report: ExecutionReport, reason: str, *, already_sent: int = 0
) -> None:
    """Refused with ``reason``, recorded as such, and nothing (more) reached the venue."""
    assert report.status == "rejected" and not report.success, report
    assert report.reason == reason, (report.reason, report.error)
    assert report.error
    assert report.to_dict()["reason"] == reason
    assert len(venue.engine_orders()) == already_sent
    if venue.sim is not None:
        assert len(venue.order_requests()) == already_sent
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    assert timeline.signal.status == "rejected"
    assert timeline.orders == ()
    (decision,) = timeline.decisions
    assert not decision.approved and decision.reason_code == reason


async def test_refused_max_order_notional(venue: VenueHarness) -> None:
    """A flip is judged as one order: closing 0.1 plus opening (capped at the 30 000 limit)
    exceeds the limit, so the whole move is refused before anything is sent."""
    assert (await venue.submit(side="buy", quantity=Q)).status == "filled"
    report = await venue.submit(side="sell", quantity=Decimal(1))
    await assert_refused(venue, report, "max_order_notional", already_sent=1)
    assert venue.engine_position() == Q


async def test_refused_halted(venue: VenueHarness) -> None:
    await venue.service.halt(reason="test")
    report = await venue.submit(side="buy", quantity=Q)
    await assert_refused(venue, report, "halted")


async def test_refused_reducing_only(venue: VenueHarness) -> None:
    await venue.service.pipeline.db(
        venue.service.store.set_trading_state, "acct", TradingState.REDUCING.value, "test"
    )
    report = await venue.submit(side="buy", quantity=Q)
    await assert_refused(venue, report, "reducing_only")


async def test_refused_price_band(venue: VenueHarness) -> None:
    report = await venue.submit(
        side="buy", quantity=Q, order_type=OrderType.LIMIT, price=Decimal(60000)
    )  # 11 % below the mark, band 5 %
    await assert_refused(venue, report, "price_band")


async def test_refused_symbol_not_allowed(venue: VenueHarness) -> None:
    eth = (await venue.trader()).resolve_symbol("ETH")  # the allow-list names venue symbols
    venue.service = await venue.new_service(symbols=[eth])
    report = await venue.submit(side="buy", quantity=Q)
    await assert_refused(venue, report, "symbol_not_allowed")
    allowed = await venue.submit(symbol="ETHUSDT", side="buy", quantity=Decimal("0.01"))
    assert allowed.status == "filled", allowed
    assert [o.spec.coin for o in venue.engine_orders()] == ["ETH"]


# ------------------------------------------------------------------ idempotency


async def test_same_signal_five_times_concurrently_places_one_order(venue: VenueHarness) -> None:
    signal = venue.signal(side="buy", quantity=Q, stop_loss=STOP)
    reports = await asyncio.gather(*(venue.service.submit_signal(signal) for _ in range(5)))

    statuses = sorted(r.status for r in reports)
    assert statuses == ["duplicate"] * 4 + ["filled"], [(r.status, r.error) for r in reports]
    assert all(r.success for r in reports)
    assert {r.signal_id for r in reports} == {reports[0].signal_id}
    entries = [o for o in venue.engine_orders() if o.spec.kind is not OrderKind.STOP_MARKET]
    assert len(entries) == 1 and entries[0].filled_qty == Q
    assert venue.engine_position() == Q
    assert len(venue.engine_orders()) == 2  # one entry, one stop
    # a late re-delivery (a new Signal object, same key) is a duplicate too, with the order id
    late = await venue.service.submit_signal(replace(signal, source=SignalSource.TRADINGVIEW))
    assert late.status == "duplicate" and late.reason == "duplicate_signal"
    assert late.to_dict()["order_id"] == str(entries[0].order_id)
    assert len(venue.engine_orders()) == 2


# ---------------------------------------------------------------------- flips


async def test_flip_closes_reduce_only_then_opens(venue: VenueHarness) -> None:
    first = await venue.submit(side="buy", quantity=Q)
    assert first.status == "filled" and venue.engine_position() == Q

    flip = await venue.submit(target_position=Decimal("-0.2"))

    assert flip.status == "filled", flip
    _, close, entry = venue.engine_orders()
    assert (close.spec.side.value, close.spec.qty, close.spec.reduce_only) == ("SELL", Q, True)
    assert close.status is OrderStatus.FILLED and close.order_id < entry.order_id
    assert (entry.spec.side.value, entry.spec.qty, entry.spec.reduce_only) == (
        "SELL",
        Decimal("0.2"),
        False,
    )
    assert entry.status is OrderStatus.FILLED
    assert venue.engine_position() == Decimal("-0.2")
    assert set(flip.orders) == {"close", "entry"}
    assert flip.orders["close"].id == str(close.order_id)
    assert flip.orders["entry"].id == str(entry.order_id)
    timeline = await venue.service.signal_timeline(flip.idempotency_key)
    assert [(o.order.role, o.order.reduce_only) for o in timeline.orders] == [
        ("close", True),
        ("entry", False),
    ]
    # already at the target: nothing to do, nothing sent
    again = await venue.submit(target_position=Decimal("-0.2"))
    assert again.status == "noop" and again.success
    assert len(venue.engine_orders()) == 3


async def test_redelivered_refused_signal_is_not_reported_as_a_success(
    venue: VenueHarness,
) -> None:
    """An agent retrying a refused signal must not read success from the duplicate."""
    signal = venue.signal(side="buy", quantity=Q, confidence=0.1)
    first = await venue.service.submit_signal(signal)
    assert (first.status, first.reason) == ("rejected", "low_confidence")

    again = await venue.service.submit_signal(signal)

    assert again.status == "duplicate" and again.reason == "duplicate_signal"
    assert again.success is False and again.to_dict()["success"] is False
    assert again.to_dict()["original_status"] == "rejected"
    assert venue.engine_orders() == []
    filled = venue.signal(side="buy", quantity=Q)
    assert (await venue.service.submit_signal(filled)).status == "filled"
    repeat = (await venue.service.submit_signal(filled)).to_dict()
    assert (repeat["status"], repeat["success"], repeat["original_status"]) == (
        "duplicate",
        True,
        "filled",
    )


@pytest.mark.parametrize(
    ("status", "filled", "expected"),
    [
        ("filled", "0.1", "filled"),
        ("submitted", "0", "accepted"),
        ("partially_filled", "0.04", "accepted"),  # a resting limit, partly filled
        ("rejected", "0", "rejected"),
        ("expired", "0", "rejected"),  # IOC / market with nothing filled
        ("canceled", "0", "rejected"),  # the same on venues that say canceled
        ("expired", "0.04", "filled"),  # IOC remainder expired: the fill stands
        ("canceled", "0.04", "filled"),
    ],
)
def test_entry_outcome_follows_what_filled(status: str, filled: str, expected: str) -> None:
    """A terminal entry is judged by what filled: an expired or cancelled remainder after a
    partial fill leaves a position (reported filled), nothing filled is no success."""
    from tradeexec.domain import Order, OrderSide
    from tradeexec.execution.report import ExecutionReport

    order = Order(
        id="1",
        client_order_id="c",
        symbol="BTC/USDT:USDT",
        side=OrderSide.BUY,
        type=OrderType.MARKET,
        status=status,
        quantity=Q,
        filled_quantity=Decimal(filled),
    )
    base = ExecutionReport(status="noop", idempotency_key="k", symbol="BTC/USDT")
    report = base.with_order("entry", order)
    assert report.status == expected
    assert report.success is (expected != "rejected")
    assert base.with_order("stop_loss", order).status == "noop"  # legs never decide it
