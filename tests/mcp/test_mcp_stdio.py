"""``tradeexec mcp`` over stdio, driven by the ``mcp`` SDK's own client, as an MCP client
(Claude Desktop, an agent framework) starts it: the config from a file with its secrets in
environment variables, the accounts on the simulator."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_harness import (
    READ_TOOLS,
    WRITE_TOOLS,
    config_data,
    data,
    funded,
    mcp_config,
    order_args,
    refusal,
    secrets_of,
    text,
)

from tradeexec.sim.server import SimServer

TRADEEXEC = str(Path(sys.executable).with_name("tradeexec"))


def write_config(sim: SimServer, tmp: Path, creds: dict[str, dict[str, str]]) -> dict[str, str]:
    """The config file, with every secret as ``${VAR}``; returns the variables."""
    raw = config_data(sim, tmp, creds)
    env: dict[str, str] = {}
    for name, account in raw["accounts"].items():
        for key in ("api_key", "api_secret"):
            if key in account:
                var = f"T_{name}_{key}".upper()
                env[var], account[key] = account[key], f"${{{var}}}"
    (tmp / "exchange.yaml").write_text(yaml.safe_dump(raw))
    return env


@asynccontextmanager
async def session(tmp: Path, env: dict[str, str], *args: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=TRADEEXEC,
        args=["-v", "mcp", "--config", str(tmp / "exchange.yaml"), *args],
        env={**os.environ, "TRADEEXEC_HOME": str(tmp / "home"), **env},
    )
    with (tmp / "stderr.log").open("a") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as client,
        ):
            await client.initialize()
            yield client


async def test_stdio_tools_orders_and_the_live_token_flow(
    sim_server: SimServer, tmp_path: Path
) -> None:
    creds = funded(sim_server)
    env = write_config(sim_server, tmp_path, creds)
    outputs: list[str] = []

    async def call(client: ClientSession, tool: str, args: dict[str, Any]) -> Any:
        result = await client.call_tool(tool, args)
        outputs.append(text(result))
        return result

    async with session(tmp_path, env) as client:
        # listed with truthful annotations and schemas an agent can act on
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == READ_TOOLS | WRITE_TOOLS - {"halt", "resume"}  # stdio: trade
        place = tools["place_order"]
        assert place.annotations is not None
        assert place.annotations.readOnlyHint is False
        assert place.annotations.destructiveHint is True
        assert place.annotations.idempotentHint is True
        assert set(place.inputSchema["required"]) == {"symbol", "confidence", "idempotency_key"}
        assert "description" in place.inputSchema["properties"]["idempotency_key"]
        for name in READ_TOOLS:
            assert tools[name].annotations is not None
            assert tools[name].annotations.readOnlyHint is True, name

        # a paper order with its stop and target, visible through get_orders
        placed = data(
            await call(client, "place_order", order_args(account="paper", idempotency_key="p1"))
        )
        assert placed["status"] == "filled"
        orders = data(await call(client, "get_orders", {"account": "paper"}))
        resting = {o["id"] for o in orders["accounts"]["paper"]}
        assert {placed["stop_loss_order_id"], placed["take_profit_order_id"]} <= resting

        # a risk refusal is a tool error with its reason code and what would pass
        line = refusal(
            await call(client, "place_order", order_args(quantity=1, idempotency_key="big"))
        )
        assert line.startswith("max_order_notional: ")
        assert "would pass: quantity ≤ 0.44" in line

        # the live-configured account: no token, a token for other arguments, the right
        # token once, then never again
        live = order_args(account="live")
        line = refusal(await call(client, "place_order", {**live, "idempotency_key": "l1"}))
        assert line.startswith("confirmation_required: ")
        preview = data(await call(client, "preview_order", live))
        assert preview["approved"] is True and preview["confirmation_required"] is True
        assert [o["role"] for o in preview["orders"]] == ["entry", "stop_loss", "take_profit"]
        token = preview["confirmation_token"]
        other = {**live, "quantity": 0.02, "idempotency_key": "l2", "confirmation_token": token}
        line = refusal(await call(client, "place_order", other))
        assert line.startswith("confirmation_mismatch: ")
        right = {**live, "idempotency_key": "l3", "confirmation_token": token}
        assert data(await call(client, "place_order", right))["status"] == "filled"
        again = {**live, "idempotency_key": "l4", "confirmation_token": token}
        assert refusal(await call(client, "place_order", again)).startswith("confirmation_used: ")
        # a token minted for another account does not open this one
        bn_token = data(await call(client, "preview_order", order_args()))["confirmation_token"]
        stolen = {**live, "idempotency_key": "l5", "confirmation_token": bn_token}
        assert refusal(await call(client, "place_order", stolen)).startswith(
            "confirmation_mismatch: "
        )
        # re-sending the placed key needs no token and sends nothing: the first outcome
        retry = data(await call(client, "place_order", {**live, "idempotency_key": "l3"}))
        assert retry["status"] == "duplicate" and retry["original_status"] == "filled"

    assert sim_server.simulator.binance.engine.positions(creds["live"]["account"])
    config = mcp_config(sim_server, tmp_path, creds)
    seen = "\n".join(outputs) + (tmp_path / "stderr.log").read_text()
    assert "tradeexec" in (tmp_path / "stderr.log").read_text()  # the log went to stderr
    assert not [s[:4] for s in secrets_of(config) if s in seen]


async def test_stdio_read_only_lists_and_allows_no_write_tool(
    sim_server: SimServer, tmp_path: Path
) -> None:
    env = write_config(sim_server, tmp_path, funded(sim_server))
    async with session(tmp_path, env, "--read-only") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == READ_TOOLS
        for tool, args in [
            ("place_order", order_args(account="paper", idempotency_key="ro")),
            ("close_position", {"symbol": "BTC", "account": "paper"}),
            ("cancel_order", {"order_id": "1", "symbol": "BTC", "account": "paper"}),
        ]:
            assert refusal(await client.call_tool(tool, args)).startswith("read_only: ")
        assert data(await client.call_tool("get_balance", {"account": "paper"}))["balances"]
