"""The simulator's Hyperliquid ``/ws``, through unmodified ``ccxt.pro.hyperliquid``.

Orders go in over REST (ccxt's ``create_order``) or the socket's ``post`` (ccxt's
``create_order_ws``), prices move through the control API; subscription acks, ping, the
``userFills`` snapshot and a trigger's statuses are checked on a raw socket. Every wait on a
socket has a timeout.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.pro as ccxtpro
import httpx
import pytest
import websockets

from tradeexec.exchanges.endpoints import point_ccxt_at

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

BTC = "BTC/USDC:USDC"
WAIT = 10.0  # seconds: only a broken face gets near it
# no builder-fee approval, no referrer: orders go straight to the exchange endpoint
NO_EXTRAS = {"builderFee": False, "approvedBuilderFee": False, "refSet": True}


async def until(check: Callable[[], bool]) -> None:
    for _ in range(int(WAIT / 0.02)):  # the server's state is polled: no event to await
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the simulator never got there")


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
    return sim_server.simulator.hyperliquid.create_account(Decimal("10000"))


@pytest.fixture
async def ex(sim_server: SimServer, creds: dict[str, str]) -> AsyncIterator[Any]:
    exchange = ccxtpro.hyperliquid(
        {
            "walletAddress": creds["walletAddress"],
            "privateKey": creds["privateKey"],
            "enableRateLimit": False,
            "options": NO_EXTRAS,
        }
    )
    point_ccxt_at(exchange, sim_server.base_url)
    try:
        await exchange.load_markets()
        yield exchange
    finally:
        await exchange.close()


async def set_price(sim_server: SimServer, price: str) -> None:
    async with httpx.AsyncClient(base_url=sim_server.base_url) as client:
        answer = await client.post("/_sim/prices", json={"coin": "BTC", "price": price})
        answer.raise_for_status()


def subscribed(sim_server: SimServer, kind: str) -> bool:
    socks = sim_server.simulator.ws.hyperliquid.sockets
    return any(sub["type"] == kind for s in socks for sub in s.subs.values())


def cloid() -> str:
    return "0x" + secrets.token_hex(16)


async def test_watch_orders_and_my_trades_see_a_rest_order_fill(
    ex: Any, sim_server: SimServer
) -> None:
    orders = asyncio.create_task(ex.watch_orders(BTC))
    trades = asyncio.create_task(ex.watch_my_trades(BTC))
    await until(lambda: subscribed(sim_server, "orderUpdates"))
    await until(lambda: subscribed(sim_server, "userFills"))
    client_id = cloid()

    placed = await ex.create_order(
        BTC, "market", "buy", 0.01, 67500, params={"clientOrderId": client_id}
    )

    done = await watch_until(
        orders, lambda: ex.watch_orders(BTC), lambda o: o["id"] == placed["id"]
    )
    assert done["status"] == "closed" and done["clientOrderId"] == client_id
    fills = await settled(trades)
    rest = await ex.fetch_my_trades(BTC)
    assert [(t["id"], t["order"], t["price"], t["amount"]) for t in fills] == [
        (t["id"], t["order"], t["price"], t["amount"]) for t in rest
    ]
    assert fills[0]["fee"]["cost"] == rest[0]["fee"]["cost"] > 0


async def test_watch_positions_and_balance_follow_the_fill(ex: Any, sim_server: SimServer) -> None:
    snapshot = await settled(ex.watch_positions())  # clearinghouseState: a snapshot at once
    assert snapshot == []
    positions = asyncio.create_task(ex.watch_positions([BTC]))
    balance = asyncio.create_task(ex.watch_balance())

    await ex.create_order(BTC, "market", "buy", 0.02, 67500)

    pushed = await watch_until(
        positions, lambda: ex.watch_positions([BTC]), lambda p: p["contracts"] == 0.02
    )
    assert pushed["side"] == "long"
    assert pushed["entryPrice"] == (await ex.fetch_positions([BTC]))[0]["entryPrice"]
    wallet = await settled(balance)
    assert wallet["USDC"]["total"] == (await ex.fetch_balance())["USDC"]["total"]


async def test_a_resting_order_then_its_cancel(ex: Any, sim_server: SimServer) -> None:
    first = asyncio.create_task(ex.watch_orders(BTC))
    await until(lambda: subscribed(sim_server, "orderUpdates"))
    resting = await ex.create_order(BTC, "limit", "buy", 0.01, 60000)
    opened = await settled(first)
    assert [(o["id"], o["status"], o["remaining"]) for o in opened] == [
        (resting["id"], "open", 0.01)
    ]

    second = asyncio.create_task(ex.watch_orders(BTC))
    await ex.cancel_order(resting["id"], BTC)
    cancelled = await settled(second)
    assert [(o["id"], o["status"]) for o in cancelled] == [(resting["id"], "canceled")]


async def test_watch_ticker_and_order_book_follow_the_mark(ex: Any, sim_server: SimServer) -> None:
    snapshot = await settled(ex.watch_ticker(BTC))  # activeAssetCtx answers with a snapshot
    assert snapshot["symbol"] == BTC and snapshot["info"]["markPx"] == "67500.0"
    book = await settled(ex.watch_order_book(BTC))
    assert book["bids"][0][0] < 67500 < book["asks"][0][0]

    ticker = asyncio.create_task(ex.watch_ticker(BTC))
    moved_book = asyncio.create_task(ex.watch_order_book(BTC))
    await set_price(sim_server, "68000")

    assert (await settled(ticker))["info"]["markPx"] == "68000.0"
    moved = await settled(moved_book)
    assert 67500 < moved["bids"][0][0] < 68000 < moved["asks"][0][0]


async def test_create_order_ws_posts_the_action_on_the_socket(
    ex: Any, sim_server: SimServer
) -> None:
    def exchange_requests() -> int:
        log = sim_server.simulator.log.recent(10_000, "hyperliquid")
        return sum(1 for entry in log if entry["path"] == "/exchange")

    before = exchange_requests()
    placed = await settled(ex.create_order_ws(BTC, "limit", "buy", 0.01, 60000))
    assert placed["id"] and placed["info"] == {"resting": {"oid": int(placed["id"])}}
    assert exchange_requests() == before  # it went over the socket, not POST /exchange
    rest = await ex.fetch_open_orders(BTC)
    assert [o["id"] for o in rest] == [placed["id"]]


async def test_subscription_acks_ping_and_the_fills_snapshot(
    ex: Any, creds: dict[str, str], sim_server: SimServer
) -> None:
    await ex.create_order(BTC, "market", "buy", 0.01, 67500)
    user = creds["walletAddress"]
    async with websockets.connect(ex.urls["api"]["ws"]["public"]) as sock:

        async def ask(message: dict[str, Any]) -> dict[str, Any]:
            await sock.send(json.dumps(message))
            return json.loads(await settled(sock.recv()))  # type: ignore[no-any-return]

        assert await ask({"method": "ping"}) == {"channel": "pong"}
        fills_sub = {"type": "userFills", "user": user}
        ack = await ask({"method": "subscribe", "subscription": fills_sub})
        assert ack == {"channel": "subscriptionResponse",
                       "data": {"method": "subscribe", "subscription": fills_sub}}  # fmt: skip
        snapshot = json.loads(await settled(sock.recv()))
        assert snapshot["channel"] == "userFills" and snapshot["data"]["isSnapshot"] is True
        assert [f["sz"] for f in snapshot["data"]["fills"]] == ["0.01"]
        again = await ask({"method": "subscribe", "subscription": fills_sub})
        assert again["channel"] == "error" and "Already subscribed" in again["data"]
        bad = await ask({"method": "subscribe", "subscription": {"type": "l2Book", "coin": "NOPE"}})
        assert bad["channel"] == "error"
        nobody = {"type": "clearinghouseState", "user": "nobody"}
        assert (await ask({"method": "subscribe", "subscription": nobody}))["channel"] == "error"
        assert await ask({"method": "ping"}) == {"channel": "pong"}  # the socket is still up
        gone = await ask({"method": "unsubscribe", "subscription": fills_sub})
        assert gone["data"]["method"] == "unsubscribe"
        info = await ask({"method": "post", "id": 7,
                          "request": {"type": "info", "payload": {"type": "allMids"}}})  # fmt: skip
        assert info["channel"] == "post" and info["data"]["id"] == 7
        assert info["data"]["response"]["payload"]["data"]["BTC"] == "67500.0"


async def test_a_trigger_is_open_then_triggered_then_filled(
    ex: Any, creds: dict[str, str], sim_server: SimServer
) -> None:
    await ex.create_order(BTC, "market", "buy", 0.01, 67500)
    async with websockets.connect(ex.urls["api"]["ws"]["public"]) as sock:
        sub = {"type": "orderUpdates", "user": creds["walletAddress"]}
        await sock.send(json.dumps({"method": "subscribe", "subscription": sub}))
        assert json.loads(await settled(sock.recv()))["channel"] == "subscriptionResponse"
        stop = await ex.create_order(
            BTC, "market", "sell", 0.01, 66000,
            params={"stopLossPrice": 66000, "reduceOnly": True},
        )  # fmt: skip
        await set_price(sim_server, "65900")
        statuses: list[tuple[int, str]] = []
        while not statuses or statuses[-1][1] not in ("filled", "canceled"):
            message = json.loads(await settled(sock.recv()))
            assert message["channel"] == "orderUpdates"
            statuses += [(u["order"]["oid"], u["status"]) for u in message["data"]]
    oid = int(stop["id"])
    assert statuses == [(oid, "open"), (oid, "triggered"), (oid, "filled")]
