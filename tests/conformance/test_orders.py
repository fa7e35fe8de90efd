"""Entries, queries and cancels: the same normalised `Order` from every venue."""

from __future__ import annotations

from decimal import Decimal

from tradeexec.domain import Order, OrderRequest, OrderSide, OrderStatus, OrderType
from tradeexec.testing import START_MARK
from tradeexec.testing import TraderHarness as Venue

QTY = Decimal("0.002")  # worth ~135: above every venue's minimum, far below the balance


def near_mark(price: Decimal | None, mark: Decimal = START_MARK) -> bool:
    return price is not None and abs(price - mark) / mark < Decimal("0.001")


async def test_market_entry_fills_and_reports_a_normalised_order(venue: Venue) -> None:
    cid = venue.client_id()
    order = await venue.trader.create_order(
        OrderRequest(venue.symbol, OrderSide.BUY, OrderType.MARKET, QTY, client_order_id=cid)
    )
    assert order.id and order.client_order_id == cid
    assert order.symbol == venue.symbol
    assert (order.side, order.type) == (OrderSide.BUY, OrderType.MARKET)
    assert order.status is OrderStatus.FILLED
    assert order.quantity == QTY and order.filled_quantity == QTY and order.remaining == 0
    assert near_mark(order.average_price)
    assert order.average_price is not None and order.average_price >= START_MARK  # buys pay up
    assert order.reduce_only is False and order.price is None and order.trigger_price is None


async def test_market_sell_opens_a_short_at_or_below_the_mark(venue: Venue) -> None:
    order = await venue.trader.create_order(
        OrderRequest(venue.symbol, OrderSide.SELL, OrderType.MARKET, QTY)
    )
    assert order.status is OrderStatus.FILLED and order.side is OrderSide.SELL
    assert order.client_order_id  # ours, always sent
    assert near_mark(order.average_price)
    assert order.average_price is not None and order.average_price <= START_MARK


async def test_a_filled_order_is_found_by_id_and_by_client_id(venue: Venue) -> None:
    cid = venue.client_id()
    placed = await venue.trader.create_order(
        OrderRequest(venue.symbol, "buy", "market", QTY, client_order_id=cid)
    )
    by_id = await venue.trader.fetch_order(venue.symbol, order_id=placed.id)
    by_cid = await venue.trader.fetch_order(venue.symbol, client_order_id=cid)
    # a venue whose market orders are capped IOC limits reports the limit it really was
    types = {OrderType.MARKET} | (
        {OrderType.LIMIT} if venue.capabilities.market_order_needs_price else set()
    )
    for found in (by_id, by_cid):
        assert (found.id, found.client_order_id, found.symbol) == (placed.id, cid, venue.symbol)
        assert found.status is OrderStatus.FILLED and found.filled_quantity == QTY
        assert found.side is OrderSide.BUY and found.type in types


async def place_resting_limit(venue: Venue, price: Decimal = Decimal("60000")) -> Order:
    return await venue.trader.create_order(
        OrderRequest(
            venue.symbol, "buy", "limit", QTY, price=price, client_order_id=venue.client_id()
        )
    )


def same_resting_order(a: Order, b: Order) -> None:
    assert (a.id, a.client_order_id, a.symbol) == (b.id, b.client_order_id, b.symbol)
    assert (a.side, a.type, a.status) == (b.side, b.type, b.status)
    assert (a.quantity, a.filled_quantity, a.price) == (b.quantity, b.filled_quantity, b.price)


async def test_limit_entry_rests_and_queries_agree(venue: Venue) -> None:
    order = await place_resting_limit(venue)
    assert order.status is OrderStatus.SUBMITTED and order.status.is_open
    assert order.type is OrderType.LIMIT and order.side is OrderSide.BUY
    assert order.price == Decimal("60000") and order.trigger_price is None
    assert order.quantity == QTY and order.filled_quantity == 0 and order.average_price is None

    by_id = await venue.trader.fetch_order(venue.symbol, order_id=order.id)
    by_cid = await venue.trader.fetch_order(venue.symbol, client_order_id=order.client_order_id)
    same_resting_order(by_id, order)
    same_resting_order(by_cid, order)
    (listed,) = await venue.trader.fetch_open_orders(venue.symbol)
    same_resting_order(listed, order)
    assert [o.id for o in await venue.trader.fetch_open_orders()] == [order.id]


async def test_a_resting_limit_fills_at_its_price_when_the_mark_crosses(venue: Venue) -> None:
    order = await place_resting_limit(venue, Decimal("67000"))
    venue.set_mark(venue.symbol, Decimal("66900"))
    filled = await venue.trader.fetch_order(venue.symbol, order_id=order.id)
    assert filled.status is OrderStatus.FILLED and filled.filled_quantity == QTY
    (position,) = await venue.trader.fetch_positions([venue.symbol])
    assert position.quantity == QTY and position.entry_price == Decimal("67000")
    assert await venue.trader.fetch_open_orders(venue.symbol) == []


async def test_cancel_by_id_then_again_returns_none(venue: Venue) -> None:
    order = await place_resting_limit(venue)
    cancelled = await venue.trader.cancel_order(venue.symbol, order_id=order.id)
    assert cancelled is not None
    assert (cancelled.id, cancelled.client_order_id) == (order.id, order.client_order_id)
    assert cancelled.status is OrderStatus.CANCELED and cancelled.filled_quantity == 0
    assert cancelled.type is OrderType.LIMIT and cancelled.quantity == QTY
    fetched = await venue.trader.fetch_order(venue.symbol, client_order_id=order.client_order_id)
    assert fetched.status is OrderStatus.CANCELED
    assert await venue.trader.fetch_open_orders(venue.symbol) == []
    assert await venue.trader.cancel_order(venue.symbol, order_id=order.id) is None


async def test_cancel_by_client_id_and_of_orders_already_gone(venue: Venue) -> None:
    order = await place_resting_limit(venue)
    cancelled = await venue.trader.cancel_order(venue.symbol, client_order_id=order.client_order_id)
    assert cancelled is not None and cancelled.id == order.id
    assert cancelled.status is OrderStatus.CANCELED
    assert (
        await venue.trader.cancel_order(venue.symbol, client_order_id=order.client_order_id) is None
    )

    filled = await venue.trader.create_order(OrderRequest(venue.symbol, "buy", "market", QTY))
    assert await venue.trader.cancel_order(venue.symbol, order_id=filled.id) is None
    assert await venue.trader.cancel_order(venue.symbol, client_order_id=venue.client_id()) is None
    # the filled order is untouched by the refused cancel
    again = await venue.trader.fetch_order(venue.symbol, order_id=filled.id)
    assert again.status is OrderStatus.FILLED


async def test_a_symbol_in_any_spelling_places_on_the_venue_symbol(venue: Venue) -> None:
    order = await venue.trader.create_order(OrderRequest("BTCUSDT.P", "buy", "market", QTY))
    assert order.symbol == venue.symbol and order.status is OrderStatus.FILLED
    (position,) = await venue.trader.fetch_positions(["BTC"])
    assert position.symbol == venue.symbol and position.quantity == QTY
