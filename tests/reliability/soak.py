"""The crash-and-fault soak (issue 7): signals through a worker process that is SIGKILLed and
restarted, against both simulated venues with random faults and moving prices.

    result = run_soak(SoakConfig(seed=7, signals=300, kills=2), workdir)
    print(result.summary())          # counts, per-status counts, violations by check
    assert result.ok, result.failure_text()

The driver (this module, synchronous) runs the simulator in a thread of its own process, with
one funded Binance USD-M account and one Hyperliquid account, and the worker
(`soak_worker.py`) as a child process on a SQLite store file. Batch by batch it moves prices
through the control API (stops and targets fire), makes signals from the positions the venue
holds, writes them to the worker's stdin (some as 2-3 concurrent copies of one key) and reads
the answers the worker appends to a file. At chosen moments it SIGKILLs the worker, starts a
new one and re-delivers every signal it has no answer for, with the same key. At the end:
faults off, one last worker (start-up recovery), re-delivery of what is still unanswered, a
reconcile of each account, and `check_soak` against the simulator's engines.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import httpx

from reliability.soak_check import VenueAccount, Verdict, Violation, check_soak, unprotected
from reliability.soak_signals import PricePath, SignalMaker, SoakAccount
from tradeexec.sim.app import SimConfig
from tradeexec.sim.server import SimServer
from tradeexec.store.repository import Store

WORKER = Path(__file__).with_name("soak_worker.py")
BALANCE = Decimal(100_000)
ACCOUNTS = (SoakAccount("bn", "binance"), SoakAccount("hl", "hyperliquid"))
RISK = {
    "max_order_notional": "20000",
    "max_position_notional": "60000",
    "max_open_positions": 10,
    "max_orders_per_minute": 100_000,
    "require_stop_loss": True,
}
# Bounds on waiting (a hang is reported, never waited out): generous, not timing assertions.
START_DEADLINE_S = 90.0
BATCH_DEADLINE_S = 240.0
START_ATTEMPTS = 8
POLL_S = 0.02


class SoakError(RuntimeError):
    """The harness itself could not go on (the worker never started, ...)."""


@dataclass(frozen=True)
class SoakConfig:
    seed: int = 7
    signals: int = 300
    kills: int = 2
    batch: int = 15
    fault_rate: float = 1.0  # scales every fault rule's probability; 0 switches faults off
    duplicate_rate: float = 0.15  # share of deliveries sent as 2-3 concurrent copies
    timeout_ms: int = 800  # the accounts' client timeout; held faults last a bit longer
    store_url: str | None = None  # a migrated database (PostgreSQL); default: SQLite in workdir


@dataclass
class SoakResult:
    config: SoakConfig
    workdir: Path
    verdict: Verdict = field(default_factory=Verdict)
    counts: Counter[str] = field(default_factory=Counter)
    faults_fired: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.verdict.violations

    def summary(self) -> str:
        c = self.counts
        lines = [
            f"soak seed={self.config.seed} signals={c['signals']} batches={c['batches']} "
            f"in {self.elapsed_s:.1f}s (workdir {self.workdir})",
            f"  deliveries={c['deliveries']} (concurrent copies={c['copies']}, "
            f"re-deliveries={c['redeliveries']}, final re-polls={c['repolls']}) "
            f"kills={c['kills']} starts={c['starts']} "
            f"start_failures={c['start_failures']} worker_deaths={c['worker_deaths']} "
            f"stuck={c['stuck']} price_moves={c['price_moves']}",
            f"  faults fired={sum(self.faults_fired.values())} {dict(self.faults_fired)}",
            f"  store statuses {dict(sorted(self.verdict.statuses.items()))}",
            f"  answers {dict(sorted(self.verdict.answers.items()))}",
            *(f"  end: {note}" for note in self.verdict.notes),
            f"  violations={len(self.verdict.violations)} "
            f"{dict(sorted(self.verdict.by_check().items()))}",
        ]
        return "\n".join(lines)

    def failure_text(self, limit: int = 60) -> str:
        shown = [str(v) for v in self.verdict.violations[:limit]]
        more = len(self.verdict.violations) - len(shown)
        tail = [f"... and {more} more"] if more > 0 else []
        return "\n".join([self.summary(), *shown, *tail])


class AnswerLog:
    """The answers file the workers append to, read as it grows (whole lines only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.answers: dict[str, list[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []

    def poll(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for raw in data[:end].splitlines():
            try:
                line = json.loads(raw)
            except ValueError:  # a line cut by SIGKILL, completed by nothing: skip it
                continue
            if "key" in line:
                self.answers.setdefault(line["key"], []).append(line)
            else:
                self.events.append(line)

    def event(self, name: str, incarnation: int) -> dict[str, Any] | None:
        for line in self.events:
            if line.get("event") == name and line.get("incarnation") == incarnation:
                return line
        return None


class Driver:
    def __init__(self, config: SoakConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.rng = random.Random(config.seed)
        self.result = SoakResult(config, workdir)
        self.counts = self.result.counts
        self.sim = SimServer(SimConfig(seed=config.seed))
        # a dropped connection is a fault we inject, not news: uvicorn logs each as an error
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        self.control = httpx.Client(timeout=30)
        self.credentials = {
            a.name: dict(self.sim.simulator.faces[a.venue].create_account(BALANCE))
            for a in ACCOUNTS
        }
        self.answers = AnswerLog(workdir / "answers.jsonl")
        self.job_path = workdir / "job.json"
        self.store_url = config.store_url or f"sqlite:///{workdir / 'soak.db'}"
        self.signals: dict[str, dict[str, Any]] = {}  # key -> payload, in delivery order
        self.proc: subprocess.Popen[str] | None = None
        self.incarnation = 0
        self.midrun: list[Violation] = []
        self.unprotected_since: dict[tuple[str, str], int] = {}
        self.prices = PricePath(random.Random(config.seed + 1))
        self.maker = SignalMaker(random.Random(config.seed + 2), list(ACCOUNTS), str(config.seed))

    # --------------------------------------------------------------- set-up
    def url(self, path: str) -> str:
        return f"{self.sim.base_url}{path}"

    def write_job(self) -> None:
        accounts: dict[str, dict[str, Any]] = {}
        for account in ACCOUNTS:
            cred = self.credentials[account.name]
            common = {"api_url": self.sim.base_url, "timeout_ms": self.config.timeout_ms}
            if account.venue == "binance":
                accounts[account.name] = {
                    "type": "binance",
                    "api_key": cred["apiKey"],
                    "api_secret": cred["secret"],
                    **common,
                }
            else:
                accounts[account.name] = {
                    "type": "hyperliquid",
                    "wallet_address": cred["walletAddress"],
                    "private_key": cred["privateKey"],
                    **common,
                }
        job = {
            "accounts": accounts,
            "store_url": self.store_url,
            "market_cache_dir": str(self.workdir / "markets"),
            "risk": RISK,
            "answers_path": str(self.answers.path),
        }
        self.job_path.write_text(json.dumps(job, indent=1))

    def add_faults(self) -> None:
        """Seeded faults (the simulator's FaultSet is seeded with the run's seed)."""
        rate = self.config.fault_rate
        if rate <= 0:
            return
        held = self.config.timeout_ms / 1000 + 0.4  # long enough for the client to give up
        creates = ("binance.*.create", "hyperliquid.exchange.order")
        cancels = ("binance.*.cancel", "hyperliquid.exchange.cancel*")
        reads = (
            "binance.positions",
            "binance.order.get",
            "binance.algo.get",
            "binance.order.open",
            "binance.algo.open",
            "binance.balance",
            "hyperliquid.info.clearinghouseState",
            "hyperliquid.info.orderStatus",
            "hyperliquid.info.openOrders",
            "hyperliquid.info.frontendOpenOrders",
            "hyperliquid.info.historicalOrders",
        )
        rules: list[dict[str, Any]] = []
        for route in creates:
            rules += [
                {"route": route, "kind": "status", "status": 503, "probability": 0.010},
                {"route": route, "kind": "status", "status": 429, "probability": 0.010},
                {"route": route, "kind": "timeout", "seconds": held, "probability": 0.006},
                {"route": route, "kind": "drop", "probability": 0.006},
                {"route": route, "kind": "lost_response", "seconds": held, "probability": 0.010},
                {"route": route, "kind": "lost_drop", "probability": 0.006},
            ]
        for route in cancels:
            rules += [
                {"route": route, "kind": "status", "status": 429, "probability": 0.03},
                {"route": route, "kind": "status", "status": 502, "probability": 0.02},
                {"route": route, "kind": "lost_response", "seconds": held, "probability": 0.02},
            ]
        for route in reads:
            rules += [
                {"route": route, "kind": "status", "status": 500, "probability": 0.008},
                {"route": route, "kind": "status", "status": 429, "probability": 0.008},
                {"route": route, "kind": "timeout", "seconds": held, "probability": 0.004},
                {"route": route, "kind": "drop", "probability": 0.004},
            ]
        for rule in rules:
            rule["probability"] = min(1.0, rule["probability"] * rate)
            self.control.post(self.url("/_sim/faults"), json=rule).raise_for_status()

    def faults_off(self) -> None:
        rules = self.control.get(self.url("/_sim/faults")).json()["rules"]
        for rule in rules:
            name = rule["kind"] if rule["kind"] != "status" else f"status {rule['status']}"
            self.result.faults_fired[name] += rule["fired"]
        self.control.delete(self.url("/_sim/faults")).raise_for_status()

    def move_prices(self) -> dict[str, Decimal]:
        marks = self.prices.step()
        for coin, price in marks.items():
            body = {"coin": coin, "price": str(price)}
            self.control.post(self.url("/_sim/prices"), json=body).raise_for_status()
        self.counts["price_moves"] += 1
        return marks

    def positions(self) -> dict[tuple[str, str], Decimal]:
        out: dict[tuple[str, str], Decimal] = {}
        for account in ACCOUNTS:
            engine_account = self.credentials[account.name]["account"]
            view = self.control.get(self.url(f"/_sim/accounts/{account.venue}/{engine_account}"))
            for position in view.json()["positions"]:
                out[(account.name, position["coin"])] = Decimal(position["qty"])
        return out

    # --------------------------------------------------------------- worker
    def start_worker(self) -> None:
        """A new worker; waits for it to be ready. A failed start is retried (bounded)."""
        for _ in range(START_ATTEMPTS):
            self.incarnation += 1
            self.counts["starts"] += 1
            log = (self.workdir / f"worker-{self.incarnation}.log").open("w")
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKER), str(self.job_path), str(self.incarnation)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
            log.close()
            deadline = time.monotonic() + START_DEADLINE_S
            while time.monotonic() < deadline:
                self.answers.poll()
                if self.answers.event("ready", self.incarnation):
                    return
                if self.proc.poll() is not None:
                    break
                time.sleep(POLL_S)
            if self.answers.event("start_failed", self.incarnation) is None:
                self.counts["worker_deaths"] += 1  # crashed or hung before start() returned
            self.counts["start_failures"] += 1
            self.kill_worker(counted=False)
        raise SoakError(f"the worker did not start in {START_ATTEMPTS} attempts")

    def kill_worker(self, *, counted: bool = True) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            if counted:
                self.counts["kills"] += 1
        self.proc.wait()
        self._close_stdin()
        self.proc = None

    def _close_stdin(self) -> None:
        assert self.proc is not None
        stdin: IO[str] | None = self.proc.stdin
        if stdin is not None:
            with contextlib.suppress(BrokenPipeError):  # a killed worker's pipe
                stdin.close()

    def send(self, message: dict[str, Any]) -> bool:
        """One line to the worker; False if it is gone (the caller restarts it)."""
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            return False
        return True

    def deliver(self, key: str) -> bool:
        copies = 1
        if self.rng.random() < self.config.duplicate_rate:
            copies = self.rng.choice((2, 3))
            self.counts["copies"] += copies - 1
        self.counts["deliveries"] += 1
        return self.send({"op": "signal", "copies": copies, "signal": self.signals[key]})

    def unanswered(self) -> list[str]:
        return [k for k in self.signals if k not in self.answers.answers]

    def restart(self) -> None:
        """Start a new worker and re-deliver every signal without an answer, same key."""
        self.kill_worker(counted=False)
        self.start_worker()
        for key in self.unanswered():
            self.counts["redeliveries"] += 1
            if not self.deliver(key):
                return  # died already: the caller's wait notices and restarts again

    def wait_answered(self, kill_after: int | None) -> None:
        """Until every delivered signal has an answer; SIGKILL the worker once ``kill_after``
        more answers have arrived (None: no kill), then restart and re-deliver."""
        base = sum(len(v) for v in self.answers.answers.values())
        deadline = time.monotonic() + BATCH_DEADLINE_S
        while True:
            self.answers.poll()
            got = sum(len(v) for v in self.answers.answers.values()) - base
            done = not self.unanswered()
            if done and kill_after is None:
                return
            if kill_after is not None and (got >= kill_after or done):
                # the answers can all land between two polls: the kill is still owed (at a
                # quiet moment then), so every run kills the worker as often as it was asked
                time.sleep(self.rng.uniform(0, 0.3))  # land anywhere in the next signal
                self.kill_worker()
                kill_after = None
                self.restart()
            elif self.proc is None or self.proc.poll() is not None:
                self.counts["worker_deaths"] += 1
                self.restart()
            elif time.monotonic() > deadline:
                self.counts["stuck"] += 1  # a hang: kill it like a watchdog would
                self.kill_worker(counted=False)
                self.restart()
                deadline = time.monotonic() + BATCH_DEADLINE_S
            time.sleep(POLL_S)

    def stop_worker(self) -> None:
        if self.proc is not None and self.send({"op": "stop"}):
            try:
                self.proc.wait(timeout=START_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.counts["stuck"] += 1
        self.kill_worker(counted=False)

    # ------------------------------------------------------------------ run
    def batches(self) -> Iterator[int]:
        total = self.config.signals
        for start in range(0, total, self.config.batch):
            yield min(self.config.batch, total - start)

    def run(self) -> SoakResult:
        begun = time.monotonic()
        self.write_job()
        with self.sim:
            self.add_faults()
            self.start_worker()
            sizes = list(self.batches())
            kills = min(self.config.kills, len(sizes))
            kill_batches = set(self.rng.sample(range(len(sizes)), kills))
            marks = dict(self.prices.marks)
            for index, size in enumerate(sizes):
                if index:
                    marks = self.move_prices()
                positions = self.positions()
                keys = []
                for _ in range(size):
                    data = self.maker.make(marks, positions)
                    self.signals[data["idempotency_key"]] = data
                    keys.append(data["idempotency_key"])
                self.counts["signals"] += size
                self.counts["batches"] += 1
                for key in keys:
                    if not self.deliver(key):
                        break  # the worker died; wait_answered restarts and re-delivers
                kill_after = self.rng.randrange(size) if index in kill_batches else None
                self.wait_answered(kill_after)
                self.check_protection_midrun(index)
            self.finish()
            self.result.verdict = self.check()
        self.control.close()
        self.result.elapsed_s = time.monotonic() - begun
        return self.result

    def finish(self) -> None:
        """Faults off; a last worker (start-up recovery); re-deliveries; reconcile; a re-send
        of every key only ever answered ``in_progress``; stop."""
        self.faults_off()
        self.stop_worker()
        self.restart()
        self.wait_answered(None)
        self.reconcile()
        self.repoll()
        self.stop_worker()

    def repoll(self) -> None:
        """Re-send every key whose every answer was ``in_progress`` (as its caller was told
        to) and wait, bounded, for one more answer each: the final answer."""
        waiting = {
            key: len(lines)
            for key, lines in self.answers.answers.items()
            if all(line.get("report", {}).get("status") == "in_progress" for line in lines)
        }
        for key in waiting:
            self.counts["repolls"] += 1
            self.send({"op": "signal", "copies": 1, "signal": self.signals[key]})
        deadline = time.monotonic() + BATCH_DEADLINE_S
        while waiting and time.monotonic() < deadline:
            self.answers.poll()
            waiting = {k: n for k, n in waiting.items() if len(self.answers.answers[k]) <= n}
            if self.proc is None or self.proc.poll() is not None:
                break
            time.sleep(POLL_S)

    def reconcile(self) -> None:
        incarnation = self.incarnation
        if self.send({"op": "reconcile"}):
            deadline = time.monotonic() + START_DEADLINE_S
            done = {"reconciled", "reconcile_failed"}
            while time.monotonic() < deadline:
                self.answers.poll()
                seen = [
                    e
                    for e in self.answers.events
                    if e.get("incarnation") == incarnation and e.get("event") in done
                ]
                if len(seen) >= len(ACCOUNTS) or (self.proc and self.proc.poll() is not None):
                    break
                time.sleep(POLL_S)

    def venues(self) -> list[VenueAccount]:
        return [
            VenueAccount(
                a.name,
                self.sim.simulator.faces[a.venue].engine,
                self.credentials[a.name]["account"],
                "binance" if a.venue == "binance" else "hyperliquid",
            )
            for a in ACCOUNTS
        ]

    def check_protection_midrun(self, batch: int) -> None:
        """Check (e) with every signal answered and prices not yet moved: one finding per
        stretch of batches a position spends short of stop cover while ACTIVE."""
        store = Store.from_url(self.store_url, migrate=False)
        try:
            for venue in self.venues():
                lines = unprotected(store, venue)
                for line in lines:
                    coin = line.split()[0]
                    if (venue.name, coin) not in self.unprotected_since:
                        self.unprotected_since[(venue.name, coin)] = batch
                        detail = f"after batch {batch}: {line}"
                        self.midrun.append(
                            Violation("e_unprotected_midrun", venue.name, None, detail)
                        )
                short = {line.split()[0] for line in lines}
                for account, coin in list(self.unprotected_since):
                    if account == venue.name and coin not in short:
                        del self.unprotected_since[(account, coin)]
        finally:
            store.close()

    def check(self) -> Verdict:
        store = Store.from_url(self.store_url, migrate=False)
        try:
            delivered = {k: str(v["account"]) for k, v in self.signals.items()}
            verdict = check_soak(store, self.venues(), delivered, self.answers.answers)
        finally:
            store.close()
        verdict.violations.extend(self.midrun)
        self.add_process_findings(verdict)
        return verdict

    def add_process_findings(self, verdict: Verdict) -> None:
        """What the worker processes did besides answering: a start-up or reconcile that
        gave up (issue 7: never half way), a death nobody caused, a hang."""
        for event in self.answers.events:
            name = event.get("event")
            if name == "start_failed":
                last = str(event["error"]).strip().splitlines()[-1]
                detail = f"worker {event['incarnation']}: start() raised {last}"
                verdict.add("g_start_failed", "-", None, detail)
            elif name == "reconcile_failed":
                verdict.add("g_reconcile_failed", str(event["account"]), None, str(event["error"]))
        for name in ("worker_deaths", "stuck"):
            if self.counts[name]:
                verdict.add(f"g_{name}", "-", None, f"{self.counts[name]} (see the worker logs)")


def run_soak(config: SoakConfig, workdir: Path) -> SoakResult:
    workdir.mkdir(parents=True, exist_ok=True)
    return Driver(config, workdir).run()
