"""The Binance USD-M face, driven by unmodified ccxt ``binanceusdm`` over HTTP.

Each test talks to a running simulator (the ``sim_server`` fixture) through ccxt pointed at it
with `point_ccxt_at`; nothing inside ccxt is patched. Errors are asserted by the exception class
ccxt raises for the same answer from fapi.binance.com.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt
import pytest

from tradeexec.exchanges.endpoints import point_ccxt_at
from tradeexec.sim.binance_api import BinanceFace
from tradeexec.sim.faults import FaultRule

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
D = Decimal


def make_exchange(base_url: str, creds: dict[str, str], **config: Any) -> Any:
    ex = ccxt.binanceusdm(
        {
            "apiKey": creds["apiKey"],
            "secret": creds["secret"],
            "enableRateLimit": False,
            "timeout": 30_000,  # a loaded CI box; faulted calls set their own
            **config,
        }
    )
    return point_ccxt_at(ex, base_url)


@pytest.fixture
def face(sim_server: SimServer) -> BinanceFace:
    return sim_server.simulator.binance


@pytest.fixture
def creds(face: BinanceFace) -> dict[str, str]:
    return face.create_account(D("10000"))


@pytest.fixture
async def binance_ccxt(sim_server: SimServer, creds: dict[str, str]) -> AsyncIterator[Any]:
    ex = make_exchange(sim_server.base_url, creds)
    try:
        await ex.load_markets()
        yield ex
    finally:
        await ex.close()


# ------------------------------------------------------------------ market data
async def test_load_markets_renders_binance_filters_and_sapi_currencies(
    binance_ccxt: Any,
) -> None:
    ex = binance_ccxt
    btc = ex.market(BTC)
    assert btc["id"] == "BTCUSDT" and btc["swap"] and btc["linear"] and btc["settle"] == "USDT"
    assert btc["precision"] == {"amount": 0.001, "price": 0.1, "base": 1e-08, "quote": 1e-08}
    assert btc["limits"]["cost"]["min"] == 100
    assert btc["limits"]["amount"] == {"min": 0.001, "max": 1000}
    assert ex.market("SOL/USDT:USDT")["precision"]["amount"] == 1
    assert ex.market("SOL/USDT:USDT")["info"]["pricePrecision"] == 4
    assert "STOP_MARKET" in btc["info"]["orderTypes"]
    # fetchCurrencies (default on) read /sapi/v1/capital/config/getall with our keys
    assert ex.currencies["USDT"]["active"] is True
    assert ex.currencies["USDT"]["networks"]


async def test_time_ticker_book_follow_the_mark(binance_ccxt: Any, face: BinanceFace) -> None:
    ex = binance_ccxt
    server_time = await ex.fetch_time()
    assert abs(server_time - time.time() * 1000) < 5000
    face.engine.set_mark("BTC", D("60000"))
    ticker = await ex.fetch_ticker(BTC)
    assert ticker["last"] == 60000 and ticker["symbol"] == BTC
    book = await ex.fetch_order_book(BTC)
    bid, ask = book["bids"][0][0], book["asks"][0][0]
    assert bid < 60000 < ask
    assert (ask - bid) / 60000 == pytest.approx(0.0002, rel=0.05)
    # fapi's 24hr ticker has no bid/ask (as on Binance); the book ticker has them
    assert ticker["bid"] is None
    quotes = await ex.fetch_bids_asks([BTC])
    assert (quotes[BTC]["bid"], quotes[BTC]["ask"]) == (bid, ask)


# ---------------------------------------------------------------- plain orders
async def test_market_order_fills_and_shows_in_position_balance_trades(
    binance_ccxt: Any, face: BinanceFace
) -> None:
    ex = binance_ccxt
    assert (await ex.fetch_balance())["USDT"]["total"] == 10000
    ask = face.engine.bid_ask("BTC")[1]
    order = await ex.create_order(BTC, "market", "buy", 0.01, params={"clientOrderId": "mkt-1"})
    assert order["status"] == "closed" and order["filled"] == 0.01
    assert order["average"] == float(ask) and order["clientOrderId"] == "mkt-1"

    positions = await ex.fetch_positions([BTC])
    assert len(positions) == 1
    pos = positions[0]
    assert pos["side"] == "long" and pos["contracts"] == 0.01
    assert pos["entryPrice"] == float(ask) and pos["marginMode"] == "cross"
    assert pos["hedged"] is False

    fee = D("0.01") * ask * D("0.0005")
    balance = await ex.fetch_balance()
    assert D(str(balance["USDT"]["total"])) == pytest.approx(
        D(10000) - fee + D("0.01") * (face.engine.marks["BTC"] - ask)
    )
    trades = await ex.fetch_my_trades(BTC)
    assert [t["order"] for t in trades] == [order["id"]]
    assert trades[0]["takerOrMaker"] == "taker"
    assert trades[0]["fee"]["currency"] == "USDT"
    assert D(str(trades[0]["fee"]["cost"])) == fee


async def test_limit_gtc_rests_then_cancel_by_id(binance_ccxt: Any) -> None:
    ex = binance_ccxt
    order = await ex.create_order(BTC, "limit", "buy", 0.01, 65000)
    assert order["status"] == "open" and order["price"] == 65000 and order["timeInForce"] == "GTC"
    open_orders = await ex.fetch_open_orders(BTC)
    assert [o["id"] for o in open_orders] == [order["id"]]
    cancelled = await ex.cancel_order(order["id"], BTC)
    assert cancelled["status"] == "canceled"
    assert (await ex.fetch_order(order["id"], BTC))["status"] == "canceled"
    assert await ex.fetch_open_orders(BTC) == []
    with pytest.raises(ccxt.OrderNotFound):
        await ex.cancel_order(order["id"], BTC)


async def test_resting_limit_fills_as_maker_when_the_mark_crosses(
    binance_ccxt: Any, face: BinanceFace
) -> None:
    ex = binance_ccxt
    order = await ex.create_order(BTC, "limit", "buy", 0.01, 66000)
    face.engine.set_mark("BTC", D("65900"))
    fetched = await ex.fetch_order(order["id"], BTC)
    assert fetched["status"] == "closed" and fetched["average"] == 66000
    (trade,) = await ex.fetch_my_trades(BTC)
    assert trade["takerOrMaker"] == "maker"


async def test_limit_ioc_that_cannot_fill_expires(binance_ccxt: Any) -> None:
    order = await binance_ccxt.create_order(
        BTC, "limit", "buy", 0.01, 65000, params={"timeInForce": "IOC"}
    )
    assert order["status"] == "expired" and order["filled"] == 0


async def test_post_only_rests_or_is_refused_when_it_would_take(binance_ccxt: Any) -> None:
    ex = binance_ccxt
    resting = await ex.create_order(BTC, "limit", "buy", 0.01, 65000, params={"postOnly": True})
    assert resting["postOnly"] is True and resting["info"]["timeInForce"] == "GTX"
    assert resting["status"] == "open"
    with pytest.raises(ccxt.OrderNotFillable):  # -5022
        await ex.create_order(BTC, "limit", "buy", 0.01, 67600, params={"postOnly": True})


async def test_client_order_id_fetch_cancel_and_duplicate(binance_ccxt: Any) -> None:
    ex = binance_ccxt
    sig = {"clientOrderId": "sig-42"}
    placed = await ex.create_order(BTC, "limit", "sell", 0.01, 69000, params=sig)
    assert placed["clientOrderId"] == "sig-42"
    assert placed["info"]["clientOrderId"] == "sig-42"
    fetched = await ex.fetch_order("", BTC, params={"clientOrderId": "sig-42"})
    assert fetched["id"] == placed["id"] and fetched["status"] == "open"
    with pytest.raises(ccxt.InvalidOrder, match="-4116"):
        await ex.create_order(BTC, "limit", "sell", 0.01, 69000, params=sig)
    cancelled = await ex.cancel_order("", BTC, params={"clientOrderId": "sig-42"})
    assert cancelled["id"] == placed["id"] and cancelled["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):
        await ex.fetch_order("", BTC, params={"clientOrderId": "never-sent"})


async def test_reduce_only_closes_and_refuses_to_grow(binance_ccxt: Any) -> None:
    ex = binance_ccxt
    await ex.create_order(BTC, "market", "buy", 0.01)
    with pytest.raises(ccxt.InvalidOrder, match="-2022"):
        await ex.create_order(BTC, "market", "buy", 0.01, params={"reduceOnly": True})
    closed = await ex.create_order(BTC, "market", "sell", 0.02, params={"reduceOnly": True})
    assert closed["filled"] == 0.01 and closed["reduceOnly"] is True
    assert await ex.fetch_positions([BTC]) == []


async def test_cancel_all_keeps_plain_and_algo_orders_apart(binance_ccxt: Any) -> None:
    ex = binance_ccxt
    limit = await ex.create_order(BTC, "limit", "buy", 0.01, 65000)
    stop = await ex.create_order(BTC, "market", "buy", 0.01, params={"stopLossPrice": 69000})
    await ex.cancel_all_orders(BTC)
    assert (await ex.fetch_order(limit["id"], BTC))["status"] == "canceled"
    assert (await ex.fetch_order(stop["id"], BTC, params={"trigger": True}))["status"] == "open"
    await ex.cancel_all_orders(BTC, params={"trigger": True})
    assert await ex.fetch_open_orders(BTC, params={"trigger": True}) == []
    history = await ex.fetch_orders(BTC)
    assert [o["id"] for o in history] == [limit["id"]]


# ---------------------------------------------------------------- algo orders
async def test_stop_market_goes_to_algo_service_and_fires_on_the_mark(
    binance_ccxt: Any, face: BinanceFace
) -> None:
    ex = binance_ccxt
    entry = await ex.create_order(BTC, "market", "buy", 0.01)
    stop = await ex.create_order(
        BTC, "market", "sell", 0.01, params={"stopLossPrice": 66000, "reduceOnly": True}
    )
    assert stop["info"]["algoType"] == "CONDITIONAL"
    assert stop["info"]["orderType"] == "STOP_MARKET"
    assert stop["id"] == str(stop["info"]["algoId"]) and stop["status"] == "open"
    assert stop["triggerPrice"] == 66000
    assert await ex.fetch_open_orders(BTC) == []  # not a plain order
    assert [o["id"] for o in await ex.fetch_open_orders(BTC, params={"trigger": True})] == [
        stop["id"]
    ]
    with pytest.raises(ccxt.OrderNotFound):  # an algo id is unknown to /fapi/v1/order
        await ex.fetch_order(stop["id"], BTC)

    face.engine.set_mark("BTC", D("66500"))
    assert (await ex.fetch_order(stop["id"], BTC, params={"trigger": True}))["status"] == "open"
    face.engine.set_mark("BTC", D("65950"))

    fired = await ex.fetch_order(stop["id"], BTC, params={"trigger": True})
    assert fired["status"] == "closed" and fired["info"]["algoStatus"] == "FINISHED"
    actual = await ex.fetch_order(fired["info"]["actualOrderId"], BTC)
    assert actual["status"] == "closed" and actual["filled"] == 0.01
    assert actual["info"]["origType"] == "STOP_MARKET"
    assert await ex.fetch_positions([BTC]) == []
    assert await ex.fetch_open_orders(BTC, params={"trigger": True}) == []

    bid = face.engine.bid_ask("BTC")[0]
    pnl = D("0.01") * (bid - D(str(entry["average"])))
    fees = D("0.01") * (D(str(entry["average"])) + bid) * D("0.0005")
    balance = await ex.fetch_balance()
    assert D(str(balance["USDT"]["total"])) == pytest.approx(D(10000) + pnl - fees)
    assert balance["USDT"]["used"] == 0
    trades = await ex.fetch_my_trades(BTC)
    assert [t["order"] for t in trades] == [entry["id"], actual["id"]]


async def test_take_profit_market_and_cancel_with_trigger_flag(binance_ccxt: Any) -> None:
    ex = binance_ccxt
    await ex.create_order(BTC, "market", "buy", 0.01)
    tp = await ex.create_order(
        BTC, "market", "sell", 0.01, params={"takeProfitPrice": 69000, "reduceOnly": True}
    )
    assert tp["info"]["orderType"] == "TAKE_PROFIT_MARKET" and tp["takeProfitPrice"] == 69000
    with pytest.raises(ccxt.OrderNotFound):  # the plain endpoint does not know algo ids
        await ex.cancel_order(tp["id"], BTC)
    cancelled = await ex.cancel_order(tp["id"], BTC, params={"trigger": True})
    assert cancelled["id"] == tp["id"] and cancelled["info"]["msg"] == "success"
    assert (await ex.fetch_order(tp["id"], BTC, params={"trigger": True}))["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):
        await ex.cancel_order(tp["id"], BTC, params={"trigger": True})


async def test_stop_limit_and_take_profit_limit_carry_price_and_trigger(
    binance_ccxt: Any, face: BinanceFace
) -> None:
    ex = binance_ccxt
    stop_limit = await ex.create_order(
        BTC, "limit", "buy", 0.01, 68100, params={"stopLossPrice": 68000}
    )
    assert stop_limit["info"]["orderType"] == "STOP" and stop_limit["type"] == "limit"
    assert stop_limit["price"] == 68100 and stop_limit["triggerPrice"] == 68000
    tp_limit = await ex.create_order(
        BTC, "limit", "buy", 0.01, 66900, params={"takeProfitPrice": 67000}
    )
    assert tp_limit["info"]["orderType"] == "TAKE_PROFIT" and tp_limit["price"] == 66900
    plain_trigger = await ex.create_order(
        BTC, "market", "buy", 0.01, params={"triggerPrice": 70000}
    )
    assert plain_trigger["info"]["orderType"] == "STOP_MARKET"

    face.engine.set_mark("BTC", D("68050"))  # fires the stop-limit; its limit crosses
    fired = await ex.fetch_order(stop_limit["id"], BTC, params={"trigger": True})
    assert fired["info"]["algoStatus"] == "FINISHED"
    actual = await ex.fetch_order(fired["info"]["actualOrderId"], BTC)
    assert actual["status"] == "closed" and actual["info"]["type"] == "LIMIT"
    open_algos = await ex.fetch_open_orders(BTC, params={"trigger": True})
    assert sorted(o["id"] for o in open_algos) == sorted([tp_limit["id"], plain_trigger["id"]])


async def test_algo_order_by_client_id(binance_ccxt: Any) -> None:
    ex = binance_ccxt
    await ex.create_order(BTC, "market", "buy", 0.01)
    placed = await ex.create_order(
        BTC, "market", "sell", 0.01,
        params={"stopLossPrice": 66000, "reduceOnly": True, "clientOrderId": "sl-7"},
    )  # fmt: skip
    assert placed["clientOrderId"] == "sl-7" and placed["info"]["clientAlgoId"] == "sl-7"
    fetched = await ex.fetch_order("", BTC, params={"trigger": True, "clientOrderId": "sl-7"})
    assert fetched["id"] == placed["id"]
    await ex.cancel_order("", BTC, params={"trigger": True, "clientOrderId": "sl-7"})
    fetched = await ex.fetch_order("", BTC, params={"trigger": True, "clientOrderId": "sl-7"})
    assert fetched["status"] == "canceled"


async def test_conditional_that_would_trigger_now_is_refused(binance_ccxt: Any) -> None:
    with pytest.raises(ccxt.OrderImmediatelyFillable):  # -2021
        await binance_ccxt.create_order(
            BTC, "market", "sell", 0.01, params={"stopLossPrice": 68000}
        )


async def test_conditional_types_are_refused_on_the_plain_endpoint(binance_ccxt: Any) -> None:
    request = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.010",
               "stopPrice": "66000", "newClientOrderId": "old-path"}  # fmt: skip
    with pytest.raises(ccxt.InvalidOrder, match="-4120"):
        await binance_ccxt.fapiPrivatePostOrder(request)


# -------------------------------------------------------------------- settings
async def test_leverage_sets_margin_requirement(binance_ccxt: Any) -> None:
    ex = binance_ccxt
    answer = await ex.set_leverage(1, BTC)
    # the cap of the 1x bracket (BTCUSDT brackets, sim/markets.py), as fapi answers
    assert answer == {"leverage": 1, "maxNotionalValue": "500000000", "symbol": "BTCUSDT"}
    with pytest.raises(ccxt.InsufficientFunds):  # 0.2 BTC ~ 13500 USDT at 1x
        await ex.create_order(BTC, "market", "buy", 0.2)
    await ex.set_leverage(20, BTC)
    await ex.create_order(BTC, "market", "buy", 0.2)
    (pos,) = await ex.fetch_positions([BTC])
    assert pos["initialMargin"] == pytest.approx(pos["notional"] / 20)
    with pytest.raises(ccxt.BadRequest, match="-4028"):  # ETH allows at most 100x
        await ex.set_leverage(110, ETH)


async def test_margin_mode_isolated_then_already_set(binance_ccxt: Any) -> None:
    ex = binance_ccxt
    assert (await ex.set_margin_mode("isolated", BTC)) == {"code": 200, "msg": "success"}
    with pytest.raises(ccxt.MarginModeAlreadySet):
        await ex.set_margin_mode("isolated", BTC)
    await ex.create_order(BTC, "market", "buy", 0.01)
    (pos,) = await ex.fetch_positions([BTC])
    assert pos["marginMode"] == "isolated"
    with pytest.raises(ccxt.OperationRejected, match="-4048"):
        await ex.set_margin_mode("cross", BTC)
    await ex.create_order(ETH, "limit", "buy", 0.1, 3400)
    with pytest.raises(ccxt.OperationRejected, match="-4047"):
        await ex.set_margin_mode("isolated", ETH)


async def test_hedge_mode_needs_position_side(binance_ccxt: Any) -> None:
    ex = binance_ccxt
    assert (await ex.fetch_position_mode(BTC))["hedged"] is False
    await ex.set_position_mode(True)
    assert (await ex.fetch_position_mode(BTC))["hedged"] is True
    with pytest.raises(ccxt.OperationRejected, match="-4061"):
        await ex.create_order(BTC, "market", "buy", 0.01)
    await ex.create_order(BTC, "market", "buy", 0.02, params={"positionSide": "LONG"})
    await ex.create_order(BTC, "market", "sell", 0.01, params={"positionSide": "SHORT"})
    positions = {p["side"]: p for p in await ex.fetch_positions([BTC])}
    assert positions["long"]["contracts"] == 0.02 and positions["short"]["contracts"] == 0.01
    assert positions["long"]["hedged"] and positions["short"]["hedged"]
    with pytest.raises(ccxt.OperationRejected, match="-4068"):
        await ex.set_position_mode(False)
    # closing the long side: SELL with positionSide LONG (ccxt's hedged + reduceOnly form)
    await ex.create_order(BTC, "market", "sell", 0.02, params={"hedged": True, "reduceOnly": True})
    with pytest.raises(ccxt.InvalidOrder, match="-2022"):  # nothing long left to close
        await ex.create_order(BTC, "market", "sell", 0.01, params={"positionSide": "LONG"})
    assert [p["side"] for p in await ex.fetch_positions([BTC])] == ["short"]
    with pytest.raises(ccxt.BadRequest, match="-1106"):
        await ex.create_order(
            BTC, "market", "buy", 0.01, params={"positionSide": "SHORT", "reduceOnly": True}
        )


# ---------------------------------------------------------------------- errors
async def test_wrong_secret_and_unknown_key_are_authentication_errors(
    sim_server: SimServer, creds: dict[str, str]
) -> None:
    for bad in ({**creds, "secret": "0" * 64}, {**creds, "apiKey": "A" * 64}):
        ex = make_exchange(sim_server.base_url, bad, options={"fetchCurrencies": False})
        try:
            await ex.load_markets()
            with pytest.raises(ccxt.AuthenticationError):
                await ex.fetch_balance()
        finally:
            await ex.close()


async def test_insufficient_margin(binance_ccxt: Any) -> None:
    with pytest.raises(ccxt.InsufficientFunds, match="-2019"):
        await binance_ccxt.create_order(BTC, "market", "buy", 5)  # ~337k notional at 20x


async def test_precision_and_tick_errors(binance_ccxt: Any) -> None:
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    # ccxt raises BadRequest for -1111 and -4014 on fapi.binance.com too (exceptions['exact'])
    with pytest.raises(ccxt.BadRequest, match="-1111"):
        await binance_ccxt.fapiPrivatePostOrder({**base, "quantity": "0.0015", "price": "65000"})
    with pytest.raises(ccxt.BadRequest, match="-1111"):
        await binance_ccxt.fapiPrivatePostOrder({**base, "quantity": "0.001", "price": "65000.001"})
    with pytest.raises(ccxt.BadRequest, match="-4014"):
        await binance_ccxt.fapiPrivatePostOrder({**base, "quantity": "0.010", "price": "65000.05"})


async def test_below_min_notional(binance_ccxt: Any) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="no smaller than 100"):
        await binance_ccxt.create_order(BTC, "market", "buy", 0.001)


async def test_unknown_order(binance_ccxt: Any) -> None:
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        await binance_ccxt.fetch_order("123", BTC)
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        await binance_ccxt.cancel_order("123", BTC)
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        await binance_ccxt.fetch_order("123", BTC, params={"trigger": True})


async def test_invalid_symbol(binance_ccxt: Any) -> None:
    with pytest.raises(ccxt.BadSymbol):
        await binance_ccxt.fapiPrivatePostOrder(
            {"symbol": "DOGEUSDT", "side": "BUY", "type": "MARKET", "quantity": "100"}
        )


async def test_injected_429_is_ddos_protection_once(binance_ccxt: Any, face: BinanceFace) -> None:
    face.ctx.faults.add(FaultRule(route="binance.*", kind="status", status=429, times=1))
    with pytest.raises(ccxt.DDoSProtection):
        await binance_ccxt.fetch_balance()
    assert (await binance_ccxt.fetch_balance())["USDT"]["total"] == 10000


async def test_injected_timeout_is_request_timeout(
    sim_server: SimServer, creds: dict[str, str], face: BinanceFace
) -> None:
    ex = make_exchange(sim_server.base_url, creds, timeout=300)
    try:
        await ex.load_markets()
        face.ctx.faults.add(
            FaultRule(route="binance.order.create", kind="timeout", seconds=1.0, times=1)
        )
        with pytest.raises(ccxt.RequestTimeout):
            await ex.create_order(BTC, "market", "buy", 0.01)
        assert face.engine.open_orders(creds["account"]) == []
        assert face.engine.positions(creds["account"]) == []  # never handled
    finally:
        await ex.close()


@pytest.mark.parametrize("skew_ms", [20_000, -3_000])
async def test_timestamp_outside_recv_window_is_invalid_nonce(
    binance_ccxt: Any, skew_ms: int
) -> None:
    # ccxt stamps milliseconds() - timeDifference: +20 s is stale, -3 s is ahead of the server
    binance_ccxt.options["timeDifference"] = skew_ms
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        await binance_ccxt.fetch_balance()
    binance_ccxt.options["timeDifference"] = 0
    assert (await binance_ccxt.fetch_balance())["USDT"]["total"] == 10000
