"""The paper account across CLI invocations: each command is its own service (and, in the
last test, its own process), yet `order`, `positions`, `orders`, `cancel`, `reconcile` and
`close` see one paper venue, as they would a real one. It used to start afresh every time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tradeexec.cli import app


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRADEEXEC_HOME", str(tmp_path / "home"))
    path = tmp_path / "exchange.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            store_url: sqlite:///{tmp_path}/store.db
            market_cache_dir: {tmp_path}/markets
            default_account: paper
            accounts:
              paper:
                type: paper
                starting_balance: 10000
            """
        )
    )
    return path


def cli(config: Path, *args: str, code: int = 0) -> Any:
    """One invocation, as its own service; its JSON output."""
    result = CliRunner().invoke(
        app, [*args, "--config", str(config), "--json"], env={"COLUMNS": "200"}
    )
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_order_positions_orders_close_across_invocations(config: Path) -> None:
    placed = cli(config, "order", "buy", "BTC", "0.01", "--sl", "60000", "--account", "paper")
    assert placed["status"] == "filled", placed

    [position] = cli(config, "positions")
    assert Decimal(position["quantity"]) == Decimal("0.01")
    [stop] = cli(config, "orders")
    assert stop["id"] == placed["stop_loss_order_id"]
    assert Decimal(stop["trigger_price"]) == Decimal(60000)

    reconciled = cli(config, "reconcile")  # exit 0: nothing missing, nothing closed
    assert reconciled[0]["mismatches"] == [], reconciled

    closed = cli(config, "close", "BTC")
    assert closed["status"] == "filled", closed
    assert cli(config, "positions") == []
    assert cli(config, "orders") == []  # the stop went with the position
    balance = cli(config, "balance")
    assert Decimal(balance["USDT"]["total"]) < Decimal(10000)  # two fees and the spread


def test_cancel_finds_the_order_a_previous_invocation_placed(config: Path) -> None:
    placed = cli(config, "order", "buy", "BTC", "0.01", "--type", "limit", "--price", "66000")
    assert placed["status"] == "accepted", placed

    [resting] = cli(config, "orders")
    assert resting["id"] == placed["order_id"]
    cancelled = cli(config, "cancel", "BTC", "--id", placed["order_id"])
    assert cancelled["cancelled"] is True
    assert cli(config, "orders") == []
    # and a fresh order gets a new id, never the cancelled one's
    again = cli(config, "order", "buy", "BTC", "0.01", "--type", "limit", "--price", "66000")
    assert int(again["order_id"]) > int(placed["order_id"])
    assert cli(config, "reconcile")[0]["mismatches"] == []


def test_separate_processes_share_the_paper_account(config: Path, tmp_path: Path) -> None:
    env = {**os.environ, "TRADEEXEC_HOME": str(tmp_path / "home"), "COLUMNS": "200"}

    def run(*args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "tradeexec", *args, "--config", str(config), "--json"],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    placed = run("order", "buy", "BTC", "0.01", "--sl", "60000", "--account", "paper")
    assert placed["status"] == "filled", placed
    [position] = run("positions")
    assert Decimal(position["quantity"]) == Decimal("0.01")
    [stop] = cli(config, "orders")  # and in this process too
    assert stop["id"] == placed["stop_loss_order_id"]
