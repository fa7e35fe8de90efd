"""The replica soak (issue 14): three ``tradeexec serve --replica-id`` processes on one
PostgreSQL database and the simulator; signals spread over them; owners killed and paused.

    result = run_replica_soak(ReplicaSoakConfig(seed=7, signals=120), workdir, store_url)
    print(result.summary())          # counts, statuses, takeover times, violations
    assert result.ok, result.failure_text()

The driver (this module) runs the simulator in a thread, starts the replicas
(`replica_soak_cluster.py`) and, batch by batch, moves prices, makes signals from the
positions the venue holds (`soak_signals.py`, as the one-process soak does) and delivers
them over HTTP to replicas picked at random: TradingView alerts (with the secret) and REST
signals (``wait`` true or false), some delivered to two replicas at once. In chosen batches,
half way through the deliveries, it SIGKILLs the replica holding the Binance account's lease
(and restarts it once another replica holds the lease) or SIGSTOPs that holder until another
replica has taken the lease and a lease's length more has passed, then SIGCONTs it.

At the end every replica stops cleanly, one last reconcile runs on the store (as the
one-process soak's last worker does), and the verdict is the shared checker's
(`soak_check.check_soak`: no key with two entry orders, no signal lost, every signal terminal
and explained, store = venue for open orders, every position protected) plus the cluster's
own findings: ``h_sent_after_lease_lost`` (the simulator's request log holds an order or a
cancel from a paused replica after its lease moved on; each replica tags its requests, see
`replica_soak_cluster`), ``h_not_taken_over`` and ``g_stuck`` (a batch that never ended).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor, wait
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from reliability.replica_soak_cluster import (
    ADMIN,
    ReplicaProcess,
    recv_window,
    tradingview_alert,
    write_config,
)
from reliability.replica_soak_verdict import (
    Disruption,
    ReplicaSoakConfig,
    ReplicaSoakResult,
    check_fencing,
)
from reliability.soak import ACCOUNTS, BALANCE
from reliability.soak_check import VenueAccount, Verdict, Violation, check_soak, unprotected
from reliability.soak_signals import PricePath, SignalMaker
from tradeexec.config import load_config
from tradeexec.config.loading import SecretInConfigWarning
from tradeexec.service import TradingService
from tradeexec.signal_state import TERMINAL
from tradeexec.sim.app import SimConfig
from tradeexec.sim.server import SimServer
from tradeexec.store.repository import Store

WATCHED = "bn"  # the account whose owner is killed and paused (its requests are tagged)
BATCH_DEADLINE_S = 240.0  # a bound on a hang, reported as g_stuck; not a timing assertion
HTTP_TIMEOUT_S = 60.0
TERMINAL_NAMES = frozenset(s.value for s in TERMINAL)


class ReplicaDriver:
    def __init__(self, config: ReplicaSoakConfig, workdir: Path, store_url: str) -> None:
        self.config, self.workdir, self.store_url = config, workdir, store_url
        self.rng = random.Random(config.seed)
        self.result = ReplicaSoakResult(config, workdir)
        self.counts = self.result.counts
        self.sim = SimServer(SimConfig(seed=config.seed, request_log_size=1_000_000))
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        self.credentials = {
            a.name: dict(self.sim.simulator.faces[a.venue].create_account(BALANCE))
            for a in ACCOUNTS
        }
        self.store = Store.from_url(store_url)  # migrated once, before any replica starts
        self.http = httpx.Client(timeout=HTTP_TIMEOUT_S, limits=httpx.Limits(max_connections=64))
        self.pool = ThreadPoolExecutor(max_workers=12)
        self.lock = threading.Lock()
        self.signals: dict[str, dict[str, Any]] = {}
        self.doors: dict[str, str] = {}  # key -> "webhook" | "rest" | "rest_wait"
        self.answers: dict[str, list[dict[str, Any]]] = {}
        self.futures: list[Future[None]] = []
        self.replicas: list[ReplicaProcess] = []
        self.pending: Disruption | None = None
        self.midrun: list[Violation] = []
        self.unprotected_since: set[tuple[str, str]] = set()
        self.prices = PricePath(random.Random(config.seed + 1))
        self.maker = SignalMaker(random.Random(config.seed + 2), list(ACCOUNTS), str(config.seed))

    # -------------------------------------------------------------------- venue
    # through the control API: the engines belong to the simulator's own thread
    def move_prices(self) -> dict[str, Decimal]:
        marks = self.prices.step()
        for coin, price in marks.items():
            body = {"coin": coin, "price": str(price)}
            self.http.post(f"{self.sim.base_url}/_sim/prices", json=body).raise_for_status()
        self.counts["price_moves"] += 1
        return marks

    def positions(self) -> dict[tuple[str, str], Decimal]:
        out: dict[tuple[str, str], Decimal] = {}
        for account in ACCOUNTS:
            engine_account = self.credentials[account.name]["account"]
            url = f"{self.sim.base_url}/_sim/accounts/{account.venue}/{engine_account}"
            for position in self.http.get(url).json()["positions"]:
                out[(account.name, position["coin"])] = Decimal(position["qty"])
        return out

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

    # ------------------------------------------------------------------ replicas
    def start_cluster(self) -> None:
        for index in range(1, self.config.replicas + 1):
            path = self.workdir / f"replica-{index}.yaml"
            write_config(
                path, index=index, sim_url=self.sim.base_url, credentials=self.credentials,
                store_url=self.store_url, workdir=self.workdir,
            )  # fmt: skip
            replica = ReplicaProcess(
                index, path, self.workdir, ttl_s=self.config.ttl_s,
                reconcile_s=self.config.reconcile_s,
            )  # fmt: skip
            replica.start()
            self.replicas.append(replica)
            if index == 1:  # the first takes every account: a known owner to begin with
                self.wait_for(lambda: self.holder(WATCHED) == "replica-1", "replica-1 to lead")

    def holder(self, account: str) -> str | None:
        """The replica holding a running lease on ``account`` (the database's clock)."""
        lease = self.store.get_lease(account)
        if lease is None or lease.expires_at <= self.store.database_time():
            return None
        return lease.holder

    def replica(self, replica_id: str) -> ReplicaProcess:
        return next(r for r in self.replicas if r.replica_id == replica_id)

    def serving(self) -> list[ReplicaProcess]:
        return [r for r in self.replicas if r.serving]

    def wait_for(self, done: Any, what: str, bound_s: float = BATCH_DEADLINE_S) -> None:
        deadline = time.monotonic() + bound_s
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeError(f"waited {bound_s}s for {what}")
            time.sleep(0.05)

    def disrupt(self, kind: str) -> None:
        """SIGKILL or SIGSTOP the replica holding the watched account's lease."""
        owner = self.holder(WATCHED)
        if owner is None or not self.replica(owner).serving:
            self.counts[f"{kind}_skipped"] += 1
            return
        target = self.replica(owner)
        self.pending = Disruption(kind, owner, recv_window(target.index), time.time())
        self.result.disruptions.append(self.pending)
        if kind == "kill":
            target.kill()
        else:
            target.pause()
        self.counts[f"{kind}s"] += 1

    def advance(self) -> None:
        """Move a pending kill or stop along: note when the lease moved on; restart the killed
        replica then; resume the paused one a lease's length after that."""
        d = self.pending
        if d is None:
            return
        if d.taken is None:
            lease = self.store.get_lease(WATCHED)
            if lease is not None and lease.holder != d.replica and self.holder(WATCHED):
                d.taken = lease.acquired_at.timestamp()
            return
        target = self.replica(d.replica)
        if d.kind == "kill":
            target.start()
        elif time.time() < d.taken + self.config.ttl_s:
            return
        else:
            target.resume()
        d.ended = time.time()
        self.pending = None

    # ---------------------------------------------------------------- deliveries
    def door_for(self, data: dict[str, Any]) -> str:
        expressible = "side" in data  # an order of a size (or a close): a TradingView alert
        if expressible and self.rng.random() < self.config.webhook_share:
            return "webhook"
        return "rest_wait" if self.rng.random() < self.config.wait_share else "rest"

    def deliver(self, key: str, *, copies: int | None = None) -> None:
        serving = self.serving()
        if copies is None:
            copies = 2 if self.rng.random() < self.config.duplicate_rate else 1
        targets = self.rng.sample(serving, min(copies, len(serving)))
        self.counts["copies"] += len(targets) - 1
        for target in targets:
            self.futures.append(self.pool.submit(self._post, key, target.base_url))

    def _post(self, key: str, base_url: str) -> None:
        data, door = self.signals[key], self.doors[key]
        with self.lock:
            self.counts["deliveries"] += 1
            self.counts[door] += 1
        try:
            if door == "webhook":
                url = f"{base_url}/webhooks/tradingview"
                answer = self.http.post(url, json=tradingview_alert(data))
            else:
                params = {"wait": "true" if door == "rest_wait" else "false"}
                headers = {"Authorization": f"Bearer {ADMIN}"}
                url = f"{base_url}/signals"
                answer = self.http.post(url, json=data, params=params, headers=headers)
        except httpx.HTTPError as exc:  # killed or paused under the request: not an answer
            with self.lock:
                self.counts["no_answer"] += 1
                self.result.no_answers[type(exc).__name__] += 1
            return
        line = self._answer_line(answer)
        with self.lock:
            if answer.status_code == 500:  # a bug answered, not a replica or store away
                account = str(data["account"])
                self.result.internal_errors.append((account, key, f"{door}: {answer.text[:200]}"))
            if line is None:
                self.counts["no_answer"] += 1
                self.result.no_answers[f"http {answer.status_code}"] += 1
            else:
                self.answers.setdefault(key, []).append(line)

    @staticmethod
    def _answer_line(answer: httpx.Response) -> dict[str, Any] | None:
        """What the caller was told, in `check_soak`'s terms; None: no answer (a replica
        that lost the lease under the request, the store away: the caller sends again)."""
        if answer.status_code == 202:  # recorded; the outcome is for later
            return {"report": {"status": "in_progress", "told": answer.json().get("status")}}
        if answer.status_code == 200:
            return {"report": answer.json()}
        if answer.status_code in (409, 502, 503, 504) and "lease" in answer.text:
            return None
        if answer.status_code >= 500:
            return None
        return {"report": {"status": f"http_{answer.status_code}", "detail": answer.text[:300]}}

    def drain(self) -> None:
        wait(self.futures)
        for future in self.futures:
            future.result()  # a bug in _post is the soak's own failure: raise it
        self.futures = []

    def statuses(self, keys: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for key in keys:
            record = self.store.get_signal_by_key(key)
            out[key] = None if record is None else record.status
        return out

    def settle(self, keys: list[str]) -> None:
        """Until every key is recorded and terminal and no kill or stop is pending; keys that
        never reached the store are sent again (to a serving replica)."""
        deadline = time.monotonic() + BATCH_DEADLINE_S
        last_resend = time.monotonic()
        while True:
            self.advance()
            statuses = self.statuses(keys)
            if self.pending is None and all(s in TERMINAL_NAMES for s in statuses.values()):
                return
            if time.monotonic() - last_resend > 5 and self.pending is None:
                for key in [k for k, s in statuses.items() if s is None]:
                    self.counts["redeliveries"] += 1
                    self.deliver(key, copies=1)
                last_resend = time.monotonic()
            if time.monotonic() > deadline:
                waiting = {k: s for k, s in statuses.items() if s not in TERMINAL_NAMES}
                self.midrun.append(Violation("g_stuck", "-", None, f"never ended: {waiting}"))
                return
            time.sleep(0.1)

    # ------------------------------------------------------------------ the run
    def run(self) -> ReplicaSoakResult:
        begun = time.monotonic()
        cfg = self.config
        with self.sim:
            try:
                self.start_cluster()
                sizes = [min(cfg.batch, cfg.signals - s) for s in range(0, cfg.signals, cfg.batch)]
                plan = ["kill"] * cfg.kills + ["stop"] * cfg.stops
                chosen = self.rng.sample(range(1, len(sizes)), min(len(plan), len(sizes) - 1))
                events = dict(zip(sorted(chosen), plan, strict=False))
                for index, size in enumerate(sizes):
                    self.batch(index, size, events.get(index))
                self.finish()
            finally:
                for replica in self.replicas:
                    replica.stop()
                self.pool.shutdown(wait=True)
            self.final_reconcile()
            self.result.verdict = self.check()
        self.http.close()
        self.store.close()
        self.result.elapsed_s = time.monotonic() - begun
        return self.result

    def batch(self, index: int, size: int, event: str | None) -> None:
        marks = self.move_prices() if index else dict(self.prices.marks)
        positions = self.positions()
        keys = []
        for _ in range(size):
            data = self.maker.make(marks, positions)
            key = data["idempotency_key"]
            self.signals[key], self.doors[key] = data, self.door_for(data)
            keys.append(key)
        self.counts["signals"] += size
        self.counts["batches"] += 1
        for position, key in enumerate(keys):
            if event is not None and position == size // 2:
                time.sleep(self.rng.uniform(0, 0.3))  # land while the owner is at work
                self.disrupt(event)
            self.deliver(key)
        self.drain()
        self.settle(keys)
        self.check_protection_midrun(index)

    def finish(self) -> None:
        """Every signal ended; then each key sent once more (its caller's final answer),
        again while a key's last answer is missing or provisional (a few rounds)."""
        self.settle(list(self.signals))
        waiting = list(self.signals)
        for _ in range(5):
            for key in waiting:
                self.counts["repolls"] += 1
                door = self.doors[key]
                self.doors[key] = "rest_wait" if door == "rest" else door
                self.deliver(key, copies=1)
                self.doors[key] = door
            self.drain()
            waiting = [k for k in self.signals if self._last_told(k) in (None, "in_progress")]
            if not waiting:
                return

    def _last_told(self, key: str) -> str | None:
        lines = self.answers.get(key)
        return str(lines[-1]["report"].get("status")) if lines else None

    def final_reconcile(self) -> None:
        """The replicas are stopped (their leases given up): one process reconciles each
        account, as after any shutdown, so the store is compared with a settled venue."""

        async def main() -> None:
            with warnings.catch_warnings():  # the soak's own keys, written in its config
                warnings.simplefilter("ignore", SecretInConfigWarning)
                config = load_config(self.replicas[0].config)
            service = TradingService(config)
            try:
                for account in ACCOUNTS:
                    report = await service.reconcile(account.name)
                    if report.failures:
                        detail = "; ".join(report.failures)
                        self.midrun.append(
                            Violation("g_reconcile_failed", account.name, None, detail)
                        )
            finally:
                await service.stop()

        asyncio.run(main())

    # ------------------------------------------------------------------- checks
    def check_protection_midrun(self, batch: int) -> None:
        for venue in self.venues():
            for _ in range(20):  # the engines move under us (a reconcile): read again
                try:
                    lines = unprotected(self.store, venue)
                    break
                except RuntimeError:
                    time.sleep(0.05)
            short = {(venue.name, line.split()[0]) for line in lines}
            for line in lines:
                if (venue.name, line.split()[0]) not in self.unprotected_since:
                    detail = f"after batch {batch}: {line}"
                    self.midrun.append(Violation("e_unprotected_midrun", venue.name, None, detail))
            self.unprotected_since = {
                k for k in self.unprotected_since if k[0] != venue.name
            } | short

    def check(self) -> Verdict:
        delivered = {k: str(v["account"]) for k, v in self.signals.items()}
        verdict = check_soak(self.store, self.venues(), delivered, self.answers)
        verdict.violations.extend(self.midrun)
        taken = self.store.events(None, WATCHED, kind="lease_taken", limit=10_000)
        check_fencing(self.result, verdict, self.sim.simulator.log.entries, taken, WATCHED)
        for account, key, answer in self.result.internal_errors:  # never a 500, whatever
            verdict.add("i_internal_error", account, key, answer)
        for event in self.store.events(None, None, kind="takeover_complete", limit=10_000):
            self.result.takeovers_s.append(float(event.data["seconds"]))
            self.result.reconciles_s.append(float(event.data.get("reconcile_s") or 0))
        return verdict


def run_replica_soak(config: ReplicaSoakConfig, workdir: Path, store_url: str) -> ReplicaSoakResult:
    workdir.mkdir(parents=True, exist_ok=True)
    return ReplicaDriver(config, workdir, store_url).run()


__all__ = ["ReplicaSoakConfig", "ReplicaSoakResult", "run_replica_soak"]
