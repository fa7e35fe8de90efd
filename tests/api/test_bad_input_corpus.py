"""Bad input at every door (issue 12): each a clear 4xx problem document, nothing executed, and
the service healthy afterwards. A 5xx here would be a bug: TradingView re-sends on some 5xx."""

from __future__ import annotations

import json
from typing import Any

from api.harness import TV_SECRET, Live

HOOK = "/webhooks/tradingview"
# (a JSON null is "not given", not bad input: it is not in the corpus)
NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-5", "0", "1,000", "1_000", "", "0x10",
           True, [], {}, "１０", "1" * 60]  # fmt: skip


def alert(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"passphrase": TV_SECRET, "ticker": "BTCUSDT", "action": "buy",
                            "contracts": "0.01", "order_id": "corpus"}  # fmt: skip
    base.update(fields)
    return base


def webhook_bodies() -> list[tuple[str, bytes, str]]:
    """(what, body, content type) - every one must be refused."""
    out: list[tuple[str, bytes, str]] = [
        ("not json", b'{"passphrase": ' + TV_SECRET.encode() + b", ", "application/json"),
        ("a list", b"[1, 2, 3]", "application/json"),
        ("a string", b'"buy"', "application/json"),
        ("null", b"null", "application/json"),
        ("empty", b"", "text/plain"),
        ("binary", bytes(range(256)), "application/octet-stream"),
        ("1 MB", json.dumps(alert(comment="x" * 1_000_000)).encode(), "application/json"),
        ("placeholder", json.dumps(alert(contracts="{{strategy.order.contracts}}")).encode(),
         "application/json"),
        ("unknown field", json.dumps(alert(stoploss=1)).encode(), "application/json"),
        ("unknown account", json.dumps(alert(account="nobody")).encode(), "application/json"),
        ("no action", json.dumps({"passphrase": TV_SECRET, "ticker": "BTCUSDT"}).encode(),
         "application/json"),
        ("unicode ticker", json.dumps(alert(ticker="B\u0000T\u202eC")).encode(), "text/plain"),
    ]  # fmt: skip
    for number in NUMBERS:
        for field in ("contracts", "price", "stop_loss"):
            out.append((f"{field}={number!r}", json.dumps(alert(**{field: number})).encode(),
                        "application/json"))  # fmt: skip
    return out


def rest_bodies() -> list[tuple[str, Any]]:
    base = {"symbol": "BTC", "side": "buy", "quantity": "0.01", "confidence": 0.9}
    out: list[tuple[str, Any]] = [
        ("a list", [base]),
        ("no side", {"symbol": "BTC", "quantity": "0.01", "confidence": 0.9}),
        ("bad side", {**base, "side": "sideways"}),
        ("bad confidence", {**base, "confidence": "very"}),
        ("confidence 7", {**base, "confidence": 7}),
        ("unknown account", {**base, "account": "nobody"}),
        ("order type", {**base, "order_type": "iceberg"}),
        ("limit without price", {**base, "order_type": "limit"}),
        ("both sizes", {**base, "notional": "100"}),
        ("key too long", {**base, "idempotency_key": "k" * 500}),
    ]
    for number in NUMBERS:
        out.append((f"quantity={number!r}", {**base, "quantity": number}))
        out.append((f"stop_loss={number!r}", {**base, "stop_loss": number}))
    return out


def test_every_bad_input_is_a_clear_4xx_and_nothing_executes(live: Live) -> None:
    answers: list[tuple[str, int, str]] = []
    with live.client() as api:
        for what, body, kind in webhook_bodies():
            got = api.post(HOOK, content=body, headers={"Content-Type": kind})
            answers.append(
                (f"webhook {what}", got.status_code, got.headers.get("content-type", ""))
            )
        for what, body in rest_bodies():
            got = api.post("/signals", json=body)
            answers.append((f"REST {what}", got.status_code, got.headers.get("content-type", "")))
        healthy = api.get("/health").status_code
        ready = api.get("/ready").status_code
        executed = [s for s in api.get("/signals").json()["signals"] if s["status"] == "filled"]

    wrong = [(what, code) for what, code, _ in answers if not 400 <= code < 500]
    assert wrong == [], wrong  # never a 2xx for these, never a 5xx
    shapes = [what for what, _, kind in answers if "problem+json" not in kind]
    assert shapes == [], shapes  # one error shape (RFC 9457) everywhere
    assert (healthy, ready) == (200, 200)
    assert executed == [] and live.position() == 0 and live.open_orders() == []
