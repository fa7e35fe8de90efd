"""What the MCP tests share: a config on the session's simulator with a paper account, a
Binance USD-M simulator account (``bn``, trades through MCP with no extra config) and a
second one configured ``mcp: live`` (``live``: every order needs a confirmation token);
tool results read as JSON; the secrets that must never show."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from mcp.types import CallToolResult, TextContent

from tradeexec.config import AppConfig
from tradeexec.sim.server import SimServer

ADMIN = "mcp-admin-token-0123456789"
TRADER = "mcp-trader-token-0123456789"
READER = "mcp-reader-token-0123456789"
PRICE = Decimal(67500)
WRITE_TOOLS = {"place_order", "cancel_order", "close_position", "halt", "resume"}
READ_TOOLS = {
    "list_accounts", "get_ticker", "get_balance", "get_positions", "get_orders", "get_signal",
    "preview_order",
}  # fmt: skip


def funded(sim: SimServer) -> dict[str, dict[str, str]]:
    sim.simulator.set_price("BTC", PRICE)
    return {
        "bn": dict(sim.simulator.binance.create_account(Decimal(10000))),
        "live": dict(sim.simulator.binance.create_account(Decimal(10000))),
    }


def config_data(
    sim: SimServer, tmp: Path, creds: dict[str, dict[str, str]], **mcp: Any
) -> dict[str, Any]:
    """The config as a dict (secrets literal); ``mcp`` is the ``mcp:`` section."""

    def binance(name: str, **extra: Any) -> dict[str, Any]:
        return {
            "type": "binance", "api_url": sim.base_url, "api_key": creds[name]["apiKey"],
            "api_secret": creds[name]["secret"], "timeout_ms": 8000, **extra,
        }  # fmt: skip

    return {
        "accounts": {
            "bn": binance("bn"),
            "live": binance("live", mcp="live"),
            "paper": {"type": "paper", "starting_balance": 10000},
        },
        "default_account": "bn",
        "store_url": f"sqlite:///{tmp / 'mcp.db'}",
        "market_cache_dir": str(tmp / "markets"),
        "risk": {"max_order_notional": 30000, "max_orders_per_minute": 1000},
        "service": {
            "tokens": {
                "admin": {"token": ADMIN, "scopes": ["admin"]},
                "trader": {"token": TRADER, "scopes": ["trade"]},
                "reader": {"token": READER, "scopes": ["read"]},
            },
            "webhook_secret": "mcp-webhook-secret-0123456789",
        },
        "mcp": mcp,
    }


def mcp_config(
    sim: SimServer, tmp: Path, creds: dict[str, dict[str, str]], **mcp: Any
) -> AppConfig:
    return AppConfig.model_validate(config_data(sim, tmp, creds, **mcp))


def secrets_of(config: AppConfig) -> list[str]:
    return [s for s in config.secret_values() if len(s) >= 8]


def text(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def data(result: CallToolResult) -> dict[str, Any]:
    """An answer's JSON (after the data note, when there is one)."""
    assert not result.isError, text(result)
    body = text(result)
    if body.startswith("[data"):
        body = body.split("\n", 1)[1]
    out = json.loads(body)
    assert out == result.structuredContent
    assert isinstance(out, dict)
    return out


def refusal(result: CallToolResult) -> str:
    """A refusal's one line (``reason: why; would pass: ...``)."""
    assert result.isError, text(result)
    line = text(result)
    assert "\n" not in line
    return line


def order_args(**fields: Any) -> dict[str, Any]:
    """A bracketed buy of 0.01 BTC (2 % stop, 3 % target) on ``bn``."""
    args: dict[str, Any] = {
        "symbol": "BTC", "side": "buy", "quantity": 0.01, "confidence": 0.8,
        "stop_loss": 66150, "take_profit": 69525, "account": "bn",
    }  # fmt: skip
    args.update(fields)
    return args
