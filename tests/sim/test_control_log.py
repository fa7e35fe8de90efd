"""The control API's request-log cursor and size, an account's order history, the reduce-only
flag in the account view, and ``/_sim/limits``: orders placed by unmodified ccxt over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt
import httpx
import pytest

from tradeexec.exchanges.endpoints import point_ccxt_at

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

BTC = "BTC/USDT:USDT"


@pytest.fixture
async def control(sim_server: SimServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim_server.base_url, timeout=10) as http:
        yield http


@pytest.fixture
async def account(sim_server: SimServer) -> AsyncIterator[tuple[str, Any]]:
    creds = sim_server.simulator.binance.create_account(Decimal(10000))
    ex = ccxt.binanceusdm(
        {"apiKey": creds["apiKey"], "secret": creds["secret"], "enableRateLimit": False}
    )
    point_ccxt_at(ex, sim_server.base_url)
    try:
        await ex.load_markets()
        yield creds["account"], ex
    finally:
        await ex.close()


async def test_the_cursor_returns_only_newer_requests_in_order(
    control: httpx.AsyncClient, account: tuple[str, Any]
) -> None:
    _, ex = account
    first = (await control.get("/_sim/requests", params={"limit": 1})).json()
    seq = first["last_seq"]
    assert first["requests"][-1]["seq"] == seq
    await ex.fetch_time()
    await ex.fetch_balance()
    page = (await control.get("/_sim/requests", params={"after": seq})).json()
    assert [e["path"] for e in page["requests"]] == ["/fapi/v1/time", "/fapi/v3/account"]
    assert [e["seq"] for e in page["requests"]] == [seq + 1, seq + 2]
    assert page["last_seq"] == seq + 2
    nothing = (await control.get("/_sim/requests", params={"after": seq + 2})).json()
    assert nothing["requests"] == []
    limited = (await control.get("/_sim/requests", params={"after": seq, "limit": 1})).json()
    assert [e["seq"] for e in limited["requests"]] == [seq + 1]  # the oldest first: no gap


async def test_the_log_size_is_configurable_and_seq_survives_trimming(
    sim_server: SimServer, control: httpx.AsyncClient, account: tuple[str, Any]
) -> None:
    _, ex = account
    answer = await control.post("/_sim/requests/config", json={"size": 2})
    assert answer.json()["size"] == 2
    for _ in range(4):
        await ex.fetch_time()
    rows = (await control.get("/_sim/requests", params={"limit": 100})).json()
    assert len(rows["requests"]) == 2
    assert [e["seq"] for e in rows["requests"]] == [rows["last_seq"] - 1, rows["last_seq"]]
    assert (await control.post("/_sim/requests/config", json={"size": 0})).status_code == 400
    assert (await control.get("/_sim/requests", params={"after": "x"})).status_code == 400
    await control.post("/_sim/requests/config", json={"size": 5000})


async def test_order_history_keeps_filled_cancelled_and_expired_orders(
    sim_server: SimServer, control: httpx.AsyncClient, account: tuple[str, Any]
) -> None:
    account_id, ex = account
    mark = float(sim_server.simulator.binance.engine.marks["BTC"])
    await ex.create_order(BTC, "market", "buy", 0.002)
    resting = await ex.create_order(BTC, "limit", "buy", 0.002, round(mark * 0.9))
    await ex.cancel_order(resting["id"], BTC)
    await ex.create_order(
        BTC, "limit", "sell", 0.002, round(mark * 1.1), params={"reduceOnly": True}
    )
    url = f"/_sim/accounts/binance/{account_id}/orders"
    orders = (await control.get(url)).json()["orders"]
    assert [o["status"] for o in orders] == ["FILLED", "CANCELED", "NEW"]
    assert [o["reduce_only"] for o in orders] == [False, False, True]
    assert orders[0]["filled_qty"] == "0.002"
    cancelled = (await control.get(url, params={"status": "canceled"})).json()["orders"]
    assert [o["id"] for o in cancelled] == [int(resting["id"])]
    newest = (await control.get(url, params={"limit": 1})).json()["orders"]
    assert [o["status"] for o in newest] == ["NEW"]
    await ex.create_order(BTC, "market", "sell", 0.002, params={"reduceOnly": True})
    after_close = (await control.get(url, params={"status": "EXPIRED"})).json()["orders"]
    assert [o["reduce_only"] for o in after_close] == [True]  # expired with the position
    assert (await control.get(url, params={"status": "gone"})).status_code == 400


async def test_the_account_view_flags_reduce_only_orders(
    sim_server: SimServer, control: httpx.AsyncClient, account: tuple[str, Any]
) -> None:
    account_id, ex = account
    mark = float(sim_server.simulator.binance.engine.marks["BTC"])
    await ex.create_order(BTC, "market", "buy", 0.002)
    await ex.create_order(BTC, "market", "sell", 0.002, params={"stopLossPrice": round(mark * 0.9),
                                                                "reduceOnly": True})  # fmt: skip
    await ex.create_order(BTC, "limit", "buy", 0.002, round(mark * 0.8))
    view = (await control.get(f"/_sim/accounts/binance/{account_id}")).json()
    flags = {o["kind"]: o["reduce_only"] for o in view["open_orders"]}
    assert flags == {"STOP_MARKET": True, "LIMIT": False}


async def test_limits_are_set_per_venue_and_bad_ones_refused(
    sim_server: SimServer, control: httpx.AsyncClient
) -> None:
    answer = await control.post(
        "/_sim/limits", json={"venue": "binance", "enforce": True, "request_weight": 100}
    )
    assert answer.status_code == 200
    assert answer.json()["binance"]["request_weight"] == 100
    assert answer.json()["binance"]["enforce"] is True
    assert answer.json()["hyperliquid"]["enforce"] is False
    for bad in (
        {"venue": "kraken"},
        {"venue": "binance", "request_weight": 0},
        {"venue": "binance", "request_weight": True},
        {"venue": "binance", "enforce": "yes"},
        {"venue": "hyperliquid", "nonsense": 1},
    ):
        refused = await control.post("/_sim/limits", json=bad)
        assert refused.status_code == 400, bad
    reset = (await control.delete("/_sim/limits")).json()
    assert reset["binance"]["enforce"] is False and reset["binance"]["request_weight"] == 2400
