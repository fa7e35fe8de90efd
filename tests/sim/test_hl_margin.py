"""Hyperliquid's margin tables, leverage limits and order value caps, through unmodified ccxt.

Sources: Hyperliquid docs "Margin tiers" (mainnet tables: BTC 40x to 150M then 20x; ETH 25x
to 100M then 15x; SOL 20x to 70M then 10x; maintenance rate half the initial margin at the
tier's max leverage, deduction keeping it continuous), ``meta`` as recorded (BTC
``marginTableId`` 56 "tiered 40x", ETH 55, SOL 54), "Contract specifications" (market order
value caps by max leverage; limit orders 10x). Texts: "Invalid leverage value" (observed),
the decrease-leverage refusals (see ``Msg`` in ``sim/hyperliquid_wire.py`` for which is
confirmed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt
import pytest

from tradeexec.exchanges.endpoints import point_ccxt_at
from tradeexec.sim.markets import HYPERLIQUID_MARKETS

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

D = Decimal
BTC = "BTC/USDC:USDC"


async def exchange(sim_server: SimServer, balance: str) -> tuple[Any, str]:
    creds = sim_server.simulator.hyperliquid.create_account(D(balance))
    ex = ccxt.hyperliquid(
        {"walletAddress": creds["walletAddress"], "privateKey": creds["privateKey"],
         "enableRateLimit": False}
    )  # fmt: skip
    point_ccxt_at(ex, sim_server.base_url)
    await ex.load_markets()
    return ex, creds["account"]


@pytest.fixture
async def hl(sim_server: SimServer) -> AsyncIterator[tuple[Any, str]]:
    ex, account = await exchange(sim_server, "1000")
    try:
        yield ex, account
    finally:
        await ex.close()


async def test_meta_serves_the_margin_tables_as_live(hl: tuple[Any, str]) -> None:
    ex, _ = hl
    meta = await ex.publicPostInfo({"type": "meta"})
    btc = next(a for a in meta["universe"] if a["name"] == "BTC")
    assert (btc["maxLeverage"], btc["marginTableId"]) == (40, 56)
    tables = dict((table, body) for table, body in meta["marginTables"])
    assert sorted(tables) == [54, 55, 56]
    assert tables[56] == {
        "description": "tiered 40x",
        "marginTiers": [{"lowerBound": "0.0", "maxLeverage": 40},
                        {"lowerBound": "150000000.0", "maxLeverage": 20}],
    }  # fmt: skip
    assert tables[55]["marginTiers"][1] == {"lowerBound": "100000000.0", "maxLeverage": 15}
    assert await ex.publicPostInfo({"type": "marginTable", "id": 54}) == tables[54]
    assert ex.markets[BTC]["limits"]["leverage"]["max"] == 40


def test_maintenance_margin_is_continuous_across_tiers() -> None:
    btc = HYPERLIQUID_MARKETS[0]
    bound = D(150_000_000)
    below, above = btc.maintenance_margin(bound), btc.maintenance_margin(bound + 1)
    assert below == bound / 80  # half of 1/40
    assert above - below == D("0.025")  # the next dollar at half of 1/20
    assert btc.maintenance_margin(D(300_000_000)) == D(300_000_000) / 40 - D(1_875_000)


async def test_leverage_above_the_max_is_refused(hl: tuple[Any, str]) -> None:
    ex, _ = hl
    with pytest.raises(ccxt.ExchangeError, match="Invalid leverage value"):
        await ex.set_leverage(41, BTC)
    await ex.set_leverage(40, BTC)


async def test_lowering_leverage_needs_the_margin_for_it(hl: tuple[Any, str]) -> None:
    ex, account = hl
    await ex.set_leverage(40, BTC, params={"marginMode": "cross"})
    await ex.create_order(BTC, "market", "buy", 0.5, 67500)  # ~33 750: ~844 margin of ~985
    with pytest.raises(ccxt.ExchangeError, match="Cross position does not have sufficient"):
        await ex.set_leverage(20, BTC, params={"marginMode": "cross"})  # ~844 more
    await ex.set_leverage(36, BTC, params={"marginMode": "cross"})  # ~94 more: there
    state = await ex.publicPostInfo({"type": "clearinghouseState", "user": account})
    assert state["assetPositions"][0]["position"]["leverage"]["value"] == 36


async def test_isolated_positions_get_the_isolated_text(sim_server: SimServer) -> None:
    ex, _ = await exchange(sim_server, "1000")
    try:
        await ex.set_leverage(40, BTC, params={"marginMode": "isolated"})
        await ex.create_order(BTC, "market", "buy", 0.5, 67500)
        with pytest.raises(ccxt.ExchangeError, match="Isolated position does not have"):
            await ex.set_leverage(10, BTC, params={"marginMode": "isolated"})
    finally:
        await ex.close()


async def test_order_value_caps_by_max_leverage(sim_server: SimServer) -> None:
    ex, _ = await exchange(sim_server, "5000000")
    try:
        # BTC's 40x is in [20, 50): market orders up to $1M, limit orders up to $10M
        with pytest.raises(ccxt.ExchangeError, match=r"maximum market order value of \$1,000"):
            await ex.create_order(BTC, "market", "buy", 15, 67500)  # ~$1.06M at the cap price
        await ex.create_order(BTC, "market", "buy", 14, 67500)
        resting = await ex.create_order(BTC, "limit", "buy", 140, 60000)  # $8.4M
        assert "resting" in resting["info"]
        with pytest.raises(ccxt.ExchangeError, match="maximum limit order value"):
            await ex.create_order(BTC, "limit", "buy", 170, 60000)  # $10.2M
    finally:
        await ex.close()
