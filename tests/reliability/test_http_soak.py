"""The short crash-and-fault soak through the real service (issue 12): signals as TradingView
alerts and REST calls to a ``tradeexec serve`` process that is SIGKILLed twice and started
again, exchange faults on the simulator, re-deliveries and replays of the same alerts.

Runs in the default ``pytest -q`` (``-m soak`` selects it with the other soak); the seed is
printed, ``SOAK_SEED=N`` replays another one. The long form is ``python bench/soak.py --http``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reliability.http_soak import run_http_soak
from reliability.soak import SoakConfig

SEED = int(os.environ.get("SOAK_SEED", "7"))


@pytest.mark.soak
def test_signals_through_http_end_true_through_kills_and_faults(tmp_path: Path) -> None:
    config = SoakConfig(seed=SEED, signals=90, kills=2, batch=15)
    result = run_http_soak(config, tmp_path / "http-soak")
    print(result.summary())
    assert result.counts["kills"] >= 2, result.summary()
    # both doors were used, and some answers came from a process killed afterwards
    assert result.counts["webhook"] and result.counts["rest"], result.summary()
    assert result.counts["answered_before_kill"] > 0, result.summary()
    assert result.ok, result.failure_text()
