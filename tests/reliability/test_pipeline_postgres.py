"""The pipeline's core suites on PostgreSQL: every test of ``tests/execution/test_lifecycle.py``
and ``tests/execution/test_pipeline_faults.py`` collected here a second time, its services on a
fresh migrated database of the session's PostgreSQL server (``tradeexec_store_url`` below)
instead of a SQLite file.

To keep the suite's time modest each runs on one venue here: paper for ``venue`` (its venue
state lives in the store as well, so the paper account's row lock is exercised) and Binance
(simulator) for ``sim_venue``; the SQLite run covers all three. Two tests that spend their
time waiting out the venue's timeouts are left to the SQLite run (`WAITING`). Everything in
``tests/execution`` runs on PostgreSQL with ``pytest tests/execution --tradeexec-store=postgresql``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import pytest_asyncio

from tradeexec.testing import VenueHarness, postgres_store_url

EXECUTION = Path(__file__).resolve().parent.parent / "execution"
SUITES = ("test_lifecycle", "test_pipeline_faults")
# These two spend their time waiting out the venue's timeouts, the same on either store.
WAITING = {
    "test_resuming_a_flip_later_leaves_newer_positions_protected",
    "test_an_entry_whose_outcome_was_unknown_is_protected_without_a_redelivery",
}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"postgres_{name}", EXECUTION / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


for _suite in SUITES:
    for _name, _test in vars(_load(_suite)).items():
        if _name.startswith("test_") and callable(_test) and _name not in WAITING:
            assert _name not in globals(), f"two suites define {_name}"
            globals()[_name] = _test


@pytest.fixture
def tradeexec_store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from postgres_store_url(request)


async def _harness(request: pytest.FixtureRequest, tmp: Path) -> AsyncIterator[VenueHarness]:
    sim = None if request.param == "paper" else request.getfixturevalue("sim_server")
    workdir: Path = request.getfixturevalue("tradeexec_workdir")
    store_url: str = request.getfixturevalue("tradeexec_store_url")
    harness = await VenueHarness.start(
        request.param, sim, tmp, workdir / ".tradeexec" / "markets", store_url=store_url
    )
    try:
        yield harness
    finally:
        await harness.close()


@pytest_asyncio.fixture(params=["paper"])
async def venue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VenueHarness]:
    async for harness in _harness(request, tmp_path):
        yield harness


@pytest_asyncio.fixture(params=["binance"])
async def sim_venue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VenueHarness]:
    async for harness in _harness(request, tmp_path):
        yield harness
