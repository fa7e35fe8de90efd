"""Issue 13, item 7: the smaller places where the simulator and the live venues differed.

Each through unmodified ccxt over HTTP against the running simulator:
- triggers watch the last price or the mark per Binance ``workingType`` (default
  CONTRACT_PRICE, the last price); Hyperliquid triggers watch the mark;
- Binance ``GTE_GTC`` conditionals (closePosition ones carry it) expire when the position
  closes;
- ``selfTradePreventionMode`` echoed as the docs say (default NONE);
- Hyperliquid ``userFills`` rows have no ``cloid`` key when the order had none;
- the venue's texts for a duplicate cloid and a margin-type switch with a position;
- money fields with the venue's decimals.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import httpx
import pytest

from tradeexec.sim.server import SimServer
from tradeexec.testing import sim_ccxt

BTC = "BTC/USDT:USDT"
HL_BTC = "BTC/USDC:USDC"
D = Decimal
TRIGGER = {"trigger": True}
Prices = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def bn(sim_server: SimServer) -> AsyncIterator[Any]:
    async with sim_ccxt(sim_server, "binance") as (ex, _account):
        yield ex


@pytest.fixture
async def hl(sim_server: SimServer) -> AsyncIterator[Any]:
    async with sim_ccxt(sim_server, "hyperliquid") as (ex, _account):
        yield ex


@pytest.fixture
async def prices(sim_server: SimServer) -> AsyncIterator[Prices]:
    """POST /_sim/prices, as a user's test would."""
    async with httpx.AsyncClient(base_url=sim_server.base_url, timeout=10) as client:

        async def post(**body: Any) -> dict[str, Any]:
            answer = await client.post("/_sim/prices", json={"coin": "BTC", **body})
            assert answer.status_code == 200, answer.text
            result: dict[str, Any] = answer.json()
            return result

        yield post


def _stop_status(order: dict[str, Any]) -> str:
    return str(order["info"]["algoStatus"])


# ------------------------------------------------------------------------- workingType
async def test_binance_stop_watches_the_last_price_by_default(bn: Any, prices: Prices) -> None:
    await bn.create_order(BTC, "market", "buy", 0.01)
    stop = await bn.create_order(
        BTC, "market", "sell", 0.01, params={"stopLossPrice": 66000, "reduceOnly": True}
    )
    assert stop["info"]["workingType"] == "CONTRACT_PRICE"
    moved = await prices(price="65000", last="67000")  # the mark crosses, the last does not
    assert moved["lasts"]["binance"]["BTC"] == "67000.00"
    assert (await bn.fetch_ticker(BTC))["last"] == 67000
    assert _stop_status(await bn.fetch_order(stop["id"], BTC, params=TRIGGER)) == "NEW"
    await prices(price="67000", last="65900")  # now the last price does
    fired = await bn.fetch_order(stop["id"], BTC, params=TRIGGER)
    assert _stop_status(fired) == "FINISHED"
    assert all(not p["contracts"] for p in await bn.fetch_positions([BTC]))


async def test_binance_mark_price_stop_watches_the_mark(bn: Any, prices: Prices) -> None:
    await bn.create_order(BTC, "market", "buy", 0.01)
    stop = await bn.create_order(
        BTC,
        "market",
        "sell",
        0.01,
        params={"stopLossPrice": 66000, "reduceOnly": True, "workingType": "MARK_PRICE"},
    )
    assert stop["info"]["workingType"] == "MARK_PRICE"
    await prices(price="67000", last="65000")  # the last price crosses, the mark does not
    assert _stop_status(await bn.fetch_order(stop["id"], BTC, params=TRIGGER)) == "NEW"
    await prices(price="65900", last="67000")
    assert _stop_status(await bn.fetch_order(stop["id"], BTC, params=TRIGGER)) == "FINISHED"


async def test_binance_would_trigger_now_is_judged_on_the_watched_price(
    bn: Any, prices: Prices
) -> None:
    await bn.create_order(BTC, "market", "buy", 0.01)
    await prices(price="67500", last="65000")
    with pytest.raises(ccxt.OrderImmediatelyFillable, match="-2021"):  # the last is past it
        await bn.create_order(
            BTC, "market", "sell", 0.01, params={"stopLossPrice": 66000, "reduceOnly": True}
        )
    mark_stop = await bn.create_order(
        BTC,
        "market",
        "sell",
        0.01,
        params={"stopLossPrice": 66000, "reduceOnly": True, "workingType": "MARK_PRICE"},
    )
    assert _stop_status(mark_stop) == "NEW"


async def test_hyperliquid_triggers_watch_the_mark(
    hl: Any, prices: Prices, sim_server: SimServer
) -> None:
    await hl.create_order(HL_BTC, "market", "buy", 0.001, 67500)
    stop = await hl.create_order(
        HL_BTC, "market", "sell", 0.001, 67500, params={"stopLossPrice": 66000, "reduceOnly": True}
    )
    await prices(price="67000", last="65000", venue="hyperliquid")  # only the last crosses
    engine = sim_server.simulator.hyperliquid.engine
    assert [o.order_id for o in engine.open_orders(hl.walletAddress.lower())] == [int(stop["id"])]
    await prices(price="65900", last="67000", venue="hyperliquid")
    assert engine.open_orders(hl.walletAddress.lower()) == []
    assert all(not p["contracts"] for p in await hl.fetch_positions([HL_BTC]))


async def test_a_fill_moves_the_last_price(bn: Any, sim_server: SimServer) -> None:
    order = await bn.create_order(BTC, "market", "buy", 0.01)
    engine = sim_server.simulator.binance.engine
    assert engine.lasts["BTC"] == D(str(order["average"])) != engine.marks["BTC"]
    assert (await bn.fetch_ticker(BTC))["last"] == order["average"]


async def test_last_price_must_be_a_positive_number(sim_server: SimServer) -> None:
    async with httpx.AsyncClient(base_url=sim_server.base_url, timeout=10) as client:
        answer = await client.post("/_sim/prices", json={"coin": "BTC", "price": 1, "last": "-5"})
    assert answer.status_code == 400 and "last" in answer.text


# ------------------------------------------------------------------------------ GTE_GTC
async def test_close_position_conditionals_are_gte_gtc_and_expire_with_the_position(
    bn: Any,
) -> None:
    await bn.create_order(BTC, "market", "buy", 0.01)
    stop = await bn.create_order(
        BTC, "market", "sell", None, params={"stopLossPrice": 66000, "closePosition": True}
    )
    target = await bn.create_order(
        BTC, "market", "sell", None, params={"takeProfitPrice": 69000, "closePosition": True}
    )
    assert stop["info"]["timeInForce"] == target["info"]["timeInForce"] == "GTE_GTC"
    assert len(await bn.fetch_open_orders(BTC, params=TRIGGER)) == 2

    await bn.create_order(BTC, "market", "sell", 0.01, params={"reduceOnly": True})  # flat

    assert await bn.fetch_open_orders(BTC, params=TRIGGER) == []
    for order in (stop, target):
        ended = await bn.fetch_order(order["id"], BTC, params=TRIGGER)
        assert _stop_status(ended) == "EXPIRED"


async def test_gte_gtc_sent_explicitly_expires_while_gtc_stays(bn: Any) -> None:
    await bn.create_order(BTC, "market", "buy", 0.01)
    gte = await bn.create_order(
        BTC,
        "market",
        "sell",
        0.01,
        params={"stopLossPrice": 66000, "reduceOnly": True, "timeInForce": "GTE_GTC"},
    )
    gtc = await bn.create_order(
        BTC, "market", "sell", 0.01, params={"stopLossPrice": 65000, "reduceOnly": True}
    )
    assert gtc["info"]["timeInForce"] == "GTC"
    await bn.create_order(BTC, "market", "sell", 0.01, params={"reduceOnly": True})
    assert _stop_status(await bn.fetch_order(gte["id"], BTC, params=TRIGGER)) == "EXPIRED"
    # a GTC reduce-only conditional stays until it fires (then it finds nothing to reduce)
    assert [o["id"] for o in await bn.fetch_open_orders(BTC, params=TRIGGER)] == [gtc["id"]]


async def test_gte_gtc_on_a_plain_limit_is_refused(bn: Any) -> None:
    with pytest.raises(ccxt.BadRequest, match="-1115"):
        await bn.create_order(BTC, "limit", "buy", 0.01, 60000, params={"timeInForce": "GTE_GTC"})


# ------------------------------------------------------------------------- STP mode
async def test_self_trade_prevention_mode_is_echoed(bn: Any) -> None:
    plain = await bn.create_order(BTC, "limit", "buy", 0.01, 60000)
    assert plain["info"]["selfTradePreventionMode"] == "NONE"  # the documented default
    chosen = await bn.create_order(
        BTC, "limit", "buy", 0.01, 60000, params={"selfTradePreventionMode": "EXPIRE_BOTH"}
    )
    fetched = await bn.fetch_order(chosen["id"], BTC)
    assert fetched["info"]["selfTradePreventionMode"] == "EXPIRE_BOTH"
    with pytest.raises(ccxt.BadRequest, match="selfTradePreventionMode"):
        await bn.create_order(
            BTC, "limit", "buy", 0.01, 60000, params={"selfTradePreventionMode": "DECREMENT"}
        )


# -------------------------------------------------------------- Hyperliquid fills, texts
async def test_user_fills_omit_cloid_when_the_order_had_none(hl: Any) -> None:
    cloid = "0x" + "ab" * 16
    await hl.create_order(HL_BTC, "market", "buy", 0.001, 67500, params={"clientOrderId": cloid})
    await hl.create_order(HL_BTC, "market", "sell", 0.001, 67500)
    rows = await hl.public_post_info({"type": "userFills", "user": hl.walletAddress})
    by_dir = {row["dir"]: row for row in rows}
    assert by_dir["Open Long"]["cloid"] == cloid
    assert "cloid" not in by_dir["Close Long"]
    trades = await hl.fetch_my_trades(HL_BTC)
    assert len(trades) == 2


async def test_duplicate_cloid_and_margin_switch_texts(hl: Any) -> None:
    cloid = "0x" + "cd" * 16
    await hl.create_order(HL_BTC, "limit", "buy", 0.001, 60000, params={"clientOrderId": cloid})
    with pytest.raises(ccxt.ExchangeError, match=r"Duplicate cloid\. asset=0"):
        await hl.create_order(HL_BTC, "limit", "buy", 0.001, 60000, params={"clientOrderId": cloid})
    await hl.create_order(HL_BTC, "market", "buy", 0.001, 67500)
    with pytest.raises(
        ccxt.ExchangeError, match=r"Cannot switch leverage type with open position\."
    ):
        await hl.set_margin_mode("isolated", HL_BTC, params={"leverage": 5})


# ------------------------------------------------------------------------------ decimals
async def test_money_fields_carry_the_venues_decimals(bn: Any, hl: Any) -> None:
    await bn.create_order(BTC, "market", "buy", 0.01)
    account = (await bn.fapiPrivateV2GetAccount())["assets"]
    usdt = next(a for a in account if a["asset"] == "USDT")
    for name in ("walletBalance", "marginBalance", "availableBalance"):
        assert re.fullmatch(r"-?\d+\.\d{8}", usdt[name]), (name, usdt[name])
    [trade] = await bn.fetch_my_trades(BTC)
    assert re.fullmatch(r"\d+\.\d{2}", trade["info"]["price"])  # BTCUSDT's tick: 0.10 -> 2
    assert re.fullmatch(r"\d+\.\d{3}", trade["info"]["qty"])

    await hl.create_order(HL_BTC, "market", "buy", 0.001, 67500)
    state = await hl.public_post_info({"type": "clearinghouseState", "user": hl.walletAddress})
    texts = [*state["marginSummary"].values(), state["withdrawable"]]
    position = state["assetPositions"][0]["position"]
    texts += [
        position[k] for k in ("szi", "entryPx", "positionValue", "unrealizedPnl", "marginUsed")
    ]
    numbers = [t for t in texts if re.fullmatch(r"-?\d+(\.\d+)?", t)]
    assert numbers and all(t.endswith(".0") or not t.endswith("0") for t in numbers), (
        numbers
    )  # no trailing zeros: "10000.0", "0.001", never "0.00100"
    assert all(len(t.partition(".")[2]) <= 6 for t in numbers if "." in t)


# ----------------------------------------------------------------- Binance forgets
async def test_binance_forgets_unfilled_cancelled_orders_after_three_days(
    bn: Any, sim_server: SimServer
) -> None:
    kept = await bn.create_order(BTC, "market", "buy", 0.01)  # filled: remembered
    cancelled = await bn.create_order(BTC, "limit", "buy", 0.01, 60000)
    await bn.cancel_order(cancelled["id"], BTC)
    assert (await bn.fetch_order(cancelled["id"], BTC))["status"] == "canceled"

    async with httpx.AsyncClient(base_url=sim_server.base_url, timeout=10) as control:

        async def advance(seconds: int) -> None:
            answer = await control.post("/_sim/time", json={"advance_s": seconds})
            assert answer.status_code == 200, answer.text

        day = 86_400
        await advance(3 * day - 60)  # not yet three days
        assert (await bn.fetch_order(cancelled["id"], BTC))["status"] == "canceled"
        await advance(120)
        with pytest.raises(ccxt.OrderNotFound, match="-2013"):
            await bn.fetch_order(cancelled["id"], BTC)
        with pytest.raises(ccxt.OrderNotFound, match="-2013"):
            await bn.fetch_order("", BTC, params={"clientOrderId": cancelled["clientOrderId"]})
        assert [o["id"] for o in await bn.fetch_orders(BTC)] == [kept["id"]]
        assert (await bn.fetch_order(kept["id"], BTC))["status"] == "closed"

        await advance(88 * day)  # past 90 days no finished order is found
        with pytest.raises(ccxt.OrderNotFound, match="-2013"):
            await bn.fetch_order(kept["id"], BTC)
