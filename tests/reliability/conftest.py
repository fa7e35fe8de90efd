"""The reliability suite's marker: ``soak`` selects the crash-and-fault soak (``-m soak``)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "soak: the crash-and-fault soak (issue 7); runs by default")
