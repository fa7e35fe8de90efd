"""The benchmarks still run: each with tiny counts, checking the shape of its results.

Nothing here asserts a speed: timings on a shared machine are not a test. What is asserted
is that every benchmark produces the rows, counts and keys BENCHMARKS.md is rendered from,
that every order-path iteration succeeded on both sides, and that the raw ccxt side made the
same exchange requests as tradeexec.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import _benchlib as lib  # noqa: E402
import order_path  # noqa: E402
import ready  # noqa: E402
import run_all  # noqa: E402
import startup  # noqa: E402
import throughput  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim() -> Iterator[lib.SimProcess]:
    with lib.SimProcess() as process:
        assert process.base_url.startswith("http://127.0.0.1:")
        yield process


def test_percentiles_are_real_samples() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert lib.percentile(values, 50) == 3.0
    assert lib.percentile(values, 90) == 5.0
    assert lib.percentile(values, 1) == 1.0
    assert lib.median([1.0, 2.0, 3.0, 4.0]) == 2.5
    summary = lib.summarize(values)
    assert summary["n"] == 5 and summary["min"] == 1.0 and summary["max"] == 5.0


@pytest.fixture(scope="module")
def startup_results() -> dict[str, Any]:
    return startup.run(runs=1, uncached_runs=1, include_ccxt=False)


@pytest.fixture(scope="module")
def ready_results(sim: lib.SimProcess) -> dict[str, Any]:
    return ready.run(runs=2, sim=sim)


@pytest.fixture(scope="module")
def order_results(sim: lib.SimProcess) -> dict[str, Any]:
    return order_path.run(iterations=3, warmup=1, sim=sim)


@pytest.fixture(scope="module")
def profile_results(sim: lib.SimProcess) -> dict[str, Any]:
    return order_path.profile(iterations=1, warmup=1, sim=sim)


def test_startup_shape(startup_results: dict[str, Any]) -> None:
    results = startup_results
    rows = {(r["command"], r["mode"]): r for r in results["rows"]}
    commands = ("tradeexec --help", 'python -c "pass"', 'python -c "import tradeexec"')
    assert set(rows) == {(c, m) for c in commands for m in ("cached", "uncached")}
    for row in rows.values():
        assert row["n"] == 1
        assert row["wall_median_s"] > 0 and row["rss_median_mib"] > 0
    probes = results["probes"]
    assert set(probes) == set(commands)
    assert all(isinstance(p["ccxt_imported"], bool) for p in probes.values())
    assert {"help_wall_median_s", "help_le_0_3_s", "help_imports_ccxt"} <= set(results["target"])
    assert results["target"]["help_heavy_loaded"] == []  # no ccxt, rich nor SQLAlchemy
    assert results["help_imports"], "the importtime breakdown is empty"
    assert "tradeexec --help" in startup.markdown(results)


def test_ready_shape(ready_results: dict[str, Any]) -> None:
    results = ready_results
    assert not results["truncated"]
    rows = {(r["venue"], r["variant"]): r for r in results["rows"]}
    assert set(rows) == {(v, x) for v in ready.VENUES for x in ready.VARIANTS}
    for (_venue, variant), row in rows.items():
        assert row["n"] == 2
        assert 0 < row["min_ms"] <= row["median_ms"] <= row["max_ms"]
        if variant == "tradeexec cold cache":
            assert row["requests"], "a cold cache must download the markets"
    # the warm cache downloads no markets
    assert not any(
        "exchangeInfo" in q for q in rows[("binance", "tradeexec warm cache")]["requests"]
    )
    assert rows[("hyperliquid", "tradeexec warm cache")]["requests"] == []
    assert "warm cache" in ready.markdown(results)


def _check_order_rows(results: dict[str, Any], iterations: int) -> None:
    rows = {r["venue"]: r for r in results["rows"]}
    assert set(rows) == set(order_path.VENUES)
    for venue, row in rows.items():
        assert row["all_succeeded"], (venue, row["failures"])
        assert row["failures"] == []
        assert row["same_requests"], (venue, row["requests"])
        assert not row["truncated"]
        for side in ("tradeexec", "raw ccxt"):
            assert row[side]["n"] == iterations
            assert row[side]["p50_ms"] <= row[side]["p99_ms"]
        assert {"ratio_p50", "ratio_p99", "target_met", "cpu_ratio_p50"} <= set(row)
        entry_and_brackets = [
            q for q in row["requests"]["tradeexec"] if q.startswith(("POST /fapi/v1", "POST /ex"))
        ]
        assert len(entry_and_brackets) == 3  # entry, stop-loss, take-profit


def test_order_path_shape(order_results: dict[str, Any]) -> None:
    results = order_results
    _check_order_rows(results, 3)
    text = order_path.markdown(results)
    assert "tradeexec / raw at p50" in text


@pytest.fixture(scope="module")
def throughput_results(sim: lib.SimProcess) -> dict[str, Any]:
    return throughput.run(signals=4, accounts=1, warmup=1, sim=sim)


def test_throughput_shape(throughput_results: dict[str, Any]) -> None:
    rows = {r["venue"]: r for r in throughput_results["rows"]}
    assert set(rows) == set(throughput.VENUES)
    for venue, row in rows.items():
        for shape in ("tradeexec_serial", "tradeexec_concurrent"):
            assert row[shape]["failed"] == 0, (venue, shape)
            assert row[shape]["signals"] == 4 and row[shape]["per_s"] > 0
        if venue == "paper":  # tradeexec's own venue: no raw ccxt side
            assert "raw_serial" not in row
        else:
            assert row["raw_serial"]["failed"] == 0 and row["raw_serial"]["signals"] == 4
        assert isinstance(row["target_met"], bool)
    assert "one in flight per account" in throughput.markdown(throughput_results)


def test_order_path_profile_shape(profile_results: dict[str, Any]) -> None:
    profiles = profile_results
    assert set(profiles) == set(order_path.VENUES)
    for p in profiles.values():
        spans = {s["span"] for s in p["spans"]}
        # every writer-thread job is timed, each batch named by its steps and durability;
        # the signal's record rides on the fsync'd commit that holds the first intent
        recorded = [s for s in spans if "record_signal" in s]
        assert recorded and all(
            s.startswith("store: batch[durable](record_signal+") and "record_order_intent" in s
            for s in recorded
        ), recorded
        intents = [s for s in spans if "record_order_intent" in s]
        assert intents and all(s.startswith("store: batch[durable](") for s in intents)
        assert any(s.startswith("exchange: create_order") for s in spans)
        assert any(s["span"].startswith("facts: ") for s in p["raw_spans"])
        assert p["cprofile_top_tottime"]
    assert "in-thread CPU" in order_path.markdown_profile(profiles)


def test_run_all_renders(
    startup_results: dict[str, Any],
    ready_results: dict[str, Any],
    order_results: dict[str, Any],
    profile_results: dict[str, Any],
    throughput_results: dict[str, Any],
) -> None:
    """The report renders from real (tiny) results, without the subprocess plumbing."""
    sections: dict[str, dict[str, Any]] = {
        "startup": {"results": startup_results},
        "ready": {"results": ready_results},
        "order_path_binance": {"results": order_results},
        "profile": {"results": {"profiles": profile_results}},
        "throughput": {"results": throughput_results},
    }
    for section in sections.values():
        section.update(
            command="python bench/x.py", elapsed_s=0.1, load_before=[0.0] * 3, load_after=[0.0] * 3
        )
    text = run_all.render(lib.machine_facts(), sections, quick=True)
    headings = (
        "## Machine",
        "## Summary",
        "## 1. Start-up",
        "## 2. Time to a ready",
        "## 3. Order path",
        "### 3a. Where the time goes",
        "### 3b. Throughput",
    )
    for heading in headings:
        assert heading in text
    assert "python bench/x.py" in text
