"""Fixtures for the dashboard's tests: ``live``, the service on real uvicorn over the
simulator (tests/api/harness.py), and helpers to sign in as a browser does.

As in tests/api, every response read through ``live.client`` and every log line is kept,
and at teardown none may contain a configured secret."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from api.harness import Capture, Live, LiveServer, configured_secrets, funded, service_config
from tradeexec.sim.server import SimServer


@pytest.fixture
def live(request: pytest.FixtureRequest, sim_server: SimServer, tmp_path: Path) -> Iterator[Live]:
    """``@pytest.mark.parametrize("live", [0.5], indirect=True)``: reconcile every 0.5 s."""
    creds = funded(sim_server)
    config = service_config(sim_server, tmp_path, creds)
    capture = Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    server = LiveServer(config, reconcile_interval_s=getattr(request, "param", 0.0)).start()
    live = Live(sim_server, server, tmp_path, creds)
    try:
        yield live
    finally:
        server.stop()
        root.removeHandler(capture)
    seen = {"log": "\n".join(capture.lines), "answer": "\n".join(live.responses)}
    leaked = [
        (where, secret[:4] + "...")
        for secret in configured_secrets(config)
        for where, text in seen.items()
        if secret in text
    ]
    assert not leaked, f"configured secrets leaked: {leaked}"


@contextmanager
def sign_in(live: Live, token: str) -> Iterator[httpx.Client]:
    """A client holding a dashboard session (the cookie), and no bearer header."""
    with live.client(token=None) as browser:
        answer = browser.post("/ui/login", data={"token": token, "next": "/ui/signals"})
        assert answer.status_code == 303, answer.text
        yield browser


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)
