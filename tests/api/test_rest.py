"""The REST API, events and metrics over real HTTP on the simulator (issue 10)."""

from __future__ import annotations

import json
import re
import threading
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from api.harness import READER, TRADER, Live
from tradeexec.sim.faults import FaultRule


def agent_signal(live: Live, **fields: Any) -> dict[str, Any]:
    live.keys += 1
    body: dict[str, Any] = {
        "symbol": "BTC", "side": "buy", "quantity": "0.01", "confidence": 0.9,
        "stop_loss": "66000", "take_profit": "69000", "idempotency_key": f"agent-{live.keys}",
    }  # fmt: skip
    body.update(fields)
    return body


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in the Prometheus text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = ",".join(sorted((match.group(2) or "").split(","))) if match.group(2) else ""
        if found == wanted:
            return float(match.group(3))
    return 0.0


def test_an_agent_signal_is_answered_with_its_outcome_and_a_redelivery_with_the_same(
    live: Live,
) -> None:
    with live.client(TRADER) as api:
        first = api.post("/signals", json=agent_signal(live))
        again = api.post("/signals", json=agent_signal(live, idempotency_key="agent-1"))
        different = api.post(
            "/signals", json=agent_signal(live, idempotency_key="agent-1", quantity="0.02")
        )
        invalid = api.post("/signals", json=agent_signal(live, quantity="1e400"))
        queued = api.post("/signals", params={"wait": "false"}, json=agent_signal(live))
    assert first.status_code == 200 and first.json()["status"] == "filled", first.text
    assert first.json()["stop_loss_order_id"] and first.json()["take_profit_order_id"]
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate" and again.json()["original_status"] == "filled"
    assert different.status_code == 409 and different.json()["code"] == "idempotency_conflict"
    assert invalid.status_code == 422, invalid.text
    assert invalid.json()["code"] == "invalid_signal"
    assert queued.status_code == 202 and queued.json()["signal_id"]
    with live.client() as api:
        live.wait_for_signal(api, queued.json()["signal_id"])
    assert live.position() == Decimal("0.02")


def test_tokens_and_scopes(live: Live) -> None:
    with live.client(None) as anonymous, live.client(READER) as reader:
        assert anonymous.get("/health").status_code == 200  # the only open route
        closed = [("GET", "/signals"), ("GET", "/metrics"), ("GET", "/ready"),
                  ("GET", "/positions"), ("POST", "/halt"), ("GET", "/events")]  # fmt: skip
        for method, path in closed:
            answer = anonymous.request(method, path)
            assert answer.status_code == 401, (path, answer.text)
            assert answer.headers["www-authenticate"] == "Bearer"
        wrong = httpx.get(
            f"{live.base_url}/signals", headers={"Authorization": "Bearer not-a-token"}
        )
        assert wrong.status_code == 401 and wrong.json()["code"] == "unauthorized"
        assert reader.get("/signals").status_code == 200
        refused = reader.post("/signals", json=agent_signal(live))
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    with live.client(TRADER) as trader:
        assert trader.post("/halt", json={}).status_code == 403  # admin only
    assert live.position() == 0


def test_signals_list_filters_and_pages_and_a_signal_tells_its_story(live: Live) -> None:
    with live.client() as api:
        for _ in range(3):
            api.post("/signals", json=agent_signal(live))
        api.post("/signals", json=agent_signal(live, confidence=0.1))  # rejected
        first = api.get("/signals", params={"limit": 2}).json()
        second = api.get("/signals", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        rejected = api.get("/signals", params={"status": "rejected"}).json()["signals"]
        on_hl = api.get("/signals", params={"account": "hl"}).json()["signals"]
        bad = api.get("/signals", params={"status": "nonsense"})
        story = api.get(f"/signals/{first['signals'][-1]['idempotency_key']}").json()
        missing = api.get("/signals/999999")
    ids = [s["id"] for s in first["signals"] + second["signals"]]
    assert ids == [4, 3, 2, 1] and second["next_cursor"] == 1
    assert [s["status_reason"] for s in rejected] == ["low_confidence"]
    assert on_hl == [] and bad.status_code == 422
    assert story["signal"]["id"] == 3 and story["decisions"][0]["approved"] is True
    entry = next(o for o in story["orders"] if o["order"]["role"] == "entry")
    assert [h["to_status"] for h in entry["history"]][-1] == "filled"
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert set(missing.json()) >= {"type", "title", "status", "detail", "code"}


def test_venue_reads_cancel_close_and_accounts(live: Live) -> None:
    with live.client() as api:
        opened = api.post("/signals", json=agent_signal(live)).json()
        positions = api.get("/positions").json()
        balances = api.get("/balances", params={"account": "bn"}).json()
        orders = api.get("/orders", params={"account": "bn"}).json()["accounts"]["bn"]
        target = opened["take_profit_order_id"]
        cancelled = api.post(f"/orders/{target}/cancel", params={"symbol": "BTC"})
        gone = api.post(f"/orders/{target}/cancel", params={"symbol": "BTC"})
        closed = api.post("/positions/BTC/close", params={"account": "bn"})
        accounts = api.get("/accounts").json()["accounts"]
        unknown = api.get("/positions", params={"account": "nope"})
    assert [Decimal(p["quantity"]) for p in positions["accounts"]["bn"]] == [Decimal("0.01")]
    assert positions["accounts"]["hl"] == [] and positions["errors"] == {}
    assert Decimal(balances["accounts"]["bn"]["USDT"]["total"]) > 0
    assert len(orders) == 2
    assert cancelled.status_code == 200 and cancelled.json()["order"]["status"] == "canceled"
    assert gone.status_code == 404 and gone.json()["code"] == "order_not_found"
    assert closed.status_code == 200 and closed.json()["status"] == "filled", closed.text
    assert live.position() == 0
    assert {a["account"]: a["state"] for a in accounts} == {"bn": "active", "hl": "active"}
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_account"


def test_halt_tiers_and_resume(live: Live) -> None:
    with live.client() as api:
        api.post("/signals", json=agent_signal(live))
        paused = api.post("/halt", json={"tier": "pause_entries", "account": "bn"}).json()
        refused = api.post("/signals", json=agent_signal(live)).json()
        flattened = api.post("/halt", json={"tier": "flatten", "reason": "test"}).json()
        states = {a["account"]: a for a in api.get("/accounts").json()["accounts"]}
        resumed = api.post("/resume", json={"account": "bn"}).json()
    assert paused["accounts"]["bn"]["state"] == "reducing"
    assert refused["status"] == "rejected" and refused["reason"] == "reducing_only"
    assert flattened["complete"] is True
    assert states["bn"]["state"] == states["hl"]["state"] == "halted"
    assert states["bn"]["reason"] == "test"
    assert live.position() == 0 and live.open_orders() == []
    assert resumed["accounts"] == [{"account": "bn", "state": "active", "reason": "resumed (api)"}]


@pytest.mark.parametrize("live", [0.3], indirect=True)
def test_events_show_the_story_as_the_stop_fires_and_the_target_is_cancelled(
    live: Live,
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    ready = threading.Event()

    def story_told() -> bool:
        orders = {(d["role"], d["status"]) for k, d in seen if k == "order"}
        fills = [d for k, d in seen if k == "fill"]
        return (
            ("stop_loss", "filled") in orders
            and ("take_profit", "canceled") in orders
            and (any(f["realized_pnl"] for f in fills))
        )

    def listen() -> None:
        headers = {"Authorization": f"Bearer {READER}"}
        with httpx.stream("GET", f"{live.base_url}/events", headers=headers, timeout=30) as s:
            ready.set()
            kind = None
            for line in s.iter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and kind:
                    seen.append((kind, json.loads(line.split(":", 1)[1])))
                    if story_told():
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert ready.wait(10)
    time.sleep(0.3)
    with live.client() as api:
        opened = api.post("/signals", json=agent_signal(live)).json()
        assert opened["status"] == "filled", opened
        live.sim.simulator.set_price("BTC", Decimal(65000), "binance")  # through the stop
        listener.join(timeout=20)
        story = api.get(f"/signals/{opened['signal_id']}").json()
    kinds = {k for k, _ in seen}
    assert {"signal", "decision", "order", "fill"} <= kinds, kinds
    assert story_told(), seen
    roles = {o["order"]["role"]: o["order"]["status"] for o in story["orders"]}
    assert roles == {"entry": "filled", "stop_loss": "filled", "take_profit": "canceled"}
    pnl = sum(Decimal(f["realized_pnl"] or 0) for o in story["orders"] for f in o["fills"])
    assert pnl < 0  # the stop closed the long below its entry
    assert live.position() == 0


def test_metrics_are_present_and_move(live: Live) -> None:
    with live.client() as api:
        before = api.get("/metrics").text
        api.post("/signals", json=agent_signal(live))
        deadline = time.monotonic() + 10
        while True:
            after = api.get("/metrics").text
            if metric(after, "tradeexec_orders_total", account="bn", role="entry",
                      result="filled") >= 1 or time.monotonic() > deadline:  # fmt: skip
                break
            time.sleep(0.1)
    assert metric(before, "tradeexec_signals_total", source="agent", status="filled") == 0
    assert metric(after, "tradeexec_signals_total", source="agent", status="filled") == 1
    assert metric(after, "tradeexec_orders_total", account="bn", role="entry", result="filled") == 1
    assert metric(after, "tradeexec_signal_ack_seconds_count") >= 1
    assert metric(after, "tradeexec_signal_to_order_seconds_count") >= 1
    requests = [
        line for line in after.splitlines()
        if line.startswith('tradeexec_exchange_request_seconds_count{account="bn"')
    ]  # fmt: skip
    assert requests, "venue requests are timed"
    assert metric(after, "tradeexec_account_state", account="bn", state="active") == 1
    assert "tradeexec_unprotected_positions" in after
    assert "tradeexec_reconcile_mismatches_total" in after


def test_ready_is_false_with_a_broken_venue_and_true_again_after(live: Live) -> None:
    with live.client(READER) as api:
        assert api.get("/ready").status_code == 200
        rule = FaultRule(route="hyperliquid.*", kind="status", status=503)
        live.sim.simulator.ctx.faults.rules.append(rule)
        broken = api.get("/ready")
        live.sim.simulator.ctx.faults.rules.remove(rule)
        again = api.get("/ready")
    assert broken.status_code == 503
    body = broken.json()
    assert body["ready"] is False and body["store"]["ok"] is True
    assert body["accounts"]["bn"]["ok"] is True and body["accounts"]["hl"]["ok"] is False
    assert again.status_code == 200 and again.json()["ready"] is True


def test_a_store_failure_is_a_503_to_send_again_and_nothing_is_done(live: Live) -> None:
    """The database refusing a write (here: the signals table gone for a moment, as a real
    SQLite error) is answered 503 ``store_unavailable`` with Retry-After, never a 500; nothing
    reaches the venue, and the same request succeeds once the store is back."""
    import sqlite3

    path = live.server.config.store_url.removeprefix("sqlite:///")
    log = live.sim.simulator.log
    before = log.last_seq

    def rename(old: str, new: str) -> None:
        with sqlite3.connect(path) as db:
            db.execute(f"ALTER TABLE {old} RENAME TO {new}")

    body = agent_signal(live)
    rename("signals", "signals_away")
    try:
        with live.client(TRADER) as api:
            down = api.post("/signals", json=body)
            alert = api.post("/webhooks/tradingview", json=live.alert())
    finally:
        rename("signals_away", "signals")
    for answer in (down, alert):
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "store_unavailable"
        assert answer.headers.get("retry-after") == "1", answer.request.url
        assert "Traceback" not in answer.text and "signals_away" not in answer.text
    sent = [e for e in log.recent(10_000, after=before) if "order" in str(e.get("route", ""))]
    assert sent == []
    with live.client(TRADER) as api:
        again = api.post("/signals", json=body)
    assert again.status_code == 200 and again.json()["status"] == "filled", again.text


def test_a_signal_ref_of_unicode_digits_is_a_404_not_a_500(live: Live) -> None:
    """'¹' is a digit to str.isdigit() but not to int(): such a reference is a key, not an id
    (schemathesis found GET /signals/%C2%B9 answered 500)."""
    with live.client() as api:
        for ref in ("¹", "²³", "1¹"):
            answer = api.get(f"/signals/{ref}")
            assert answer.status_code == 404, (ref, answer.text)
            assert answer.json()["code"] == "not_found"
