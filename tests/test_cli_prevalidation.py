"""The CLI refuses a bad stop or a bad number before anything is sent, in one line."""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import pytest
from typer.testing import CliRunner

from tradeexec.cli import app

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer


@pytest.fixture
def config(sim_server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    account = sim_server.simulator.binance.create_account(Decimal(10000))
    monkeypatch.setenv("TEST_BN_KEY", account["apiKey"])
    monkeypatch.setenv("TEST_BN_SECRET", account["secret"])
    sim_server.simulator.set_price("BTC", Decimal(67500))
    path = tmp_path / "exchange.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            store_url: sqlite:///{tmp_path}/store.db
            market_cache_dir: {tmp_path}/markets
            accounts:
              bn-main:
                type: binance
                api_url: {sim_server.base_url}
                api_key: ${{TEST_BN_KEY}}
                api_secret: ${{TEST_BN_SECRET}}
            """
        )
    )
    return path


def run(config: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--config", str(config)], env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    return result


def orders_sent(sim_server: SimServer) -> list[dict[str, Any]]:
    return [
        e
        for e in sim_server.simulator.log.recent(10_000, "binance")
        if e["method"] == "POST" and e["path"] in ("/fapi/v1/order", "/fapi/v1/algoOrder")
    ]


def test_a_stop_above_the_mark_with_a_quantity_sends_nothing(
    config: Path, sim_server: SimServer
) -> None:
    """Issue 8: this sent the entry, had the stop refused and flattened (two fees lost)."""
    result = run(config, "order", "buy", "BTC", "0.01", "--sl", "68000", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert (report["status"], report["reason"]) == ("rejected", "invalid_stop")
    assert orders_sent(sim_server) == []


def test_an_off_grid_stop_is_placed_rounded_towards_the_entry(
    config: Path, sim_server: SimServer
) -> None:
    result = run(config, "order", "buy", "BTC", "0.01", "--sl", "66150.123", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert any("rounded up to 66150.2" in w for w in report["warnings"]), report
    stops = [e for e in orders_sent(sim_server) if e["path"] == "/fapi/v1/algoOrder"]
    sent = [dict(parse_qsl(e["body"] or e["query"]))["triggerPrice"] for e in stops]
    assert [Decimal(price) for price in sent] == [Decimal("66150.2")]


@pytest.mark.parametrize("quantity", ["1e30", "1,000", "NaN", "1E-30"])
def test_a_bad_quantity_is_one_line_with_a_code(
    config: Path, sim_server: SimServer, quantity: str
) -> None:
    result = run(config, "order", "buy", "BTC", quantity)
    assert result.exit_code == 1
    assert "invalid_signal" in result.output and "quantity" in result.output
    assert orders_sent(sim_server) == []
