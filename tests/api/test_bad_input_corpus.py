"""Bad input at every door (issue 12): each a clear 4xx problem document, nothing executed, and
the service healthy afterwards. A 5xx here would be a bug: TradingView re-sends on some 5xx.

Besides values, raw JSON number tokens no JSON library writes (``NaN``, ``Infinity``,
``1e400``: Python's parser reads them as floats), 1 MB bodies on both doors, unrendered
placeholders in every kind of field; and alerts replayed (some concurrently) or arriving out of
order, which must never execute twice or undo a newer one (the MCP door's corpus is
tests/mcp/test_mcp_bad_input.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from api.harness import TV_SECRET, Live

HOOK = "/webhooks/tradingview"
# (a JSON null is "not given", not bad input: it is not in the corpus)
NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-5", "0", "1,000", "1_000", "", "0x10",
           True, [], {}, "１０", "1" * 60]  # fmt: skip
RAW_TOKENS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]  # as JSON text, unquoted
PLACEHOLDERS = {"contracts": "{{strategy.order.contracts}}", "price": "{{close}}",
                "ticker": "{{ticker}}", "action": "{{strategy.order.action}}",
                "stop_loss": "{{plot_0}}", "comment": "{{strategy.order.comment}}",
                "position_size": "{{strategy.position_size}}"}  # fmt: skip


def raw(body: dict[str, Any], field: str, token: str) -> bytes:
    """``body`` as JSON with ``field``'s value replaced by a bare token."""
    text = json.dumps({**body, field: "@@"})
    return text.replace('"@@"', token).encode()


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
        ("1 MB text", b"x" * 1_000_000 + TV_SECRET.encode(), "text/plain"),
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
    for token in RAW_TOKENS:
        for field in ("contracts", "price", "stop_loss", "confidence"):
            out.append((f"raw {field}={token}", raw(alert(), field, token), "application/json"))
    for field, placeholder in PLACEHOLDERS.items():
        out.append((f"placeholder in {field}", json.dumps(alert(**{field: placeholder})).encode(),
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
    out.append(("1 MB comment", {**base, "comment": "c" * 1_000_000}))
    return out


def rest_raw_bodies() -> list[tuple[str, bytes]]:
    base = {"symbol": "BTC", "side": "buy", "quantity": "0.01", "confidence": 0.9}
    return [
        (f"raw {field}={token}", raw(base, field, token))
        for token in RAW_TOKENS
        for field in ("quantity", "stop_loss", "confidence", "price")
    ]


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
        for what, raw_body in rest_raw_bodies():
            got = api.post(
                "/signals", content=raw_body, headers={"Content-Type": "application/json"}
            )
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


async def test_replayed_and_out_of_order_alerts_never_execute_twice_or_undo(live: Live) -> None:
    """One alert delivered five times (three at once, then two more): one signal, one entry
    on the venue, every later answer the original's. Then a target-position alert older than
    the newest one applied: 409 out_of_order, recorded, nothing sent."""
    now = datetime.now(UTC)
    once = live.alert(time=now.isoformat())
    async with live.async_client() as api:
        first = await asyncio.gather(*(api.post(HOOK, json=once) for _ in range(3)))
        codes = sorted(r.status_code for r in first)
        signal_id = next(r.json()["signal_id"] for r in first if r.status_code == 202)
    with live.client() as api:
        live.wait_for_signal(api, signal_id)
        later = [api.post(HOOK, json=once) for _ in range(2)]
        story = api.get(f"/signals/{signal_id}").json()

        def target(size: str, at: datetime) -> dict[str, Any]:
            return live.alert(market_position="long", position_size=size, contracts=None,
                              time=at.isoformat(), order_id="target")  # fmt: skip

        newer = api.post(HOOK, json=target("0.02", now + timedelta(seconds=1)))
        live.wait_for_signal(api, newer.json()["signal_id"])
        orders_before = len(live.sim.simulator.binance.engine.orders)
        late = api.post(HOOK, json=target("0.05", now - timedelta(seconds=30)))
        orders_after = len(live.sim.simulator.binance.engine.orders)
    assert codes == [200, 200, 202], codes  # one recorded it; the others were told so
    assert len({r.json().get("signal_id") for r in first}) == 1
    assert [r.status_code for r in later] == [200, 200]
    assert all(r.json()["original_status"] == story["signal"]["status"] for r in later)
    assert len([o for o in story["orders"] if o["order"]["role"] == "entry"]) == 1
    assert late.status_code == 409 and late.json()["code"] == "out_of_order", late.text
    assert orders_after == orders_before  # the late alert sent nothing
    assert live.position() == Decimal("0.02")  # 0.01 from the replayed alert, then target 0.02
