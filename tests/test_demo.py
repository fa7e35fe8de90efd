"""``tradeexec demo`` end to end: its own simulator, three accounts, the stop firing."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradeexec.cli import app

ACCOUNTS = ("binance-sim", "hl-sim", "paper")

pytestmark = pytest.mark.slow


def test_demo_tells_the_whole_story_and_exits_0(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/demo.db"
    result = CliRunner().invoke(app, ["demo", "--store", store], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Traceback" not in result.output
    for name in ACCOUNTS:
        section = out.split(f"{name}: ", 1)[1]  # from the account's heading on
        assert "FILLED" in section  # the entry report
        assert "stop-loss filled, take-profit canceled" in section
    summary = out.rsplit("demo summary", 1)[1].split("next steps")[0]
    rows = [line for line in summary.splitlines() if any(n in line for n in ACCOUNTS)]
    assert len(rows) == 3
    for row in rows:
        assert "filled" in row and "fired (filled)" in row and "canceled" in row
        assert "flat" in row and "ok" in row


def test_demo_json_records_fills_pnl_and_the_cancelled_target(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/demo.db"
    result = CliRunner().invoke(app, ["demo", "--store", store, "--json"])
    assert result.exit_code == 0, result.output
    runs = {run["account"]: run for run in json.loads(result.stdout)}
    assert set(runs) == set(ACCOUNTS)
    for name, run in runs.items():
        assert run["ok"] is True and run["error"] is None, name
        assert run["report"]["success"] is True
        assert run["report"]["stop_loss_order_id"] and run["report"]["take_profit_order_id"]
        orders = {o["order"]["role"]: o for o in run["timeline"]["orders"]}
        entry, stop, target = orders["entry"], orders["stop_loss"], orders["take_profit"]
        assert entry["order"]["status"] == "filled"
        assert stop["order"]["status"] == "filled"
        assert target["order"]["status"] == "canceled"
        # the stop closed the whole entry, at a loss, and both fills are on record
        assert Decimal(stop["order"]["filled_quantity"]) == Decimal(
            entry["order"]["filled_quantity"]
        )
        assert stop["fills"] and entry["fills"]
        assert Decimal(run["realized_pnl"]) < 0
        assert run["positions"] == []
        # sized by the risk rule: about 1 % of the 10 000 equity lost at the stop
        loss_at_stop = Decimal(entry["order"]["filled_quantity"]) * (
            Decimal(entry["order"]["average_price"]) - Decimal(stop["order"]["trigger_price"])
        )
        assert Decimal(80) < loss_at_stop <= Decimal(100)
    # the store outlives the run: the timeline can be read again afterwards
    assert (tmp_path / "demo.db").exists()


def test_demo_keep_running_leaves_the_simulator_up(tmp_path: Path) -> None:
    import signal
    import subprocess

    import httpx

    from proc_lines import Lines, tradeexec_argv

    store = f"sqlite:///{tmp_path}/demo.db"
    proc = subprocess.Popen(
        tradeexec_argv("demo", "--keep-running", "--json", "--store", store),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        output = Lines(proc.stdout)
        lines = []
        while not (line := output.next(timeout=120)).startswith('{"base_url"'):
            lines.append(line)  # the demo's JSON, then the banner line
        runs = json.loads("".join(lines))
        assert [run["ok"] for run in runs] == [True, True, True]
        banner = json.loads(line)
        assert httpx.get(f"{banner['base_url']}/_sim/health", timeout=10).json() == {"ok": True}
        assert "apiKey" in banner["accounts"]["binance"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=20) == 0
        finally:
            proc.kill()


def test_demo_store_is_readable_by_signal_show_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's store is not in the working directory: it is in the data directory, and
    the demo ends with the `signal show ... --store` command that reads it."""
    monkeypatch.setenv("TRADEEXEC_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "demo.db").is_file()
    assert list(tmp_path.glob("*.db")) == [] and not (tmp_path / ".tradeexec").exists()
    steps = result.stdout.split("next steps", 1)[1]
    [command] = [line.split("#")[0].split() for line in steps.splitlines() if "signal show" in line]
    assert command[:3] == ["tradeexec", "signal", "show"] and command[4] == "--store"
    key, store = command[3], command[5].strip("'")
    assert store == f"sqlite:///{tmp_path / 'home' / 'demo.db'}"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    shown = CliRunner().invoke(app, ["signal", "show", key, "--store", store, "--json"])
    assert shown.exit_code == 0, shown.output
    timeline = json.loads(shown.stdout)
    assert timeline["signal"]["idempotency_key"] == key
    roles = {o["order"]["role"]: o["order"]["status"] for o in timeline["orders"]}
    assert roles == {"entry": "filled", "stop_loss": "filled", "take_profit": "canceled"}
    # without --store the main store is read: the demo's signals are not there
    monkeypatch.setenv("TRADEEXEC_STORE_URL", f"sqlite:///{tmp_path / 'main.db'}")
    assert CliRunner().invoke(app, ["signal", "show", key]).exit_code == 1
    assert not (tmp_path / "main.db").exists()  # and reading did not create it
