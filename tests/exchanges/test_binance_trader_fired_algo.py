"""The Binance trader follows a fired algo order to the order it placed (``actualOrderId``):
its outcome, its fills and realised PnL, and a cancel that must reach it while it rests."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from tradeexec.domain import OrderRequest, OrderStatus, OrderType

if TYPE_CHECKING:
    from tradeexec.testing import TraderHarness

pytestmark = pytest.mark.parametrize("trader_venue", ["binance"], indirect=True)
QTY = Decimal("0.01")


async def test_a_fired_stop_is_answered_by_the_order_it_placed(
    trader_venue: TraderHarness,
) -> None:
    venue, trader = trader_venue, trader_venue.trader
    await trader.create_order(OrderRequest(venue.symbol, "buy", "market", QTY))
    stop = await trader.create_order(
        OrderRequest(venue.symbol, "sell", OrderType.STOP_MARKET, QTY,
                     trigger_price=Decimal(66000), reduce_only=True)
    )  # fmt: skip
    venue.set_mark(65900)

    fired = await trader.fetch_order(venue.symbol, stop.id, stop.client_order_id)
    assert fired.id != stop.id  # the placed order's own id (actualOrderId)
    assert fired.status is OrderStatus.FILLED and fired.filled_quantity == QTY
    assert fired.type is OrderType.STOP_MARKET and fired.client_order_id == stop.client_order_id
    # the fills are the placed order's, found by the id fetch_order answered with
    (fill,) = [f for f in await trader.fetch_my_trades(venue.symbol) if f.order_id == fired.id]
    assert fill.quantity == QTY and fill.realized_pnl is not None and fill.realized_pnl < 0
    again = await trader.fetch_order(venue.symbol, fired.id, stop.client_order_id)
    assert again.id == fired.id and again.status is OrderStatus.FILLED


async def test_cancelling_a_fired_stop_limit_cancels_the_order_it_placed(
    trader_venue: TraderHarness,
) -> None:
    venue, trader = trader_venue, trader_venue.trader
    stop = await trader.create_order(
        OrderRequest(venue.symbol, "buy", OrderType.STOP_LIMIT, QTY,
                     price=Decimal(68100), trigger_price=Decimal(68000))
    )  # fmt: skip
    venue.set_mark(68200)  # fires; its limit rests below the ask
    (resting,) = await trader.fetch_open_orders(venue.symbol)
    assert resting.id != stop.id

    cancelled = await trader.cancel_order(venue.symbol, stop.id, stop.client_order_id)

    assert cancelled is not None and cancelled.id == resting.id
    assert cancelled.status is OrderStatus.CANCELED
    assert await trader.fetch_open_orders(venue.symbol) == []
