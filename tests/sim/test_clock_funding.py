"""The simulator's clock and funding, through unmodified ccxt on both faces.

Sources: Binance "Get Income History" (``/fapi/v1/income``, FUNDING_FEE / COMMISSION /
REALIZED_PNL), "Mark Price" (``/fapi/v1/premiumIndex``: ``lastFundingRate``,
``nextFundingTime``), "Get Funding Rate History"; funding every 8 h at 00/08/16 UTC.
Hyperliquid "Info endpoint / Perpetuals": ``userFunding``, ``fundingHistory``,
``metaAndAssetCtxs`` (``funding``); funding every hour. Longs pay a positive rate on
``qty * mark``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt
import httpx
import pytest

from tradeexec.exchanges.endpoints import point_ccxt_at
from tradeexec.sim.accounting import settle
from tradeexec.sim.clock import ClockError, SimClock
from tradeexec.testing import sim_ccxt

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

D = Decimal
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
BTC = "BTC/USDT:USDT"
HL_BTC = "BTC/USDC:USDC"


async def control(sim_server: SimServer, method: str, path: str, **body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sim_server.base_url) as client:
        return await client.request(method, path, json=body or None)


async def binance_exchange(sim_server: SimServer) -> tuple[Any, str]:
    creds = sim_server.simulator.binance.create_account(D(10000))
    ex = ccxt.binanceusdm(
        {"apiKey": creds["apiKey"], "secret": creds["secret"], "enableRateLimit": False}
    )
    point_ccxt_at(ex, sim_server.base_url)
    await ex.load_markets()
    return ex, creds["account"]


@pytest.fixture
async def binance(sim_server: SimServer) -> AsyncIterator[tuple[Any, str]]:
    ex, account = await binance_exchange(sim_server)
    try:
        yield ex, account
    finally:
        await ex.close()


@pytest.fixture
async def hyperliquid(sim_server: SimServer) -> AsyncIterator[tuple[Any, str]]:
    async with sim_ccxt(sim_server, "hyperliquid") as client:
        yield client


def test_the_clock_follows_the_wall_until_moved_and_never_goes_back() -> None:
    wall = [1_000_000]
    clock = SimClock(lambda: wall[0])
    assert clock.now_ms() == clock() == 1_000_000 and clock.offset_ms == 0
    wall[0] += 5
    assert clock.now_ms() == 1_000_005
    assert clock.advance(60_000) == 1_060_005
    wall[0] -= 1_000  # the wall clock steps back: the simulator's time does not
    assert clock.now_ms() == 1_060_005 and clock.wall_ms() == 1_000_005
    with pytest.raises(ClockError):
        clock.set_ms(1_000_000)
    with pytest.raises(ClockError):
        clock.advance(-1)
    assert clock.set_ms(2_000_000) == 2_000_000
    wall[0] = 1_500_000
    clock.reset()  # /_sim/reset: back on the wall clock
    assert clock.now_ms() == 1_500_000 and clock.offset_ms == 0


async def test_time_control_moves_forward_only(sim_server: SimServer) -> None:
    before = (await control(sim_server, "GET", "/_sim/time")).json()
    assert before["offset_ms"] == 0 and abs(before["now_ms"] - before["wall_ms"]) < 1000
    moved = (await control(sim_server, "POST", "/_sim/time", advance_s=3 * 86_400)).json()
    assert moved["now_ms"] >= before["now_ms"] + 3 * DAY_MS
    assert moved["offset_ms"] >= 3 * DAY_MS
    back = await control(sim_server, "POST", "/_sim/time", set_ms=before["now_ms"])
    assert back.status_code == 400 and "forward" in back.json()["error"]
    for bad in ({}, {"advance_s": -1}, {"advance_s": True}, {"advance_s": "soon"},
                {"set_ms": 1.5}, {"advance_s": 1, "set_ms": 1}):  # fmt: skip
        assert (await control(sim_server, "POST", "/_sim/time", **bad)).status_code == 400, bad
    later = moved["now_ms"] + HOUR_MS
    assert (await control(sim_server, "POST", "/_sim/time", set_ms=later)).status_code == 200
    assert (await control(sim_server, "GET", "/_sim/time")).json()["now_ms"] >= later


async def test_orders_and_fills_carry_the_simulator_time_and_clients_still_sign(
    sim_server: SimServer, binance: tuple[Any, str], hyperliquid: tuple[Any, str]
) -> None:
    moved = (await control(sim_server, "POST", "/_sim/time", advance_s=3 * 86_400)).json()
    ex, _ = binance
    # ccxt signs with the real time: the recvWindow check still passes three days "later"
    order = await ex.create_order(BTC, "market", "buy", 0.01)
    assert order["timestamp"] >= moved["now_ms"]
    (trade,) = await ex.fetch_my_trades(BTC)
    assert trade["timestamp"] >= moved["now_ms"]
    assert (await ex.fetch_time()) < moved["now_ms"]  # serverTime: the clock requests sign to
    hl, _ = hyperliquid
    placed = await hl.create_order(HL_BTC, "market", "buy", 0.001, 67500)  # nonce: real time
    (fill,) = await hl.fetch_my_trades(HL_BTC)
    assert placed["id"] == fill["order"] and fill["timestamp"] >= moved["now_ms"]


async def test_binance_pays_funding_every_8_hours_at_the_mark_and_lists_it_as_income(
    sim_server: SimServer, binance: tuple[Any, str]
) -> None:
    ex, account = binance
    engine = sim_server.simulator.binance.engine
    set_rate = await control(
        sim_server, "POST", "/_sim/funding", venue="binance", coin="BTC", rate="0.0005"
    )
    assert set_rate.json()["binance"]["rates"]["BTC"] == "0.0005"
    await ex.create_order(BTC, "market", "buy", 0.1)
    shorter, short_account = await binance_exchange(sim_server)
    try:
        await shorter.create_order(BTC, "market", "sell", 0.1)
        rate = await ex.fetch_funding_rate(BTC)
        due = engine.funding.next_ms
        assert rate["fundingRate"] == 0.0005 and rate["fundingTimestamp"] == due
        assert due % (8 * HOUR_MS) == 0  # 00:00, 08:00 or 16:00 UTC
        wallet = engine.account(account).wallet_balance
        short_wallet = engine.account(short_account).wallet_balance
        mark = engine.marks["BTC"]

        moved = (await control(sim_server, "POST", "/_sim/time", set_ms=due)).json()

        assert moved["funding_paid"]["binance"] == 1
        owed = settle(D("0.1") * mark * D("0.0005"))
        assert engine.account(account).wallet_balance == wallet - owed  # the long pays
        assert engine.account(short_account).wallet_balance == short_wallet + owed
        (paid,) = await ex.fetch_funding_history(BTC)
        assert (paid["amount"], paid["timestamp"]) == (-float(owed), due)
        assert paid["info"]["incomeType"] == "FUNDING_FEE" and paid["info"]["asset"] == "USDT"
        (received,) = await shorter.fetch_funding_history(BTC)
        assert received["amount"] == float(owed)
        fees = await ex.fapiPrivateGetIncome({"incomeType": "COMMISSION", "startTime": 0})
        assert [D(f["income"]) for f in fees] == [-f.fee for f in engine.account_fills(account)]
        assert (await ex.fetch_funding_rate(BTC))["fundingTimestamp"] == due + 8 * HOUR_MS
        history = await ex.fetch_funding_rate_history(BTC, since=due)
        assert [(h["fundingRate"], h["timestamp"]) for h in history] == [(0.0005, due)]

        later = await control(sim_server, "POST", "/_sim/time", advance_s=24 * 3600)
        assert later.json()["funding_paid"]["binance"] == 3  # a day: three more
        assert len(await ex.fetch_funding_history(BTC)) == 4
        acct = engine.account(account)
        assert acct.funding == -4 * owed
        assert acct.wallet_balance == acct.deposits + acct.realized_pnl - acct.fees_paid + (
            acct.funding + acct.insurance
        )
    finally:
        await shorter.close()


async def test_hyperliquid_pays_funding_every_hour_and_answers_user_funding(
    sim_server: SimServer, hyperliquid: tuple[Any, str]
) -> None:
    ex, account = hyperliquid
    engine = sim_server.simulator.hyperliquid.engine
    assert (await ex.fetch_funding_rate(HL_BTC))["fundingRate"] == 0.0000125  # the default
    await ex.create_order(HL_BTC, "market", "buy", 0.01, 67500)
    await control(sim_server, "POST", "/_sim/funding", venue="hyperliquid", coin="BTC",
                  rate=-0.0001)  # fmt: skip
    assert (await ex.fetch_funding_rate(HL_BTC))["fundingRate"] == -0.0001
    due = engine.funding.next_ms
    assert due % HOUR_MS == 0
    wallet, mark = engine.account(account).wallet_balance, engine.marks["BTC"]

    moved = await control(sim_server, "POST", "/_sim/time", set_ms=due + 2 * HOUR_MS)

    assert moved.json()["funding_paid"]["hyperliquid"] == 3
    earned = settle(D("0.01") * mark * D("0.0001"))  # a negative rate: the long receives
    assert engine.account(account).wallet_balance == wallet + 3 * earned
    history = await ex.fetch_funding_history(HL_BTC)
    assert [h["timestamp"] for h in history] == [due, due + HOUR_MS, due + 2 * HOUR_MS]
    assert {(h["amount"], h["rate"]) for h in history} == {(float(earned), -0.0001)}
    assert history[0]["info"]["delta"]["szi"] == "0.01"
    rates = await ex.fetch_funding_rate_history(HL_BTC, since=due)
    assert [r["fundingRate"] for r in rates] == [-0.0001] * 3


async def test_funding_control_refuses_what_it_cannot_apply(sim_server: SimServer) -> None:
    for bad in ({"coin": "DOGE", "rate": "0.001"}, {"coin": "BTC", "rate": "lots"},
                {"coin": "BTC", "rate": "0.5"}, {"coin": "BTC", "rate": "0.001", "venue": "x"},
                {"coin": "BTC", "rate": "0.001", "extra": 1}):  # fmt: skip
        response = await control(sim_server, "POST", "/_sim/funding", **bad)
        assert response.status_code == 400, bad
    both = (await control(sim_server, "POST", "/_sim/funding", coin="eth", rate=0.0002)).json()
    assert both["binance"]["rates"]["ETH"] == both["hyperliquid"]["rates"]["ETH"] == "0.0002"
    assert both["binance"]["interval_ms"] == 8 * HOUR_MS
    assert both["hyperliquid"]["interval_ms"] == HOUR_MS
