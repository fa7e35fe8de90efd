"""Two ``tradeexec serve --replica-id`` processes on one PostgreSQL database and the
simulator: an alert sent to the replica that does not hold the account is executed once by
the one that does; when that one is SIGKILLed, the other takes the account over within the
lease's length and executes the next alert itself. The takeover time is printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from api.harness import ADMIN, TV_SECRET, funded
from api.test_serve import Serve, _config
from tradeexec.sim.server import SimServer
from tradeexec.testing import postgres_store_url

pytestmark = pytest.mark.slow

TTL = "2"


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from postgres_store_url(request)


class Replica(Serve):
    """``tradeexec serve --replica-id replica_id`` (`Serve` with the replica's options)."""

    def __init__(self, config: Path, home: Path, replica_id: str) -> None:
        env = {**os.environ, "TRADEEXEC_HOME": str(home)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tradeexec", "serve", "--config", str(config), "--port", "0",
             "--replica-id", replica_id, "--lease-ttl", TTL],
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
            assert time.monotonic() < deadline, "the replica did not come up"
            time.sleep(0.1)


def alert(n: int) -> dict[str, Any]:
    return {
        "passphrase": TV_SECRET, "ticker": "BTCUSDT", "action": "buy", "contracts": "0.01",
        "price": "67500", "stop_loss_pct": 0.02, "order_id": f"Long {n}",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }  # fmt: skip


def ended(base_url: str, signal_id: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    deadline = time.monotonic() + 30
    while True:
        story = httpx.get(f"{base_url}/signals/{signal_id}", headers=headers, timeout=5).json()
        if story["signal"]["status"] not in ("received", "deciding", "executing"):
            return dict(story)
        assert time.monotonic() < deadline, story["signal"]
        time.sleep(0.1)


def takeover_metrics(base_url: str) -> dict[str, float]:
    """The replica's /metrics as ``{series: value}``, once its takeover has been observed
    (the histogram counts it after the account's first reconcile under the new owner)."""
    headers = {"Authorization": f"Bearer {ADMIN}"}
    deadline = time.monotonic() + 30
    while True:
        text = httpx.get(f"{base_url}/metrics", headers=headers, timeout=5).text
        series = dict(
            line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
        )
        values = {name: float(value) for name, value in series.items()}
        if values.get("tradeexec_takeover_seconds_count", 0) >= 1:
            return values
        assert time.monotonic() < deadline, text
        time.sleep(0.1)


def test_two_serve_replicas_hand_over_an_alert_and_take_over_a_dead_owner(
    sim_server: SimServer, tmp_path: Path, pg_url: str
) -> None:
    creds = funded(sim_server)
    config = _config(sim_server, tmp_path, creds)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["store_url"] = pg_url
    data["service"]["tokens"] = {"admin": {"token": ADMIN, "scopes": ["admin"]}}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    headers = {"Authorization": f"Bearer {ADMIN}"}
    assert os.environ.get("TRADEEXEC_REPLICA_ID") is None
    owner = Replica(config, tmp_path, "replica-a")
    other = Replica(config, tmp_path, "replica-b")
    try:
        assert other.banner["replica_id"] == "replica-b"
        cluster = httpx.get(f"{other.base_url}/cluster", headers=headers, timeout=5).json()
        assert cluster["held_here"] == [] and cluster["replicas"] == ["replica-a"]

        answer = httpx.post(f"{other.base_url}/webhooks/tradingview", json=alert(1), timeout=5)
        assert answer.status_code == 202, answer.text
        story = ended(owner.base_url, answer.json()["signal_id"])
        assert story["signal"]["status"] == "filled", story["signal"]
        assert len([o for o in story["orders"] if o["order"]["role"] == "entry"]) == 1

        owner.kill()  # dies holding the lease
        killed = time.monotonic()
        while True:
            cluster = httpx.get(f"{other.base_url}/cluster", headers=headers, timeout=5).json()
            if cluster["held_here"] == ["bn"]:
                break
            assert time.monotonic() - killed < 15, cluster
            time.sleep(0.1)
        print(f"\ntakeover after SIGKILL: {time.monotonic() - killed:.2f} s (lease {TTL} s)")
        metrics = takeover_metrics(other.base_url)
        assert metrics['tradeexec_lease_changes_total{account="bn",reason="taken_over"}'] == 1
        assert metrics["tradeexec_leases_held"] == 1
        assert 0 < metrics["tradeexec_takeover_seconds_sum"] < 30  # from the last renewal
        answer = httpx.post(f"{other.base_url}/webhooks/tradingview", json=alert(2), timeout=5)
        assert answer.status_code == 202, answer.text
        story = ended(other.base_url, answer.json()["signal_id"])
        assert story["signal"]["status"] == "filled", story["signal"]
    finally:
        other.stop()
        owner.stop()
    engine = sim_server.simulator.binance.engine
    btc = [p.qty for p in engine.positions(creds["bn"]["account"]) if p.coin == "BTC"]
    assert sum(btc, Decimal(0)) == Decimal("0.02")  # two alerts, two entries: no more
