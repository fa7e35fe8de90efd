"""Several service replicas on PostgreSQL (issue 14): how many alerts per second they
acknowledge and execute, and how long an account goes without an owner after a SIGKILL.

    python bench/replicas.py [--alerts 120] [--concurrency 16] [--kills 3] [--json]

For each setup - one ``tradeexec serve`` on SQLite, then 1, 2 and 3 ``serve --replica-id``
processes on one PostgreSQL database (a throwaway server started here) - against the
simulator in its own process, with two accounts (Binance USD-M, Hyperliquid):

- first, untimed, one alert per account through every process (connections and markets
  ready); then ``--alerts`` TradingView alerts (market entries with a stop, alternating buy
  and sell so positions stay small), ``--concurrency`` at a time, round-robin over them.
  **acknowledged/s**: alerts over the wall time until the last 202; **ack p50 / p99**: each
  request's time to its answer; **executed/s**: alerts over the time from the first request
  until the last signal reached a terminal status in the store (polled every 20 ms).
- with 3 replicas, afterwards: ``--kills`` times, SIGKILL the replica holding the Binance
  account's lease and restart it once another holds it. **to new holder**: SIGKILL to the
  store showing another replica's running lease (polled every 20 ms); **takeover**: the new
  owner's ``takeover_complete`` event, from the dead owner's last renewal to the new owner's
  first successful reconcile (what ``tradeexec_takeover_seconds`` observes).

Every replica takes each free lease it finds, so the first one up holds both accounts and
executes every signal; the others record and hand over. Execution is per account and
serial, so more replicas add intake capacity and availability, not execution speed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _benchlib as lib
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from reliability.replica_soak_cluster import (
    TV_SECRET,
    ReplicaProcess,
    write_config,
)
from tradeexec.signal_state import TERMINAL
from tradeexec.store.repository import Store
from tradeexec.testing.postgres import PostgresServer

TTL_S = 2.0
SETUPS = (("sqlite", 1), ("postgresql", 1), ("postgresql", 2), ("postgresql", 3))
ENDED = frozenset(s.value for s in TERMINAL)
SYMBOLS = {"bn": ("BTC/USDT", "64000"), "hl": ("BTC/USDC", "64000")}


def alert(n: int, run: str) -> dict[str, Any]:
    account = "bn" if n % 2 else "hl"
    symbol, stop = SYMBOLS[account]
    side = "buy" if (n // 2) % 2 == 0 else "sell"
    return {
        "passphrase": TV_SECRET, "idempotency_key": f"bench-{run}-{n}", "account": account,
        "ticker": symbol, "action": side, "contracts": "0.002", "confidence": 0.9,
        "stop_loss": stop if side == "buy" else "71000",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }  # fmt: skip


class Setup:
    """One store and its serve processes, against the shared simulator."""

    def __init__(
        self, sim: lib.SimProcess, engine: str, replicas: int, workdir: Path, url: str
    ) -> None:
        self.engine, self.url, self.workdir = engine, url, workdir
        self.store = Store.from_url(url)
        credentials = {
            "bn": sim.create_account("binance", 1_000_000),
            "hl": sim.create_account("hyperliquid", 1_000_000),
        }
        self.processes = []
        for index in range(1, replicas + 1):
            config = write_config(
                workdir / f"replica-{index}.yaml", index=index, sim_url=sim.base_url,
                credentials=credentials, store_url=url, workdir=workdir,
            )  # fmt: skip
            self.processes.append(
                ReplicaProcess(
                    index,
                    config,
                    workdir,
                    ttl_s=TTL_S,
                    reconcile_s=5.0,
                    replica=engine == "postgresql",
                )
            )

    def __enter__(self) -> Setup:
        for process in self.processes:
            process.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        for process in self.processes:
            process.stop()
        self.store.close()

    def holder(self, account: str) -> str | None:
        lease = self.store.get_lease(account)
        if lease is None or lease.expires_at <= self.store.database_time():
            return None
        return lease.holder

    def warm_up(self, run: str) -> None:
        """One alert per account through every process, untimed: connections, markets and
        the leases in place, as in a service that has been up for a while."""
        keys = []
        with httpx.Client(timeout=60) as client:
            for n, process in enumerate(self.processes):
                for account in (0, 1):
                    data = alert(2 * n + account, f"warm-{run}")
                    client.post(f"{process.base_url}/webhooks/tradingview", json=data)
                    keys.append(data["idempotency_key"])
        self.wait_ended(keys)

    def wait_ended(self, keys: list[str]) -> list[str | None]:
        deadline = time.monotonic() + 600  # a bound on a hang, not a measurement
        while True:
            statuses = [getattr(self.store.get_signal_by_key(k), "status", None) for k in keys]
            if all(s in ENDED for s in statuses) or time.monotonic() > deadline:
                return statuses
            time.sleep(0.02)

    def load(self, alerts: int, concurrency: int, run: str) -> dict[str, Any]:
        self.warm_up(run)
        acks: list[float] = []
        lock = threading.Lock()
        urls = [f"{p.base_url}/webhooks/tradingview" for p in self.processes]
        client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=concurrency))

        def post(n: int) -> None:
            started = time.perf_counter()
            answer = client.post(urls[n % len(urls)], json=alert(n, run))
            seconds = time.perf_counter() - started
            answer.raise_for_status()
            with lock:
                acks.append(seconds)

        begun = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(post, range(alerts)))
        acked = time.perf_counter() - begun
        statuses = self.wait_ended([f"bench-{run}-{n}" for n in range(alerts)])
        executed = time.perf_counter() - begun
        client.close()
        counts: dict[str, int] = {}
        for status in statuses:
            counts[str(status)] = counts.get(str(status), 0) + 1
        return {
            "store": self.engine,
            "replicas": len(self.processes),
            "alerts": alerts,
            "concurrency": concurrency,
            "acknowledged_per_s": round(alerts / acked, 1),
            "executed_per_s": round(alerts / executed, 1),
            "ack_ms": {k: lib.ms(v) for k, v in lib.summarize(acks).items() if k != "n"},
            "statuses": counts,
            "holders": {a: self.holder(a) for a in ("bn", "hl")},
        }

    def kills(self, count: int) -> dict[str, Any]:
        to_holder: list[float] = []
        for _ in range(count):
            owner = self.holder("bn")
            assert owner is not None, "nobody holds the Binance account"
            victim = next(p for p in self.processes if p.replica_id == owner)
            killed = time.perf_counter()
            victim.kill()
            deadline = time.monotonic() + 120
            while self.holder("bn") in (None, owner) and time.monotonic() < deadline:
                time.sleep(0.02)
            to_holder.append(time.perf_counter() - killed)
            victim.start()
            time.sleep(TTL_S)  # let the new owner's first reconcile finish before the next
        events = self.store.events(None, "bn", kind="takeover_complete", limit=1000)
        takeovers = [float(e.data["seconds"]) for e in events]
        return {
            "kills": count,
            "to_new_holder_s": [round(s, 2) for s in to_holder],
            "takeover_s": [round(s, 2) for s in takeovers],
            "lease_ttl_s": TTL_S,
        }


def run(args: argparse.Namespace) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    takeover: dict[str, Any] = {}
    root = Path(tempfile.mkdtemp(prefix="tradeexec-bench-replicas-"))
    with lib.SimProcess() as sim, PostgresServer() as pg:
        for engine, replicas in SETUPS:
            name = f"{engine}-{replicas}"
            workdir = root / name
            (workdir / "home").mkdir(parents=True)
            if engine == "sqlite":
                url = f"sqlite:///{workdir / 'bench.db'}"
            else:
                url = pg.new_store_database(name.replace("-", "_"))[1]
            print(f"running: {name}", file=sys.stderr, flush=True)
            with Setup(sim, engine, replicas, workdir, url) as setup:
                rows.append(setup.load(args.alerts, args.concurrency, name))
                if engine == "postgresql" and replicas == 3 and args.kills:
                    takeover = setup.kills(args.kills)
    return {"rows": rows, "takeover": takeover, "machine": lib.machine_facts()}


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| store | replicas | alerts (concurrent) | acknowledged/s | ack p50 | ack p99 "
        "| executed/s | ended | first holder (bn, hl) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        ended = ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items()))
        holders = ", ".join(str(h or "-") for h in r["holders"].values())
        lines.append(
            f"| {r['store']} | {r['replicas']} | {r['alerts']} ({r['concurrency']}) "
            f"| {r['acknowledged_per_s']} | {r['ack_ms']['median']} ms | {r['ack_ms']['p99']} ms "
            f"| {r['executed_per_s']} | {ended} | {holders} |"
        )
    t = results.get("takeover") or {}
    if t.get("to_new_holder_s"):
        held, took = t["to_new_holder_s"], t["takeover_s"] or [float("nan")]
        lines += [
            "",
            f"Takeover after SIGKILL of the Binance account's owner (3 replicas, lease "
            f"{t['lease_ttl_s']} s, {t['kills']} kills): another replica holds the lease "
            f"p50 {statistics.median(held):.2f} s / max {max(held):.2f} s after the kill; "
            f"from the dead owner's last renewal to the new owner's first successful "
            f"reconcile p50 {statistics.median(took):.2f} s / max {max(took):.2f} s.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=120)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    results = run(args)
    print(json.dumps(results, indent=1) if args.json else markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
