"""Reconciliation on every venue: legs that fired, positions closed elsewhere, orders the
store never saw, and how the account's trading state follows what is found."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from tradeexec.domain import OrderRequest, OrderSide, OrderType, TradingState
from tradeexec.sim.engine import OrderStatus

if TYPE_CHECKING:
    from tradeexec.testing import VenueHarness

Q = Decimal("0.1")
STOP, TARGET = Decimal(66000), Decimal(69000)


@pytest.mark.parametrize(
    ("fired", "mark", "pnl_sign"),
    [("stop_loss", Decimal(65900), -1), ("take_profit", Decimal(69100), 1)],
)
async def test_a_leg_fires_and_reconcile_cancels_its_sibling(
    venue: VenueHarness, fired: str, mark: Decimal, pnl_sign: int
) -> None:
    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    assert report.status == "filled", report
    _, stop, target = venue.engine_orders()
    sibling = target if fired == "stop_loss" else stop

    venue.set_mark(mark)  # the leg triggers on the venue; the position is closed
    assert venue.engine_position() == 0
    assert sibling.status is OrderStatus.NEW  # neither venue cancels the other leg

    result = await venue.service.reconcile("acct")

    assert sibling.status is OrderStatus.CANCELED  # cancelled on the venue
    assert venue.open_engine_orders() == []
    assert result.legs_cancelled == [sibling.spec.client_id]
    assert result.mismatches == []
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    recorded = {o.order.role: o for o in timeline.orders}
    other = "take_profit" if fired == "stop_loss" else "stop_loss"
    assert recorded[fired].order.status == "filled"
    assert recorded[fired].order.filled_quantity == Q
    assert recorded[other].order.status == "canceled"
    (fill,) = recorded[fired].fills
    assert fill.quantity == Q and fill.side == "sell"
    assert recorded[fired].order.average_price == fill.price  # the fired leg's own price
    assert fill.realized_pnl is not None and fill.realized_pnl * pnl_sign > 0
    expected = (fill.price - recorded["entry"].order.average_price) * Q
    assert abs(fill.realized_pnl - expected) < Decimal("0.01")
    assert len(recorded["entry"].fills) >= 1  # the entry's fill is recorded too
    history = [h.to_status for h in recorded[other].history]
    assert history[0] == "pending_submit" and history[-1] == "canceled"
    # a second pass finds nothing to do and records no fill twice
    again = await venue.service.reconcile("acct")
    assert (again.fills_recorded, again.legs_cancelled, again.resolved) == (0, [], [])


async def test_position_closed_elsewhere_cancels_both_legs(venue: VenueHarness) -> None:
    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    assert report.status == "filled", report
    # closed on the venue itself, around tradeexec (by hand, another tool)
    trader = await venue.trader()
    await trader.create_order(
        OrderRequest(
            symbol=trader.resolve_symbol("BTC"),
            side=OrderSide.SELL,
            type=OrderType.MARKET,
            quantity=Q,
            reduce_only=True,
            client_order_id=venue.new_client_id(),
        )
    )
    assert venue.engine_position() == 0
    assert len(venue.open_engine_orders()) == 2  # the legs are still resting

    result = await venue.service.reconcile("acct")

    assert sorted(result.legs_cancelled) == sorted(
        o.spec.client_id for o in venue.engine_orders() if o.spec.kind.is_trigger
    )
    assert venue.open_engine_orders() == []
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    legs = [o.order.status for o in timeline.orders if o.order.role != "entry"]
    assert legs == ["canceled", "canceled"]


async def test_unknown_orders_are_adopted_and_untracked_positions_reduce(
    venue: VenueHarness,
) -> None:
    """Orders placed around tradeexec (by hand, by another tool) are recorded; a position
    the store knows nothing about moves the account to REDUCING."""
    trader = await venue.trader()
    eth = trader.resolve_symbol("ETH")
    btc = trader.resolve_symbol("BTC")
    cid = venue.new_client_id()
    await trader.create_order(
        OrderRequest(
            symbol=btc,
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            quantity=Q,
            price=Decimal(66000),
            client_order_id=cid,
        )
    )
    await trader.create_order(
        OrderRequest(
            symbol=eth,
            side=OrderSide.BUY,
            type=OrderType.MARKET,
            quantity=Decimal("0.5"),
            client_order_id=venue.new_client_id(),
        )
    )
    assert venue.engine_position("ETH") == Decimal("0.5")

    result = await venue.service.reconcile("acct")

    (resting,) = venue.open_engine_orders()
    assert result.adopted == [str(resting.order_id)]
    record = await venue.service.pipeline.db(
        venue.service.store.get_order_by_client_id, "acct", cid
    )
    assert record is not None and record.role == "adopted"
    assert record.exchange_order_id == str(resting.order_id) and record.status == "submitted"
    assert any("untracked position" in m and eth in m for m in result.mismatches), result
    state = await venue.service.state("acct")
    assert state.state is TradingState.REDUCING and "untracked position" in (state.reason or "")

    # REDUCING: no new exposure, but reducing passes
    refused = await venue.submit(side="buy", quantity=Q)
    assert refused.reason == "reducing_only"
    reduced = await venue.submit(symbol="ETH/USDT", side="sell", reduce_only=True)
    assert reduced.status == "filled", (reduced.reason, reduced.error)
    assert venue.engine_position("ETH") == 0
    assert (await venue.service.reconcile("acct")).adopted == []  # adopted once only


async def test_a_mismatch_never_lifts_the_kill_switch(venue: VenueHarness) -> None:
    """Halted with orders cancelled but the position kept: the unprotected position is a
    mismatch, and the account must stay HALTED (REDUCING would let agents trade again)."""
    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)
    assert report.status == "filled", report
    await venue.service.halt("acct", reason="hands off", cancel_orders=True)
    assert venue.open_engine_orders() == [] and venue.engine_position() == Q

    result = await venue.service.reconcile("acct")

    assert any("no resting stop-loss" in m for m in result.mismatches), result
    state = await venue.service.state("acct")
    assert (state.state, state.reason) == (TradingState.HALTED, "hands off")
    refused = await venue.submit(side="sell", quantity=Q, reduce_only=True)
    assert refused.reason == "halted"
    assert venue.engine_position() == Q


async def test_a_flip_retires_the_old_positions_legs(venue: VenueHarness) -> None:
    """Long with a stop and a target, then flipped short: the long's sell-side legs protect
    nothing any more and must not linger to act on a later position."""
    long = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    assert long.status == "filled", long
    flip = await venue.submit(target_position=Decimal("-0.2"), stop_loss=Decimal(69500))
    assert flip.status == "filled", flip
    assert venue.engine_position() == Decimal("-0.2")

    # retired by the flip itself, before the short opened: nothing left for reconciliation
    (stop,) = [o for o in venue.open_engine_orders()]  # only the short's own stop is left
    assert stop.spec.side.value == "BUY" and stop.spec.trigger_price == Decimal(69500)
    retired = {long.orders["stop_loss"].client_order_id, long.orders["take_profit"].client_order_id}
    assert {o.status for o in venue.engine_orders() if o.spec.client_id in retired} == {
        OrderStatus.CANCELED
    }
    result = await venue.service.reconcile("acct")
    assert result.legs_cancelled == []
    timeline = await venue.service.signal_timeline(long.idempotency_key)
    assert sorted(o.order.status for o in timeline.orders) == ["canceled", "canceled", "filled"]


async def test_an_order_the_venue_no_longer_knows_does_not_block_start(
    venue: VenueHarness,
) -> None:
    """A resting order the venue has forgotten (archived, a venue reset, a paper venue after
    a restart) is closed in the store; start() and reconciliation go on."""
    resting = await venue.submit(
        side="buy", quantity=Q, order_type=OrderType.LIMIT, price=Decimal(66000)
    )
    assert resting.status == "accepted", resting
    if venue.sim is None:  # the paper venue keeps its state in the store: forget it on purpose
        from tradeexec.store.paper_state import PaperStateStore

        PaperStateStore(venue.service.store.engine).delete("acct")
        venue.paper_trader = None  # the next service builds a fresh paper venue
    else:
        venue.new_venue_account()  # the same store, a venue account that never saw it

    restarted = await venue.new_service()  # start() reconciles; must not raise

    timeline = await restarted.signal_timeline(resting.idempotency_key)
    (entry,) = timeline.orders
    assert entry.order.status == "canceled"
    assert entry.history[-1].detail == "not found on the exchange"
    again = await restarted.reconcile("acct")
    assert (again.resolved, again.mismatches) == ([], [])


async def test_fills_record_the_venues_trade_time(sim_venue: VenueHarness) -> None:
    """Daily PnL is counted by when the venue traded, not when we happened to look."""
    venue = sim_venue
    earlier = int(datetime.now(UTC).timestamp() * 1000) - 30_000  # within the look-back
    venue.engine.clock = lambda: earlier
    report = await venue.submit(side="buy", quantity=Q)
    assert report.status == "filled"

    await venue.service.reconcile("acct")

    timeline = await venue.service.signal_timeline(report.idempotency_key)
    (fill,) = timeline.orders[0].fills
    assert int(fill.at.timestamp() * 1000) == earlier


async def test_reducing_for_an_untracked_position_is_lifted_once_it_is_gone(
    venue: VenueHarness,
) -> None:
    trader = await venue.trader()
    around = OrderRequest(
        symbol="BTC/USDT",
        side=OrderSide.BUY,
        type=OrderType.MARKET,
        quantity=Q,
        client_order_id=venue.new_client_id(),
    )
    await trader.create_order(around)  # a position tradeexec knows nothing about
    first = await venue.service.reconcile("acct")
    assert any("untracked" in m for m in first.mismatches), first
    assert (await venue.service.state("acct")).state is TradingState.REDUCING

    closing = OrderRequest(
        symbol="BTC/USDT",
        side=OrderSide.SELL,
        type=OrderType.MARKET,
        quantity=Q,
        reduce_only=True,
        client_order_id=venue.new_client_id(),
    )
    await trader.create_order(closing)  # the operator dealt with it
    second = await venue.service.reconcile("acct")

    assert second.mismatches == [], second
    state = await venue.service.state("acct")
    assert state.state is TradingState.ACTIVE and state.reason == "reconcile: the cause is gone"
    events = await venue.service.pipeline.db(
        venue.service.store.events, None, "acct", kind="account_resumed"
    )
    assert events and events[-1].data["by"] == "reconciler"
    assert (events[-1].data["from"], events[-1].data["to"]) == ("reducing", "active")


async def test_a_halt_is_never_lifted_by_reconcile(venue: VenueHarness) -> None:
    await venue.service.halt("acct", reason="operator")
    result = await venue.service.reconcile("acct")
    assert result.mismatches == []
    assert (await venue.service.state("acct")).state is TradingState.HALTED
