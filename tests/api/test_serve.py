"""``tradeexec serve`` as a process: its banner, and a kill right after an alert was
acknowledged - the restarted service executes it exactly once (issue 10)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from api.harness import TV_SECRET, funded
from tradeexec.sim.faults import FaultRule
from tradeexec.sim.server import SimServer

pytestmark = pytest.mark.slow


def _config(sim: SimServer, tmp: Path, creds: dict[str, dict[str, str]]) -> Path:
    bn = creds["bn"]
    data = {
        "accounts": {
            "bn": {"type": "binance", "api_url": sim.base_url, "api_key": bn["apiKey"],
                   "api_secret": bn["secret"], "timeout_ms": 10000},
        },
        "store_url": f"sqlite:///{tmp / 'serve.db'}",
        "market_cache_dir": str(tmp / "markets"),
        "service": {"webhooks": {"main": {"secret": TV_SECRET}}},
    }  # fmt: skip
    path = tmp / "exchange.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class Serve:
    def __init__(self, config: Path, home: Path) -> None:
        env = {**os.environ, "TRADEEXEC_HOME": str(home)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tradeexec", "serve", "--config", str(config), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, self.process.stderr.read() if self.process.stderr else ""
        self.banner: dict[str, Any] = json.loads(line)
        self.base_url = str(self.banner["base_url"])
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the service did not come up"
            time.sleep(0.1)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def test_killed_right_after_the_answer_the_alert_executes_once_on_restart(
    sim_server: SimServer, tmp_path: Path
) -> None:
    creds = funded(sim_server)
    config = _config(sim_server, tmp_path, creds)
    first = Serve(config, tmp_path)
    try:
        assert first.banner["webhook_secret"] is None  # configured: never printed
        assert first.banner["dashboard_url"] == f"{first.base_url}/ui/"
        token = first.banner["api_token"]  # generated, stored 0600 in the data directory
        assert token and (tmp_path / "service-secrets.json").stat().st_mode & 0o777 == 0o600
        # the venue hangs: the alert is recorded and answered, its execution is stuck
        sim_server.simulator.ctx.faults.rules.append(
            FaultRule(route="binance.*", kind="latency", seconds=3.0)
        )
        alert = {
            "passphrase": TV_SECRET, "ticker": "BTCUSDT", "action": "buy", "contracts": "0.01",
            "price": "67500", "stop_loss_pct": 0.02, "order_id": "Long",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }  # fmt: skip
        answer = httpx.post(f"{first.base_url}/webhooks/tradingview", json=alert, timeout=5)
        assert answer.status_code == 202, answer.text
        signal_id = answer.json()["signal_id"]
        first.kill()
    finally:
        first.stop()
    sim_server.simulator.ctx.faults.rules.clear()
    time.sleep(3.5)  # let the simulator finish what the dead process had asked

    second = Serve(config, tmp_path)
    try:
        assert second.banner["api_token"] == token  # the same, read back
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 30
        while True:
            story = httpx.get(
                f"{second.base_url}/signals/{signal_id}", headers=headers, timeout=5
            ).json()
            if story["signal"]["status"] not in ("received", "deciding", "executing"):
                break
            assert time.monotonic() < deadline, story["signal"]
            time.sleep(0.2)
        again = httpx.post(f"{second.base_url}/webhooks/tradingview", json=alert, timeout=5)
    finally:
        second.stop()
    assert story["signal"]["status"] == "filled", story["signal"]
    entries = [o for o in story["orders"] if o["order"]["role"] == "entry"]
    assert len(entries) == 1
    face = sim_server.simulator.binance
    held = sum(
        (p.qty for p in face.engine.positions(creds["bn"]["account"]) if p.coin == "BTC"),
        Decimal(0),
    )
    assert held == Decimal("0.01")  # once, not twice
    assert again.status_code == 200 and again.json()["original_status"] == "filled"
