"""Where the store lives: one place whatever the current directory (issue 8, item 2).

The store holds the kill switch and the idempotency keys. When its default was relative to
the working directory, an account halted from one directory traded from another, and the
same idempotency key filled twice. These run the CLI from two directories against the
simulator, with the platform's user data directory pointed at a temporary one.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from tradeexec.cli import app

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer


@dataclass
class Cli:
    config: Path
    monkeypatch: pytest.MonkeyPatch
    bn_account: str  # the simulator's id of the Binance account

    def run(self, cwd: Path, *args: str, config: bool = True) -> Any:
        self.monkeypatch.chdir(cwd)
        extra = ["--config", str(self.config)] if config else []
        result = CliRunner().invoke(app, [*args, *extra], env={"COLUMNS": "200"})
        assert "Traceback" not in result.output, result.output
        return result

    def json(self, cwd: Path, *args: str, code: int = 0) -> Any:
        result = self.run(cwd, *args, "--json")
        assert result.exit_code == code, result.output
        return json.loads(result.stdout)


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The platform's user data directory, as platformdirs finds it on Linux."""
    monkeypatch.delenv("TRADEEXEC_HOME", raising=False)
    monkeypatch.delenv("TRADEEXEC_STORE_URL", raising=False)
    monkeypatch.delenv("TRADEEXEC_CONFIG", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "tradeexec"


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    return a, b


@pytest.fixture
def cli(
    sim_server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_home: Path
) -> Cli:
    """A Binance account on the simulator; the config names no store and no cache."""
    bn = sim_server.simulator.binance.create_account(Decimal(10000))
    monkeypatch.setenv("TEST_BN_KEY", bn["apiKey"])
    monkeypatch.setenv("TEST_BN_SECRET", bn["secret"])
    config = tmp_path / "cfg" / "exchange.yaml"
    config.parent.mkdir()
    config.write_text(
        textwrap.dedent(
            f"""\
            accounts:
              bn:
                type: binance
                api_url: {sim_server.base_url}
                api_key: ${{TEST_BN_KEY}}
                api_secret: ${{TEST_BN_SECRET}}
            """
        )
    )
    return Cli(config, monkeypatch, bn["account"])


def _databases(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*.db")]


def test_halted_account_stays_halted_from_another_directory(
    cli: Cli, dirs: tuple[Path, Path], data_home: Path, sim_server: SimServer
) -> None:
    a, b = dirs
    assert cli.json(a, "halt", "--reason", "drill")["bn"]["state"] == "halted"
    refused = cli.run(b, "order", "buy", "BTC", "0.01", "--json")
    assert refused.exit_code == 1, refused.output
    assert json.loads(refused.stdout)["reason"] == "halted"
    assert sim_server.simulator.binance.engine.positions(cli.bn_account) == []
    # one store, in the user data directory; none in either working directory
    assert _databases(a, b) == []
    assert (data_home / "tradeexec.db").is_file()
    states = cli.json(b, "state")
    assert states == [{"account": "bn", "state": "halted", "reason": "drill"}]


def test_same_idempotency_key_from_two_directories_is_one_signal(
    cli: Cli, dirs: tuple[Path, Path], sim_server: SimServer
) -> None:
    a, b = dirs
    first = cli.json(a, "order", "buy", "BTC", "0.01", "--key", "once-only")
    second = cli.json(b, "order", "buy", "BTC", "0.01", "--key", "once-only")
    assert second["status"] == "duplicate" and second["order_id"] == first["order_id"]
    [position] = sim_server.simulator.binance.engine.positions(cli.bn_account)
    assert position.qty == Decimal("0.01")
    shown = cli.json(b, "signal", "show", "once-only")
    assert shown["signal"]["idempotency_key"] == "once-only"


def test_read_only_commands_never_create_a_database(
    cli: Cli, dirs: tuple[Path, Path], data_home: Path
) -> None:
    a, _ = dirs
    checked = cli.json(a, "config", "check")
    assert checked["state"]["store"] == f"sqlite:///{data_home / 'tradeexec.db'}"
    assert checked["state"]["store_exists"] is False
    assert checked["state"]["market_cache"] == str(data_home / "markets")
    assert cli.json(a, "state") == [{"account": "bn", "state": "active", "reason": None}]
    missing = cli.run(a, "signal", "show", "nope")
    assert missing.exit_code == 1 and "not_found" in missing.stderr
    assert cli.json(a, "health")["bn"]["ok"] is True
    assert cli.json(a, "positions") == []
    assert cli.json(a, "orders") == []
    assert _databases(a, data_home.parent) == []


def test_store_option_env_var_and_home(
    cli: Cli, dirs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = dirs
    # --store: a bare relative path is a SQLite file, made absolute where it is typed
    cli.json(a, "halt", "--store", "mine.db")
    assert (a / "mine.db").is_file()
    assert cli.json(b, "state", "--store", str(a / "mine.db"))[0]["state"] == "halted"
    assert cli.json(b, "state")[0]["state"] == "active"  # the default store is another one

    monkeypatch.setenv("TRADEEXEC_STORE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    cli.json(a, "halt", "--reason", "env")
    assert (tmp_path / "env.db").is_file()
    assert cli.json(b, "state")[0]["reason"] == "env"
    assert cli.json(b, "state", "--store", str(a / "mine.db"))[0]["reason"] != "env"
    monkeypatch.delenv("TRADEEXEC_STORE_URL")

    monkeypatch.setenv("TRADEEXEC_HOME", str(tmp_path / "home"))
    checked = cli.json(b, "config", "check")["state"]
    assert checked["store"] == f"sqlite:///{tmp_path / 'home' / 'tradeexec.db'}"
    assert checked["market_cache"] == str(tmp_path / "home" / "markets")


def test_relative_paths_in_a_config_file_are_relative_to_the_file(
    cli: Cli, dirs: tuple[Path, Path]
) -> None:
    a, b = dirs
    text = cli.config.read_text() + "store_url: sqlite:///state/te.db\nmarket_cache_dir: mc\n"
    cli.config.write_text(text)
    cli.json(a, "halt")
    where = cli.config.parent
    assert (where / "state" / "te.db").is_file()
    assert cli.json(b, "state")[0]["state"] == "halted"
    assert cli.json(b, "config", "check")["state"]["market_cache"] == str(where / "mc")
    assert _databases(a, b) == []
