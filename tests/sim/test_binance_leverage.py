"""Binance notional brackets and the leverage checks, through unmodified ccxt.

Sources: "Notional and Leverage Brackets" (``GET /fapi/v1/leverageBracket``) and "Symbol
Configuration" (``GET /fapi/v1/symbolConfig``) on developers.binance.com; BTCUSDT's brackets
from a recorded fapi response (see ``sim/markets.py``); the codes -2027 ("Exceeded the
maximum allowable position at current leverage.") and -2028 ("Leverage is smaller than
permitted: insufficient margin balance") as ccxt 4.5's binance exception table lists them
(both ``OperationRejected``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt
import pytest

from tradeexec.exchanges.endpoints import point_ccxt_at

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


async def _exchange(sim_server: SimServer, balance: str) -> Any:
    creds = sim_server.simulator.binance.create_account(Decimal(balance))
    ex = ccxt.binanceusdm(
        {"apiKey": creds["apiKey"], "secret": creds["secret"], "enableRateLimit": False}
    )
    point_ccxt_at(ex, sim_server.base_url)
    await ex.load_markets()
    return ex


@pytest.fixture
async def ex(sim_server: SimServer) -> AsyncIterator[Any]:
    exchange = await _exchange(sim_server, "100000")
    try:
        yield exchange
    finally:
        await exchange.close()


async def test_brackets_and_symbol_config_are_served(ex: Any) -> None:
    tiers = (await ex.fetch_leverage_tiers([BTC]))[BTC]
    assert [t["maxLeverage"] for t in tiers][:3] == [125, 100, 50]
    assert (tiers[0]["minNotional"], tiers[0]["maxNotional"]) == (0, 50000)
    assert tiers[0]["maintenanceMarginRate"] == 0.004
    await ex.set_leverage(10, BTC)
    leverage = await ex.fetch_leverage(BTC)
    assert (leverage["longLeverage"], leverage["marginMode"]) == (10, "cross")
    everything = await ex.fetch_leverages()
    assert everything[ETH]["longLeverage"] == 20  # the default
    await ex.set_margin_mode("isolated", ETH)
    assert (await ex.fetch_margin_mode(ETH))["marginMode"] == "isolated"
    config = (await ex.fapiPrivateGetSymbolConfig({"symbol": "BTCUSDT"}))[0]
    assert config["maxNotionalValue"] == "40000000"  # the 10x bracket's cap


async def test_a_position_above_the_leverage_bracket_is_refused(ex: Any) -> None:
    await ex.set_leverage(125, BTC)  # 125x: up to 50 000 USDT of BTC
    with pytest.raises(ccxt.OperationRejected, match="-2027"):
        await ex.create_order(BTC, "market", "buy", 0.8)  # ~54 000 USDT
    await ex.create_order(BTC, "market", "buy", 0.7)
    with pytest.raises(ccxt.OperationRejected, match="-2027"):
        await ex.create_order(BTC, "market", "buy", 0.1)  # the position would pass the cap
    await ex.create_order(BTC, "market", "sell", 0.1)  # reducing is always allowed


async def test_raising_leverage_past_the_positions_bracket_is_refused(ex: Any) -> None:
    await ex.set_leverage(20, BTC)
    await ex.create_order(BTC, "market", "buy", 1)  # ~67 500 USDT
    with pytest.raises(ccxt.OperationRejected, match="-2027"):
        await ex.set_leverage(125, BTC)
    await ex.set_leverage(100, BTC)  # 100x holds up to 250 000


async def test_lowering_leverage_without_the_margin_is_refused(sim_server: SimServer) -> None:
    ex = await _exchange(sim_server, "5000")
    try:
        await ex.set_leverage(20, BTC)
        await ex.create_order(BTC, "market", "buy", 1)  # ~3 400 USDT of margin at 20x
        with pytest.raises(ccxt.OperationRejected, match="-2028"):
            await ex.set_leverage(1, BTC)  # would need ~67 500
        with pytest.raises(ccxt.OperationRejected, match="-2028"):
            await ex.set_leverage(10, BTC)  # ~6 750: not there either
        assert (await ex.fetch_leverage(BTC))["longLeverage"] == 20
        await ex.set_leverage(15, BTC)  # ~4 500: the ~1 600 free covers the difference
        assert (await ex.fetch_leverage(BTC))["longLeverage"] == 15
    finally:
        await ex.close()
