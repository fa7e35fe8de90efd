"""The replica soak's processes: ``tradeexec serve --replica-id`` children on one PostgreSQL
store and the in-thread simulator, started, SIGKILLed, SIGSTOPped and SIGCONTed by the driver
(`replica_soak.py`).

Each replica has a configuration file of its own that differs in one thing: the Binance
account's ``recvWindow`` (``10000 + n`` ms, ccxt sends it with every signed request). The
simulator's request log keeps it, so the soak can tell which replica sent an order or a
cancel, and check that a replica paused past its lease sent none after the lease moved on.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ADMIN = "soak-admin-token-0123456789"
TV_SECRET = "soak-webhook-secret-0123456789"
BASE_RECV_WINDOW = 10_000
RISK = {
    "max_order_notional": "20000",
    "max_position_notional": "60000",
    "max_open_positions": 10,
    "max_orders_per_minute": 100_000,
    "require_stop_loss": True,
}
START_DEADLINE_S = 90.0  # a bound on a hang, not a timing assertion


def recv_window(index: int) -> int:
    """The tag of replica ``index`` (1-based) in the simulator's request log."""
    return BASE_RECV_WINDOW + index


def write_config(
    path: Path,
    *,
    index: int,
    sim_url: str,
    credentials: dict[str, dict[str, Any]],
    store_url: str,
    workdir: Path,
) -> Path:
    bn, hl = credentials["bn"], credentials["hl"]
    common = {"api_url": sim_url, "timeout_ms": 5000}
    data = {
        "default_account": "bn",
        "accounts": {
            "bn": {"type": "binance", "api_key": bn["apiKey"], "api_secret": bn["secret"],
                   "options": {"recvWindow": recv_window(index)}, **common},
            "hl": {"type": "hyperliquid", "wallet_address": hl["walletAddress"],
                   "private_key": hl["privateKey"], **common},
        },
        "store_url": store_url,
        "market_cache_dir": str(workdir / f"markets-{index}"),
        "risk": RISK,
        "service": {
            "webhooks": {"main": {"secret": TV_SECRET}},
            "tokens": {"admin": {"token": ADMIN, "scopes": ["admin"]}},
            # re-deliveries after a pause are minutes old at most: not stale here
            "entry_max_age_s": 3600, "exit_max_age_s": 3600,
        },
    }  # fmt: skip
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class ReplicaProcess:
    """One ``tradeexec serve --replica-id`` child; `start` again after `kill` restarts it
    under the same id (a new process, a new port)."""

    def __init__(
        self,
        index: int,
        config: Path,
        workdir: Path,
        *,
        ttl_s: float,
        reconcile_s: float,
        replica: bool = True,
    ) -> None:
        self.index = index
        self.replica_id = f"replica-{index}"
        self.replica = replica  # False: one process owning every account (no --replica-id)
        self.config, self.workdir = config, workdir
        self.ttl_s, self.reconcile_s = ttl_s, reconcile_s
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.paused = False
        self.starts = 0

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def serving(self) -> bool:
        """Alive and not paused: worth sending a request to."""
        return self.alive and not self.paused

    def start(self) -> None:
        self.starts += 1
        out = self.workdir / f"{self.replica_id}.{self.starts}.out"
        log = self.workdir / f"{self.replica_id}.{self.starts}.log"
        env = {**os.environ, "TRADEEXEC_HOME": str(self.workdir / "home")}
        env.pop("TRADEEXEC_REPLICA_ID", None)
        with out.open("wb") as stdout, log.open("wb") as stderr:
            argv = [sys.executable, "-m", "tradeexec", "serve", "--config", str(self.config),
                    "--port", "0", "--reconcile-interval", str(self.reconcile_s)]  # fmt: skip
            if self.replica:
                argv += ["--replica-id", self.replica_id, "--lease-ttl", str(self.ttl_s)]
            self.process = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=env)
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            first = out.read_text(encoding="utf-8", errors="replace").split("\n", 1)
            if len(first) == 2:
                self.base_url = str(json.loads(first[0])["base_url"])
                break
            self._still_starting(deadline, log)
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return
            self._still_starting(deadline, log)

    def _still_starting(self, deadline: float, log: Path) -> None:
        if not self.alive or time.monotonic() > deadline:
            self.kill()
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.replica_id} did not start:\n{tail}")
        time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: it dies holding its leases."""
        if self.process is not None and self.process.poll() is None:
            if self.paused:
                self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self.paused = False

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self) -> None:
        """SIGTERM (a clean stop: the leases are given up), SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        if self.paused:
            self.resume()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=START_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.kill()


def tradingview_alert(data: dict[str, Any]) -> dict[str, Any]:
    """A REST-shaped soak signal (side + quantity) as a TradingView alert with the secret;
    the explicit ``idempotency_key`` wins over the alert's derived one."""
    alert = {
        "passphrase": TV_SECRET,
        "idempotency_key": data["idempotency_key"],
        "account": data["account"],
        "ticker": data["symbol"],
        "action": data["side"],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "confidence": data["confidence"],
    }
    if "quantity" in data:
        alert["contracts"] = data["quantity"]
    for name in ("stop_loss", "take_profit", "reduce_only", "comment"):
        if name in data:
            alert[name] = data[name]
    return alert


def is_order_write(entry: dict[str, Any]) -> bool:
    """A request that places or cancels an order on the Binance face."""
    path = str(entry.get("path", ""))
    return (
        entry.get("method") in ("POST", "DELETE", "PUT")
        and path.startswith("/fapi/")
        and ("order" in path.lower())
    )


def tag_of(entry: dict[str, Any]) -> int | None:
    """The replica's ``recvWindow`` tag of a logged request (None: not a tagged request)."""
    for part in (str(entry.get("query") or ""), str(entry.get("body") or "")):
        for pair in part.split("&"):
            name, _, value = pair.partition("=")
            if name == "recvWindow" and value.isdigit():
                return int(value)
    return None
