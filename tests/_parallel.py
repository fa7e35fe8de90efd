"""How the suite shares out across pytest-xdist workers (``make unit``: ``-n 4 --dist
loadgroup``); nothing here changes a serial run's order.

The suite mostly waits (subprocesses starting, simulator round-trips, soaks with kills and
restarts), so several workers on two cores finish it sooner. Two things the scheduler cannot
know, told to it here:

- A module whose tests share a module-scoped fixture (a simulator process, benchmark results,
  a database serving many hypothesis examples) runs on one worker: its tests get an
  ``xdist_group`` named after the module, so the fixture is set up once, not once per worker.
- The long tests start first (``soak`` before ``slow``, otherwise in collection order): the
  run ends when its last long test does, so one started late decides the wall time. Each long
  test is followed by `PAD` short ones, so what a worker has already queued behind a long
  test (xdist hands each worker its next tests ahead) is short, not another long one.

Tests whose own ``xdist_group`` mark names a group keep it (xdist runs a group on one worker).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

__all__ = ["PAD", "order_for_workers", "under_xdist"]

PAD = 2  # short tests after each long one (a worker holds up to two queued behind its current)
_SHARED_SCOPES = ("module", "package", "class")


def under_xdist() -> bool:
    """True in a pytest-xdist worker (where the collection is scheduled, not run in order)."""
    return bool(os.environ.get("PYTEST_XDIST_WORKER"))


def _rank(item: pytest.Item) -> int:
    if item.get_closest_marker("soak"):
        return 0
    if item.get_closest_marker("slow"):
        return 1
    return 2


def _shares_a_fixture(item: pytest.Item) -> bool:
    info: Any = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        definitions[-1].scope in _SHARED_SCOPES for definitions in info.name2fixturedefs.values()
    )


def order_for_workers(items: list[pytest.Item]) -> None:
    """Group the modules with shared fixtures, and put the long tests first (in place)."""
    for item in items:
        if _shares_a_fixture(item) and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    long = sorted((i for i in items if _rank(i) < 2), key=_rank)  # stable: collection order
    short = [i for i in items if _rank(i) == 2]
    ordered: list[pytest.Item] = []
    for item in long:
        ordered.append(item)
        ordered.extend(short[:PAD])
        del short[:PAD]
    items[:] = ordered + short
