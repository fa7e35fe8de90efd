"""The crash-and-fault soak through the real service (issue 12): the signals of `soak.py`
delivered over HTTP to a ``tradeexec serve`` process, half as TradingView alerts on the
webhook (with the secret), half as ``POST /signals`` on the REST API, and that process
SIGKILLed at random moments and started again on the same SQLite store.

    result = run_http_soak(SoakConfig(seed=7, signals=120, kills=2), workdir)
    print(result.summary())          # + answers by HTTP status, replays, lost connections
    assert result.ok, result.failure_text()

Everything else is `soak.Driver`'s: the simulator in a thread of this process with its seeded
faults (``/_sim/faults``), the price path, the signal mix, 2-3 concurrent copies of some
deliveries, re-delivery (same key) of every signal without an answer after each restart, and
the verdict (`soak_check.check_soak`, the same invariants). What changes is the worker: a
``tradeexec serve --config`` process whose answers are HTTP answers, written to the same
answers file by the client threads, in the worker's line shape:

- REST (``wait=true``): 200 is the execution report itself; 422 ``invalid_signal`` is a
  recorded refusal (``rejected``).
- webhook: 202 means "recorded durably, executing" and is kept as ``in_progress`` (the
  driver re-sends such keys at the end, as the answer asks, for the final answer); 200 is a
  re-delivery's report of what the first delivery came to; 409 ``out_of_order`` / 422
  ``stale_signal`` are recorded refusals (``rejected``).
- any other status is kept as what it is (the check then names it as a contradiction);
  a 5xx is an ``exception`` line (``f_answer_exception``): the service must never answer
  5xx to a signal it recorded, and with an unfaulted store it has no reason to.
- a connection broken by a kill is no answer: the key is re-delivered to the next process.

So an alert answered 2xx before a kill must be in the store afterwards with the status it
was told (``b_missing_signal``, ``f_answer_contradicts_store``), and no key executes twice
however often it is delivered (``a_double_order``). Besides the worker's re-deliveries the
driver replays a few already answered alerts each batch (``replays``): their answer must be
the original's true status.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml

from reliability.soak import (
    ACCOUNTS,
    RISK,
    START_ATTEMPTS,
    START_DEADLINE_S,
    Driver,
    SoakConfig,
    SoakError,
    SoakResult,
)
from reliability.soak_check import TERMINAL_STATUSES
from tradeexec.store.repository import Store

TRADER_TOKEN = "te_soak_trader_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
WEBHOOK_SECRET = "tv_soak_secret_0a1b2c3d4e5f60718293a4b5c6d7e8f9"
REST_TIMEOUT_S = 120.0  # a signal through held faults takes seconds; a kill breaks the call
HOOK_TIMEOUT_S = 30.0
TRANSPORT_RETRIES = 3  # a broken connection to a live process (not a kill) is tried again
REPLAYS_PER_BATCH = 2
SETTLE_DEADLINE_S = 60.0  # for every signal to end before the between-batches check


@dataclass
class HttpSoakResult(SoakResult):
    http: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        c = self.counts
        lines = [
            super().summary().replace("soak seed=", "http soak seed=", 1),
            f"  http answers {dict(sorted(self.http.items()))}",
            f"  webhook={c['webhook']} rest={c['rest']} replays={c['replays']} "
            f"lost_connections={c['lost_connections']} transport_retries={c['retries']} "
            f"answered_by_killed_process={c['answered_before_kill']} "
            f"unsettled_checks={c['unsettled_checks']}",
        ]
        return "\n".join(lines)


def alert_from(data: dict[str, Any]) -> dict[str, Any]:
    """The soak's REST-shaped signal as a TradingView alert (same key, same intent)."""
    alert: dict[str, Any] = {
        "passphrase": WEBHOOK_SECRET,
        "idempotency_key": data["idempotency_key"],
        "account": data["account"],
        "ticker": data["symbol"],
        "confidence": data["confidence"],
        "comment": data["comment"],
    }
    target = data.get("target_position")
    if target is not None:
        if Decimal(target) == 0:
            alert["action"] = "close"
        else:
            alert["action"] = "buy" if Decimal(target) > 0 else "sell"
            alert["position_size"] = target  # signed: strategy.position_size
    else:
        alert["action"] = data["side"]
        if data.get("quantity") is not None:
            alert["contracts"] = data["quantity"]
    for name in ("reduce_only", "stop_loss", "take_profit"):
        if data.get(name) is not None:
            alert[name] = data[name]
    return alert


class HttpDriver(Driver):
    """`soak.Driver` with ``tradeexec serve`` as the worker and HTTP as the wire."""

    def __init__(self, config: SoakConfig, workdir: Path) -> None:
        super().__init__(config, workdir)
        self.result = HttpSoakResult(config, workdir)
        self.counts = self.result.counts
        self.http = self.result.http
        self.config_path = workdir / "exchange.yaml"
        self.base_url = ""
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="soak-http")
        self.lock = threading.Lock()
        self.answers_file = self.answers.path.open("a", encoding="utf-8")
        self.surface: dict[str, str] = {}  # key -> "webhook" | "rest"
        self.answered_by: dict[int, set[str]] = {}  # incarnation -> keys it answered
        self.killed: set[int] = set()

    # --------------------------------------------------------------- set-up
    def write_job(self) -> None:
        """The service's configuration file (the soak's accounts, risk and store)."""
        accounts: dict[str, dict[str, Any]] = {}
        for account in ACCOUNTS:
            cred = self.credentials[account.name]
            common = {"api_url": self.sim.base_url, "timeout_ms": self.config.timeout_ms}
            if account.venue == "binance":
                accounts[account.name] = {
                    "type": "binance", "api_key": cred["apiKey"], "api_secret": cred["secret"],
                    **common,
                }  # fmt: skip
            else:
                accounts[account.name] = {
                    "type": "hyperliquid", "wallet_address": cred["walletAddress"],
                    "private_key": cred["privateKey"], **common,
                }  # fmt: skip
        names = [a.name for a in ACCOUNTS]
        config = {
            "accounts": accounts,
            "default_account": names[0],
            "store_url": self.store_url,
            "market_cache_dir": str(self.workdir / "markets"),
            "risk": RISK,
            "service": {
                "tokens": {"soak": {"token": TRADER_TOKEN, "scopes": ["trade", "read"]}},
                "webhooks": {
                    "soak": {"secret": WEBHOOK_SECRET, "accounts": names, "account": names[0]}
                },
            },
        }
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")

    # --------------------------------------------------------------- worker
    def start_worker(self) -> None:
        """A new ``tradeexec serve``; ready once ``/health`` answers (its lifespan, with the
        start-up reconcile and signal recovery, has run by then). Retried, bounded."""
        for _ in range(START_ATTEMPTS):
            self.incarnation += 1
            self.counts["starts"] += 1
            if self._spawn():
                return
            self.counts["start_failures"] += 1
            self.kill_worker(counted=False)
        raise SoakError(f"the service did not start in {START_ATTEMPTS} attempts")

    def _spawn(self) -> bool:
        out = self.workdir / f"serve-{self.incarnation}.out"
        with (
            out.open("w") as stdout,
            (self.workdir / f"serve-{self.incarnation}.log").open("w") as stderr,
        ):
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tradeexec", "serve", "--config", str(self.config_path),
                 "--port", "0", "--reconcile-interval", "0"],
                stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                env={**os.environ, "TRADEEXEC_HOME": str(self.workdir / "home")},
            )  # fmt: skip
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.counts["worker_deaths"] += 1
                return False
            if not self.base_url_from(out):
                time.sleep(0.05)
                continue
            try:
                if httpx.get(f"{self.base_url}/health", timeout=5).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.counts["stuck"] += 1
        return False

    def base_url_from(self, out: Path) -> bool:
        first = out.read_text().partition("\n")
        if not first[1]:
            return False
        self.base_url = str(json.loads(first[0])["base_url"])
        return True

    def kill_worker(self, *, counted: bool = True) -> None:
        if self.proc is None:
            return
        if counted and self.proc.poll() is None:
            self.killed.add(self.incarnation)
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            if counted:
                self.counts["kills"] += 1
        self.proc.wait()
        self.proc = None

    def stop_worker(self) -> None:
        """A graceful stop (SIGINT: uvicorn finishes the requests in flight)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=START_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.counts["stuck"] += 1
        self.kill_worker(counted=False)

    # ------------------------------------------------------------- delivery
    def deliver(self, key: str) -> bool:
        if key not in self.surface:
            self.surface[key] = self.rng.choice(("webhook", "rest"))
            self.counts[self.surface[key]] += 1
        copies = 1
        if self.rng.random() < self.config.duplicate_rate:
            copies = self.rng.choice((2, 3))
            self.counts["copies"] += copies - 1
        self.counts["deliveries"] += 1
        for copy in range(copies):
            self.pool.submit(self._post, key, copy, self.incarnation, self.base_url)
        return self.proc is not None and self.proc.poll() is None

    def _post(self, key: str, copy: int, incarnation: int, base_url: str) -> None:
        """One delivery and its answer line; a broken connection writes nothing."""
        surface = self.surface[key]
        data = self.signals[key]
        for _ in range(TRANSPORT_RETRIES):
            try:
                if surface == "webhook":
                    got = httpx.post(
                        f"{base_url}/webhooks/tradingview", json=alert_from(data),
                        timeout=HOOK_TIMEOUT_S,
                    )  # fmt: skip
                else:
                    got = httpx.post(
                        f"{base_url}/signals", json=data, timeout=REST_TIMEOUT_S,
                        headers={"Authorization": f"Bearer {TRADER_TOKEN}"},
                    )  # fmt: skip
            except httpx.TransportError:
                with self.lock:
                    alive = incarnation == self.incarnation and self.proc is not None
                    alive = alive and self.proc.poll() is None
                    self.counts["retries" if alive else "lost_connections"] += 1
                if not alive:
                    return  # killed: the next process gets it again
                time.sleep(0.2)
                continue
            self._answered(key, copy, incarnation, surface, got)
            return
        with self.lock:
            self.counts["lost_connections"] += 1

    def _answered(
        self, key: str, copy: int, incarnation: int, surface: str, got: httpx.Response
    ) -> None:
        line: dict[str, Any] = {"key": key, "copy": copy, "incarnation": incarnation}
        try:
            body = got.json()
        except ValueError:
            body = {"detail": got.text[:300]}
        code = body.get("code") if isinstance(body, dict) else None
        if got.status_code >= 500:
            line["exception"] = f"HTTP {got.status_code} from {surface}: {got.text[:300]}"
        elif got.status_code == 200:
            line["report"] = body
        elif got.status_code == 202:
            line["report"] = {"status": "in_progress", "accepted": True}
        elif code in ("out_of_order", "stale_signal", "invalid_signal"):
            line["report"] = {"status": "rejected", "reason": code}
        else:
            line["report"] = {"status": f"http {got.status_code} {code}", "detail": body}
        with self.lock:
            self.http[f"{surface} {got.status_code}"] += 1
            self.answered_by.setdefault(incarnation, set()).add(key)
            self.answers_file.write(json.dumps(line, default=str) + "\n")
            self.answers_file.flush()

    def wait_answered(self, kill_after: int | None) -> None:
        super().wait_answered(kill_after)
        self.replay_some()

    def replay_some(self) -> None:
        """Re-send a few alerts answered already (TradingView re-sends): each must be
        answered with the original's status, never executed again."""
        answered = [k for k in self.signals if k in self.answers.answers]
        if not answered or self.proc is None:
            return
        for key in self.rng.sample(answered, min(REPLAYS_PER_BATCH, len(answered))):
            self.counts["replays"] += 1
            self.pool.submit(self._post, key, 99, self.incarnation, self.base_url)

    def check_protection_midrun(self, batch: int) -> None:
        """As the worker soak, once every signal delivered so far has ended: a webhook
        answers 202 when the signal is recorded, before its orders and legs exist, and a
        restarted process resumes what the killed one left (bounded wait; what is still
        unfinished then is checked as it stands)."""
        deadline = time.monotonic() + SETTLE_DEADLINE_S
        store = Store.from_url(self.store_url, migrate=False)
        try:
            waiting = list(self.signals)
            while waiting and time.monotonic() < deadline:
                waiting = [k for k in waiting if not self._ended(store, k)]
                if waiting:
                    time.sleep(0.1)
        finally:
            store.close()
        if waiting:
            self.counts["unsettled_checks"] += 1
        super().check_protection_midrun(batch)

    @staticmethod
    def _ended(store: Store, key: str) -> bool:
        record = store.get_signal_by_key(key)
        return record is not None and record.status in TERMINAL_STATUSES

    def reconcile(self) -> None:
        """A graceful restart: the service's start-up reconciles every account."""
        self.stop_worker()
        self.start_worker()

    def repoll(self) -> None:
        waiting = {
            key: len(lines)
            for key, lines in self.answers.answers.items()
            if all(line.get("report", {}).get("status") == "in_progress" for line in lines)
        }
        for key in waiting:
            self.counts["repolls"] += 1
            self.pool.submit(self._post, key, 0, self.incarnation, self.base_url)
        deadline = time.monotonic() + START_DEADLINE_S
        while waiting and time.monotonic() < deadline:
            self.answers.poll()
            waiting = {k: n for k, n in waiting.items() if len(self.answers.answers[k]) <= n}
            time.sleep(0.05)

    def finish(self) -> None:
        super().finish()
        self.pool.shutdown(wait=True)
        self.answers.poll()
        self.answers_file.close()
        for incarnation in self.killed:
            self.counts["answered_before_kill"] += len(self.answered_by.get(incarnation, ()))


def run_http_soak(config: SoakConfig, workdir: Path) -> HttpSoakResult:
    workdir.mkdir(parents=True, exist_ok=True)
    result = HttpDriver(config, workdir).run()
    assert isinstance(result, HttpSoakResult)
    return result
