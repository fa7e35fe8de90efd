"""tradeexec's venue test harness, as a pytest plugin: test a bot against the simulator.

Installing tradeexec registers the plugin (a ``pytest11`` entry point named
``tradeexec.testing``); where plugins are not auto-loaded, a top-level ``conftest.py``
enables it with ``pytest_plugins = ["tradeexec.testing"]``. The async fixtures need
pytest-asyncio. Fixtures (see each one's docstring):

- ``sim_server``: the running simulator (one per session, reset before each test that
  uses it: fresh engines, no faults, an empty request log; faults cleared after it).
- ``venue``: a `VenueHarness`, a started `TradingService` on a fresh funded account; the
  test runs on paper, Binance USD-M (simulator) and Hyperliquid (simulator).
  ``sim_venue``: the same on the two simulated venues only.
- ``trader_venue``: a `TraderHarness`, a connected `ExchangeTrader` on each venue.
- ``plugin_venue``: a `PluginHarness` for `create_ccxt_plugin` on each venue;
  ``plugin_harness``: a factory of them on a named simulated venue.
- ``tradeexec_store_url``: the store a ``venue``'s service uses: a SQLite file in the test's
  temporary directory, or with ``--tradeexec-store=postgresql`` a fresh database on
  ``tradeexec_postgres``, a throwaway PostgreSQL server (one per session, see
  `PostgresServer`). Override the fixture in a module to choose there.

``sim_ccxt(sim_server, "binance" | "hyperliquid")`` (an async context manager, not a fixture):
a fresh funded account and an unmodified ccxt client pointed at the simulator, markets
loaded, closed afterwards; yields ``(exchange, account_id)``.

Every harness is a `VenueUnderTest`: what reached the venue (``engine_orders()``,
``engine_position()``, ``engine_fills()``, ``order_requests()``), ``set_mark`` to move the
price, ``add_fault`` to make the venue misbehave, ``new_client_id``. To run a test on fewer
venues: ``@pytest.mark.parametrize("venue", ["hyperliquid"], indirect=True)``.

Importing this module is cheap (the harness types load on first use), so the auto-loaded
plugin costs little in a session that does not use it. Nothing else in tradeexec imports it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Callable, Iterator
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tradeexec.testing.defaults import ACCOUNT, BALANCE, SIM_VENUES, START_MARK, VENUES

if TYPE_CHECKING or importlib.util.find_spec("pytest_asyncio"):
    from pytest_asyncio import fixture as async_fixture
else:  # pytest then names the missing async plugin when an async fixture is used
    async_fixture = pytest.fixture

# A submodule must not be named as a fixture: importing it sets the package attribute of
# that name, hiding the fixture from pytest (so venue_under_test.py, not venue.py).
_EXPORTS: dict[str, str] = {
    "VenueUnderTest": "tradeexec.testing.venue_under_test",
    "TraderHarness": "tradeexec.testing.traders",
    "VenueHarness": "tradeexec.testing.services",
    "PluginHarness": "tradeexec.testing.plugins",
    "RISK": "tradeexec.testing.services",
    "new_key": "tradeexec.testing.services",
    "is_order_request": "tradeexec.testing.venue_under_test",
    "PostgresServer": "tradeexec.testing.postgres",
    "PostgresUnavailable": "tradeexec.testing.postgres",
    "sim_ccxt": "tradeexec.testing.ccxt_clients",
}

__all__ = [
    "ACCOUNT",
    "BALANCE",
    "RISK",
    "SIM_VENUES",
    "START_MARK",
    "VENUES",
    "PluginHarness",
    "PostgresServer",
    "PostgresUnavailable",
    "TraderHarness",
    "VenueHarness",
    "VenueUnderTest",
    "is_order_request",
    "new_key",
    "sim_ccxt",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tradeexec.testing' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


# ---------------------------------------------------------------------- the simulator
@pytest.fixture(scope="session")
def _tradeexec_sim() -> Iterator[SimServer]:
    from tradeexec.sim.server import SimServer

    with SimServer() as server:
        yield server


@pytest.fixture
def sim_server(_tradeexec_sim: SimServer) -> Iterator[SimServer]:
    """The running simulator with fresh engines, no faults and an empty request log.

    ``sim_server.base_url`` is where to point a venue (``api_url`` in an account's config);
    ``sim_server.simulator`` creates accounts (``.binance.create_account(balance)``), moves
    prices (``.set_price("BTC", price)``) and holds the faults and the request log."""
    _tradeexec_sim.simulator.reset()
    yield _tradeexec_sim
    _tradeexec_sim.simulator.ctx.faults.clear()


@pytest.fixture(scope="session")
def tradeexec_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory whose ``.tradeexec/markets`` cache every test shares (the
    simulator's markets never change)."""
    return tmp_path_factory.mktemp("tradeexec-workdir")


def _sim_for(request: pytest.FixtureRequest) -> SimServer | None:
    """The simulator for ``request.param``'s venue (None for paper: it runs in-process)."""
    if request.param == "paper":
        return None
    server: SimServer = request.getfixturevalue("sim_server")
    return server


# ---------------------------------------------------------------------- the store
STORES = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("tradeexec").addoption(
        "--tradeexec-store",
        choices=STORES,
        default="sqlite",
        help="the store the venue harness's services use (default: a SQLite file per test; "
        "postgresql: a database per test on a throwaway server the session starts)",
    )


@pytest.fixture(scope="session")
def tradeexec_postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the session (`PostgresServer`): started from the
    distribution's ``initdb`` / ``pg_ctl``, removed at the end. Missing programs fail the
    test that asks for it (saying what to install); it is never skipped."""
    from tradeexec.testing.postgres import PostgresServer

    with PostgresServer() as server:
        yield server


def postgres_store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh migrated database on the session's server for one test, dropped after it."""
    server: PostgresServer = request.getfixturevalue("tradeexec_postgres")
    name, url = server.new_store_database()
    try:
        yield url
    finally:
        server.drop_database(name)


@pytest.fixture
def tradeexec_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store URL a ``venue``'s services use (see ``--tradeexec-store``)."""
    if request.config.getoption("--tradeexec-store") == "postgresql":
        yield from postgres_store_url(request)
    else:
        yield f"sqlite:///{tmp_path / 't.db'}"


# ---------------------------------------------------------------------- services
async def _venue_harness(request: pytest.FixtureRequest, tmp: Path) -> AsyncIterator[VenueHarness]:
    from tradeexec.testing.services import VenueHarness

    workdir: Path = request.getfixturevalue("tradeexec_workdir")
    cache = workdir / ".tradeexec" / "markets"
    store_url: str = request.getfixturevalue("tradeexec_store_url")
    harness = await VenueHarness.start(
        request.param, _sim_for(request), tmp, cache, store_url=store_url
    )
    try:
        yield harness
    finally:
        await harness.close()


@async_fixture(params=VENUES)
async def venue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VenueHarness]:
    """A `VenueHarness`: a started `TradingService` with one account (`ACCOUNT`) on a fresh
    account funded with `BALANCE`, the mark at `START_MARK`, on each of paper, Binance
    (simulator) and Hyperliquid (simulator)."""
    async for harness in _venue_harness(request, tmp_path):
        yield harness


@async_fixture(params=SIM_VENUES)
async def sim_venue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VenueHarness]:
    """`venue` on the simulated venues only: for faults on the wire and the request log."""
    async for harness in _venue_harness(request, tmp_path):
        yield harness


# ---------------------------------------------------------------------- traders
@async_fixture(params=VENUES)
async def trader_venue(request: pytest.FixtureRequest) -> AsyncIterator[TraderHarness]:
    """A `TraderHarness`: a connected `ExchangeTrader` (``.trader``) on a fresh account
    funded with `BALANCE`, the mark at `START_MARK`, on each venue; no store, no service."""
    from tradeexec.testing.traders import TraderHarness

    harness = TraderHarness(request.param, _sim_for(request))
    try:
        await harness.start()
        yield harness
    finally:
        await harness.close()


# ---------------------------------------------------------------------- the plan's plugin
@async_fixture(params=VENUES)
async def plugin_venue(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    tradeexec_workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[PluginHarness]:
    """A `PluginHarness` on each venue: ``await plugin_venue.start()`` is an initialised
    `create_ccxt_plugin` on a fresh funded account."""
    from tradeexec.testing.plugins import PluginHarness

    monkeypatch.chdir(tradeexec_workdir)  # the plugin's market cache is relative to it
    harness = PluginHarness(request.param, _sim_for(request), tmp=tmp_path)
    try:
        yield harness
    finally:
        await harness.close()


@async_fixture
async def plugin_harness(
    sim_server: SimServer,
    tmp_path: Path,
    tradeexec_workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Callable[[str], PluginHarness]]:
    """A factory of `PluginHarness`es on a named simulated venue (venue-specific cases)."""
    from tradeexec.testing.plugins import PluginHarness

    monkeypatch.chdir(tradeexec_workdir)
    made: list[PluginHarness] = []

    def make(name: str) -> PluginHarness:
        tmp = tmp_path / f"{name}{len(made)}"
        tmp.mkdir()
        made.append(PluginHarness(name, sim_server, tmp=tmp))
        return made[-1]

    try:
        yield make
    finally:
        for harness in made:
            await harness.close()


if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from tradeexec.sim.server import SimServer
    from tradeexec.testing.plugins import PluginHarness
    from tradeexec.testing.postgres import PostgresServer, PostgresUnavailable
    from tradeexec.testing.services import RISK, VenueHarness, new_key
    from tradeexec.testing.traders import TraderHarness
    from tradeexec.testing.venue_under_test import VenueUnderTest, is_order_request
