"""Where the webhook's acknowledgement time goes (issue 12): the same open-loop alerts against
three builds of one ``tradeexec serve`` process, so the figures say which part sets the ceiling.

    python bench/service_ablation.py [--json] [--rate 800] [--seconds 3]

- ``as shipped``: record the signal (one fsync'd commit), answer 202, execute in the
  background (paper market buys, as in bench/service.py);
- ``executions off``: the same, but an accepted signal is not executed (the acknowledgement
  path alone, with its commit);
- ``record off``: nor is it recorded (HTTP, FastAPI, parsing, authentication, the answer).

The two ablations replace one method of the running process (`SignalIntake._background`,
then `SignalIntake._record`) before the CLI starts: a diagnosis, never a way to run the
service. Each variant gets a fresh store and process; the figures are acknowledged alerts/s
and the latency percentiles, as bench/service.py counts them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import _benchlib as lib
import service
from _httpload import Load

# run as `python -c SCRIPT VARIANT serve ...`: patch, then the real CLI
SCRIPT = """
import itertools, sys
variant = sys.argv.pop(1)
import tradeexec.execution.intake as intake
for name in ("_background", "_record"):  # renamed? then this diagnosis must say so, loudly
    assert hasattr(intake.SignalIntake, name), f"SignalIntake.{name} is gone: update the ablation"
if variant in ("executions off", "record off"):
    def _background(self, signal, signal_id, claim):
        claim.__exit__()
        return None
    intake.SignalIntake._background = _background
if variant == "record off":
    ids = itertools.count(1)
    async def _record(self, signal, **_):
        return next(ids), True
    intake.SignalIntake._record = _record
sys.argv[0] = "tradeexec"
from tradeexec.cli.main import app
app()
"""
VARIANTS = ("as shipped", "executions off", "record off")


async def _send(load: Load, rate: float, seconds: float) -> tuple[list[float], float]:
    try:
        return await load.at_rate(rate, seconds)
    finally:
        load.close()


def run(rate: float = 800, seconds: float = 3) -> dict[str, Any]:
    rows = []
    with lib.SimProcess() as sim:
        for variant in VARIANTS:
            with tempfile.TemporaryDirectory(prefix="bench-ablation-") as tmp:
                root = Path(tmp)
                config = service.write_config(root, sim)
                with service.serving(config, root) as first:  # warms the caches
                    first.wait_ready()
                serve = service.Serve(config, root, [sys.executable, "-c", SCRIPT, variant])
                try:
                    serve.wait_ready()
                    load = Load(serve.host, serve.port, service.TOKEN, service.SECRET, "a")
                    latencies, took = asyncio.run(_send(load, rate, seconds))
                finally:
                    serve.stop()
            acked = sum(n for s, n in load.statuses.items() if 200 <= s < 300)
            rows.append({"variant": variant, "offered_per_s": rate,
                         "acked_per_s": round(acked / took, 1),
                         "p50_ms": service._p(latencies, 50), "p99_ms": service._p(latencies, 99),
                         "statuses": load.statuses})  # fmt: skip
    return {"rows": rows}


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| build | offered/s | acknowledged/s | p50 | p99 |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['variant']} | {r['offered_per_s']:g} | {r['acked_per_s']:g} "
            f"| {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rate", type=float, default=800)
    parser.add_argument("--seconds", type=float, default=3)
    args = parser.parse_args()
    results = run(args.rate, args.seconds)
    print(json.dumps(results, indent=2) if args.json else markdown(results))


if __name__ == "__main__":
    main()
