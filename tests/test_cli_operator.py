"""The command line as an operator meets it (issue 8): clear refusals before anything is
sent, health that checks credentials, exit codes that tell scripts the truth, tables that
fit the terminal, and why a venue could not be reached."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import test_cli
from test_cli import Setup
from tradeexec.sim.orders import OrderKind, OrderSpec, Side

setup = test_cli.setup  # the fixture: a YAML config like a user's, on the simulator

# --------------------------------------------------------------------------- --price


def test_price_on_a_market_order_is_refused_before_anything_is_sent(setup: Setup) -> None:
    """It used to fill at the market, the price silently ignored."""
    result = setup.run("order", "buy", "BTC", "0.01", "--price", "60000")
    assert result.exit_code == 2
    assert "--type limit" in result.stderr and "'--price'" in result.stderr
    assert setup.bn_engine.positions(setup.bn_account) == []
    assert setup.bn_engine.open_orders(setup.bn_account) == []
    # with --type limit it is the resting limit order that was meant
    below = str(int(setup.mark() * Decimal("0.97")))
    placed = setup.json("order", "buy", "BTC", "0.01", "--type", "limit", "--price", below)
    [resting] = setup.bn_engine.open_orders(setup.bn_account)
    assert resting.spec.price == Decimal(below) and placed["order_id"] == str(resting.order_id)


# --------------------------------------------------------------------------- health


def _add_account(setup: Setup, text: str) -> None:
    setup.config.write_text(setup.config.read_text() + text)


def test_health_checks_credentials_per_account(setup: Setup) -> None:
    """A public ping passed with any keys; now a signed balance read must pass, and each
    account says what failed with the error's code."""
    _add_account(
        setup,
        f"""\
  bn-wrong:
    type: binance
    api_url: {setup.sim.base_url}
    api_key: ${{TEST_BN_KEY}}
    api_secret: not-the-secret
""",
    )
    result = setup.run("health", "--json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["bn-main"]["ok"] is True and data["bn-main"]["credentials"] == "accepted"
    assert data["hl-main"]["ok"] is True
    wrong = data["bn-wrong"]
    assert wrong["ok"] is False and wrong["code"] == "authentication_failed"
    assert wrong["credentials"] == "refused"
    table = setup.run("health")
    assert table.exit_code == 1 and "authentication_failed" in table.stdout
    assert setup.run("health", "--account", "bn-main").exit_code == 0


def test_health_says_why_an_unreachable_venue_failed(setup: Setup) -> None:
    _add_account(
        setup,
        """\
  gone:
    type: binance
    api_url: http://127.0.0.1:1
    timeout_ms: 2000
""",
    )
    data = json.loads(setup.run("health", "--json").stdout)
    assert data["gone"]["code"] == "exchange_unavailable"
    assert "connection refused: 127.0.0.1:1" in data["gone"]["error"]
    markets = setup.run("markets", "--account", "gone")
    assert markets.exit_code == 1
    assert "connection refused: 127.0.0.1:1" in markets.stderr


def test_config_check_says_which_credentials_each_exchange_needs(setup: Setup) -> None:
    _add_account(
        setup,
        """\
  okx:
    type: ccxt
    exchange_id: okx
    api_key: ${TEST_BN_KEY}
    api_secret: ${TEST_BN_SECRET}
""",
    )
    data = setup.json("config", "check")
    assert data["credentials"]["okx"] == {
        "needs": ["api_key", "api_secret", "password"],
        "set": ["api_key", "api_secret"],
        "missing": ["password"],
    }
    assert data["credentials"]["hl-main"]["missing"] == []
    text = setup.run("config", "check")
    assert text.exit_code == 0
    assert "(missing:" in text.stdout and "password)" in text.stdout  # may wrap between
    assert "credentials missing for okx: password" in text.stderr
    assert "store:" in text.stdout and "market cache:" in text.stdout


# --------------------------------------------------------------------------- exit codes


def test_reconcile_exits_1_when_it_reports_a_mismatch(setup: Setup) -> None:
    assert setup.run("reconcile").exit_code == 0  # nothing to say
    # a position opened around tradeexec: reconcile reports it as untracked
    setup.bn_engine.place_order(
        setup.bn_account,
        OrderSpec(coin="ETH", side=Side.BUY, kind=OrderKind.MARKET, qty=Decimal("0.5")),
    )
    result = setup.run("reconcile", "--json")
    assert result.exit_code == 1
    [report] = [r for r in json.loads(result.stdout) if r["account"] == "bn-main"]
    assert any("untracked position" in m for m in report["mismatches"])


def test_cancel_of_an_unknown_order_exits_1_with_a_clear_line(setup: Setup) -> None:
    result = setup.run("cancel", "BTC", "--id", "987654321")
    assert result.exit_code == 1
    assert result.stderr.startswith("error [order_not_found]: no order with id 987654321")
    assert len(result.stderr.strip().splitlines()) == 1
    unknown_client = setup.run("cancel", "BTC", "--client-id", "te-never-sent", "--json")
    assert unknown_client.exit_code == 1 and "order_not_found" in unknown_client.stderr


# --------------------------------------------------------------------------- width

PATH_LINES = ("store: ", "market cache: ")


def test_tables_fit_the_terminal_and_keep_ids_whole(setup: Setup, tmp_path: Path) -> None:
    below = str(int(setup.mark() * Decimal("0.97")))
    placed = setup.json("order", "buy", "BTC", "0.01", "--type", "limit", "--price", below)
    from typer.testing import CliRunner

    from tradeexec.cli import app

    for width in (60, 80, 200):
        for args in (["orders"], ["markets"], ["config", "check"], ["health"]):
            result = CliRunner().invoke(
                app, [*args, "--config", str(setup.config)], env={"COLUMNS": str(width)}
            )
            assert result.exit_code == 0, result.output
            # the store and cache paths are printed whole: the terminal wraps those
            lines = [x for x in result.stdout.splitlines() if not x.startswith(PATH_LINES)]
            assert max(len(line) for line in lines) <= width, (args, width, result.stdout)
            if args == ["orders"]:  # ids are copied into the next command: never cut
                assert placed["client_order_id"] in result.stdout
                assert placed["order_id"] in result.stdout
