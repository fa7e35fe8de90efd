"""The simulator's Binance USD-M websockets, through unmodified ``ccxt.pro.binanceusdm``.

Orders go in over REST (ccxt's own ``create_order``), prices move through the control API, and
the events come back on the user data stream and the market streams ccxt subscribes to. The
event order and the listenKey life cycle are checked on a raw socket. Every wait on a socket
has a timeout.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.pro as ccxtpro
import httpx
import pytest
import websockets

from tradeexec.exchanges.endpoints import point_ccxt_at
from tradeexec.sim.ws_binance import LISTEN_KEY_VALIDITY_MS

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

BTC = "BTC/USDT:USDT"
WAIT = 10.0  # seconds: only a broken face gets near it
MINUTE_MS = 60_000


async def until(check: Callable[[], bool]) -> None:
    async def poll() -> None:
        for _ in range(int(WAIT / 0.02)):  # the server's state is polled: no event to await
            if check():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the simulator never got there")

    await asyncio.wait_for(poll(), WAIT * 2)


async def settled(awaitable: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(awaitable, WAIT)


async def watch_until(
    first: Awaitable[list[Any]],
    again: Callable[[], Awaitable[list[Any]]],
    done: Callable[[Any], bool],
) -> Any:
    """The first item ``done`` accepts, from ``first`` (a watch started before the action)
    and then from further calls of ``again`` (ccxt hands each call the updates since the last)."""

    async def loop() -> Any:
        items = await first
        while not any(done(i) for i in items):
            items = await again()
        return next(i for i in items if done(i))

    return await asyncio.wait_for(loop(), WAIT)


@pytest.fixture
def creds(sim_server: SimServer) -> dict[str, str]:
    return sim_server.simulator.binance.create_account(Decimal("10000"))


@pytest.fixture
async def ex(sim_server: SimServer, creds: dict[str, str]) -> AsyncIterator[Any]:
    exchange = ccxtpro.binanceusdm(
        {
            "apiKey": creds["apiKey"],
            "secret": creds["secret"],
            "enableRateLimit": False,
            "options": {"fetchCurrencies": False},
        }
    )
    point_ccxt_at(exchange, sim_server.base_url)
    try:
        await exchange.load_markets()
        yield exchange
    finally:
        await exchange.close()


async def control(sim_server: SimServer, path: str, **body: Any) -> Any:
    async with httpx.AsyncClient(base_url=sim_server.base_url) as client:
        answer = await client.post(path, json=body)
        answer.raise_for_status()
        return answer.json()


async def set_price(sim_server: SimServer, price: str) -> None:
    await control(sim_server, "/_sim/prices", coin="BTC", price=price, venue="binance")


async def advance(sim_server: SimServer, ms: int) -> Any:
    return await control(sim_server, "/_sim/time", advance_s=ms // 1000)


async def _listed(one: Awaitable[Any]) -> list[Any]:
    return [await one]


def user_streams(sim_server: SimServer) -> int:
    return sum(1 for s in sim_server.simulator.ws.binance.sockets if s.listen_key is not None)


def market_streams(sim_server: SimServer) -> set[str]:
    return {name for s in sim_server.simulator.ws.binance.sockets for name in s.streams}


def test_point_ccxt_at_rewrites_the_websocket_urls(sim_server: SimServer) -> None:
    exchange = point_ccxt_at(ccxtpro.binanceusdm(), sim_server.base_url)
    ws_base = "ws://" + sim_server.base_url.removeprefix("http://")
    assert exchange.urls["api"]["ws"]["linear"] == ws_base + "/ws"
    assert exchange.urls["api"]["ws"]["ws-api"]["linear"] == ws_base + "/ws-fapi/v1"
    assert exchange.urls["api"]["fapiPrivate"].startswith(sim_server.base_url)
    secure = point_ccxt_at(ccxtpro.hyperliquid(), "https://sim.example:8443/")
    assert secure.urls["api"]["ws"]["public"] == "wss://sim.example:8443/ws"


async def test_watch_orders_and_my_trades_see_a_rest_order_fill(
    ex: Any, sim_server: SimServer
) -> None:
    orders = asyncio.create_task(ex.watch_orders(BTC))
    trades = asyncio.create_task(ex.watch_my_trades(BTC))
    await until(lambda: user_streams(sim_server) >= 1)

    placed = await ex.create_order(BTC, "market", "buy", 0.01, params={"clientOrderId": "ws-1"})

    done = await watch_until(
        orders, lambda: ex.watch_orders(BTC), lambda o: o["status"] == "closed"
    )
    assert done["id"] == placed["id"] and done["clientOrderId"] == "ws-1"
    assert done["filled"] == 0.01 and done["average"] == placed["average"]
    fills = await settled(trades)
    rest = await ex.fetch_my_trades(BTC)
    assert [(t["id"], t["order"], t["price"], t["amount"]) for t in fills] == [
        (t["id"], t["order"], t["price"], t["amount"]) for t in rest
    ]
    assert fills[0]["fee"]["cost"] == rest[0]["fee"]["cost"] > 0


async def test_watch_positions_and_balance_follow_the_fill(ex: Any, sim_server: SimServer) -> None:
    positions = asyncio.create_task(ex.watch_positions([BTC]))
    balance = asyncio.create_task(ex.watch_balance())
    await until(lambda: user_streams(sim_server) >= 1)

    await ex.create_order(BTC, "market", "buy", 0.02)

    pushed = await watch_until(
        positions, lambda: ex.watch_positions([BTC]), lambda p: p["contracts"] == 0.02
    )  # the first answer may be ccxt's REST snapshot (flat)
    assert pushed["symbol"] == BTC and pushed["side"] == "long"
    assert pushed["entryPrice"] == (await ex.fetch_positions([BTC]))[0]["entryPrice"]
    wallet = await settled(balance)
    rest = await ex.fetch_balance()
    (usdt,) = [a for a in rest["info"]["assets"] if a["asset"] == "USDT"]
    # ccxt reads the pushed wallet balance ("wb"); REST's total is the margin balance
    assert wallet["USDT"]["total"] == float(usdt["walletBalance"]) < 10000  # the fee was paid


async def test_an_open_limit_order_and_its_cancel_are_pushed(
    ex: Any, sim_server: SimServer
) -> None:
    first = asyncio.create_task(ex.watch_orders(BTC))
    await until(lambda: user_streams(sim_server) >= 1)
    resting = await ex.create_order(BTC, "limit", "buy", 0.01, 60000)
    opened = await settled(first)
    assert [(o["id"], o["status"]) for o in opened] == [(resting["id"], "open")]

    second = asyncio.create_task(ex.watch_orders(BTC))
    await ex.cancel_order(resting["id"], BTC)
    cancelled = await settled(second)
    assert [(o["id"], o["status"]) for o in cancelled] == [(resting["id"], "canceled")]


async def test_a_fired_stop_is_pushed_as_algo_update_then_its_order(
    ex: Any, sim_server: SimServer
) -> None:
    await ex.create_order(BTC, "market", "buy", 0.01)
    stop = await ex.create_order(
        BTC, "market", "sell", 0.01,
        params={"stopLossPrice": 66000, "reduceOnly": True, "clientOrderId": "sl-ws"},
    )  # fmt: skip
    watching = asyncio.create_task(ex.watch_orders(BTC))
    await until(lambda: user_streams(sim_server) >= 1)

    await set_price(sim_server, "65900")

    finished = await watch_until(
        watching, lambda: ex.watch_orders(BTC), lambda o: o["info"].get("X") == "FINISHED"
    )
    assert finished["id"] == stop["id"] and finished["status"] == "closed"
    actual = await ex.fetch_order(stop["id"], BTC, params={"trigger": True})
    assert finished["info"]["ai"] == actual["info"]["actualOrderId"] != stop["id"]
    placed = ex.orders.hashmap[BTC][finished["info"]["ai"]]  # ccxt's cache of pushed orders
    assert placed["clientOrderId"] == "sl-ws" and placed["filled"] == 0.01
    assert placed["info"]["ot"] == "STOP_MARKET" and placed["type"] == "market"
    assert placed["status"] == "closed"


async def test_a_reduce_only_stop_with_nothing_to_reduce_is_rejected(
    ex: Any, sim_server: SimServer
) -> None:
    stop = await ex.create_order(
        BTC, "market", "sell", 0.01, params={"stopLossPrice": 66000, "reduceOnly": True}
    )
    watching = asyncio.create_task(ex.watch_orders(BTC))
    await until(lambda: user_streams(sim_server) >= 1)

    await set_price(sim_server, "65900")

    rejected = await watch_until(
        watching, lambda: ex.watch_orders(BTC), lambda o: o["status"] == "rejected"
    )
    assert rejected["id"] == stop["id"] and rejected["info"]["rm"] == "Reduce Only reject"
    assert rejected["info"]["ai"] == ""  # no order reached the matching engine
    assert await ex.fetch_my_trades(BTC) == []


async def test_the_event_order_of_a_fired_stop(ex: Any, sim_server: SimServer) -> None:
    """Event: Algo Order Update: NEW, TRIGGERING, TRIGGERED, (the placed order's NEW and
    TRADE), FINISHED; the position's ACCOUNT_UPDATE after the fill."""
    key = (await ex.fapiPrivatePostListenKey())["listenKey"]
    url = ex.urls["api"]["ws"]["linear"].removesuffix("/ws") + f"/private/ws?listenKey={key}"
    async with websockets.connect(url) as sock:
        await until(lambda: user_streams(sim_server) >= 1)
        await ex.create_order(BTC, "market", "buy", 0.01)
        stop = await ex.create_order(
            BTC, "market", "sell", 0.01, params={"stopLossPrice": 66000, "reduceOnly": True}
        )
        await set_price(sim_server, "65900")
        events: list[dict[str, Any]] = []
        while not (
            events and events[-1]["e"] == "ALGO_UPDATE" and events[-1]["o"]["X"] == "FINISHED"
        ):
            events.append(json.loads(await settled(sock.recv())))
        events.append(json.loads(await settled(sock.recv())))  # the stop's ACCOUNT_UPDATE

    def step(e: dict[str, Any]) -> tuple[str, ...]:
        if e["e"] == "ORDER_TRADE_UPDATE":
            return (e["e"], e["o"]["x"], e["o"]["X"], str(e["o"]["i"]))
        if e["e"] == "ALGO_UPDATE":
            return (e["e"], e["o"]["X"], str(e["o"]["aid"]))
        return (e["e"], e["a"]["m"])

    actual = str(events[-2]["o"]["ai"])
    entry = str(events[0]["o"]["i"])
    assert [step(e) for e in events] == [
        ("ORDER_TRADE_UPDATE", "NEW", "NEW", entry),
        ("ORDER_TRADE_UPDATE", "TRADE", "FILLED", entry),
        ("ACCOUNT_UPDATE", "ORDER"),
        ("ALGO_UPDATE", "NEW", stop["id"]),
        ("ALGO_UPDATE", "TRIGGERING", stop["id"]),
        ("ALGO_UPDATE", "TRIGGERED", stop["id"]),
        ("ORDER_TRADE_UPDATE", "NEW", "NEW", actual),
        ("ORDER_TRADE_UPDATE", "TRADE", "FILLED", actual),
        ("ALGO_UPDATE", "FINISHED", stop["id"]),
        ("ACCOUNT_UPDATE", "ORDER"),
    ]
    assert actual != stop["id"]
    closed = events[-1]["a"]["P"]
    assert [(p["s"], p["pa"]) for p in closed] == [("BTCUSDT", "0.000")]


async def test_listen_key_keep_alive_then_expiry(ex: Any, sim_server: SimServer) -> None:
    """60 minutes on the simulator's clock (/_sim/time); PUT extends; then listenKeyExpired."""
    key = (await ex.fapiPrivatePostListenKey())["listenKey"]
    assert (await ex.fapiPrivatePostListenKey())["listenKey"] == key  # one per account
    url = ex.urls["api"]["ws"]["linear"] + "/" + key
    async with websockets.connect(url) as sock:
        await until(lambda: user_streams(sim_server) >= 1)
        await advance(sim_server, LISTEN_KEY_VALIDITY_MS - MINUTE_MS)
        assert (await ex.fapiPrivatePutListenKey())["listenKey"] == key
        await advance(sim_server, LISTEN_KEY_VALIDITY_MS - MINUTE_MS)  # 59 min after the PUT
        await asyncio.sleep(0.3)  # the expiry timer runs; the key is still good
        assert sim_server.simulator.ws.binance.keys.active(key, sim_server.simulator.ctx.clock())
        await advance(sim_server, 2 * MINUTE_MS)
        expired = json.loads(await settled(sock.recv()))
        assert expired["e"] == "listenKeyExpired" and expired["listenKey"] == key
        with pytest.raises(ccxtpro.BaseError, match="-1125"):
            await ex.fapiPrivatePutListenKey()
        await ex.create_order(BTC, "market", "buy", 0.01)
        with pytest.raises(asyncio.TimeoutError):  # nothing more on the lapsed stream
            await asyncio.wait_for(sock.recv(), 0.5)
    fresh = (await ex.fapiPrivatePostListenKey())["listenKey"]
    assert fresh != key
    with pytest.raises(websockets.InvalidStatus):  # the lapsed key opens nothing
        async with websockets.connect(ex.urls["api"]["ws"]["linear"] + "/" + key):
            pass


async def test_deleting_the_listen_key_closes_its_stream(ex: Any, sim_server: SimServer) -> None:
    key = (await ex.fapiPrivatePostListenKey())["listenKey"]
    async with websockets.connect(ex.urls["api"]["ws"]["linear"] + "/" + key) as sock:
        await until(lambda: user_streams(sim_server) >= 1)
        await ex.fapiPrivateDeleteListenKey()
        with pytest.raises(websockets.ConnectionClosed):
            await settled(sock.recv())


async def test_watch_ticker_mark_price_and_bids_asks_follow_the_mark(
    ex: Any, sim_server: SimServer
) -> None:
    ticker = asyncio.create_task(ex.watch_ticker(BTC))
    book = asyncio.create_task(ex.watch_bids_asks([BTC]))
    mark = asyncio.create_task(ex.watch_mark_price(BTC))
    await until(lambda: {"btcusdt@miniTicker", "btcusdt@bookTicker"} <= market_streams(sim_server))

    # the last trade price set apart from the mark: the ticker shows the last, as fapi does
    await control(sim_server, "/_sim/prices", coin="BTC", price="68000", last="68010")

    assert (await settled(ticker))["last"] == 68010
    quotes = (await settled(book))[BTC]
    assert quotes["bid"] < 68000 < quotes["ask"]
    # pushed on its 1 s cadence, so the first push may carry the mark before the move
    moved = await watch_until(
        asyncio.ensure_future(_listed(mark)),
        lambda: _listed(ex.watch_mark_price(BTC)),
        lambda t: t["markPrice"] == 68000,
    )
    assert moved["info"]["e"] == "markPriceUpdate" and moved["info"]["s"] == "BTCUSDT"


async def test_subscribe_unsubscribe_and_list_on_a_raw_market_socket(ex: Any) -> None:
    url = ex.urls["api"]["ws"]["linear"].removesuffix("/ws") + "/market/ws"
    async with websockets.connect(url) as sock:
        await sock.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@ticker"], "id": 1}))
        assert json.loads(await settled(sock.recv())) == {"result": None, "id": 1}
        await sock.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        assert json.loads(await settled(sock.recv())) == {"result": ["btcusdt@ticker"], "id": 2}
        await sock.send(
            json.dumps({"method": "UNSUBSCRIBE", "params": ["btcusdt@ticker"], "id": 3})
        )
        assert json.loads(await settled(sock.recv())) == {"result": None, "id": 3}
        await sock.send(json.dumps({"method": "PUBLISH", "id": 4}))
        refused = json.loads(await settled(sock.recv()))
        assert refused["id"] == 4 and refused["error"]["code"] == 2


async def test_a_combined_stream_wraps_user_and_market_events(
    ex: Any, sim_server: SimServer
) -> None:
    key = (await ex.fapiPrivatePostListenKey())["listenKey"]
    base = ex.urls["api"]["ws"]["linear"].removesuffix("/ws")
    async with websockets.connect(f"{base}/stream?streams={key}/btcusdt@bookTicker") as sock:
        await until(lambda: user_streams(sim_server) >= 1)
        placed = await ex.create_order(BTC, "limit", "buy", 0.01, 60000)
        first = json.loads(await settled(sock.recv()))
        assert first["stream"] == key and first["data"]["e"] == "ORDER_TRADE_UPDATE"
        assert str(first["data"]["o"]["i"]) == placed["id"]
        await set_price(sim_server, "68000")
        quote = json.loads(await settled(sock.recv()))
        assert quote["stream"] == "btcusdt@bookTicker" and quote["data"]["s"] == "BTCUSDT"
        assert float(quote["data"]["b"]) < 68000 < float(quote["data"]["a"])


async def test_a_liquidation_is_pushed_and_watch_my_liquidations_sees_it(
    ex: Any, sim_server: SimServer
) -> None:
    """Event: Order Update: the liquidation's order type is LIQUIDATION, its fill a CALCULATED
    execution, client id autoclose-...; ccxt files it under watch_my_liquidations."""
    await ex.set_leverage(20, BTC)
    await ex.create_order(BTC, "market", "buy", 2.5)  # ~168k notional on 10k: liquidated < 64k
    orders = asyncio.create_task(ex.watch_orders(BTC))
    liquidations = asyncio.create_task(ex.watch_my_liquidations(BTC))
    await until(lambda: user_streams(sim_server) >= 1)

    await set_price(sim_server, "60000")

    (first,) = await settled(liquidations)  # the liquidation order's NEW: nothing filled yet
    assert first["info"]["c"].startswith("autoclose-") and first["contracts"] == 0
    closed = await watch_until(
        orders,
        lambda: ex.watch_orders(BTC),
        lambda o: (o["clientOrderId"] or "").startswith("autoclose-") and o["status"] == "closed",
    )
    assert closed["info"]["o"] == "LIQUIDATION" and closed["info"]["x"] == "CALCULATED"
    assert closed["side"] == "sell" and closed["filled"] == 2.5
    filled = [x for x in ex.myLiquidations if x["contracts"] == 2.5]  # ccxt's cache of them
    assert [(x["symbol"], x["side"]) for x in filled] == [(BTC, "sell")]
    assert all(p["contracts"] == 0 for p in await ex.fetch_positions([BTC]))  # flat


async def test_a_funding_payment_is_an_account_update_of_its_own(
    ex: Any, sim_server: SimServer
) -> None:
    """Event: Balance and Position Update, reason FUNDING_FEE (the key kept alive while the
    clock walks to the next funding time)."""
    await control(sim_server, "/_sim/funding", venue="binance", coin="BTC", rate="0.0005")
    await ex.create_order(BTC, "market", "buy", 0.1)
    key = (await ex.fapiPrivatePostListenKey())["listenKey"]
    async with websockets.connect(ex.urls["api"]["ws"]["linear"] + "/" + key) as sock:
        await until(lambda: user_streams(sim_server) >= 1)
        paid = 0
        while not paid:  # the next funding time is at most 8 h away
            paid = (await advance(sim_server, 50 * MINUTE_MS))["funding_paid"]["binance"]
            await ex.fapiPrivatePutListenKey()
        update = json.loads(await settled(sock.recv()))
    assert update["e"] == "ACCOUNT_UPDATE" and update["a"]["m"] == "FUNDING_FEE"
    (usdt,) = [a for a in (await ex.fetch_balance())["info"]["assets"] if a["asset"] == "USDT"]
    assert update["a"]["B"][0]["wb"] == usdt["walletBalance"]
