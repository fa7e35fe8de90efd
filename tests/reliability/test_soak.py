"""The short crash-and-fault soak (issue 7): ~300 signals, two kills, both simulated venues.

Runs in the default ``pytest -q``; select it alone with ``pytest -m soak``. The seed is
printed; ``SOAK_SEED=N`` replays another one. The long form is ``python bench/soak.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reliability.soak import SoakConfig, run_soak

SEED = int(os.environ.get("SOAK_SEED", "7"))


@pytest.mark.soak
def test_signals_end_true_through_crashes_and_faults(tmp_path: Path) -> None:
    result = run_soak(SoakConfig(seed=SEED, signals=300, kills=2), tmp_path / "soak")
    print(result.summary())
    assert result.counts["kills"] >= 2, result.summary()
    assert result.ok, result.failure_text()
