"""The README's command-line example runs as written, and on the simulator: its config
points the Hyperliquid trader at ``tradeexec sim`` (it once named a live account)."""

from __future__ import annotations

import re
import shlex
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from tradeexec.cli import app

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

README = Path(__file__).resolve().parents[1] / "README.md"
SIM_URL = "http://127.0.0.1:8765"


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("For example, a Hyperliquid order against the simulator")
    return text[start:].split("```sh\n", 1)[1].split("\n```", 1)[0]


def test_readme_hyperliquid_example_targets_the_simulator_and_works(
    sim_server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _example()
    assert "tradeexec sim --port 8765" in script
    config_text = re.search(r"<<'EOF'\n(.*?)\nEOF", script, re.S)
    assert config_text is not None
    yaml_text = config_text.group(1)
    assert f"api_url: {SIM_URL}" in yaml_text and "type: hyperliquid" in yaml_text

    # the banner's credentials, as the example exports them; the simulator on its test port
    hl = sim_server.simulator.hyperliquid.create_account(Decimal(10000))
    monkeypatch.setenv("SIM_HL_WALLET", hl["walletAddress"])
    monkeypatch.setenv("SIM_HL_KEY", hl["privateKey"])
    monkeypatch.setenv("TRADEEXEC_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sim.yaml").write_text(yaml_text.replace(SIM_URL, sim_server.base_url) + "\n")

    commands = [
        shlex.split(line.split("#")[0])[1:]
        for line in script.splitlines()
        if line.startswith("tradeexec ") and not line.startswith("tradeexec sim")
    ]
    assert commands, script
    for args in commands:
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, (args, result.output)
    engine = sim_server.simulator.hyperliquid.engine
    [position] = engine.positions(hl["account"])
    assert position.qty == Decimal("0.01")
    kinds = sorted(o.spec.kind.value for o in engine.open_orders(hl["account"]))
    assert len(kinds) == 2, kinds  # the stop and the target rest on the simulator
