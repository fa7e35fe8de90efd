"""Binance request signing, HTTP statuses and fault routing of the Binance face, over raw HTTP.

These drive the face with hand-built requests (starlette's TestClient) to pin what ccxt never
sends: parameters split between query string and body, missing keys or signatures, the exact
recvWindow edges, and the bodies of injected HTTP statuses.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tradeexec.sim import binance_errors as err
from tradeexec.sim.binance_api import BinanceFace
from tradeexec.sim.binance_auth import KeyStore
from tradeexec.sim.binance_errors import BinanceError
from tradeexec.sim.engine import Engine
from tradeexec.sim.face import SimContext
from tradeexec.sim.faults import FaultRule
from tradeexec.sim.markets import BINANCE_MARKETS

NOW = 1_800_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def face(clock: Clock) -> BinanceFace:
    ctx = SimContext(clock=clock)
    return BinanceFace(Engine(BINANCE_MARKETS, collateral="USDT", clock=clock), ctx)


@pytest.fixture
def client(face: BinanceFace) -> Iterator[TestClient]:
    with TestClient(Starlette(routes=face.routes())) as test_client:
        yield test_client


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signed_get(
    client: TestClient, creds: dict[str, str], path: str, params: dict[str, str]
) -> tuple[int, object]:
    query = urlencode(params)
    query += "&signature=" + sign(creds["secret"], query)
    response = client.get(f"{path}?{query}", headers={"X-MBX-APIKEY": creds["apiKey"]})
    return response.status_code, response.json()


def test_signature_covers_query_string_then_body(face: BinanceFace, client: TestClient) -> None:
    creds = face.create_account(Decimal("10000"))
    query = urlencode({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"})
    body = urlencode({"quantity": "0.010", "timestamp": str(NOW), "newClientOrderId": "split-1"})
    headers = {"X-MBX-APIKEY": creds["apiKey"], "Content-Type": "application/x-www-form-urlencoded"}

    wrong = body + "&signature=" + sign(creds["secret"], body)  # body alone is not enough
    response = client.post(f"/fapi/v1/order?{query}", content=wrong, headers=headers)
    assert (response.status_code, response.json()["code"]) == (400, -1022)

    right = body + "&signature=" + sign(creds["secret"], query + body)
    response = client.post(f"/fapi/v1/order?{query}", content=right, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["clientOrderId"] == "split-1"
    assert response.json()["status"] == "NEW"  # newOrderRespType defaults to ACK
    assert face.engine.positions(creds["account"])[0].qty == Decimal("0.01")


def test_api_key_problems_are_401(face: BinanceFace, client: TestClient) -> None:
    creds = face.create_account(Decimal("100"))
    query = urlencode({"timestamp": str(NOW)})
    query += "&signature=" + sign(creds["secret"], query)
    missing = client.get(f"/fapi/v3/account?{query}")
    assert (missing.status_code, missing.json()["code"]) == (401, -2014)
    unknown = client.get(f"/fapi/v3/account?{query}", headers={"X-MBX-APIKEY": "B" * 64})
    assert unknown.status_code == 401
    assert unknown.json() == {
        "code": -2015,
        "msg": "Invalid API-key, IP, or permissions for action.",
    }


def test_missing_signature_or_timestamp_is_1102(face: BinanceFace, client: TestClient) -> None:
    creds = face.create_account(Decimal("100"))
    headers = {"X-MBX-APIKEY": creds["apiKey"]}
    no_sig = client.get(f"/fapi/v3/account?timestamp={NOW}", headers=headers)
    assert no_sig.json()["code"] == -1102 and "'signature'" in no_sig.json()["msg"]
    no_ts = client.get("/fapi/v3/account?signature=" + sign(creds["secret"], ""), headers=headers)
    assert no_ts.json()["code"] == -1102 and "'timestamp'" in no_ts.json()["msg"]


@pytest.mark.parametrize(
    ("offset", "recv_window", "ok"),
    [
        (-5000, None, True),  # default recvWindow 5000, inclusive
        (-5001, None, False),
        (-10000, "10000", True),
        (-10001, "10000", False),
        (999, None, True),  # up to 1000 ms ahead of the server
        (1000, None, False),
    ],
)
def test_recv_window_edges(
    face: BinanceFace, client: TestClient, offset: int, recv_window: str | None, ok: bool
) -> None:
    creds = face.create_account(Decimal("100"))
    params = {"timestamp": str(NOW + offset)}
    if recv_window is not None:
        params["recvWindow"] = recv_window
    status, body = signed_get(client, creds, "/fapi/v3/account", params)
    if ok:
        assert status == 200 and isinstance(body, dict) and "assets" in body
    else:
        assert status == 400 and isinstance(body, dict) and body["code"] == -1021


def test_recv_window_above_60000_is_refused(face: BinanceFace, client: TestClient) -> None:
    creds = face.create_account(Decimal("100"))
    status, body = signed_get(
        client, creds, "/fapi/v3/account", {"timestamp": str(NOW), "recvWindow": "60001"}
    )
    assert status == 400 and isinstance(body, dict) and body["code"] == -1130


@given(
    params=st.dictionaries(
        st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8),
        st.text(max_size=12),
        max_size=6,
    ),
    flip=st.integers(min_value=0),
)
def test_any_params_verify_and_any_tampering_fails(params: dict[str, str], flip: int) -> None:
    keys = KeyStore()
    cred = keys.add("acct")
    params = {**params, "timestamp": str(NOW)}
    params.pop("signature", None)
    payload = urlencode(params)
    signature = sign(cred.secret, payload)
    raw = payload + "&signature=" + signature
    assert keys.verify(cred.api_key, "", raw, params, NOW) == cred
    # change one character of the signed payload: the signature no longer matches
    index = flip % len(payload)
    tampered = payload[:index] + ("A" if payload[index] != "A" else "B") + payload[index + 1 :]
    with pytest.raises(BinanceError) as caught:
        keys.verify(cred.api_key, "", tampered + "&signature=" + signature, params, NOW)
    assert caught.value.code == -1022


@pytest.mark.parametrize(
    ("status", "code"), [(429, -1003), (418, -1003), (503, -1008), (504, -1007), (500, -1000)]
)
def test_injected_statuses_answer_in_binance_shape(
    face: BinanceFace, client: TestClient, status: int, code: int
) -> None:
    face.ctx.faults.add(FaultRule(route="binance.time", kind="status", status=status, times=1))
    response = client.get("/fapi/v1/time")
    assert response.status_code == status and response.json()["code"] == code
    assert client.get("/fapi/v1/time").json() == {"serverTime": NOW}


def test_faults_target_route_names_and_accounts(face: BinanceFace, client: TestClient) -> None:
    alice, bob = face.create_account(Decimal("10000")), face.create_account(Decimal("10000"))
    face.ctx.faults.add(
        FaultRule(route="binance.algo.*", kind="status", status=503, account=alice["account"])
    )
    order = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.010",
             "triggerPrice": "60000", "algoType": "CONDITIONAL", "timestamp": str(NOW)}  # fmt: skip

    def post(creds: dict[str, str], path: str, params: dict[str, str]) -> int:
        body = urlencode(params)
        body += "&signature=" + sign(creds["secret"], body)
        headers = {"X-MBX-APIKEY": creds["apiKey"]}
        return client.post(path, content=body, headers=headers).status_code

    assert post(alice, "/fapi/v1/algoOrder", order) == 503
    assert post(bob, "/fapi/v1/algoOrder", order) == 200
    market = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010",
              "timestamp": str(NOW)}  # fmt: skip
    assert post(alice, "/fapi/v1/order", market) == 200
    assert [o.account_id for o in face.engine.orders.values()] == [bob["account"], alice["account"]]


def test_reject_table_covers_every_engine_reason() -> None:
    from tradeexec.sim.engine import Reject

    for reason in Reject:
        answer = err.from_reject(reason, min_notional_value=Decimal("100"))
        assert answer.code < 0 and answer.msg
        assert answer.status == (401 if answer.code in (-2014, -2015) else 400)
