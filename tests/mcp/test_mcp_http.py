"""MCP over streamable HTTP at ``/mcp`` in the service (real uvicorn, real HTTP), driven by
the ``mcp`` SDK's client and by ``langchain-mcp-adapters``: bearer tokens with the REST
API's scopes, an order placed through MCP and seen through ``GET /orders``, the kill switch
for admin tokens only, no secret in any answer or log line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from langchain_mcp_adapters.client import MultiServerMCPClient
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import CallToolResult
from mcp_harness import (
    ADMIN,
    READ_TOOLS,
    READER,
    TRADER,
    WRITE_TOOLS,
    data,
    funded,
    mcp_config,
    order_args,
    refusal,
    secrets_of,
    text,
)

from api.harness import Capture, LiveServer
from tradeexec.config import AppConfig
from tradeexec.sim.server import SimServer


@dataclass
class Service:
    server: LiveServer
    config: AppConfig
    log: Capture
    seen: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/mcp"

    @asynccontextmanager
    async def mcp(self, token: str) -> AsyncIterator[ClientSession]:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        async with (
            http,
            streamable_http_client(self.url, http_client=http) as (read, write, _),
            ClientSession(read, write) as client,
        ):
            await client.initialize()
            yield client

    async def call(self, client: ClientSession, tool: str, **args: object) -> CallToolResult:
        result = await client.call_tool(tool, dict(args))
        self.seen.append(text(result))
        return result


@pytest.fixture
def service(sim_server: SimServer, tmp_path: Path) -> Iterator[Service]:
    config = mcp_config(sim_server, tmp_path, funded(sim_server))
    capture = Capture()
    root, ours = logging.getLogger(), logging.getLogger("tradeexec")
    level = ours.level
    root.addHandler(capture)
    ours.setLevel(logging.DEBUG)
    running = Service(LiveServer(config).start(), config, capture)
    try:
        yield running
    finally:
        running.server.stop()
        root.removeHandler(capture)
        ours.setLevel(level)
    seen = "\n".join([*capture.lines, *running.seen])
    assert not [s[:4] for s in secrets_of(config) if s in seen], "a configured secret leaked"


def test_no_token_or_an_unknown_one_is_401(service: Service) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream"}
    for auth in ({}, {"Authorization": "Bearer not-a-configured-token"}):
        answer = httpx.post(service.url, json=body, headers={**headers, **auth})
        service.seen.append(answer.text)
        assert answer.status_code == 401
        assert answer.json()["code"] == "unauthorized"
        assert answer.headers["WWW-Authenticate"] == "Bearer"


async def test_scopes_pick_the_tools_and_an_order_shows_in_get_orders(service: Service) -> None:
    async with service.mcp(READER) as reader:
        assert {t.name for t in (await reader.list_tools()).tools} == READ_TOOLS
        line = refusal(await service.call(reader, "place_order", **order_args(idempotency_key="r")))
        assert line.startswith("forbidden: ")

    async with service.mcp(TRADER) as trader:
        names = {t.name for t in (await trader.list_tools()).tools}
        assert names == READ_TOOLS | WRITE_TOOLS - {"halt", "resume"}
        placed = data(await service.call(trader, "place_order", **order_args(idempotency_key="h1")))
        assert placed["status"] == "filled"
        listed = data(await service.call(trader, "get_orders", account="bn"))["accounts"]["bn"]
        story = data(await service.call(trader, "get_signal", signal="h1"))
        assert [o["role"] for o in story["orders"]] == ["entry", "stop_loss", "take_profit"]

    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {READER}"}) as http:
        rest = await http.get(f"{service.server.base_url}/orders", params={"account": "bn"})
    service.seen.append(rest.text)
    on_venue = {o["id"] for o in rest.json()["accounts"]["bn"]}
    assert on_venue == {o["id"] for o in listed}
    assert {placed["stop_loss_order_id"], placed["take_profit_order_id"]} <= on_venue
    assert "MCP place_order refused: forbidden" in service.log.lines  # every call is logged
    assert "MCP place_order done" in service.log.lines


async def test_admin_halts_and_resumes_through_mcp(service: Service) -> None:
    async with service.mcp(ADMIN) as admin:
        assert {"halt", "resume"} <= {t.name for t in (await admin.list_tools()).tools}
        halted = data(await service.call(admin, "halt", account="bn", tier="halt"))
        assert halted["accounts"]["bn"]["state"] == "halted"
        line = refusal(await service.call(admin, "place_order", **order_args(idempotency_key="x")))
        assert line.startswith("halted: ")
        resumed = data(await service.call(admin, "resume", account="bn"))
        assert resumed["accounts"] == [
            {"account": "bn", "state": "active", "reason": "resumed (mcp)"}
        ]
        placed = await service.call(admin, "place_order", **order_args(idempotency_key="y"))
        assert data(placed)["status"] == "filled"


async def test_langgraph_loads_the_tools_through_langchain_mcp_adapters(service: Service) -> None:
    client = MultiServerMCPClient(
        {
            "tradeexec": {
                "transport": "streamable_http",
                "url": service.url,
                "headers": {"Authorization": f"Bearer {TRADER}"},
            }
        }
    )
    tools = {tool.name: tool for tool in await client.get_tools()}
    assert set(tools) == READ_TOOLS | WRITE_TOOLS - {"halt", "resume"}
    assert "idempotency_key" in tools["place_order"].args
    answer = await tools["get_balance"].ainvoke({"account": "paper"})
    shown = str(answer)
    service.seen.append(shown)
    assert '"USDT"' in shown and '"10000"' in shown
