"""The ``tradeexec`` command against the simulator, through a YAML config like a user's."""

from __future__ import annotations

import json
import subprocess
import sys
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

BALANCE = Decimal("10000")


@dataclass
class Setup:
    config: Path
    sim: SimServer
    bn_account: str  # engine account ids
    hl_account: str
    bn_secret: str
    hl_private_key: str

    def run(self, *args: str) -> Any:
        # wide enough that no table cell wraps in the middle of a word
        result = CliRunner().invoke(
            app, [*args, "--config", str(self.config)], env={"COLUMNS": "200"}
        )
        assert "Traceback" not in result.output, result.output
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        result = self.run(*args, "--json")
        assert result.exit_code == code, result.output
        return json.loads(result.stdout)

    @property
    def hl_engine(self) -> Any:
        return self.sim.simulator.hyperliquid.engine

    @property
    def bn_engine(self) -> Any:
        return self.sim.simulator.binance.engine

    def mark(self) -> Decimal:
        return Decimal(self.hl_engine.marks["BTC"])


@pytest.fixture
def setup(sim_server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    bn = sim_server.simulator.binance.create_account(BALANCE)
    hl = sim_server.simulator.hyperliquid.create_account(BALANCE)
    monkeypatch.setenv("TEST_BN_KEY", bn["apiKey"])
    monkeypatch.setenv("TEST_BN_SECRET", bn["secret"])
    monkeypatch.setenv("TEST_HL_KEY", hl["privateKey"])
    config = tmp_path / "exchange.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            store_url: sqlite:///{tmp_path}/store.db
            market_cache_dir: {tmp_path}/markets
            default_account: bn-main
            accounts:
              bn-main:
                type: binance
                api_url: {sim_server.base_url}
                api_key: ${{TEST_BN_KEY}}
                api_secret: ${{TEST_BN_SECRET}}
              hl-main:
                type: hyperliquid
                api_url: {sim_server.base_url}
                wallet_address: "{hl["walletAddress"]}"
                private_key: ${{TEST_HL_KEY}}
            """
        )
    )
    return Setup(config, sim_server, bn["account"], hl["account"], bn["secret"], hl["privateKey"])


def _prices(mark: Decimal) -> tuple[str, str]:
    """A stop 2 % below and a target 3 % above ``mark``, in Hyperliquid's 5 significant figures."""
    return str(int(mark * Decimal("0.98"))), str(int(mark * Decimal("1.03")))


# --------------------------------------------------------------------------- start-up cost


def test_help_and_import_do_not_load_ccxt() -> None:
    code = textwrap.dedent(
        """
        import sys
        import tradeexec
        assert not [m for m in sys.modules if m.split('.')[0] == 'ccxt'], 'import tradeexec'
        import tradeexec.cli
        from typer.testing import CliRunner
        from typer.main import get_command
        get_command(tradeexec.cli.app)
        runner = CliRunner()
        for args in (['--help'], ['order', '--help'], ['signal', 'show', '--help'],
                     ['config', '--help'], ['sim', '--help'], ['demo', '--help']):
            result = runner.invoke(tradeexec.cli.app, args)
            assert result.exit_code == 0, (args, result.output)
        print(sorted(m for m in sys.modules if m.split('.')[0] in ('ccxt', 'tradeexec')))
        print(result.output)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.splitlines()[0]
    assert "ccxt" not in loaded
    # nor the other heavy layers: the service, the traders, the simulator
    for heavy in ("tradeexec.service", "tradeexec.exchanges", "tradeexec.sim"):
        assert heavy not in loaded


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tradeexec", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    for command in ("sim", "demo", "order", "halt", "signal", "config"):
        assert command in done.stdout


def test_sim_prints_the_banner_first_and_serves() -> None:
    import signal

    import httpx

    from proc_lines import Lines, tradeexec_argv

    proc = subprocess.Popen(
        tradeexec_argv("sim", "--port", "0", "--seed", "3"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = Lines(proc.stdout).next(timeout=60)
        banner = json.loads(first)  # nothing may come before the banner
        base_url = banner["base_url"]
        assert base_url.startswith("http://127.0.0.1:")
        assert {"apiKey", "secret"} <= set(banner["accounts"]["binance"])
        assert {"walletAddress", "privateKey"} <= set(banner["accounts"]["hyperliquid"])
        assert httpx.get(f"{base_url}/_sim/health", timeout=10).json() == {"ok": True}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        finally:
            proc.kill()
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")


def test_sim_on_a_busy_port_is_one_red_line() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["sim", "--port", str(port)])
    assert result.exit_code == 1
    assert "sim_error" in result.stderr and str(port) in result.stderr
    assert result.stdout == ""


# --------------------------------------------------------------------------- config


def test_config_check_shows_accounts_without_secrets(setup: Setup) -> None:
    result = setup.run("config", "check")
    assert result.exit_code == 0, result.output
    assert "bn-main" in result.stdout and "hl-main" in result.stdout
    assert setup.bn_secret not in result.output
    assert setup.hl_private_key not in result.output

    data = setup.json("config", "check")
    accounts = data["config"]["accounts"]
    assert set(accounts) == {"bn-main", "hl-main"}
    assert accounts["bn-main"]["api_secret"] == "***"
    assert accounts["hl-main"]["private_key"] == "***"
    assert data["source"] == str(setup.config)


def test_config_check_names_an_unknown_key_and_its_line(setup: Setup, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("accounts:\n  p:\n    type: paper\n    api_sekret: nope\n")
    result = CliRunner().invoke(app, ["config", "check", "--config", str(bad)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "config_error" in result.stderr
    assert f"{bad}:4" in result.stderr
    assert "accounts.p.api_sekret: unknown key" in result.stderr
    assert "api_secret" in result.stderr  # the suggestion


def test_missing_config_file_is_one_red_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["balance", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert result.stderr.startswith("error [config_error]: ")
    assert "does not exist" in result.stderr
    assert result.stdout == ""


def test_unknown_account_is_a_config_error(setup: Setup) -> None:
    result = setup.run("balance", "--account", "nope")
    assert result.exit_code == 1
    assert "config_error" in result.stderr and "'nope'" in result.stderr


# --------------------------------------------------------------------------- reads


def test_markets_ticker_balance_json(setup: Setup) -> None:
    hl_markets = setup.json("markets", "--account", "hl-main")
    assert "BTC/USDC:USDC" in {m["symbol"] for m in hl_markets}
    bn_markets = setup.json("markets")  # the default account: bn-main
    assert "BTC/USDT:USDT" in {m["symbol"] for m in bn_markets}

    tick = setup.json("ticker", "BTCUSDT")
    assert tick["symbol"] == "BTC/USDT:USDT"
    assert Decimal(tick["last"]) == Decimal(setup.bn_engine.marks["BTC"])
    hl_tick = setup.json("ticker", "BTC", "--account", "hl-main")
    assert hl_tick["symbol"] == "BTC/USDC:USDC"
    assert Decimal(hl_tick["mark"]) == setup.mark()

    bn_balance = setup.json("balance")
    assert Decimal(bn_balance["USDT"]["total"]) == BALANCE
    hl_balance = setup.json("balance", "--account", "hl-main")
    assert Decimal(hl_balance["USDC"]["free"]) == BALANCE

    table = setup.run("ticker", "BTC", "--account", "hl-main")
    assert table.exit_code == 0 and "BTC/USDC:USDC" in table.stdout


def test_leverage_sets_it_on_the_venue_within_the_limit(setup: Setup) -> None:
    data = setup.json("leverage", "BTC", "7", "--margin-mode", "isolated")
    assert data == {"account": "bn-main", "symbol": "BTC/USDT:USDT", "leverage": 7,
                    "margin_mode": "isolated"}  # fmt: skip
    assert setup.bn_engine.leverage(setup.bn_account, "BTC") == 7
    assert setup.bn_engine.margin_mode(setup.bn_account, "BTC").value.lower() == "isolated"

    refused = setup.run("leverage", "BTC", "50")  # risk.max_leverage defaults to 20
    assert refused.exit_code == 1
    assert "max_leverage" in refused.stderr
    assert setup.bn_engine.leverage(setup.bn_account, "BTC") == 7


def test_health_reports_each_account(setup: Setup) -> None:
    data = setup.json("health")
    assert set(data) == {"bn-main", "hl-main"}
    assert all(h["ok"] for h in data.values())


# --------------------------------------------------------------------------- orders


def test_order_places_entry_stop_and_target_on_hyperliquid(setup: Setup) -> None:
    stop, target = _prices(setup.mark())
    report = setup.json(
        "order", "buy", "BTC", "0.01", "--sl", stop, "--tp", target, "--account", "hl-main"
    )
    assert report["success"] is True and report["status"] == "filled"
    assert report["account"] == "hl-main"
    assert Decimal(report["exact"]["filled_quantity"]) == Decimal("0.01")

    resting = {o.order_id: o for o in setup.hl_engine.open_orders(setup.hl_account)}
    assert len(resting) == 2
    by_kind = {o.spec.kind.value: o for o in resting.values()}
    assert by_kind["STOP_MARKET"].spec.trigger_price == Decimal(stop)
    assert by_kind["TAKE_PROFIT_MARKET"].spec.trigger_price == Decimal(target)
    assert all(o.spec.reduce_only and o.spec.side.value == "SELL" for o in resting.values())
    assert {str(i) for i in resting} == {report["stop_loss_order_id"],
                                         report["take_profit_order_id"]}  # fmt: skip
    [position] = setup.hl_engine.positions(setup.hl_account)
    assert position.qty == Decimal("0.01")

    positions = setup.json("positions", "--account", "hl-main")
    assert [(p["symbol"], Decimal(p["quantity"])) for p in positions] == [
        ("BTC/USDC:USDC", Decimal("0.01"))
    ]
    open_orders = setup.json("orders", "BTC", "--account", "hl-main")
    assert {o["type"] for o in open_orders} == {"stop_market", "take_profit_market"}


def test_short_on_hyperliquid_gets_its_stop_above_and_target_below(setup: Setup) -> None:
    mark = setup.mark()
    stop, target = str(int(mark * Decimal("1.02"))), str(int(mark * Decimal("0.97")))
    report = setup.json(
        "order", "sell", "BTC", "0.01", "--sl", stop, "--tp", target, "--account", "hl-main"
    )
    assert report["status"] == "filled"
    assert report["orders"]["entry"]["side"] == "sell"
    legs = {o.spec.kind.value: o.spec for o in setup.hl_engine.open_orders(setup.hl_account)}
    assert legs["STOP_MARKET"].side.value == "BUY"
    assert legs["STOP_MARKET"].trigger_price == Decimal(stop)
    assert legs["TAKE_PROFIT_MARKET"].side.value == "BUY"
    assert legs["TAKE_PROFIT_MARKET"].trigger_price == Decimal(target)
    [position] = setup.hl_engine.positions(setup.hl_account)
    assert position.qty == Decimal("-0.01")


def test_order_text_output_and_exit_status(setup: Setup) -> None:
    stop, target = _prices(setup.mark())
    result = setup.run("order", "buy", "BTC", "0.01", "--sl", stop, "--tp", target)
    assert result.exit_code == 0, result.output
    assert "FILLED" in result.stdout
    for role in ("entry", "stop_loss", "take_profit"):
        assert role in result.stdout

    # a stop above the entry of a long is refused before anything is sent
    before = len(setup.bn_engine.open_orders(setup.bn_account))
    bad = setup.run("order", "buy", "BTC", "0.01", "--sl", target, "--tp", stop)
    assert bad.exit_code == 1
    assert "invalid_signal" in bad.output
    assert len(setup.bn_engine.open_orders(setup.bn_account)) == before


def test_order_refused_by_risk_exits_1_with_reason(setup: Setup) -> None:
    result = setup.run("order", "buy", "BTC", "0.01", "--confidence", "0.1", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["success"] is False
    assert report["reason"] == "low_confidence"
    assert setup.bn_engine.positions(setup.bn_account) == []


def test_same_key_never_sends_twice(setup: Setup) -> None:
    first = setup.json("order", "buy", "BTC", "0.01", "--key", "cli-once")
    second = setup.json("order", "buy", "BTC", "0.01", "--key", "cli-once")
    assert second["status"] == "duplicate"
    assert second["order_id"] == first["order_id"]
    [position] = setup.bn_engine.positions(setup.bn_account)
    assert position.qty == Decimal("0.01")


def test_cancel_by_id_and_by_client_id(setup: Setup) -> None:
    below = str(int(setup.mark() * Decimal("0.97")))  # rests; inside the 5 % price band
    one = setup.json("order", "buy", "BTC", "0.01", "--type", "limit", "--price", below)
    two = setup.json("order", "buy", "BTC", "0.01", "--type", "limit", "--price", below)
    assert len(setup.bn_engine.open_orders(setup.bn_account)) == 2

    done = setup.json("cancel", "BTC", "--id", one["order_id"])
    assert done["cancelled"] is True and done["order"]["status"] == "canceled"
    done = setup.json("cancel", "BTCUSDT", "--client-id", two["client_order_id"])
    assert done["cancelled"] is True
    assert setup.bn_engine.open_orders(setup.bn_account) == []

    again = setup.json("cancel", "BTC", "--id", one["order_id"])  # already closed: exit 0
    assert again["cancelled"] is False and again["status"] == "canceled"
    assert again["order"]["id"] == one["order_id"]

    assert setup.run("cancel", "BTC").exit_code == 2  # neither id
    assert setup.run("cancel", "BTC", "--id", "1", "--client-id", "x").exit_code == 2


def test_halt_refuses_orders_until_resume(setup: Setup) -> None:
    halted = setup.json("halt", "--account", "hl-main", "--reason", "drill")
    assert halted["hl-main"]["state"] == "halted"  # as `state` reports it

    refused = setup.run("order", "buy", "BTC", "0.01", "--account", "hl-main", "--json")
    assert refused.exit_code == 1
    report = json.loads(refused.stdout)
    assert report["reason"] == "halted"
    assert setup.hl_engine.positions(setup.hl_account) == []

    states = {s["account"]: s for s in setup.json("state")}
    assert states["hl-main"]["state"] == "halted" and states["hl-main"]["reason"] == "drill"
    assert states["bn-main"]["state"] == "active"  # only the named account was halted

    text = setup.run("order", "buy", "BTC", "0.01", "--account", "hl-main")
    assert text.exit_code == 1 and "halted" in text.stdout

    resumed = setup.json("resume", "--account", "hl-main")
    assert resumed == [{"account": "hl-main", "state": "active", "reason": "resumed (cli)"}]
    assert setup.json("order", "buy", "BTC", "0.01", "--account", "hl-main")["success"]
    [position] = setup.hl_engine.positions(setup.hl_account)
    assert position.qty == Decimal("0.01")


def test_halt_with_flatten_closes_positions_and_cancels_orders(setup: Setup) -> None:
    stop, target = _prices(setup.mark())
    setup.json("order", "buy", "BTC", "0.01", "--sl", stop, "--tp", target)
    assert len(setup.bn_engine.open_orders(setup.bn_account)) == 2

    result = setup.json("halt", "--flatten", "--account", "bn-main")
    assert len(result["bn-main"]["cancelled"]) == 2
    assert setup.bn_engine.open_orders(setup.bn_account) == []
    assert [p for p in setup.bn_engine.positions(setup.bn_account) if p.qty] == []


def test_close_flattens_one_position(setup: Setup) -> None:
    setup.json("order", "sell", "BTC", "0.02", "--account", "hl-main")
    report = setup.json("close", "BTC", "--account", "hl-main")
    assert report["success"] is True
    assert [p for p in setup.hl_engine.positions(setup.hl_account) if p.qty] == []
    assert setup.json("positions", "--account", "hl-main") == []


def test_signal_show_reads_the_timeline(setup: Setup) -> None:
    stop, target = _prices(setup.mark())
    report = setup.json(
        "order", "buy", "BTC", "0.01", "--sl", stop, "--tp", target, "--key", "cli-timeline-1"
    )
    timeline = setup.json("signal", "show", "cli-timeline-1")
    assert timeline["signal"]["idempotency_key"] == "cli-timeline-1"
    assert timeline["signal"]["source"] == "cli"
    assert [d["approved"] for d in timeline["decisions"]] == [True]
    roles = {o["order"]["role"]: o for o in timeline["orders"]}
    assert set(roles) == {"entry", "stop_loss", "take_profit"}
    assert roles["entry"]["order"]["exchange_order_id"] == report["order_id"]
    assert roles["entry"]["history"][0]["to_status"] == "pending_submit"  # written before sent
    assert roles["entry"]["order"]["status"] == "filled"

    by_id = setup.json("signal", "show", str(report["signal_id"]))
    assert by_id["signal"]["id"] == report["signal_id"]

    text = setup.run("signal", "show", "cli-timeline-1")
    assert text.exit_code == 0
    assert "cli-timeline-1" in text.stdout and "approved" in text.stdout
    assert "stop_loss" in text.stdout

    missing = setup.run("signal", "show", "no-such-key")
    assert missing.exit_code == 1 and "not_found" in missing.stderr


def test_reconcile_after_the_stop_fires_cancels_the_target(setup: Setup) -> None:
    stop, target = _prices(setup.mark())
    setup.json("order", "buy", "BTC", "0.01", "--sl", stop, "--tp", target, "--key", "cli-rc")
    setup.sim.simulator.set_price("BTC", Decimal(stop) * Decimal("0.99"), "binance")
    [report] = setup.json("reconcile", "--account", "bn-main")
    assert report["account"] == "bn-main"
    assert len(report["legs_cancelled"]) == 1
    assert setup.bn_engine.open_orders(setup.bn_account) == []
    roles = {
        o["order"]["role"]: o["order"] for o in setup.json("signal", "show", "cli-rc")["orders"]
    }
    assert roles["stop_loss"]["status"] == "filled"
    assert roles["take_profit"]["status"] == "canceled"


def test_a_store_that_cannot_be_opened_is_a_config_error(setup: Setup, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    text = setup.config.read_text().replace(
        f"sqlite:///{tmp_path}/store.db", f"sqlite:///{blocker}/store.db"
    )
    setup.config.write_text(text)
    result = setup.run("halt")  # a command that writes (reading never creates a store)
    assert result.exit_code == 1
    assert result.stderr.startswith("error [config_error]: cannot open the store")
    assert len(result.stderr.strip().splitlines()) == 1


def test_order_intent_options_reduce_target_and_notional(setup: Setup) -> None:
    stop, _ = _prices(setup.mark())
    assert setup.json("order", "buy", "BTC", "0.02", "--sl", stop)["status"] == "filled"

    def held() -> Decimal:
        return sum((p.qty for p in setup.bn_engine.positions(setup.bn_account)), Decimal(0))

    # side + quantity is an order of that size: it reduces, and the stop follows
    assert setup.json("order", "sell", "BTC", "0.005")["status"] == "filled"
    assert held() == Decimal("0.015")
    (leg,) = setup.bn_engine.open_orders(setup.bn_account)
    assert leg.spec.qty == Decimal("0.015")
    # --reduce-only never opens: asking for more than is held closes what is held
    assert setup.json("order", "sell", "BTC", "0.05", "--reduce-only")["status"] == "filled"
    assert held() == 0
    # --target-position: SIDE names the side of the target
    short = setup.json("order", "sell", "BTC", "--target-position", "0.01", "--sl", "80000")
    assert short["status"] == "filled" and held() == Decimal("-0.01")
    bad = setup.run("order", "buy", "BTC", "0.01", "--target-position", "0.02")
    assert bad.exit_code == 2 and "not both" in bad.output
    # --notional sizes by value
    flat = setup.json("order", "buy", "BTC", "--target-position", "0")
    assert flat["status"] == "filled" and held() == 0
    valued = setup.json("order", "buy", "BTC", "--notional", "700")
    assert valued["status"] == "filled"
    step_value = setup.mark() * Decimal("0.001")  # BTC's amount step on Binance
    assert Decimal("700") - step_value < held() * setup.mark() <= Decimal("700")


def test_halt_exits_1_when_an_account_could_not_be_flattened(setup: Setup) -> None:
    from tradeexec.sim.faults import FaultRule

    setup.json("order", "buy", "BTC", "0.01", "--account", "hl-main")
    setup.sim.simulator.ctx.faults.rules.append(
        FaultRule(route="hyperliquid.*", kind="status", status=503)
    )
    result = setup.run("halt", "--flatten", "--json")

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["bn-main"]["complete"] is True and report["hl-main"]["complete"] is False
    states = {s["account"]: s["state"] for s in setup.json("state")}
    assert states == {"bn-main": "halted", "hl-main": "halted"}
