"""Positions and balances after fills, and leverage: signed quantities, entry prices, margin."""

from __future__ import annotations

from decimal import Decimal

from tradeexec.domain import Balance, OrderRequest, OrderStatus
from tradeexec.testing import BALANCE, START_MARK
from tradeexec.testing import TraderHarness as Venue

QTY = Decimal("0.01")  # notional ~675


async def settle_balance(venue: Venue) -> Balance:
    balances = await venue.trader.fetch_balance()
    return balances[venue.capabilities.settle_currency]


def close_to(a: Decimal, b: Decimal, rel: Decimal = Decimal("0.01")) -> bool:
    return abs(a - b) <= abs(b) * rel


async def test_a_fresh_account_holds_its_funding_and_no_position(venue: Venue) -> None:
    balance = await settle_balance(venue)
    assert balance.currency == venue.capabilities.settle_currency
    assert balance.total == BALANCE and balance.free == BALANCE and balance.used == 0
    assert await venue.trader.fetch_positions() == []


async def test_opening_a_long_shows_a_signed_position_and_uses_margin(venue: Venue) -> None:
    before = await settle_balance(venue)
    order = await venue.trader.create_order(OrderRequest(venue.symbol, "buy", "market", QTY))
    (position,) = await venue.trader.fetch_positions([venue.symbol])
    assert position.symbol == venue.symbol and position.side == "long"
    assert position.quantity == QTY
    assert position.entry_price == order.average_price
    assert position.mark_price == START_MARK
    # bought at the ask, valued at the mark: a small loss, exactly qty x (mark - entry)
    assert order.average_price is not None
    assert position.unrealized_pnl == QTY * (START_MARK - order.average_price)

    after = await settle_balance(venue)
    assert after.free < before.free
    assert after.used > 0 and close_to(after.total, after.free + after.used, Decimal("0.0001"))
    fee = QTY * order.average_price * venue.capabilities.taker_fee
    assert close_to(before.total - after.total, fee - position.unrealized_pnl, Decimal("0.05"))


async def test_selling_opens_a_short_with_negative_quantity(venue: Venue) -> None:
    order = await venue.trader.create_order(OrderRequest(venue.symbol, "sell", "market", QTY))
    (position,) = await venue.trader.fetch_positions()
    assert position.side == "short" and position.quantity == -QTY
    assert position.entry_price == order.average_price


async def test_adding_and_reducing_keep_quantity_and_average_entry(venue: Venue) -> None:
    trader, sym = venue.trader, venue.symbol
    first = await trader.create_order(OrderRequest(sym, "buy", "market", QTY))
    venue.set_mark(sym, Decimal("68500"))
    second = await trader.create_order(OrderRequest(sym, "buy", "market", QTY))
    assert first.average_price is not None and second.average_price is not None
    (position,) = await trader.fetch_positions([sym])
    assert position.quantity == 2 * QTY
    assert close_to(
        position.entry_price or Decimal(0),
        (first.average_price + second.average_price) / 2,
        Decimal("0.00001"),
    )

    half = await trader.create_order(OrderRequest(sym, "sell", "market", QTY, reduce_only=True))
    assert half.status is OrderStatus.FILLED and half.reduce_only
    (position,) = await trader.fetch_positions([sym])
    assert position.quantity == QTY  # reducing does not move the entry
    assert close_to(
        position.entry_price or Decimal(0),
        (first.average_price + second.average_price) / 2,
        Decimal("0.00001"),
    )


async def test_closing_releases_the_margin(venue: Venue) -> None:
    await venue.trader.create_order(OrderRequest(venue.symbol, "buy", "market", QTY))
    closing = await venue.trader.create_order(
        OrderRequest(venue.symbol, "sell", "market", QTY, reduce_only=True)
    )
    assert closing.status is OrderStatus.FILLED and closing.filled_quantity == QTY
    assert await venue.trader.fetch_positions() == []
    balance = await settle_balance(venue)
    assert balance.used == 0 and balance.free == balance.total
    assert BALANCE - 2 < balance.total < BALANCE  # paid the spread and two taker fees


async def test_leverage_change_sets_the_margin_of_the_next_position(venue: Venue) -> None:
    await venue.trader.set_leverage(venue.symbol, 5)
    await venue.trader.create_order(OrderRequest(venue.symbol, "buy", "market", QTY))
    (position,) = await venue.trader.fetch_positions([venue.symbol])
    # Binance's v3 position endpoints no longer carry leverage; the venues that do must agree
    assert position.leverage in (5, None)
    balance = await settle_balance(venue)
    assert close_to(balance.used, QTY * START_MARK / 5)

    await venue.trader.set_leverage("BTCUSDT", 10)  # any spelling; applies to the open position
    balance = await settle_balance(venue)
    assert close_to(balance.used, QTY * START_MARK / 10)
