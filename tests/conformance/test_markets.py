"""Markets: symbol resolution and the venue's own rounding rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeexec.domain import OrderRequest, OrderStatus
from tradeexec.testing import START_MARK
from tradeexec.testing import TraderHarness as Venue

SPELLINGS = ("BTCUSDT", "BTC/USDT", "BTCUSDT.P", "BTC", "btcusdt", "BINANCE:BTCUSDT.P")

AMOUNTS = [Decimal(a) for a in ("0.0019999", "0.00123456789", "1.23456789", "0.001", "7", "0.05")]
PRICES = [Decimal(p) for p in ("60123.456789", "67500", "0.123456789", "123.456789", "99999.99")]


async def test_every_spelling_resolves_to_the_venue_symbol(venue: Venue) -> None:
    for spelling in SPELLINGS:
        assert venue.trader.resolve_symbol(spelling) == venue.symbol, spelling
    settle = venue.capabilities.settle_currency
    assert venue.trader.resolve_symbol(f"ETH/{settle}") == f"ETH/{settle}:{settle}"
    assert venue.trader.resolve_symbol(venue.symbol) == venue.symbol


async def test_markets_describe_the_venue_symbol(venue: Venue) -> None:
    markets = await venue.trader.load_markets()
    market = markets[venue.symbol]
    assert market == venue.trader.market("BTCUSDT")
    assert (market.base, market.settle) == ("BTC", venue.capabilities.settle_currency)
    assert market.amount_step > 0 and market.min_notional is not None


async def test_amount_to_precision_rounds_down_to_the_step(venue: Venue) -> None:
    step = venue.trader.market(venue.symbol).amount_step
    for amount in AMOUNTS:
        rounded = venue.trader.amount_to_precision("BTCUSDT", amount)
        assert rounded <= amount and amount - rounded < step, amount
        assert rounded % step == 0, amount
        assert venue.trader.amount_to_precision(venue.symbol, rounded) == rounded


async def test_price_to_precision_is_stable_and_close(venue: Venue) -> None:
    for price in PRICES:
        rounded = venue.trader.price_to_precision(venue.symbol, price)
        assert rounded > 0 and abs(rounded - price) <= price * Decimal("0.0001") + 1, price
        assert venue.trader.price_to_precision(venue.symbol, rounded) == rounded, price


@pytest.mark.parametrize("raw_price", ["60123.456789", "61234.5678"])
async def test_rounded_prices_and_amounts_are_accepted_by_the_venue(
    venue: Venue, raw_price: str
) -> None:
    """A limit sent with raw values lands on the venue's grid, as the helpers round it."""
    price, amount = Decimal(raw_price), Decimal("0.0025999")
    order = await venue.trader.create_order(
        OrderRequest(venue.symbol, "buy", "limit", amount, price=price)
    )
    assert order.status is OrderStatus.SUBMITTED
    assert order.price == venue.trader.price_to_precision(venue.symbol, price)
    assert order.quantity == venue.trader.amount_to_precision(venue.symbol, amount)
    fetched = await venue.trader.fetch_order(venue.symbol, order_id=order.id)
    assert (fetched.price, fetched.quantity) == (order.price, order.quantity)


async def test_ticker_follows_the_mark(venue: Venue) -> None:
    ticker = await venue.trader.fetch_ticker("BTCUSDT.P")
    assert ticker.symbol == venue.symbol and ticker.reference_price == START_MARK
    if ticker.bid is not None and ticker.ask is not None:  # Binance's 24h ticker has neither
        assert ticker.bid < START_MARK < ticker.ask
    venue.set_mark(venue.symbol, Decimal("70000"))
    moved = await venue.trader.fetch_ticker(venue.symbol)
    assert moved.reference_price == Decimal("70000")
