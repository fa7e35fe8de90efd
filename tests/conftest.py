"""Shared fixtures: one simulator per test session, reset before each test that uses it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer


@pytest.fixture(scope="session")
def _sim_session() -> Iterator[SimServer]:
    from tradeexec.sim.server import SimServer

    with SimServer() as server:
        yield server


@pytest.fixture
def sim_server(_sim_session: SimServer) -> Iterator[SimServer]:
    """A running simulator with fresh engines, no faults and an empty request log."""
    _sim_session.simulator.reset()
    yield _sim_session
    _sim_session.simulator.ctx.faults.clear()
