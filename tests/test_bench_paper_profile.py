"""The paper profile benchmark still runs, with tiny counts: its counters see the paper venue's
store work when the account is kept in the store, and none when it is kept in memory."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import paper_profile

pytestmark = pytest.mark.slow


def test_the_paper_profile_counts_the_venues_store_work_and_its_ablation() -> None:
    stored = asyncio.run(paper_profile._profile(4, keep_store=True))
    memory = asyncio.run(paper_profile._profile(4, keep_store=False))

    assert stored["signals"] == memory["signals"] == 4
    # a bracket: one batch of reads (one version check), the entry, the stop and target
    assert stored["paper_batches"] == 3
    assert stored["paper_statements"] > 0 and stored["paper_json_bytes"] > 0
    assert memory["paper_statements"] == memory["paper_json_bytes"] == 0
    assert memory["paper_batches"] == 0
