"""The depth endpoints serve the configured book (`sim.book`), the one orders walk: read
through unmodified ccxt (``fetch_order_book``) on both faces, then traded against.

Binance "Order Book" (``GET /fapi/v1/depth``: ``limit`` one of 5, 10, 20, 50, 100, 500,
1000, default 500; bids best first, asks best first); Hyperliquid info "L2 book snapshot"
(``levels: [bids, asks]`` of ``{px, sz, n}``, at most 20 levels a side).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt
import httpx
import pytest

from tradeexec.testing import sim_ccxt

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

D = Decimal
BTC = "BTC/USDT:USDT"
HL_BTC = "BTC/USDC:USDC"
GROWING = {"size": "0.01", "levels": 25, "step_bps": "1", "growth": "1.5"}
JITTERED = {"size": "0.01", "levels": 6, "step_bps": "2", "jitter": "0.4", "seed": 11}


@pytest.fixture
async def binance(sim_server: SimServer) -> AsyncIterator[Any]:
    sim_server.simulator.set_price("BTC", D("60000"))
    async with sim_ccxt(sim_server, "binance", 100_000) as (ex, _account):
        yield ex


@pytest.fixture
async def hyperliquid(sim_server: SimServer) -> AsyncIterator[Any]:
    sim_server.simulator.set_price("BTC", D("60000"))
    async with sim_ccxt(sim_server, "hyperliquid", 100_000) as (ex, _account):
        yield ex


async def set_depth(sim_server: SimServer, **body: Any) -> None:
    async with httpx.AsyncClient(base_url=sim_server.base_url) as client:
        assert (await client.post("/_sim/depth", json=body)).status_code == 200


def levels(side: list[list[float]]) -> list[tuple[Decimal, Decimal]]:
    return [(D(str(price)), D(str(size))) for price, size, *_ in side]


def growing_sizes(count: int, step: str) -> list[Decimal]:
    """``size * growth**i``, rounded down to the market's step (what `GROWING` configures)."""
    return [(D("0.01") * D("1.5") ** i).quantize(D(step), ROUND_DOWN) for i in range(count)]


def vwap_of(book: list[tuple[Decimal, Decimal]], amount: Decimal) -> Decimal:
    """The volume-weighted price of taking ``amount`` from ``book``, best level first."""
    left, cost = amount, D(0)
    for price, size in book:
        take = min(left, size)
        cost, left = cost + take * price, left - take
    assert left == 0
    return cost / amount


async def test_binance_depth_serves_the_configured_levels_up_to_limit(
    sim_server: SimServer, binance: Any
) -> None:
    touch = await binance.fetch_order_book(BTC)
    assert levels(touch["bids"]) == [(D("59994"), D("1000"))]  # no depth: the touch, as before
    await set_depth(sim_server, venue="binance", **GROWING)

    book = await binance.fetch_order_book(BTC)  # default limit 500: every configured level
    bids, asks = levels(book["bids"]), levels(book["asks"])
    assert [p for p, _ in asks] == [D(60006 + 6 * i) for i in range(25)]  # 1 bp = 6 apart
    assert [p for p, _ in bids] == [D(59994 - 6 * i) for i in range(25)]
    assert [s for _, s in asks] == [s for _, s in bids] == growing_sizes(25, "0.001")

    five = await binance.fetch_order_book(BTC, 5)
    assert levels(five["asks"]) == asks[:5] and levels(five["bids"]) == bids[:5]
    assert five["nonce"] is not None  # lastUpdateId, as before
    with pytest.raises(ccxt.BadRequest, match="-1130"):  # not a limit fapi takes
        await binance.fetch_order_book(BTC, 7)


async def test_hyperliquid_l2book_serves_the_configured_levels_at_most_20(
    sim_server: SimServer, hyperliquid: Any
) -> None:
    await set_depth(sim_server, venue="hyperliquid", **GROWING)
    book = await hyperliquid.fetch_order_book(HL_BTC)
    bids, asks = levels(book["bids"]), levels(book["asks"])
    assert [p for p, _ in asks] == [D(60006 + 6 * i) for i in range(20)]  # 25 set, 20 shown
    assert [p for p, _ in bids] == [D(59994 - 6 * i) for i in range(20)]
    assert [s for _, s in asks] == [s for _, s in bids] == growing_sizes(20, "0.00001")

    async with httpx.AsyncClient(base_url=sim_server.base_url) as client:
        raw = (await client.post("/info", json={"type": "l2Book", "coin": "BTC"})).json()
    assert raw["levels"][1][:2] == [
        {"px": "60006.0", "sz": "0.01", "n": 1},
        {"px": "60012.0", "sz": "0.015", "n": 1},
    ]


async def test_an_account_only_depth_leaves_the_public_book_at_the_touch(
    sim_server: SimServer, binance: Any
) -> None:
    account = sim_server.simulator.binance.create_account(D("1000"))["account"]
    await set_depth(sim_server, venue="binance", account=account, **GROWING)
    book = await binance.fetch_order_book(BTC)
    assert levels(book["asks"]) == [(D("60006"), D("1000"))]


async def test_binance_a_market_order_fills_at_the_book_it_read(
    sim_server: SimServer, binance: Any
) -> None:
    await set_depth(sim_server, venue="binance", **JITTERED)
    asks = levels((await binance.fetch_order_book(BTC))["asks"])
    assert len(asks) == 6 and len({s for _, s in asks}) > 1  # jittered sizes
    amount = (asks[0][1] + asks[1][1] + asks[2][1] / 2).quantize(D("0.001"), ROUND_DOWN)
    assert amount > asks[0][1] + asks[1][1]  # into the third level

    order = await binance.create_order(BTC, "market", "buy", float(amount))
    assert D(order["info"]["executedQty"]) == amount
    assert D(order["info"]["avgPrice"]) == vwap_of(asks, amount).quantize(D("0.00001"))
    trades = await binance.fetch_my_trades(BTC)
    assert [(D(str(t["price"])), D(str(t["amount"]))) for t in trades] == [
        asks[0],
        asks[1],
        (asks[2][0], amount - asks[0][1] - asks[1][1]),
    ]  # one fill per level the book showed, its size at most the level's


async def test_hyperliquid_a_market_order_fills_at_the_book_it_read(
    sim_server: SimServer, hyperliquid: Any
) -> None:
    await set_depth(sim_server, venue="hyperliquid", **JITTERED)
    bids = levels((await hyperliquid.fetch_order_book(HL_BTC))["bids"])
    assert len(bids) == 6 and len({s for _, s in bids}) > 1
    amount = (bids[0][1] + bids[1][1] + bids[2][1] / 2).quantize(D("0.00001"), ROUND_DOWN)
    assert amount > bids[0][1] + bids[1][1]

    order = await hyperliquid.create_order(HL_BTC, "market", "sell", float(amount), 59000)
    filled = order["info"]["filled"]
    assert D(filled["totalSz"]) == amount
    assert abs(D(filled["avgPx"]) - vwap_of(bids, amount)) < D("1E-8")
    trades = await hyperliquid.fetch_my_trades(HL_BTC)
    assert [(D(str(t["price"])), D(str(t["amount"]))) for t in trades] == [
        bids[0],
        bids[1],
        (bids[2][0], amount - bids[0][1] - bids[1][1]),
    ]
