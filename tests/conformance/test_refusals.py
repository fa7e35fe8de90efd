"""Refusals come back as the same tradeexec error on every venue.

Reduce-only that would grow a position is `ReduceOnlyRejected` (the most specific class;
all three venues map to it). Minimums are checked before anything is sent, so a
below-minimum order never reaches the venue's wire or its engine.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeexec import errors
from tradeexec.domain import OrderRequest, OrderStatus
from tradeexec.testing import START_MARK
from tradeexec.testing import TraderHarness as Venue

QTY = Decimal("0.002")


async def assert_nothing_reached_the_venue(venue: Venue) -> None:
    assert venue.venue_orders() == []
    assert venue.order_requests() == []
    assert await venue.trader.fetch_positions() == []


async def test_reduce_only_without_a_position_is_refused(venue: Venue) -> None:
    with pytest.raises(errors.ReduceOnlyRejected) as caught:
        await venue.trader.create_order(
            OrderRequest(venue.symbol, "sell", "market", QTY, reduce_only=True)
        )
    assert caught.value.symbol == venue.symbol
    assert await venue.trader.fetch_positions() == []


@pytest.mark.parametrize("kind", ["market", "limit"])
async def test_reduce_only_that_would_grow_a_long_is_refused(venue: Venue, kind: str) -> None:
    await venue.trader.create_order(OrderRequest(venue.symbol, "buy", "market", QTY))
    price = Decimal("60000") if kind == "limit" else None
    with pytest.raises(errors.ReduceOnlyRejected):
        await venue.trader.create_order(
            OrderRequest(venue.symbol, "buy", kind, QTY, price=price, reduce_only=True)
        )
    (position,) = await venue.trader.fetch_positions()
    assert position.quantity == QTY
    assert await venue.trader.fetch_open_orders() == []


async def test_an_amount_that_rounds_below_the_minimum_is_refused_before_sending(
    venue: Venue,
) -> None:
    market = venue.trader.market(venue.symbol)
    with pytest.raises(errors.BelowMinimum) as caught:
        await venue.trader.create_order(
            OrderRequest(venue.symbol, "buy", "market", market.amount_step / 2)
        )
    assert caught.value.symbol == venue.symbol
    await assert_nothing_reached_the_venue(venue)


@pytest.mark.parametrize("kind", ["market", "limit"])
async def test_an_order_worth_less_than_the_minimum_is_refused_before_sending(
    venue: Venue, kind: str
) -> None:
    market = venue.trader.market(venue.symbol)
    assert market.min_notional is not None
    smallest = market.min_amount or market.amount_step
    assert smallest * START_MARK < market.min_notional  # a valid size, too little value
    price = Decimal("60000") if kind == "limit" else None
    with pytest.raises(errors.BelowMinimum):
        await venue.trader.create_order(
            OrderRequest(venue.symbol, "buy", kind, smallest, price=price)
        )
    await assert_nothing_reached_the_venue(venue)


async def test_reduce_only_below_the_minimum_value_may_close_a_dust_position(
    venue: Venue,
) -> None:
    """Minimum value applies to opening; closing what is open must stay possible."""
    await venue.trader.create_order(OrderRequest(venue.symbol, "buy", "market", QTY))
    market = venue.trader.market(venue.symbol)
    smallest = market.min_amount or market.amount_step
    closing = await venue.trader.create_order(
        OrderRequest(venue.symbol, "sell", "market", smallest, reduce_only=True)
    )
    assert closing.status is OrderStatus.FILLED and closing.filled_quantity == smallest


@pytest.mark.parametrize("kind", ["market", "limit"])
async def test_insufficient_funds(venue: Venue, kind: str) -> None:
    poor = await venue.fresh_account(Decimal("100"))
    price = Decimal("67000") if kind == "limit" else None
    with pytest.raises(errors.InsufficientFunds) as caught:
        # 0.1 BTC needs ~337 of margin at 20x
        await poor.create_order(
            OrderRequest(venue.symbol, "buy", kind, Decimal("0.1"), price=price)
        )
    assert caught.value.symbol == venue.symbol
    assert venue.venue_orders(poor) == []  # refused, not resting
    assert await poor.fetch_positions() == []
    assert (await poor.fetch_balance())[venue.capabilities.settle_currency].free == 100


async def test_unknown_symbol_suggests_close_matches_and_sends_nothing(venue: Venue) -> None:
    settle = venue.capabilities.settle_currency
    with pytest.raises(errors.UnknownSymbol) as caught:
        await venue.trader.create_order(OrderRequest("ETC/USDT", "buy", "market", QTY))
    assert f"ETH/{settle}:{settle}" in caught.value.close_matches
    assert caught.value.symbol == "ETC/USDT"
    await assert_nothing_reached_the_venue(venue)

    with pytest.raises(errors.UnknownSymbol) as caught:
        venue.trader.resolve_symbol("BTX")
    assert caught.value.close_matches[0] == venue.symbol
    with pytest.raises(errors.UnknownSymbol):
        await venue.trader.fetch_ticker("NOPE")


async def test_unknown_orders_are_not_found(venue: Venue) -> None:
    with pytest.raises(errors.OrderNotFound):
        await venue.trader.fetch_order(venue.symbol, order_id="999999")
    with pytest.raises(errors.OrderNotFound):
        await venue.trader.fetch_order(venue.symbol, client_order_id=venue.client_id())


async def test_attached_brackets_are_refused_not_half_sent(venue: Venue) -> None:
    with pytest.raises(errors.NotSupported):
        await venue.trader.create_order(
            OrderRequest(venue.symbol, "buy", "market", QTY, stop_loss=Decimal("66000"))
        )
    await assert_nothing_reached_the_venue(venue)
