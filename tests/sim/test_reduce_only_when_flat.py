"""Resting reduce-only orders when the position closes, on both faces through unmodified ccxt.

Binance expires a resting reduce-only order once the position is closed (developer FAQ
"Futures LIMIT order got expired", dev.binance.vision/t/802, item 6); Hyperliquid cancels it
with ``reduceOnlyCanceled`` ("Canceled reduced-only order that does not reduce position",
info endpoint order statuses). An untriggered reduce-only trigger is not in the book: it
stays, and is checked when it fires (Binance FAQ item 4; the algo service's REJECTED).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from tradeexec.testing import sim_ccxt

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

D = Decimal


@pytest.fixture
async def binance(sim_server: SimServer) -> AsyncIterator[Any]:
    async with sim_ccxt(sim_server, "binance") as (ex, _account):
        yield ex


@pytest.fixture
async def hyperliquid(sim_server: SimServer) -> AsyncIterator[Any]:
    async with sim_ccxt(sim_server, "hyperliquid") as (ex, _account):
        yield ex


async def test_binance_expires_a_resting_reduce_only_order_when_the_position_closes(
    binance: Any,
) -> None:
    sym = "BTC/USDT:USDT"
    await binance.create_order(sym, "market", "buy", 0.01)
    target = await binance.create_order(sym, "limit", "sell", 0.01, 69000, {"reduceOnly": True})
    stop = await binance.create_order(
        sym, "market", "sell", 0.01, None, {"stopLossPrice": 66000, "reduceOnly": True}
    )
    await binance.create_order(sym, "market", "sell", 0.01, None, {"reduceOnly": True})

    ended = await binance.fetch_order(target["id"], sym)
    assert ended["status"] == "expired" and ended["info"]["status"] == "EXPIRED"
    assert ended["filled"] == 0
    assert await binance.fetch_open_orders(sym) == []
    kept = await binance.fetch_order(stop["id"], sym, {"trigger": True})
    assert kept["status"] == "open" and kept["info"]["algoStatus"] == "NEW"


async def test_binance_keeps_a_reduce_only_order_the_position_still_needs(binance: Any) -> None:
    sym = "BTC/USDT:USDT"
    await binance.create_order(sym, "market", "buy", 0.02)
    target = await binance.create_order(sym, "limit", "sell", 0.01, 69000, {"reduceOnly": True})
    await binance.create_order(sym, "market", "sell", 0.01, None, {"reduceOnly": True})
    assert (await binance.fetch_order(target["id"], sym))["status"] == "open"


async def test_hyperliquid_cancels_a_resting_reduce_only_order_when_the_position_closes(
    hyperliquid: Any,
) -> None:
    sym = "BTC/USDC:USDC"
    await hyperliquid.create_order(sym, "market", "buy", 0.01, 67500)
    target = await hyperliquid.create_order(sym, "limit", "sell", 0.01, 69000, {"reduceOnly": True})
    stop = await hyperliquid.create_order(
        sym, "market", "sell", 0.01, 66000, {"stopLossPrice": 66000, "reduceOnly": True}
    )
    await hyperliquid.create_order(sym, "market", "sell", 0.01, 67500, {"reduceOnly": True})

    ended = await hyperliquid.fetch_order(target["id"], sym)
    assert ended["status"] == "canceled" and ended["info"]["status"] == "reduceOnlyCanceled"
    open_ids = [o["id"] for o in await hyperliquid.fetch_open_orders(sym)]
    assert open_ids == [stop["id"]]  # the untriggered stop stays
