"""Take-profit and stop-loss rest on the venue as reduce-only triggers and fire on the mark.

None of the venues cancels the other leg when one fires (`cancels_sibling_on_trigger` is
False), so the sibling keeps resting; if the mark later reaches it, it must not open a
position, because it is reduce-only.
"""

from __future__ import annotations

from decimal import Decimal

from tradeexec.domain import Order, OrderRequest, OrderStatus, OrderType
from tradeexec.testing import TraderHarness as Venue

QTY = Decimal("0.002")
TAKE_PROFIT = Decimal("69000")
STOP_LOSS = Decimal("66000")


async def open_long_with_bracket(venue: Venue) -> tuple[Order, Order]:
    trader, sym = venue.trader, venue.symbol
    await trader.create_order(OrderRequest(sym, "buy", "market", QTY))
    tp = await trader.create_order(
        OrderRequest(
            sym,
            "sell",
            OrderType.TAKE_PROFIT_MARKET,
            QTY,
            trigger_price=TAKE_PROFIT,
            reduce_only=True,
            client_order_id=venue.client_id(),
        )
    )
    sl = await trader.create_order(
        OrderRequest(
            sym,
            "sell",
            OrderType.STOP_MARKET,
            QTY,
            trigger_price=STOP_LOSS,
            reduce_only=True,
            client_order_id=venue.client_id(),
        )
    )
    return tp, sl


async def assert_flat(venue: Venue) -> None:
    positions = await venue.trader.fetch_positions([venue.symbol])
    assert [p for p in positions if p.quantity != 0] == []


async def assert_sibling_after_trigger(venue: Venue, sibling: Order) -> None:
    now = await venue.trader.fetch_order(venue.symbol, order_id=sibling.id)
    open_ids = {o.id for o in await venue.trader.fetch_open_orders(venue.symbol)}
    if venue.capabilities.cancels_sibling_on_trigger:
        assert now.status is OrderStatus.CANCELED and sibling.id not in open_ids
    else:
        assert now.status is OrderStatus.SUBMITTED and open_ids == {sibling.id}


async def test_tp_and_sl_rest_as_reduce_only_triggers(venue: Venue) -> None:
    assert venue.capabilities.standalone_tpsl
    tp, sl = await open_long_with_bracket(venue)
    for placed, kind, trigger in (
        (tp, OrderType.TAKE_PROFIT_MARKET, TAKE_PROFIT),
        (sl, OrderType.STOP_MARKET, STOP_LOSS),
    ):
        assert placed.status is OrderStatus.SUBMITTED and placed.type is kind
        assert placed.reduce_only and placed.trigger_price == trigger
        assert placed.quantity == QTY and placed.filled_quantity == 0
    resting = {o.id: o for o in await venue.trader.fetch_open_orders(venue.symbol)}
    assert set(resting) == {tp.id, sl.id}
    for placed in (tp, sl):
        listed = resting[placed.id]
        assert (listed.type, listed.trigger_price, listed.client_order_id) == (
            placed.type,
            placed.trigger_price,
            placed.client_order_id,
        )
        assert listed.reduce_only and listed.side == placed.side
        by_cid = await venue.trader.fetch_order(
            venue.symbol, client_order_id=placed.client_order_id
        )
        assert by_cid.id == placed.id and by_cid.type is placed.type
    # and on the venue itself, not only in our reading of it
    on_venue = {str(o.order_id): o.spec for o in venue.venue_orders() if o.status.is_open}
    assert set(on_venue) == {tp.id, sl.id}
    assert all(spec.reduce_only and spec.kind.is_trigger for spec in on_venue.values())
    (position,) = await venue.trader.fetch_positions([venue.symbol])
    assert position.quantity == QTY  # placing the legs traded nothing


async def test_stop_loss_fires_closes_the_position_and_leaves_the_target(venue: Venue) -> None:
    tp, sl = await open_long_with_bracket(venue)
    venue.set_mark(venue.symbol, Decimal("65900"))
    fired = await venue.trader.fetch_order(venue.symbol, order_id=sl.id)
    assert fired.status is OrderStatus.FILLED and fired.filled_quantity == QTY
    assert fired.type is OrderType.STOP_MARKET and fired.trigger_price == STOP_LOSS
    await assert_flat(venue)
    await assert_sibling_after_trigger(venue, tp)

    cancelled = await venue.trader.cancel_order(venue.symbol, order_id=tp.id)
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELED
    assert cancelled.type is OrderType.TAKE_PROFIT_MARKET
    assert await venue.trader.fetch_open_orders(venue.symbol) == []


async def test_take_profit_fires_closes_the_position_and_leaves_the_stop(venue: Venue) -> None:
    tp, sl = await open_long_with_bracket(venue)
    venue.set_mark(venue.symbol, Decimal("69100"))
    fired = await venue.trader.fetch_order(venue.symbol, client_order_id=tp.client_order_id)
    assert fired.status is OrderStatus.FILLED and fired.filled_quantity == QTY
    await assert_flat(venue)
    await assert_sibling_after_trigger(venue, sl)


async def test_an_orphaned_leg_that_fires_later_opens_nothing(venue: Venue) -> None:
    tp, _ = await open_long_with_bracket(venue)
    venue.set_mark(venue.symbol, Decimal("65900"))  # the stop closes the position
    venue.set_mark(venue.symbol, Decimal("69100"))  # then the forgotten target is reached
    orphan = await venue.trader.fetch_order(venue.symbol, order_id=tp.id)
    assert orphan.status.is_terminal and orphan.status is not OrderStatus.FILLED
    assert orphan.filled_quantity == 0
    await assert_flat(venue)
    assert await venue.trader.fetch_open_orders(venue.symbol) == []
