"""The long crash-and-fault soak (issue 7) and the replica soak (issue 14), for ``make soak``.

    python bench/soak.py [--seed 1] [--seeds 3] [--signals 2000] [--kills 8] [--batch 15]
                         [--fault-rate 1.0] [--workdir DIR] [--show 60] [--http]
    python bench/soak.py --replicas 3 [--stops 3] [--lease-ttl 2] ...

With ``--replicas N`` (2 or more) each run is `tests/reliability/replica_soak.py` instead: N
``tradeexec serve --replica-id`` processes on a throwaway PostgreSQL server (started here,
removed at the end), ``--kills`` SIGKILLs and ``--stops`` SIGSTOPs of the Binance account's
owner, no injected faults; it prints the takeover times.

Runs `tests/reliability/soak.py` once per seed (``--seed``, ``--seed + 1``, ... ``--seeds``
of them), prints each run's counts and violations, and exits 1 if any run had a violation.
Each run's worker logs, answers file and SQLite store stay in its work directory (printed),
so a finding can be inspected with ``tradeexec signal show`` against that store. The same
seed replays the same signals, prices, fault rolls and kill points (what the interleaving of
two processes makes of them can differ).

``--http`` runs the soak through the real service instead (`tests/reliability/http_soak.py`):
the same signals as TradingView alerts and REST calls to a ``tradeexec serve`` process that is
SIGKILLed and restarted, with the answers counted by HTTP status.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from reliability.http_soak import run_http_soak
from reliability.replica_soak import ReplicaSoakConfig, run_replica_soak
from reliability.soak import SoakConfig, run_soak
from tradeexec.testing.postgres import PostgresServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds from --seed on")
    parser.add_argument("--signals", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--batch", type=int, default=15)
    parser.add_argument("--fault-rate", type=float, default=1.0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--show", type=int, default=60, help="violations to list per run")
    parser.add_argument("--http", action="store_true", help="through a tradeexec serve process")
    parser.add_argument("--replicas", type=int, default=0, help="N serve replicas (>= 2)")
    parser.add_argument("--stops", type=int, default=3, help="SIGSTOPs (with --replicas)")
    parser.add_argument("--lease-ttl", type=float, default=2.0, help="seconds (--replicas)")
    args = parser.parse_args(argv)
    if args.replicas:
        return replica_runs(args)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="tradeexec-soak-"))
    failed = 0
    for seed in range(args.seed, args.seed + args.seeds):
        config = SoakConfig(
            seed=seed,
            signals=args.signals,
            kills=args.kills,
            batch=args.batch,
            fault_rate=args.fault_rate,
        )
        runner = run_http_soak if args.http else run_soak
        result = runner(config, root / f"{'http-' if args.http else ''}seed-{seed}")
        print(result.failure_text(args.show) if not result.ok else result.summary(), flush=True)
        print(
            f"  replay: python bench/soak.py --seed {seed} --seeds 1 --signals {args.signals} "
            f"--kills {args.kills} --batch {args.batch} --fault-rate {args.fault_rate}"
            f"{' --http' if args.http else ''}",
            flush=True,
        )
        failed += not result.ok
    print(f"{args.seeds - failed}/{args.seeds} seeds without a violation")
    return 1 if failed else 0


def replica_runs(args: argparse.Namespace) -> int:
    root = args.workdir or Path(tempfile.mkdtemp(prefix="tradeexec-replica-soak-"))
    failed = 0
    with PostgresServer() as server:
        for seed in range(args.seed, args.seed + args.seeds):
            _, url = server.new_store_database(f"soak{seed}")
            config = ReplicaSoakConfig(
                seed=seed,
                signals=args.signals,
                kills=args.kills,
                stops=args.stops,
                replicas=args.replicas,
                batch=args.batch,
                ttl_s=args.lease_ttl,
            )
            result = run_replica_soak(config, root / f"seed-{seed}", url)
            print(result.failure_text(args.show) if not result.ok else result.summary())
            print(
                f"  replay: python bench/soak.py --replicas {args.replicas} --seed {seed} "
                f"--seeds 1 --signals {args.signals} --kills {args.kills} --stops {args.stops} "
                f"--batch {args.batch} --lease-ttl {args.lease_ttl}",
                flush=True,
            )
            failed += not result.ok
    print(f"{args.seeds - failed}/{args.seeds} replica soak seeds without a violation")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
