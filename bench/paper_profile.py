"""Where a paper signal's time goes: the paper venue's own store work per bracketed signal.

The same serial signals as ``throughput.py`` (one paper account through `TradingService`,
rounds of 4, untimed cleanups), counted per signal: SQL statements on the paper tables and
the bytes of JSON they write, the venue's batches (trips to its worker thread) and the time
spent in them, and the process's CPU time. ``--venue-state memory`` is the ablation: the
account is restored from the store, then kept in memory only (the trader's store detached),
so the difference between the two runs is what persisting the paper venue costs.

    python bench/paper_profile.py [--signals 96] [--venue-state store|memory] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from typing import Any

import throughput as tp

PAPER_TABLES = ("paper_state", "paper_orders", "paper_fills")


async def _profile(signals: int, keep_store: bool) -> dict[str, Any]:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from tradeexec.exchanges.paper_sync import PaperSync

    counts: Counter[str] = Counter()

    def on_execute(_c: Any, _cur: Any, statement: str, params: Any, _x: Any, many: bool) -> None:
        if any(table in statement for table in PAPER_TABLES):
            counts["statements"] += 1
            rows = params if many else [params]
            counts["bytes"] += sum(
                len(v) for row in rows for v in _values(row) if isinstance(v, str | bytes)
            )

    timed_run = PaperSync._run

    def run(self: PaperSync, calls: list[Any]) -> None:
        t0 = time.perf_counter()
        try:
            timed_run(self, calls)
        finally:
            counts["batches"] += 1
            counts["batch_us"] += int((time.perf_counter() - t0) * 1e6)

    event.listen(Engine, "before_cursor_execute", on_execute)
    PaperSync._run = run  # type: ignore[method-assign]
    try:
        async with tp._setup("paper", 1, None) as (mine, _raws):
            account = mine[0]
            if not keep_store:
                trader = await account.service.manager.get(account.name)
                trader._sync.store = None  # restored from the store; in memory from here on
            for _ in range(tp.ROUND):  # first-use costs out
                await account.signal()
            await account.cleanup()
            done, wall, cpu, kept = 0, 0.0, 0.0, Counter[str]()
            while done < signals:
                counts.clear()
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(tp.ROUND):
                    if not await account.signal():
                        raise RuntimeError("a paper signal failed")
                wall += time.perf_counter() - t0
                cpu += time.process_time() - c0
                kept.update(counts)
                done += tp.ROUND
                await account.cleanup()
    finally:
        PaperSync._run = timed_run  # type: ignore[method-assign]
        event.remove(Engine, "before_cursor_execute", on_execute)
    return {
        "venue_state": "store" if keep_store else "memory",
        "signals": done,
        "per_s": round(done / wall, 1),
        "cpu_ms": round(cpu / done * 1000, 2),
        "paper_statements": round(kept["statements"] / done, 2),
        "paper_json_bytes": round(kept["bytes"] / done),
        "paper_batches": round(kept["batches"] / done, 2),
        "paper_batch_ms": round(kept["batch_us"] / done / 1000, 2),
    }


def _values(row: Any) -> list[Any]:
    if isinstance(row, dict):
        return list(row.values())
    return list(row) if isinstance(row, list | tuple) else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=96)
    parser.add_argument("--venue-state", choices=("store", "memory"), default="store")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(_profile(args.signals, args.venue_state == "store"))
    print(json.dumps(result, indent=2) if args.json else result)


if __name__ == "__main__":
    main()
