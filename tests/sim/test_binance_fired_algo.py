"""A fired Binance algo order, as live: the order it places has its own id.

Sources: "Query Algo Order" (``GET /fapi/v1/algoOrder``: ``actualOrderId`` is "" until the
order fires, then the placed order's id; ``actualPrice``) and "Event: Algo Order Update" (the
algo statuses NEW / TRIGGERING / TRIGGERED / FINISHED / REJECTED / CANCELED / EXPIRED) on
developers.binance.com; a live ALGO_UPDATE quoted in nautilus_trader#3287 shows the placed
order's id (``ai`` 88937381063) on another counter than the algoId (1000000033225453).
ccxt 4.5 maps TRIGGERING to ``open``, TRIGGERED and FINISHED to ``closed``, REJECTED to
``rejected`` (``binance.parse_order_status``). Driven by unmodified ccxt over HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt
import pytest

from tradeexec.exchanges.endpoints import point_ccxt_at

if TYPE_CHECKING:
    from tradeexec.sim.binance_api import BinanceFace
    from tradeexec.sim.server import SimServer

BTC = "BTC/USDT:USDT"
D = Decimal
TRIGGER = {"trigger": True}


@pytest.fixture
def face(sim_server: SimServer) -> BinanceFace:
    return sim_server.simulator.binance


@pytest.fixture
async def ex(sim_server: SimServer, face: BinanceFace) -> AsyncIterator[Any]:
    creds = face.create_account(D("10000"))
    exchange = ccxt.binanceusdm(
        {"apiKey": creds["apiKey"], "secret": creds["secret"], "enableRateLimit": False}
    )
    point_ccxt_at(exchange, sim_server.base_url)
    try:
        await exchange.load_markets()
        yield exchange
    finally:
        await exchange.close()


async def test_a_fired_stop_places_an_order_under_its_own_id(ex: Any, face: BinanceFace) -> None:
    entry = await ex.create_order(BTC, "market", "buy", 0.01)
    stop = await ex.create_order(
        BTC, "market", "sell", 0.01,
        params={"stopLossPrice": 66000, "reduceOnly": True, "clientOrderId": "sl-1"},
    )  # fmt: skip
    resting = await ex.fetch_order(stop["id"], BTC, params=TRIGGER)
    assert resting["info"]["algoStatus"] == "NEW" and resting["info"]["actualOrderId"] == ""

    face.engine.set_mark("BTC", D("65900"))

    fired = await ex.fetch_order(stop["id"], BTC, params=TRIGGER)
    assert fired["id"] == stop["id"]  # the algo order keeps its algoId
    assert fired["status"] == "closed" and fired["info"]["algoStatus"] == "FINISHED"
    actual_id = fired["info"]["actualOrderId"]
    assert actual_id and actual_id != stop["id"]
    assert fired["filled"] == 0  # the algo order reports no fills of its own
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):  # the algoId is no plain order
        await ex.fetch_order(stop["id"], BTC)

    placed = await ex.fetch_order(actual_id, BTC)
    assert placed["id"] == actual_id and placed["status"] == "closed"
    assert placed["filled"] == 0.01 and placed["type"] == "market"
    assert placed["clientOrderId"] == "sl-1"
    assert float(fired["info"]["actualPrice"]) == placed["average"]
    by_client = await ex.fetch_order("", BTC, params={"clientOrderId": "sl-1"})
    assert by_client["id"] == actual_id

    trades = await ex.fetch_my_trades(BTC)
    assert [t["order"] for t in trades] == [entry["id"], actual_id]
    assert D(trades[1]["info"]["realizedPnl"]) < 0  # the loss is on the placed order's trade
    only = await ex.fetch_my_trades(BTC, params={"orderId": actual_id})
    assert [t["id"] for t in only] == [trades[1]["id"]]
    assert await ex.fetch_my_trades(BTC, params={"orderId": stop["id"]}) == []
    history = await ex.fetch_orders(BTC)
    assert [o["id"] for o in history] == [entry["id"], actual_id]


async def test_a_reduce_only_trigger_firing_with_nothing_to_reduce_is_rejected(
    ex: Any, face: BinanceFace
) -> None:
    stop = await ex.create_order(
        BTC, "market", "sell", 0.01, params={"stopLossPrice": 66000, "reduceOnly": True}
    )
    face.engine.set_mark("BTC", D("65900"))
    fired = await ex.fetch_order(stop["id"], BTC, params=TRIGGER)
    # the matching engine refuses a reduce-only order that would not reduce: nothing placed
    assert fired["info"]["algoStatus"] == "REJECTED" and fired["status"] == "rejected"
    assert fired["info"]["actualOrderId"] == ""
    assert await ex.fetch_orders(BTC) == [] and await ex.fetch_my_trades(BTC) == []


async def test_a_fired_stop_limit_rests_as_triggered_and_is_cancelled_on_the_plain_side(
    ex: Any, face: BinanceFace
) -> None:
    stop = await ex.create_order(BTC, "limit", "buy", 0.01, 68100, params={"stopLossPrice": 68000})
    face.engine.set_mark("BTC", D("68200"))  # fires; the limit (68100) is below the ask: rests
    fired = await ex.fetch_order(stop["id"], BTC, params=TRIGGER)
    assert fired["info"]["algoStatus"] == "TRIGGERED" and fired["status"] == "closed"
    actual_id = fired["info"]["actualOrderId"]
    assert await ex.fetch_open_orders(BTC, params=TRIGGER) == []
    assert [o["id"] for o in await ex.fetch_open_orders(BTC)] == [actual_id]
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):  # no longer the algo service's
        await ex.cancel_order(stop["id"], BTC, params=TRIGGER)
    cancelled = await ex.cancel_order(actual_id, BTC)
    assert cancelled["status"] == "canceled"
    fired = await ex.fetch_order(stop["id"], BTC, params=TRIGGER)
    assert fired["info"]["algoStatus"] == "FINISHED"
