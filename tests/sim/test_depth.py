"""Book depth (`sim.book`): market orders walk seeded levels, IOC and limit orders fill in
parts, through the control API and unmodified ccxt over HTTP on both faces.

Binance: a market or IOC order the book cannot fill ends ``EXPIRED`` with ``executedQty`` >
0 (USD-M "Query Order": ``status`` PARTIALLY_FILLED / EXPIRED); a GTC limit that fills in
part stays ``PARTIALLY_FILLED``. Hyperliquid: the order answer's ``filled`` carries the
``totalSz`` that filled ("Place an order" response, ``filled: {totalSz, avgPx, oid}``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt
import httpx
import pytest

from tradeexec.sim.book import Depth, depth_from_json, walk
from tradeexec.testing import sim_ccxt

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

D = Decimal
BTC = "BTC/USDT:USDT"
HL_BTC = "BTC/USDC:USDC"
DEPTH = {"size": "0.01", "levels": 3, "step_bps": "1"}


@pytest.fixture
async def binance(sim_server: SimServer) -> AsyncIterator[tuple[Any, str]]:
    sim_server.simulator.set_price("BTC", D("60000"))
    async with sim_ccxt(sim_server, "binance") as client:
        yield client


@pytest.fixture
async def hyperliquid(sim_server: SimServer) -> AsyncIterator[tuple[Any, str]]:
    sim_server.simulator.set_price("BTC", D("60000"))
    async with sim_ccxt(sim_server, "hyperliquid") as client:
        yield client


async def set_depth(sim_server: SimServer, **body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sim_server.base_url) as client:
        return await client.post("/_sim/depth", json=body)


def test_the_book_is_seeded_and_the_walk_stops_at_the_limit() -> None:
    depth = Depth(size=D("1"), levels=4, step_bps=D("10"), jitter=D("0.5"), seed=3)
    args = ("BTC", True, D("100"), D("100"), lambda p: p, lambda q: q.quantize(D("0.001")))
    book = depth.book(*args)
    assert book == depth.book(*args)  # seeded: the same book every time
    assert [p for p, _ in book] == [D("100"), D("100.1"), D("100.2"), D("100.3")]
    assert all(D("0.5") <= s <= D("1.5") for _, s in book)
    assert book != Depth(size=D("1"), levels=4, step_bps=D("10"), jitter=D("0.5")).book(*args)
    flat = Depth(size=D("1"), levels=3, step_bps=D("10")).book(*args)
    assert walk(flat, D("2.5"), True, None) == [(D("100"), 1), (D("100.1"), 1), (D("100.2"), 0.5)]
    assert walk(flat, D("2.5"), True, D("100.1")) == [(D("100"), 1), (D("100.1"), 1)]
    for bad in ({}, {"size": "0"}, {"size": "1", "levels": 0}, {"size": "x"}, {"size": 1, "a": 1}):
        with pytest.raises((ValueError, TypeError)):
            depth_from_json(bad)


async def test_depth_is_off_by_default_and_set_through_the_control_api(
    sim_server: SimServer, binance: tuple[Any, str]
) -> None:
    ex, account = binance
    whole = await ex.create_order(BTC, "market", "buy", 0.05)
    assert whole["status"] == "closed" and whole["filled"] == 0.05  # no depth: whole, at the touch

    bad = await set_depth(sim_server, venue="binance", account=account, size="-1")
    assert bad.status_code == 400
    assert (await set_depth(sim_server, account=account, size="1")).status_code == 400
    ok = await set_depth(sim_server, venue="binance", account=account, **DEPTH)
    assert ok.status_code == 200
    assert ok.json()["binance"]["accounts"][account]["size"] == "0.01"
    assert ok.json()["binance"]["depth"] is None  # only this account

    walked = await ex.create_order(BTC, "market", "buy", 0.025)
    assert walked["status"] == "closed" and walked["filled"] == 0.025
    trades = await ex.fetch_my_trades(BTC)
    assert [(t["price"], t["amount"]) for t in trades if t["order"] == walked["id"]] == [
        (60006.0, 0.01),
        (60012.0, 0.01),
        (60018.0, 0.005),
    ]  # slippage: one fill per level, 1 bp apart

    async with httpx.AsyncClient(base_url=sim_server.base_url) as client:
        off = await client.delete("/_sim/depth", params={"venue": "binance", "account": account})
    assert off.json()["binance"]["accounts"][account] is None


async def test_binance_market_and_ioc_orders_fill_in_part_then_expire(
    sim_server: SimServer, binance: tuple[Any, str]
) -> None:
    ex, account = binance
    await set_depth(sim_server, venue="binance", account=account, **DEPTH)

    market = await ex.create_order(BTC, "market", "buy", 0.05)
    assert market["info"]["status"] == "EXPIRED" and market["info"]["executedQty"] == "0.030"
    assert market["filled"] == 0.03 and market["remaining"] == pytest.approx(0.02)

    ioc = await ex.create_order(
        BTC, "limit", "sell", 0.05, 59988, params={"timeInForce": "IOC"}
    )  # two bid levels reach 59988: 0.02 fills, the rest expires
    assert ioc["info"]["status"] == "EXPIRED" and ioc["filled"] == 0.02

    with pytest.raises(ccxt.OrderNotFillable, match="-5021"):  # FOK: all or nothing
        await ex.create_order(BTC, "limit", "sell", 0.05, 59988, params={"timeInForce": "FOK"})

    position = (await ex.fetch_positions([BTC]))[0]
    assert position["contracts"] == pytest.approx(0.01)


async def test_binance_limit_orders_fill_in_parts(
    sim_server: SimServer, binance: tuple[Any, str]
) -> None:
    ex, account = binance
    await set_depth(sim_server, venue="binance", account=account, **DEPTH)

    crossing = await ex.create_order(BTC, "limit", "buy", 0.025, 60012)
    assert crossing["info"]["status"] == "PARTIALLY_FILLED" and crossing["filled"] == 0.02
    assert crossing["status"] == "open"  # the rest rests at 60012

    resting = await ex.create_order(BTC, "limit", "buy", 0.025, 59000)
    assert resting["status"] == "open" and resting["filled"] == 0
    sim_server.simulator.set_price("BTC", D("58900"))  # crosses both: `size` each per move
    first = await ex.fetch_order(resting["id"], BTC)
    assert first["info"]["status"] == "PARTIALLY_FILLED" and first["filled"] == 0.01
    assert (await ex.fetch_order(crossing["id"], BTC))["status"] == "closed"
    sim_server.simulator.set_price("BTC", D("58800"))
    sim_server.simulator.set_price("BTC", D("58700"))
    done = await ex.fetch_order(resting["id"], BTC)
    assert done["status"] == "closed" and done["filled"] == 0.025 and done["average"] == 59000


async def test_a_reduce_only_close_walks_the_book_in_part(
    sim_server: SimServer, binance: tuple[Any, str]
) -> None:
    ex, account = binance
    await ex.create_order(BTC, "market", "buy", 0.05)  # no depth yet: whole
    await set_depth(sim_server, venue="binance", account=account, **DEPTH)
    close = await ex.create_order(BTC, "market", "sell", 0.05, params={"reduceOnly": True})
    assert close["info"]["status"] == "EXPIRED" and close["filled"] == 0.03
    assert (await ex.fetch_positions([BTC]))[0]["contracts"] == pytest.approx(0.02)
    rest = await ex.create_order(BTC, "market", "sell", 0.05, params={"reduceOnly": True})
    assert rest["status"] == "closed" and rest["filled"] == 0.02  # capped at the position


async def test_hyperliquid_ioc_answers_the_part_that_filled(
    sim_server: SimServer, hyperliquid: tuple[Any, str]
) -> None:
    ex, account = hyperliquid
    assert (await set_depth(sim_server, venue="hyperliquid", **DEPTH)).status_code == 200

    market = await ex.create_order(HL_BTC, "market", "buy", 0.05, 61000)  # price caps slippage
    assert market["info"]["filled"]["totalSz"] == "0.03"
    assert market["filled"] == 0.03
    avg = (60006 + 60012 + 60018) / 3
    assert float(market["info"]["filled"]["avgPx"]) == pytest.approx(avg)

    gtc = await ex.create_order(HL_BTC, "limit", "sell", 0.025, 59988)
    assert "resting" in gtc["info"]  # 0.02 filled, the rest rests
    order = await ex.fetch_order(gtc["id"], HL_BTC)
    assert order["status"] == "open" and order["remaining"] == pytest.approx(0.005)
    state = sim_server.simulator.hyperliquid.engine.positions(account)
    assert [p.qty for p in state] == [D("0.01")]
