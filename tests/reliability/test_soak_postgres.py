"""The short crash-and-fault soak on PostgreSQL: the worker's service on a database of the
session's PostgreSQL server instead of a SQLite file; the same checks (no key with two entry
orders, every signal terminal and explained, every position protected, store = exchange).

``SOAK_SEED=N`` replays another seed, as for the SQLite run in ``test_soak.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reliability.soak import SoakConfig, run_soak
from tradeexec.testing import PostgresServer

SEED = int(os.environ.get("SOAK_SEED", "7"))


@pytest.mark.soak
def test_signals_end_true_through_crashes_and_faults_on_postgresql(
    tmp_path: Path, tradeexec_postgres: PostgresServer
) -> None:
    _, url = tradeexec_postgres.new_store_database("soak")
    config = SoakConfig(seed=SEED, signals=120, kills=2, store_url=url)  # SQLite runs 300
    result = run_soak(config, tmp_path / "soak")
    print(result.summary())
    assert result.counts["kills"] >= 2, result.summary()
    assert result.ok, result.failure_text()
