"""Our tests use the venue harness our users get: the `tradeexec.testing` pytest plugin.

Installing tradeexec registers it already; naming it here keeps the suite working where
plugins are not auto-loaded (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``).

The secret guard (``secret_guard.py``, issue 12) watches every log record of the session:
a test that logged a configured secret fails at teardown, and a secret logged outside any
test fails the session (under pytest-xdist each worker checks its own records and the
controller fails the run for any worker's)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from _parallel import order_for_workers, under_xdist
from secret_guard import GUARD, simulator_credentials
from tradeexec.sim.server import SimServer

pytest_plugins = ["tradeexec.testing"]


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist registers it too; named here for runs with the plugin off (-p no:xdist)
    config.addinivalue_line(
        "markers", "xdist_group(name): tests run on one xdist worker (tests/_parallel.py)"
    )
    logging.getLogger().addHandler(GUARD)
    ours = logging.getLogger("tradeexec")
    if ours.level == logging.NOTSET:
        ours.setLevel(logging.DEBUG)  # every record of ours is made, and checked


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(GUARD)


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if under_xdist():  # a serial run keeps pytest's order
        order_for_workers(items)


_OUTSIDE_TESTS: list[str] = []  # leaks logged between tests (session fixtures, collection)
_FROM_WORKERS: list[str] = []  # under pytest-xdist: what each worker found outside its tests


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook, on the controller
def pytest_testnodedown(node: Any, error: object) -> None:
    """A worker's leaks outside any test: its session's status never reaches the controller
    (a worker's exit status is not the run's), so the controller fails the run for it."""
    output = getattr(node, "workeroutput", None) or {}
    _FROM_WORKERS.extend(f"[{node.gateway.id}] {leak}" for leak in output.get("secret_leaks", []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = sorted({*_OUTSIDE_TESTS, *GUARD.check(), *_FROM_WORKERS})
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: its controller reports and fails the run
        workeroutput["secret_leaks"] = leaks
    if leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("secret guard: " + "; ".join(leaks), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def sim_server(sim_server: SimServer) -> Iterator[SimServer]:
    """The plugin's ``sim_server``; the credentials it handed out become canaries."""
    yield sim_server
    GUARD.register(simulator_credentials(sim_server.simulator))


@pytest.fixture(autouse=True)
def _no_secret_in_logs() -> Iterator[None]:
    """Fails the test (at teardown) if a configured secret was logged while it ran."""
    _OUTSIDE_TESTS.extend(GUARD.check())  # what came before belongs to no test
    yield
    leaks = GUARD.check()
    if leaks:
        pytest.fail("secret guard: " + "; ".join(leaks), pytrace=False)
