"""Mutation testing of the order path (`make mutate`): mutmut over the files and tests named
in pyproject.toml's ``[tool.mutmut]``, in a copy of the tree (never in the checkout), and the
score written to MUTATION.md beside BENCHMARKS.md.

The whole set (~1,700+ mutants of the order path's modules) takes over an
hour on 2 cores; ``--sample N`` runs every k-th mutant (deterministic) so that N are run,
``--only GLOB`` the mutants whose names match. ``--sample 0`` runs them all.

A mutant that changes no behaviour (an unreachable line's message, a condition already
decided by the one before it) is listed in ``bench/mutants_equivalent.txt`` with the reason;
one that survives is counted apart as "equivalent": the score is killed / (run - equivalent),
and MUTATION.md gives both figures and the list.

    python bench/mutate.py --sample 150
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = Path(sys.executable).parent / "mutmut"
_FIRST = "tradeexec.execution.brackets.x_cancel_quietly__mutmut_1"
EQUIVALENT = Path(__file__).resolve().parent / "mutants_equivalent.txt"
_DEF = re.compile(r"^\s*(?:async\s+)?def (x\S*?__mutmut_\d+)\(", re.MULTILINE)


def copy_tree(work: Path) -> None:
    """src/, tests/ and pyproject.toml into ``work`` (fresh), without bytecode caches."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in ("src", "tests"):
        shutil.copytree(ROOT / name, work / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", work / "pyproject.toml")


def mutmut(work: Path, *args: str, check: bool = True) -> str:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [str(MUTMUT), *args], cwd=work, env=env, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"mutmut {' '.join(args[:2])} failed ({done.returncode})")
    return done.stdout


def mutant_names(work: Path) -> list[str]:
    """Every generated mutant, as mutmut names them (module + trampolined function)."""
    names = []
    base = work / "mutants" / "src"
    for path in sorted(base.rglob("*.py")):
        module = ".".join(path.relative_to(base).with_suffix("").parts)
        names += [f"{module}.{m}" for m in _DEF.findall(path.read_text())]

    def key(name: str) -> tuple[str, int]:
        head, _, number = name.rpartition("__mutmut_")
        return head, int(number)

    return sorted(set(names), key=key)


def results(work: Path) -> dict[str, str]:
    out = mutmut(work, "results", "--all", "true")
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            found[name] = status
    return found


def diff_of(work: Path, name: str) -> str:
    out = mutmut(work, "show", name, check=False)
    return " / ".join(
        line[1:].strip()
        for line in out.splitlines()
        if line[:1] in "+-" and line[:3] not in ("---", "+++")
    )


def function_of(name: str) -> str:
    """A mutant's function: its name without the number (stable while others renumber)."""
    return name.rpartition("__mutmut_")[0]


def load_equivalents(path: Path = EQUIVALENT) -> dict[tuple[str, str], str]:
    """``function | change | reason`` lines: {(function, change): reason}."""
    found: dict[tuple[str, str], str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ")]
        if len(parts) != 3 or not all(parts):
            raise SystemExit(f"{path.name}:{number}: want 'function | change | reason'")
        found[parts[0], parts[1]] = parts[2]
    return found


def write_report(
    path: Path, chosen: int, total: int, status: dict[str, str], seconds: float, work: Path
) -> dict[str, int]:
    known = load_equivalents()
    diffs = {n: diff_of(work, n) for n, s in status.items() if s in ("survived", "no tests")}
    reasons = {n: known.get((function_of(n), d)) for n, d in diffs.items()}
    equivalent = {n: r for n, r in reasons.items() if r}
    status = {n: "equivalent" if n in equivalent else s for n, s in status.items()}
    counts: dict[str, int] = {}
    for value in status.values():
        counts[value] = counts.get(value, 0) + 1
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    ran = killed + counts.get("survived", 0) + counts.get("no tests", 0) + len(equivalent)
    judged = ran - len(equivalent)
    score = killed / judged if judged else 0.0
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "# Mutation score: the order path",
        "",
        "Generated by `make mutate` (`python bench/mutate.py`); do not edit by hand.",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; "
        f"load average after: {load}; took {seconds / 60:.1f} min",
        "- tool: mutmut (config: `[tool.mutmut]` in pyproject.toml: the files mutated and "
        "the tests run against them)",
        f"- mutants run: {chosen} of {total} generated"
        + (" (a deterministic sample: every k-th)" if chosen < total else ""),
        "",
        "| outcome | mutants |",
        "|---|---:|",
        *(f"| {k} | {v} |" for k, v in sorted(counts.items())),
        "",
        f"**Score: {killed} of {judged} killed ({score:.0%})**: {ran} run, less "
        f"{len(equivalent)} equivalent (below); {killed} of all {ran} run is "
        f"{killed / ran if ran else 0:.0%}. Target >= 90 % "
        f"({'met' if score >= 0.9 else 'missed'}).",
        "",
    ]
    survivors = sorted(n for n, s in status.items() if s in ("survived", "no tests"))
    if survivors:
        lines += ["## Survivors (the change each makes)", ""]
        lines += [f"- `{n}` ({status[n]}): `{diffs[n]}`" for n in survivors]
        lines.append("")
    if equivalent:
        lines += [
            "## Equivalent (no test can tell them apart; `bench/mutants_equivalent.txt`)",
            "",
        ]
        lines += [f"- `{n}`: `{diffs[n]}`: {equivalent[n]}" for n in sorted(equivalent)]
        lines.append("")
    path.write_text("\n".join(lines))
    return {"killed": killed, "judged": judged, "run": ran, **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=150, help="mutants to run (0: all)")
    parser.add_argument("--only", default=None, help="a glob over mutant names")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tradeexec-mutate"))
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "MUTATION.md")
    args = parser.parse_args()
    started = time.monotonic()
    copy_tree(args.workdir)
    # one mutant first: mutmut generates them all and maps which tests reach each function
    print("==> generating mutants and mapping tests (one full run of the selected tests)")
    mutmut(args.workdir, "run", "--max-children", str(args.children), _FIRST)
    names = mutant_names(args.workdir)
    if args.only:
        names = [n for n in names if fnmatch.fnmatchcase(n, args.only)]
    chosen = names
    if args.sample and len(names) > args.sample:
        step = len(names) / args.sample
        chosen = [names[int(i * step)] for i in range(args.sample)]
    print(f"==> running {len(chosen)} of {len(names)} mutants ({args.children} at a time)")
    mutmut(args.workdir, "run", "--max-children", str(args.children), *chosen)
    status = {n: s for n, s in results(args.workdir).items() if n in set(chosen)}
    stats = write_report(
        args.out, len(chosen), len(names), status, time.monotonic() - started, args.workdir
    )
    print(json.dumps(stats))
    print(f"==> wrote {args.out}")


if __name__ == "__main__":
    main()
