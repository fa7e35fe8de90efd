"""bench/service.py still runs: tiny counts, checking the shape BENCHMARKS.md §4 is rendered
from and the facts that are not timings (every alert acknowledged, none lost or duplicated in
the store). No speed is asserted: timings on a shared machine are not a test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import run_all  # noqa: E402
import service  # noqa: E402

pytestmark = pytest.mark.slow


def test_the_service_benchmark_runs_and_checks_the_store() -> None:
    results = service.run(
        rate=40,
        seconds=1,
        ramp_rates=(60,),
        step_seconds=1,
        isolation_signals=3,
        ready_runs=1,
        hang_s=0.5,  # the shape, not the figure: a short hang keeps the suite quick
    )
    figures = results["figures"]
    ack = figures["ack"]
    assert ack["statuses"] == {202: 40}
    assert (ack["acknowledged"], ack["lost"], ack["duplicated"]) == (40, 0, 0)
    assert [s["statuses"] for s in figures["ramp"]] == [{202: 60}]
    assert figures["isolation"]["n"] == 3 and figures["isolation"]["calm_p99_ms"] > 0
    assert figures["ready_s"] > 0 and figures["rss_idle_mb"] > 0
    assert set(results["met"]) == set(service.TARGETS)
    section = run_all._service_section(
        {
            "command": "x",
            "elapsed_s": 1,
            "load_before": [0],
            "load_after": [0],
            "results": results,
        }
    )
    assert any(line.startswith("| webhook ack p99") for line in section)
