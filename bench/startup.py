"""Start-up cost: wall time, CPU time and peak RSS of short-lived processes.

Measured commands (each a fresh process, N runs, median and p90):

- ``tradeexec --help``                       the console script (target: <= 0.3 s, no ccxt)
- ``python -c "import tradeexec"``           the package itself
- ``python -c "import ccxt.async_support"``  the reference: what importing ccxt costs

Each process is reaped with ``os.wait4``, whose rusage is that one child's: its peak RSS
(``ru_maxrss``) and CPU time (user + sys). Wall time is measured around spawn + wait.

Two bytecode modes, both deterministic whatever is installed:

- ``cached``: ``PYTHONPYCACHEPREFIX`` = a temp dir, warmed by one untimed run. This is
  what an ordinary install sees from the second run on.
- ``uncached``: the same prefix mechanism pointed at an empty dir with
  ``PYTHONDONTWRITEBYTECODE=1``: every module is compiled from source on every run (first
  run after install, read-only site-packages, or this repo's sandbox, which sets
  ``PYTHONDONTWRITEBYTECODE=1`` and has no ``.pyc`` files in the venv).

A separate, untimed probe run of each command reports whether ``ccxt`` ended up in
``sys.modules`` (and a few other heavy packages), via an ``atexit`` hook.

    python bench/startup.py [--runs 10] [--uncached-runs 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _benchlib as lib

HEAVY = (
    "ccxt",
    "sqlalchemy",
    "pydantic",
    "uvicorn",
    "fastapi",
    "starlette",
    "aiohttp",
    "eth_account",
    "rich",
    "typer",
)


def tradeexec_cli() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m tradeexec``."""
    script = Path(sys.executable).parent / "tradeexec"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tradeexec"]


def commands() -> dict[str, dict[str, Any]]:
    """name -> the argv to time, and the Python source of an equivalent probe run."""
    return {
        "tradeexec --help": {
            "argv": [*tradeexec_cli(), "--help"],
            "probe": (
                "import sys\nsys.argv = ['tradeexec', '--help']\n"
                "from tradeexec.cli import main\nmain()\n"
            ),
        },
        'python -c "pass"': {  # the floor: the interpreter alone, in the same run
            "argv": [sys.executable, "-c", "pass"],
            "probe": "pass\n",
        },
        'python -c "import tradeexec"': {
            "argv": [sys.executable, "-c", "import tradeexec"],
            "probe": "import tradeexec\n",
        },
        'python -c "import ccxt.async_support"': {
            "argv": [sys.executable, "-c", "import ccxt.async_support"],
            "probe": "import ccxt.async_support\n",
        },
    }


def run_once(argv: list[str], env: dict[str, str], timeout_s: float = 60.0) -> dict[str, float]:
    """One process: wall seconds, CPU seconds (user+sys) and peak RSS in MiB."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = started + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            raise TimeoutError(f"{argv} did not finish in {timeout_s} s")
        time.sleep(0.0005)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} exited {proc.returncode}: {err[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,  # Linux reports KiB
    }


_PROBE_HOOK = (
    "import atexit as _a, json as _j, os as _o, sys as _s\n"
    "def _report():\n"
    "    mods = _s.modules\n"
    "    out = {'modules': len(mods), 'loaded': [m for m in HEAVY if m in mods]}\n"
    "    with open(_o.environ['BENCH_PROBE_OUT'], 'w') as fh:\n"
    "        fh.write(_j.dumps(out))\n"
    "_a.register(_report)\n"
)


def probe(source: str, env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """Run ``source`` once and report which heavy packages it imported."""
    out = workdir / "probe.json"
    out.unlink(missing_ok=True)
    hook = f"HEAVY = {HEAVY!r}\n" + _PROBE_HOOK
    subprocess.run(
        [sys.executable, "-c", hook + source],
        env={**env, "BENCH_PROBE_OUT": str(out)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
        check=False,  # `--help` exits 0 through SystemExit; the hook still runs
    )
    data: dict[str, Any] = json.loads(out.read_text())
    data["ccxt_imported"] = "ccxt" in data["loaded"]
    return data


def import_breakdown(source: str, env: dict[str, str], top: int = 8) -> list[dict[str, Any]]:
    """``python -X importtime``: the costliest imports at the top two nesting levels, by
    cumulative time (microseconds in the child; indicative only, it is one run)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", source],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|", 2)
        name = name[1:]  # one space follows the bar; the rest is nesting (2 per level)
        depth = (len(name) - len(name.lstrip())) // 2
        if depth <= 1:
            rows.append(
                {
                    "module": name.strip(),
                    "depth": depth,
                    "self_ms": int(self_us) / 1000,
                    "cumulative_ms": int(cumulative_us) / 1000,
                }
            )
    rows.sort(key=lambda r: r["cumulative_ms"], reverse=True)
    return rows[:top]


def _env(cache_dir: Path, *, write_bytecode: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPYCACHEPREFIX"] = str(cache_dir)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _row(name: str, mode: str, samples: list[dict[str, float]]) -> dict[str, Any]:
    wall = lib.summarize([s["wall_s"] for s in samples])
    cpu = lib.summarize([s["cpu_s"] for s in samples])
    rss = lib.summarize([s["rss_mib"] for s in samples])
    return {
        "command": name,
        "mode": mode,
        "n": len(samples),
        "wall_median_s": round(wall["median"], 3),
        "wall_p90_s": round(wall["p90"], 3),
        "cpu_median_s": round(cpu["median"], 3),
        "cpu_p90_s": round(cpu["p90"], 3),
        "rss_median_mib": round(rss["median"], 1),
        "rss_p90_mib": round(rss["p90"], 1),
    }


def run(
    runs: int = 10, uncached_runs: int = 2, budget_s: float = 55.0, include_ccxt: bool = True
) -> dict[str, Any]:
    """Time every command ``runs`` times (cached bytecode) and ``uncached_runs`` times
    (no bytecode). Runs are interleaved across commands so drift hits all alike; the loop
    stops early (and says so) when ``budget_s`` is spent. ``include_ccxt=False`` leaves the
    ``import ccxt.async_support`` reference out."""
    cmds = commands()
    if not include_ccxt:  # the reference row is the slow one; smoke tests leave it out
        cmds = {k: v for k, v in cmds.items() if "ccxt" not in k}
    deadline = time.monotonic() + budget_s
    results: dict[str, Any] = {"rows": [], "probes": {}, "truncated": False}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        root = Path(tmp)
        cached_env = _env(root / "pyc-cached", write_bytecode=True)
        for name, spec in cmds.items():  # warm the bytecode cache; also proves they run
            run_once(spec["argv"], cached_env)
            results["probes"][name] = probe(spec["probe"], cached_env, root)
        results["help_imports"] = import_breakdown(cmds["tradeexec --help"]["probe"], cached_env)
        for mode, n in (("cached", runs), ("uncached", uncached_runs)):
            samples: dict[str, list[dict[str, float]]] = {name: [] for name in cmds}
            for i in range(n):
                for name, spec in cmds.items():
                    if time.monotonic() > deadline:
                        results["truncated"] = True
                        break
                    if mode == "cached":
                        env = cached_env
                    else:  # a fresh empty prefix each run: nothing to read, nothing written
                        env = _env(
                            root / f"pyc-empty-{i}-{len(samples[name])}", write_bytecode=False
                        )
                    samples[name].append(run_once(spec["argv"], env))
            for name, got in samples.items():
                if got:
                    results["rows"].append(_row(name, mode, got))
    help_row = next(
        r for r in results["rows"] if r["command"] == "tradeexec --help" and r["mode"] == "cached"
    )
    bare_row = next(
        r for r in results["rows"] if r["command"] == 'python -c "pass"' and r["mode"] == "cached"
    )
    ratio = help_row["wall_median_s"] / max(bare_row["wall_median_s"], 1e-6)
    help_loaded = results["probes"]["tradeexec --help"]["loaded"]
    results["target"] = {
        "help_wall_median_s": help_row["wall_median_s"],
        "bare_python_median_s": bare_row["wall_median_s"],
        "help_over_bare_python": ratio,
        "help_le_0_3_s": help_row["wall_median_s"] <= 0.3,
        "help_le_8x_bare": ratio <= 8.0,
        "help_heavy_loaded": [m for m in ("ccxt", "rich", "sqlalchemy") if m in help_loaded],
        "help_imports_ccxt": results["probes"]["tradeexec --help"]["ccxt_imported"],
        "import_imports_ccxt": results["probes"]['python -c "import tradeexec"']["ccxt_imported"],
    }
    return results


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| command | bytecode | n | wall median | wall p90 | CPU median | CPU p90 "
        "| peak RSS median | peak RSS p90 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| `{r['command']}` | {r['mode']} | {r['n']} | {r['wall_median_s']:.3f} s "
            f"| {r['wall_p90_s']:.3f} s | {r['cpu_median_s']:.3f} s | {r['cpu_p90_s']:.3f} s "
            f"| {r['rss_median_mib']:.1f} MiB | {r['rss_p90_mib']:.1f} MiB |"
        )
    lines += [
        "",
        "| command | ccxt in sys.modules | heavy packages loaded | modules |",
        "|---|---|---|---:|",
    ]
    for name, p in results["probes"].items():
        loaded = ", ".join(p["loaded"]) or "none"
        lines.append(
            f"| `{name}` | {'**yes**' if p['ccxt_imported'] else 'no'} | {loaded} "
            f"| {p['modules']} |"
        )
    lines += [
        "",
        "Where `tradeexec --help` spends its import time (one `python -X importtime` run,"
        " cached bytecode, top two nesting levels, by cumulative time):",
        "",
        "| module | level | cumulative | self |",
        "|---|---:|---:|---:|",
    ]
    for r in results["help_imports"]:
        lines.append(
            f"| `{r['module']}` | {r['depth']} | {r['cumulative_ms']:.1f} ms "
            f"| {r['self_ms']:.1f} ms |"
        )
    t = results["target"]
    met = t["help_le_0_3_s"] and t["help_le_8x_bare"] and not t["help_heavy_loaded"]
    lines += [
        "",
        "Target (`tradeexec --help` median wall <= 0.3 s and <= 8x a bare `python -c pass` "
        "in the same run, cached bytecode; ccxt, rich and SQLAlchemy not imported): "
        f"{'met' if met else '**missed**'} ({t['help_wall_median_s']:.3f} s = "
        f"{t['help_over_bare_python']:.1f}x {t['bare_python_median_s']:.3f} s; heavy packages "
        f"imported: {', '.join(t['help_heavy_loaded']) or 'none'}).",
    ]
    if results["truncated"]:
        lines.append("\nThe time budget ran out: some rows have fewer runs than asked.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--uncached-runs", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = run(args.runs, args.uncached_runs)
    print(json.dumps(results, indent=2) if args.json else markdown(results))


if __name__ == "__main__":
    main()
