"""Throughput: bracketed signals per second through one `TradingService`, per venue, with raw
ccxt sending the same orders beside it.

tradeexec: ``submit_signal(BUY 0.01 BTC, stop_loss, take_profit)`` (the order path of
``order_path.py``: gate, facts, sizing, risk checks, a SQLite store in a temp dir, entry,
stop, target), a fresh idempotency key each. Two shapes:

- ``serial``: one signal at a time on one account;
- ``concurrent``: ``--accounts`` accounts of the venue (4 by default), one signal in flight
  on each at once (signals of one account run one at a time: the pipeline's account lock).

Raw ccxt: the ccxt calls tradeexec made for one signal, recorded and replayed (as in
``order_path.py``) on plain ccxt instances, serial on one account and concurrent on as many
accounts. The paper venue has no raw ccxt side (it is tradeexec's own venue).

Signals run in rounds of ``ROUND`` (4) per account, timed; between rounds, untimed, each
account closes its position and cancels its legs (Binance allows 10 open conditional orders
per symbol). Signals per second = signals / the rounds' summed wall time; ``cpu_ms`` (JSON
only) is this process's CPU time per signal over the same rounds, all threads (the paper
venue runs wholly in it; for the others it is the client side), steadier than the rate on a
busy machine. The simulator runs in a separate process.

    python bench/throughput.py [--venue paper|binance|hyperliquid] [--signals 120]
        [--accounts 4] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import _benchlib as lib
import order_path as op

VENUES = ("paper", "binance", "hyperliquid")
SYMBOL = {"paper": "BTC/USDT:USDT", **op.SYMBOL}
ROUND = 4  # signals per account between two cleanups (op.CLEANUP_EVERY)
# issue 12's targets: signals/s through TradingService in one process
TARGETS = {"paper": 300.0, "binance": 100.0, "hyperliquid": 55.0}


def _config(sim: lib.SimProcess, venue: str, creds: list[dict[str, str]], tmp: Path) -> Any:
    from tradeexec.config import AccountConfig, AppConfig

    accounts = {}
    for i, cred in enumerate(creds):
        if venue == "paper":
            accounts[f"a{i}"] = AccountConfig(
                type="paper", venue="binance", starting_balance=Decimal(op.FUNDING), seed=i
            )
        elif venue == "binance":
            accounts[f"a{i}"] = AccountConfig(
                type="binance", api_key=cred["apiKey"], api_secret=cred["secret"],
                api_url=sim.base_url,
            )  # fmt: skip
        else:
            accounts[f"a{i}"] = AccountConfig(
                type="hyperliquid", wallet_address=cred["walletAddress"],
                private_key=cred["privateKey"], api_url=sim.base_url,
            )  # fmt: skip
    return AppConfig(
        accounts=accounts,
        store_url=f"sqlite:///{tmp / 'bench.db'}",
        market_cache_dir=str(tmp / "markets"),
        risk=op.bench_risk(),
    )


class Account:
    """One tradeexec account: signals through the service, legs priced around its mark."""

    def __init__(self, service: Any, name: str, venue: str, run_id: str) -> None:
        self.service, self.name, self.venue, self.run_id = service, name, venue, run_id
        self.count = 0
        self.stop, self.take = op.STOP, op.TAKE

    async def prepare(self) -> None:
        trader = await self.service.manager.get(self.name)
        mark = (await trader.fetch_ticker(SYMBOL[self.venue])).reference_price
        if mark is not None:  # the paper venue walks from its own price
            self.stop, self.take = (
                (mark * Decimal("0.9")).quantize(1),
                (mark * Decimal("1.1")).quantize(1),
            )

    async def signal(self) -> bool:
        from tradeexec.domain import OrderSide, SignalSource
        from tradeexec.execution.signals import Signal

        self.count += 1
        report = await self.service.submit_signal(
            Signal(
                symbol=SYMBOL[self.venue], source=SignalSource.API,
                idempotency_key=f"tp-{self.run_id}-{self.name}-{self.count}",
                created_at=datetime.now(UTC), account=self.name, side=OrderSide.BUY,
                quantity=op.QTY, stop_loss=self.stop, take_profit=self.take, confidence=0.9,
            )
        )  # fmt: skip
        return bool(report.status == "filled" and len(report.orders) == 3)

    async def cleanup(self) -> None:
        await self.service.close_position(SYMBOL[self.venue], account=self.name)


class RawAccount:
    """Raw ccxt replaying tradeexec's calls on its own simulator account."""

    def __init__(self, side: op.RawSide) -> None:
        self.side = side
        self.triggers: list[str] = []
        self.held = 0

    async def signal(self) -> bool:
        outcome = await self.side.signal()
        self.triggers += outcome["triggers"]
        self.held += 1
        return bool(outcome["ok"])

    async def cleanup(self) -> None:
        await op.cleanup(self.side.ex, self.side.venue, self.triggers, self.held)
        self.triggers, self.held = [], 0


async def _rate(lanes: list[Any], signals: int) -> dict[str, Any]:
    """``signals`` in all, spread over ``lanes`` (one signal in flight per lane)."""
    rounds = max(1, signals // (ROUND * len(lanes)))
    timed, cpu, failed = 0.0, 0.0, 0

    async def lane_round(lane: Any) -> int:
        return sum([not await lane.signal() for _ in range(ROUND)])

    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        failed += sum(await asyncio.gather(*(lane_round(lane) for lane in lanes)))
        timed += time.perf_counter() - t0
        cpu += time.process_time() - c0
        await asyncio.gather(*(lane.cleanup() for lane in lanes))
    done = rounds * ROUND * len(lanes)
    return {"signals": done, "seconds": round(timed, 3), "per_s": round(done / timed, 1),
            "cpu_ms": round(cpu / done * 1000, 2), "failed": failed}  # fmt: skip


@contextlib.asynccontextmanager
async def _setup(
    venue: str, accounts: int, sim_process: lib.SimProcess | None
) -> AsyncIterator[tuple[list[Account], list[RawAccount]]]:
    from ready import raw_exchange

    from tradeexec.service import TradingService

    with (
        lib.simulator(sim_process) as sim,
        tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp,
    ):
        sim.set_price("BTC", str(op.MARK))
        sim_venue = "binance" if venue == "paper" else venue
        creds = [sim.create_account(sim_venue, op.FUNDING) for _ in range(accounts)]
        service = TradingService(_config(sim, venue, creds, Path(tmp)))
        raws: list[Any] = []
        try:
            await service.start()
            run_id = secrets.token_hex(4)
            mine = [Account(service, f"a{i}", venue, run_id) for i in range(accounts)]
            for account in mine:
                await account.prepare()
            if venue != "paper":
                raw_creds = [sim.create_account(venue, op.FUNDING) for _ in range(accounts)]
                raws = [raw_exchange(venue, c, sim.base_url) for c in raw_creds]
                for ex in raws:
                    await ex.load_markets()
            yield mine, [RawAccount(op.RawSide(ex, venue)) for ex in raws]
        finally:
            for ex in raws:
                await ex.close()
            await service.stop()


async def _learn(first: Account, raws: list[RawAccount]) -> None:
    """Record one tradeexec signal's ccxt calls: the plan every raw account replays."""
    trader = await first.service.manager.get(first.name)
    with op.CallRecorder(trader.exchange) as recorder:
        if not await first.signal():
            raise RuntimeError("the signal to learn from failed")
    await first.cleanup()
    for raw in raws:
        raw.side.plan = recorder.stages()


async def _run(
    venue: str, signals: int, accounts: int, warmup: int, sim: lib.SimProcess | None
) -> dict[str, Any]:
    async with _setup(venue, accounts, sim) as (mine, raws):
        for account in mine:  # first-use costs (SQL compilation, connections) out
            for _ in range(warmup):
                await account.signal()
            await account.cleanup()
        if raws:
            await _learn(mine[0], raws)
            for raw in raws:
                for _ in range(warmup):
                    await raw.signal()
                await raw.cleanup()
        row: dict[str, Any] = {"venue": venue, "accounts": accounts, "target": TARGETS[venue]}
        row["tradeexec_serial"] = await _rate(mine[:1], signals)
        row["tradeexec_concurrent"] = await _rate(mine, signals)
        if raws:
            row["raw_serial"] = await _rate(raws[:1], signals)
            row["raw_concurrent"] = await _rate(raws, signals)
        best = max(row["tradeexec_serial"]["per_s"], row["tradeexec_concurrent"]["per_s"])
        row["best_per_s"] = best
        row["target_met"] = best >= TARGETS[venue]
        return row


def run(
    venues: tuple[str, ...] = VENUES,
    signals: int = 120,
    accounts: int = 4,
    warmup: int = 3,
    sim: lib.SimProcess | None = None,
) -> dict[str, Any]:
    rows = [asyncio.run(_run(v, signals, accounts, warmup, sim)) for v in venues]
    return {"rows": rows, "round": ROUND, "simulator": "separate process"}


def _cell(got: dict[str, Any] | None) -> str:
    if got is None:
        return "n/a"
    failed = f", {got['failed']} failed" if got["failed"] else ""
    return f"{got['per_s']:g}/s ({got['signals']} in {got['seconds']:g} s{failed})"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| venue | tradeexec, one at a time | tradeexec, one in flight per account "
        "| raw ccxt, one at a time | raw ccxt, one in flight per account | target | met |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['venue']} | {_cell(r['tradeexec_serial'])} "
            f"| {_cell(r['tradeexec_concurrent'])} ({r['accounts']} accounts) "
            f"| {_cell(r.get('raw_serial'))} | {_cell(r.get('raw_concurrent'))} "
            f"| >= {r['target']:g}/s | {'yes' if r['target_met'] else '**no**'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venue", choices=VENUES, action="append")
    parser.add_argument("--signals", type=int, default=120)
    parser.add_argument("--accounts", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = run(tuple(args.venue or VENUES), args.signals, args.accounts, args.warmup)
    print(json.dumps(results, indent=2) if args.json else markdown(results))


if __name__ == "__main__":
    main()
