"""Fixtures for the service's tests: ``live``, the service on real uvicorn (see harness.py).

Every response a test reads through ``live.client`` and every log line emitted while the
service runs is kept; at teardown none of them may contain a configured secret."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.harness import Capture, Live, LiveServer, configured_secrets, funded, service_config
from tradeexec.sim.server import SimServer


@pytest.fixture
def live(request: pytest.FixtureRequest, sim_server: SimServer, tmp_path: Path) -> Iterator[Live]:
    """The service; ``@pytest.mark.parametrize("live", [0.5], indirect=True)`` runs its
    reconcile loop every 0.5 s."""
    creds = funded(sim_server)
    config = service_config(sim_server, tmp_path, creds)
    capture = Capture()
    root = logging.getLogger()
    ours = logging.getLogger("tradeexec")
    level = ours.level
    root.addHandler(capture)
    ours.setLevel(logging.DEBUG)
    server = LiveServer(config, reconcile_interval_s=getattr(request, "param", 0.0)).start()
    live = Live(sim_server, server, tmp_path, creds)
    try:
        yield live
    finally:
        server.stop()
        root.removeHandler(capture)
        ours.setLevel(level)
    seen = {"log": "\n".join(capture.lines), "answer": "\n".join(live.responses)}
    leaked = [
        (where, secret[:4] + "...")
        for secret in configured_secrets(config)
        for where, text in seen.items()
        if secret in text
    ]
    assert not leaked, f"configured secrets leaked: {leaked}"
