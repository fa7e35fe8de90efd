"""The replica soak, short form (issue 14): three ``tradeexec serve --replica-id`` processes on
one PostgreSQL database and the simulator; webhooks and REST signals spread across them (some
delivered to two at once); the Binance account's owner SIGKILLed (and restarted), then its
next owner SIGSTOPped past its lease and resumed. Afterwards, against the simulator: no key
with two entry orders, no signal lost, every signal terminal and explained, every position
protected, store = venue, and no order or cancel from the paused replica after its lease
moved on. The long form is ``make soak`` (``bench/soak.py --replicas 3``).

``SOAK_SEED=N`` replays another seed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reliability.replica_soak import ReplicaSoakConfig, run_replica_soak
from tradeexec.testing import PostgresServer

SEED = int(os.environ.get("SOAK_SEED", "7"))


@pytest.mark.soak
def test_three_replicas_survive_a_kill_and_a_pause_without_a_double_order(
    tmp_path: Path, tradeexec_postgres: PostgresServer
) -> None:
    _, url = tradeexec_postgres.new_store_database("replica_soak")
    config = ReplicaSoakConfig(seed=SEED, signals=80, batch=16, kills=1, stops=1)
    result = run_replica_soak(config, tmp_path / "soak", url)
    print(result.summary())
    assert result.counts["kills"] == 1 and result.counts["stops"] == 1, result.summary()
    assert result.takeovers_s, result.summary()  # each disruption moved the lease
    assert result.requests_by_tag, result.summary()  # the fencing check saw tagged requests
    assert result.ok, result.failure_text()
