"""The TradingView webhook over real HTTP, executing on the simulator (issue 10)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

from api.harness import (
    NARROW_SECRET,
    TV_SECRET,
    Live,
    LiveServer,
    funded,
    service_config,
)
from tradeexec.sim.faults import FaultRule
from tradeexec.sim.server import SimServer

HOOK = "/webhooks/tradingview"
UNQUOTED = "{{strategy.order.contracts}}"  # an unquoted placeholder: the body is not JSON


def roles(story: dict[str, object]) -> dict[str, str]:
    """role -> status of the signal's orders (the newest per role)."""
    return {o["order"]["role"]: o["order"]["status"] for o in story["orders"]}  # type: ignore[attr-defined,index]


def test_a_valid_alert_gets_one_bracketed_order(live: Live) -> None:
    with live.client() as api:
        answer = api.post(HOOK, json=live.alert())
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["status"] == "accepted" and body["account"] == "bn"

        story = live.wait_for_signal(api, body["signal_id"])

    assert story["signal"]["status"] == "filled", story["signal"]
    assert roles(story) == {"entry": "filled", "stop_loss": "submitted", "take_profit": "submitted"}
    assert live.position() == Decimal("0.01")
    resting = live.open_orders()
    assert len(resting) == 2  # the stop and the target rest on the exchange
    stop = next(o for o in story["orders"] if o["order"]["role"] == "stop_loss")["order"]
    assert Decimal(stop["trigger_price"]) == Decimal(66150)  # 2 % below the alert's price


async def test_the_same_alert_five_times_at_once_is_one_order(live: Live) -> None:
    alert = live.alert()
    async with live.async_client() as api:
        answers = await asyncio.gather(*(api.post(HOOK, json=alert) for _ in range(5)))
    assert all(a.status_code in (200, 202) for a in answers), [a.text for a in answers]
    assert sum(a.status_code == 202 for a in answers) == 1
    ids = {a.json()["signal_id"] for a in answers}
    assert len(ids) == 1
    with live.client() as api:
        live.wait_for_signal(api, ids.pop())
        listed = api.get("/signals", params={"source": "tradingview"}).json()["signals"]
    assert len(listed) == 1
    assert live.position() == Decimal("0.01")  # one entry, not five


def test_a_wrong_secret_is_401_and_records_nothing_executable(live: Live) -> None:
    with live.client() as api:
        wrong = api.post(HOOK, json=live.alert(passphrase="not-the-secret"))
        in_path = api.post(f"{HOOK}/not-the-secret", json=live.alert(passphrase=None))
        missing = api.post(HOOK, json=live.alert(passphrase=None))
        listed = api.get("/signals").json()["signals"]
    for answer in (wrong, in_path, missing):
        assert answer.status_code == 401
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "unauthorized"
    assert listed == []
    assert live.position() == 0
    refused = live.store().events(kind="webhook_refused")
    assert [e.data["reason"] for e in refused] == ["unauthorized"] * 3


def test_the_secret_may_be_in_the_path_and_the_body_text_plain(live: Live) -> None:
    import json

    alert = live.alert(passphrase=None)
    with live.client(token=None) as tv:  # TradingView sends no token
        answer = tv.post(
            f"{HOOK}/{TV_SECRET}",
            content=json.dumps(alert),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
    assert answer.status_code == 202, answer.text
    with live.client() as api:
        assert live.wait_for_signal(api, answer.json()["signal_id"])["signal"]["status"] == "filled"


def test_bad_alerts_are_a_clear_4xx_recorded_and_nothing_executes(live: Live) -> None:
    with live.client() as api:
        placeholder = api.post(HOOK, json=live.alert(contracts="{{strategy.order.contracts}}"))
        unknown = api.post(HOOK, json=live.alert(stoploss=66000))  # a typo must not pass
        bad_number = api.post(HOOK, json=live.alert(contracts="NaN"))
        not_json = api.post(
            HOOK,
            content=f'{{"passphrase": "{TV_SECRET}", "contracts": {UNQUOTED}}}',
            headers={"Content-Type": "text/plain"},
        )
        too_big = api.post(HOOK, json=live.alert(comment="x" * 70_000))
        listed = api.get("/signals").json()["signals"]

    assert placeholder.status_code == 422
    assert "strategy.order.contracts" in placeholder.json()["detail"]
    assert unknown.status_code == 422 and "'stoploss'" in unknown.json()["detail"]
    assert bad_number.status_code == 422 and bad_number.json()["code"] == "invalid_signal"
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["detail"]
    assert too_big.status_code == 413 and too_big.json()["code"] == "body_too_large"
    assert listed == [] and live.position() == 0
    refused = live.store().events(kind="webhook_refused")
    assert len(refused) == 4  # every authenticated bad alert is recorded (413: not read)
    assert all(TV_SECRET not in str(e.data) for e in refused)


def test_a_stale_alert_is_refused_and_recorded(live: Live) -> None:
    old = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    with live.client() as api:
        answer = api.post(HOOK, json=live.alert(time=old))
        rejected = api.get("/signals", params={"status": "rejected"}).json()["signals"]
        # an exit of the same age is still inside the (longer) exit window
        flat = api.post(
            HOOK, json=live.alert(action="close", contracts=None, stop_loss_pct=None,
                                  take_profit_pct=None, time=old),
        )  # fmt: skip
    assert answer.status_code == 422 and answer.json()["code"] == "stale_signal"
    assert [s["status_reason"] for s in rejected] == ["stale_signal"]
    assert flat.status_code == 202, flat.text
    assert live.position() == 0


def test_an_older_target_alert_after_a_newer_one_is_out_of_order(live: Live) -> None:
    now = datetime.now(UTC)

    def target(size: str, at: datetime) -> dict[str, object]:
        return live.alert(
            market_position="long", position_size=size, time=at.isoformat(), contracts=None
        )

    with live.client() as api:
        newer = api.post(HOOK, json=target("0.02", now))
        assert newer.status_code == 202, newer.text
        live.wait_for_signal(api, newer.json()["signal_id"])
        late = api.post(HOOK, json=target("0.05", now - timedelta(seconds=20)))
        rejected = api.get("/signals", params={"status": "rejected"}).json()["signals"]
    assert late.status_code == 409 and late.json()["code"] == "out_of_order"
    assert [s["status_reason"] for s in rejected] == ["out_of_order"]
    assert live.position() == Decimal("0.02")  # the late alert did not undo the newer one


def test_a_flip_in_one_alert_then_target_zero_closes(live: Live) -> None:
    now = datetime.now(UTC)
    with live.client() as api:
        before = (now - timedelta(seconds=2)).isoformat()
        long = api.post(
            HOOK, json=live.alert(market_position="long", position_size="0.01", time=before)
        )
        live.wait_for_signal(api, long.json()["signal_id"])
        assert live.position() == Decimal("0.01")

        flip = api.post(
            HOOK, json=live.alert(action="sell", market_position="short", position_size="0.01",
                                  time=(now - timedelta(seconds=1)).isoformat()),
        )  # fmt: skip
        assert flip.status_code == 202, flip.text
        story = live.wait_for_signal(api, flip.json()["signal_id"])
        assert story["signal"]["status"] == "filled", story["signal"]
        assert live.position() == Decimal("-0.01")
        stops = [
            o for o in live.open_orders()
            if o.spec.side.value == "BUY" and o.spec.kind.value == "STOP_MARKET"
        ]  # fmt: skip
        assert [o.spec.qty for o in stops] == [Decimal("0.01")], "the short's stop rests"

        flat = api.post(
            HOOK, json=live.alert(action="sell", market_position="flat", position_size="0",
                                  stop_loss_pct=None, take_profit_pct=None,
                                  time=now.isoformat()),
        )  # fmt: skip
        assert flat.status_code == 202, flat.text
        assert live.wait_for_signal(api, flat.json()["signal_id"])["signal"]["status"] == "filled"
    assert live.position() == 0


def test_a_hanging_exchange_does_not_delay_the_answer(live: Live) -> None:
    live.sim.simulator.ctx.faults.rules.append(
        FaultRule(route="binance.*", kind="latency", seconds=4.0, times=1)
    )
    with live.client() as api:
        started = time.monotonic()
        answer = api.post(HOOK, json=live.alert())
        took = time.monotonic() - started
        assert answer.status_code == 202, answer.text
        assert took < 1.5, f"the webhook took {took:.2f} s with the venue hanging"
        story = live.wait_for_signal(api, answer.json()["signal_id"], timeout=40)
    assert story["signal"]["status"] == "filled"  # it completes (visibly) afterwards
    assert live.position() == Decimal("0.01")


def test_a_source_trades_only_its_accounts(live: Live) -> None:
    with live.client() as api:
        answer = api.post(HOOK, json=live.alert(passphrase=NARROW_SECRET, account="bn"))
        unknown = api.post(HOOK, json=live.alert(account="nope"))
    assert answer.status_code == 403 and answer.json()["code"] == "account_not_allowed"
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_account"
    assert live.position() == 0


def test_the_allow_list_and_a_trusted_proxy(sim_server: SimServer, tmp_path: Path) -> None:
    creds = funded(sim_server)
    config = service_config(
        sim_server, tmp_path, creds, allow_ips=["tradingview"], trusted_proxies=["127.0.0.1"]
    )
    server = LiveServer(config).start()
    try:
        live = Live(sim_server, server, tmp_path, creds)
        with httpx.Client(base_url=server.base_url, timeout=30) as tv:
            direct = tv.post(HOOK, json=live.alert())  # from 127.0.0.1: not TradingView
            foreign = tv.post(HOOK, json=live.alert(), headers={"X-Forwarded-For": "8.8.8.8"})
            spoofed = tv.post(  # a client's own X-Forwarded-For entry is not believed
                HOOK, json=live.alert(), headers={"X-Forwarded-For": "52.89.214.238, 8.8.8.8"}
            )
            allowed = tv.post(HOOK, json=live.alert(), headers={"X-Forwarded-For": "52.89.214.238"})
    finally:
        server.stop()
    assert direct.status_code == 403 and direct.json()["code"] == "ip_not_allowed"
    assert foreign.status_code == 403 and spoofed.status_code == 403
    assert allowed.status_code == 202, allowed.text
