"""Run every benchmark, each in its own process, and rewrite BENCHMARKS.md with the results.

    python bench/run_all.py [--out BENCHMARKS.md] [--quick]

Each benchmark runs as ``python bench/<name>.py --json ...``; that exact command is written
above its section, so any section can be reproduced alone. ``--quick`` uses tiny counts
(a smoke run; its numbers mean nothing). When the order path misses its target, a profiling
pass (``order_path.py --profile-only``) says where the time goes.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _benchlib as lib
import order_path
import ready
import replicas
import service
import service_ablation
import startup
import throughput

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# One process per benchmark, each kept under about a minute on a 2-core machine; the order
# path runs one process per venue so each gets its minute.
FULL = {
    "startup": ("startup", ["--runs", "10", "--uncached-runs", "2"]),
    "ready": ("ready", ["--runs", "20"]),
    "order_path_binance": ("order_path", ["--venue", "binance", "--iterations", "150"]),
    "order_path_hyperliquid": ("order_path", ["--venue", "hyperliquid", "--iterations", "150"]),
    "profile": ("order_path", ["--profile-only", "--profile-iterations", "30"]),
    "throughput": ("throughput", ["--signals", "96", "--accounts", "4"]),
    "service": ("service", []),
    "service_ablation": ("service_ablation", []),
    "replicas": ("replicas", ["--alerts", "120", "--concurrency", "16", "--kills", "3"], 900),
}
_QUICK_SERVICE = ["--rate", "50", "--seconds", "1", "--ramp", "100", "--step-seconds", "1",
                  "--isolation-signals", "3", "--ready-runs", "1"]  # fmt: skip
QUICK = {
    "startup": ("startup", ["--runs", "1", "--uncached-runs", "1"]),
    "ready": ("ready", ["--runs", "1"]),
    "order_path_binance": ("order_path", ["--venue", "binance", "--iterations", "2"]),
    "order_path_hyperliquid": ("order_path", ["--venue", "hyperliquid", "--iterations", "2"]),
    "profile": ("order_path", ["--profile-only", "--profile-iterations", "2"]),
    "throughput": ("throughput", ["--signals", "8", "--accounts", "2", "--warmup", "1"]),
    "service": (
        "service",
        _QUICK_SERVICE,
    ),
    "service_ablation": ("service_ablation", ["--rate", "50", "--seconds", "1"]),
    "replicas": ("replicas", ["--alerts", "6", "--concurrency", "2", "--kills", "1"], 600),
}
for _plan, _n in ((FULL, "100"), (QUICK, "2")):  # the same with 5 ms on every venue request
    for _v in ("binance", "hyperliquid"):
        _plan[f"order_path_{_v}_5ms"] = (
            "order_path",
            ["--venue", _v, "--iterations", _n, "--latency-ms", "5"],
        )
ORDER_PATH = (
    "order_path_binance",
    "order_path_hyperliquid",
    "order_path_binance_5ms",
    "order_path_hyperliquid_5ms",
)


def _mutation_line() -> str:
    """The score line of MUTATION.md (`make mutate`), if it has been run."""
    path = ROOT / "MUTATION.md"
    if not path.exists():
        return "not run yet (`make mutate`)"
    found = [line for line in path.read_text().splitlines() if line.startswith("**Score")]
    return found[0].strip("*") if found else "see MUTATION.md"


def _run(script: str, args: list[str], timeout_s: float = 300) -> dict[str, Any]:
    argv = [sys.executable, str(BENCH / f"{script}.py"), "--json", *args]
    shown = " ".join(["python", f"bench/{script}.py", "--json", *map(shlex.quote, args)])
    print(f"running: {shown}", file=sys.stderr, flush=True)
    load_before = lib.machine_facts()["loadavg"]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{shown} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return {
        "command": shown,
        "elapsed_s": round(elapsed, 1),
        "load_before": load_before,
        "load_after": lib.machine_facts()["loadavg"],
        "results": json.loads(proc.stdout),
    }


def _ran(section: dict[str, Any]) -> str:
    return (
        f"Command: `{section['command']}` (took {section['elapsed_s']} s; load average "
        f"{section['load_before'][0]} before, {section['load_after'][0]} after)."
    )


def _store_summary(venue: str, p: dict[str, Any]) -> str:
    """One generated paragraph: how much of a signal is the store, and of what kind."""
    store = [s for s in p["spans"] if s["span"].startswith("store: ") and s["awaited_ms"]]

    def total(spans: list[dict[str, Any]], key: str) -> float:
        return float(sum(s[key] or 0 for s in spans))

    durable = [s for s in store if "batch[durable]" in s["span"]]
    relaxed = [s for s in store if s not in durable]
    awaited, wall = total(store, "awaited_ms"), total(store, "thread_wall_ms")
    dw, dc = total(durable, "thread_wall_ms"), total(durable, "thread_cpu_ms")
    rw, rc = total(relaxed, "thread_wall_ms"), total(relaxed, "thread_cpu_ms")
    facts = next((s for s in p["spans"] if s["span"].startswith("store: risk facts")), None)
    te_facts = next((s for s in p["spans"] if s["span"].startswith("facts: ")), None)
    raw_facts = next((s for s in p["raw_spans"] if s["span"].startswith("facts: ")), None)
    text = (
        f"**{venue}**: {total(store, 'calls_per_signal'):g} jobs per signal on the store's "
        f"writer thread, awaited {awaited:.1f} ms in total (raw ccxt has none). "
        f"{total(durable, 'calls_per_signal'):g} durable commits (the order intents, "
        f"fsync'd before the orders are sent) took {dw:.1f} ms wall in the thread, of which "
        f"{dc:.1f} ms CPU: {dw - dc:.1f} ms waiting on the disk (or the GIL); the "
        f"{total(relaxed, 'calls_per_signal'):g} relaxed ones (no fsync) {rw:.1f} ms wall, "
        f"{rc:.1f} ms CPU; {awaited - wall:.1f} ms went to queueing and handing the jobs to "
        f"the thread and back."
    )
    if facts and te_facts and raw_facts:
        text += (
            f" The risk facts read from the store (trading state, order count of the last "
            f"minute, today's PnL) took {facts['thread_wall_ms']:.1f} ms wall / "
            f"{facts['thread_cpu_ms']:.1f} ms CPU in a thread while the venue reads ran; the "
            f"facts step took {te_facts['awaited_ms']:.1f} ms against raw ccxt's "
            f"{raw_facts['awaited_ms']:.1f} ms for the same concurrent venue reads."
        )
    text += (
        f" Client CPU per signal: tradeexec {p['tradeexec_cpu_p50_ms']:.1f} ms, raw ccxt "
        f"{p['raw_cpu_p50_ms']:.1f} ms."
    )
    return text


def _ready_notes(rows: list[dict[str, Any]]) -> list[str]:
    notes = []
    for r in rows:
        counts: dict[str, int] = {}
        for q in r["requests"]:
            counts[q] = counts.get(q, 0) + 1
        repeated = ", ".join(f"`{q}` x{n}" for q, n in counts.items() if n > 1)
        if repeated:
            notes.append(f"- {r['venue']}, {r['variant']}: the same request twice: {repeated}.")
    return notes


def _repeated_reads(rows: list[dict[str, Any]]) -> list[str]:
    notes = []
    for r in rows:
        reqs = r["requests"].get("tradeexec", [])
        writes = ("POST /fapi/v1/order", "POST /fapi/v1/algo", "POST /exchange")
        seen: dict[str, int] = {}
        for q in reqs:
            if not q.startswith(writes):
                seen[q] = seen.get(q, 0) + 1
        repeated = {q: n for q, n in seen.items() if n > 1}
        if repeated:
            listed = ", ".join(f"`{q}` x{n}" for q, n in repeated.items())
            notes.append(
                f"- {r['venue']}: tradeexec repeats reads within one signal: {listed} "
                "(the raw side repeats them too, to make the same calls; a hand-written "
                "client would not need to)."
            )
    return notes


def _service_section(sv: dict[str, Any], ablation: dict[str, Any] | None = None) -> list[str]:
    """Section 4: the service through real uvicorn (bench/service.py's docstring says how),
    and, when an acknowledgement target is missed, where its time goes."""
    extra: list[str] = []
    if ablation is not None:
        extra = [
            "",
            "### 4a. Where the acknowledgement's time goes",
            "",
            _ran(ablation),
            "",
            "The same alerts against three builds of the serve process: as shipped, with "
            "accepted signals not executed (the acknowledgement path alone, with its fsync'd "
            "record), and not even recorded (HTTP, FastAPI, parsing, the answer). See "
            "`bench/service_ablation.py`.",
            "",
            service_ablation.markdown(ablation["results"]),
        ]
    return [
        "## 4. The service: webhook acknowledgement, saturation, isolation, /ready, memory",
        "",
        _ran(sv),
        "",
        "`tradeexec serve` as a child process (SQLite store, bytecode and market caches warm), "
        "the simulator in another; open-loop alerts (latency counted from each alert's due "
        "time) from a raw keep-alive HTTP client sharing the machine. Webhook alerts are paper "
        "market buys, executed in the background while the next are acknowledged; lost and "
        "duplicated are read from the store afterwards. See `bench/service.py`.",
        "",
        "| target | result | met |",
        "|---|---|---|",
        *service.summary_rows(sv["results"]),
        "",
        service.markdown(sv["results"]),
        *extra,
    ]


def render(facts: dict[str, Any], sections: dict[str, dict[str, Any]], quick: bool) -> str:
    su, rd = sections["startup"], sections["ready"]
    ops = [sections[k] for k in ORDER_PATH if k in sections]
    t = su["results"]["target"]
    rows = [row for op in ops for row in op["results"]["rows"]]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`.venv/bin/python bench/run_all.py`); do not edit by hand, "
        "re-run it. Each section names the exact command that produced it.",
        "",
    ]
    if quick:
        lines += ["> **Smoke run (`--quick`): tiny counts, the numbers mean nothing.**", ""]
    lines += [
        "## Machine",
        "",
        "| fact | value |",
        "|---|---|",
        f"| date | {facts['date']} |",
        f"| cores (nproc) | {facts['nproc']} |",
        f"| Python | {facts['implementation']} {facts['python']} |",
        f"| ccxt | {facts['ccxt']} |",
        f"| platform | {facts['platform']} |",
        f"| load average at start (1, 5, 15 min) | {', '.join(map(str, facts['loadavg']))} |",
        f"| PYTHONDONTWRITEBYTECODE in the environment "
        f"| {facts['PYTHONDONTWRITEBYTECODE'] or 'unset'} |",
        "",
        "The load average is printed per section: the machine is shared, and wall times on a "
        "2-core machine under load are inflated; CPU times (also given) are steadier.",
        "",
        "## Summary",
        "",
        "| target | result | met |",
        "|---|---|---|",
        f"| `tradeexec --help` <= 0.3 s (median wall, cached bytecode) "
        f"| {t['help_wall_median_s']:.3f} s | {'yes' if t['help_le_0_3_s'] else '**no**'} |",
        f"| `tradeexec --help` <= 8x a bare `python -c pass` (same run) "
        f"| {t['help_over_bare_python']:.1f}x ({t['bare_python_median_s']:.3f} s) "
        f"| {'yes' if t['help_le_8x_bare'] else '**no**'} |",
        f"| `tradeexec --help` imports none of ccxt, rich, SQLAlchemy | "
        f"{', '.join(t['help_heavy_loaded']) or 'none imported'} "
        f"| {'yes' if not t['help_heavy_loaded'] else '**no**'} |",
        f"| `import tradeexec` does not import ccxt | "
        f"{'not imported' if not t['import_imports_ccxt'] else 'imported'} "
        f"| {'yes' if not t['import_imports_ccxt'] else '**no**'} |",
    ]
    for r in rows:
        if "ratio_p50" in r:
            lines.append(
                f"| order path, {r['venue']}{r.get('label', '')}: tradeexec / raw ccxt at "
                f"p50 <= {r['target']}x | {r['ratio_p50']:.2f}x "
                f"({r['tradeexec']['p50_ms']:.1f} vs {r['raw ccxt']['p50_ms']:.1f} ms) "
                f"| {'yes' if r['target_met'] else '**no**'} |"
            )
    if "throughput" in sections:
        for r in sections["throughput"]["results"]["rows"]:
            raw = r.get("raw_serial")
            beside = f"; raw ccxt {raw['per_s']:g}/s" if raw else ""
            lines.append(
                f"| throughput, {r['venue']}: signals/s through TradingService >= "
                f"{r['target']:g} | {r['best_per_s']:g}/s (one at a time "
                f"{r['tradeexec_serial']['per_s']:g}/s{beside}) "
                f"| {'yes' if r['target_met'] else '**no**'} |"
            )
    if "service" in sections:  # section 4's targets, in the same table
        lines += service.summary_rows(sections["service"]["results"])
    lines += [
        "",
        f"Mutation score of the order path ([MUTATION.md](MUTATION.md), `make mutate`): "
        f"{_mutation_line()}",
        "",
        "## 1. Start-up: `tradeexec --help`, `import tradeexec`, `import ccxt.async_support`",
        "",
        _ran(su),
        "",
        "Each run is a fresh process reaped with `os.wait4` (its own rusage: CPU and peak RSS). "
        "`cached`: bytecode cache in a temp `PYTHONPYCACHEPREFIX`, warmed first (an ordinary "
        "install). `uncached`: nothing cached, every module compiled from source on each run "
        "(this sandbox's venv has no `.pyc` files and sets `PYTHONDONTWRITEBYTECODE=1`).",
        "",
        startup.markdown(su["results"]),
        "",
        "## 2. Time to a ready trader (construct + `connect()`, markets included)",
        "",
        _ran(rd),
        "",
        "Against the simulator in a separate process. `cold cache`: the market cache is an "
        "empty temp dir; `warm cache`: it already holds the markets. Raw ccxt is "
        "`ccxt.<id>(...)` + `load_markets()` with the same requests (Binance: no `sapi` "
        "currency calls; Hyperliquid: no referrer or builder-fee approval, which ccxt "
        "otherwise sends). The `import ccxt.async_support` cost (section 1) is paid once "
        "before and is not in these numbers. The first request of any ccxt instance also "
        "builds aiohttp's session and an SSL context (loading the CA bundle) even for an "
        "`http://` URL: both sides pay it.",
        "",
        ready.markdown(rd["results"]),
        "",
        *_ready_notes(rd["results"]["rows"]),
        "",
        "## 3. Order path: signal to entry + stop-loss + take-profit",
        "",
        *[f"- {_ran(op)}" for op in ops],
        "",
        "tradeexec: `TradingService.submit_signal` (gate, facts, sizing, risk checks, SQLite "
        "store in a temp dir written before and after every order, entry, stop, target) with "
        "a fresh idempotency key each time. Raw ccxt: tradeexec's own ccxt calls, recorded "
        "from one signal and replayed on a plain ccxt instance (same methods and arguments, "
        "fresh client order ids, concurrent where tradeexec's were); no store, no checks. "
        "The request lists below are read from the simulator's request log and compared. "
        "A and B alternate (ABBA) on separate simulator accounts; every 4 signals, untimed, "
        "each side cancels its stops and targets and "
        "closes its position (Binance allows 10 open conditional orders per symbol). "
        "The simulator runs in a separate process. Client CPU is `time.process_time()` of "
        "the benchmark process (all its threads) per signal.",
        "",
        order_path.markdown({"rows": rows}),
    ]
    notes = _repeated_reads(rows)
    if notes:
        lines += ["", *notes]
    if "throughput" in sections:
        tp = sections["throughput"]
        lines += [
            "",
            "### 3b. Throughput: signals per second through one `TradingService`",
            "",
            _ran(tp),
            "",
            "The same bracketed signal as above (entry, stop, target; a fresh key each), in "
            "rounds of 4 per account, timed; between rounds, untimed, each account closes its "
            "position and its legs. `one at a time`: one account, one signal after another. "
            "`one in flight per account`: several accounts of the venue, one signal in flight "
            "on each (one account's signals run one at a time: the pipeline's account lock); "
            "their durable commits queued together share one disk sync (group commit). Raw "
            "ccxt replays tradeexec's recorded ccxt calls on as many accounts of its own. The "
            "paper venue is tradeexec's own (no raw ccxt side).",
            "",
            throughput.markdown(tp["results"]),
        ]
    if "profile" in sections:
        pf = sections["profile"]
        lines += [
            "",
            "### 3a. Where the time goes",
            "",
            _ran(pf),
            "",
            "A separate pass, not part of the numbers above: every job the store's writer "
            "thread runs (each named by its store calls and, for a write batch, whether its "
            "commit is durable), the risk gate's facts and the trader's exchange calls "
            "wrapped with timers, then a cProfile of the same path (main thread only; the "
            "store runs in its writer thread, measured by the spans instead).",
            "",
        ]
        for venue, p in pf["results"]["profiles"].items():
            lines += [_store_summary(venue, p), ""]
        lines.append(order_path.markdown_profile(pf["results"]["profiles"]))
    if "service" in sections:
        lines += ["", *_service_section(sections["service"], sections.get("service_ablation"))]
    if "replicas" in sections:
        rp = sections["replicas"]
        lines += [
            "",
            "## Replicas on PostgreSQL",
            "",
            _ran(rp),
            "",
            "TradingView alerts over HTTP to `tradeexec serve` processes (round-robin), one "
            "SQLite process and 1, 2 and 3 `serve --replica-id` replicas on one PostgreSQL "
            "server, all on this machine with the simulator in its own process; see "
            "`bench/replicas.py` for what each figure measures.",
            "",
            replicas.markdown(rp["results"]),
        ]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke run)")
    parser.add_argument("--always-profile", action="store_true")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    facts = lib.machine_facts()
    sections = {
        name: _run(*plan[name])
        for name in ("startup", "ready", *ORDER_PATH, "throughput", "service", "replicas")
    }
    rows = [row for name in ORDER_PATH for row in sections[name]["results"]["rows"]]
    if args.always_profile or not all(r.get("target_met") for r in rows):
        sections["profile"] = _run(*plan["profile"])
    met = sections["service"]["results"]["met"]
    if args.always_profile or not (met["ack_p99_ms"] and met["saturation_per_s"]):
        sections["service_ablation"] = _run(*plan["service_ablation"])
    args.out.write_text(render(facts, sections, args.quick))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
