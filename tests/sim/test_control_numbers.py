"""The control API refuses bad numbers with a 400 naming the field, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tradeexec.sim.app import Simulator


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=Simulator().app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        yield http


@pytest.mark.parametrize(
    "price",
    ["1e400", 1e300, "1e30", "NaN", "Infinity", "-1", "0", "1E-30", "1,000", "", True, None,
     [1], {"a": 1}, "0x10", "1_000"],
)  # fmt: skip
async def test_a_bad_price_is_a_400_and_moves_nothing(
    client: httpx.AsyncClient, price: Any
) -> None:
    before = (await client.get("/_sim/prices")).json()
    answer = await client.post("/_sim/prices", json={"coin": "BTC", "price": price})
    assert answer.status_code == 400, answer.text
    assert "price" in answer.json()["error"]
    assert (await client.get("/_sim/prices")).json() == before


async def test_a_price_below_the_tick_is_a_400(client: httpx.AsyncClient) -> None:
    answer = await client.post("/_sim/prices", json={"coin": "BTC", "price": "0.000001"})
    assert answer.status_code == 400 and "tick" in answer.json()["error"]


@pytest.mark.parametrize("price", ["67000", 67000, 67000.0, "6.7e4", " 67000 "])
async def test_a_sane_price_in_any_notation_is_set(client: httpx.AsyncClient, price: Any) -> None:
    answer = await client.post("/_sim/prices", json={"coin": "BTC", "price": price})
    assert answer.status_code == 200, answer.text
    marks = {Decimal(m["BTC"]) for m in answer.json()["marks"].values()}
    assert marks == {Decimal(67000)}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_sim/accounts", {"venue": "binance", "balance": "1e400"}),
        ("/_sim/accounts", {"venue": "binance", "balance": "NaN"}),
        ("/_sim/accounts", {"venue": "binance", "balance": -5}),
        ("/_sim/tick", {"steps": "abc"}),
        ("/_sim/tick", {"steps": 1e12}),
        ("/_sim/tick", {"steps": 1.5}),
        ("/_sim/faults", {"route": "x", "kind": "latency", "seconds": "1e400"}),
        ("/_sim/faults", {"route": "x", "kind": "latency", "seconds": "NaN"}),
        ("/_sim/faults", {"route": "x", "kind": "status", "status": "abc"}),
        ("/_sim/faults", {"route": "x", "kind": "status", "probability": 2}),
        ("/_sim/faults", {"route": "x", "kind": "status", "times": -1}),
        ("/_sim/faults", {"route": 5, "kind": "status"}),
    ],
)
async def test_other_control_numbers_are_checked(
    client: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> None:
    answer = await client.post(path, json=body)
    assert answer.status_code == 400, answer.text
    assert (await client.get("/_sim/faults")).json() == {"rules": []}


async def test_fund_and_request_log_limits_are_checked(client: httpx.AsyncClient) -> None:
    account = (await client.post("/_sim/accounts", json={"venue": "binance"})).json()["account"]
    fund = await client.post(f"/_sim/accounts/binance/{account}/fund", json={"amount": "1e400"})
    assert fund.status_code == 400
    assert (await client.get("/_sim/requests", params={"limit": "lots"})).status_code == 400
    ok = await client.post(f"/_sim/accounts/binance/{account}/fund", json={"amount": "5"})
    assert ok.status_code == 200
