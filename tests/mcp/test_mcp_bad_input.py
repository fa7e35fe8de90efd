"""Bad input at the MCP door (issue 12): the tools called over streamable HTTP (the ``mcp``
SDK's client, and raw JSON-RPC for number tokens JSON cannot carry through a client: ``NaN``,
``Infinity``, ``1e400``) with malformed and hostile arguments. Each is a tool error with a
stable reason code and a clear one-line message; nothing reaches the venue (the simulator's
engine holds no order of the account, and its request log no order request); the server
answers normally afterwards.

Confirmation tokens on the ``live`` account (``mcp: live``): missing, made up, for other
arguments, or replayed after their one legitimate use: refused, and only that one use made
an order."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import CallToolResult, TextContent
from mcp_harness import ADMIN, data, funded, mcp_config, order_args, secrets_of

from api.harness import LiveServer
from tradeexec.config import AppConfig
from tradeexec.sim.server import SimServer

CODE = re.compile(r"^[a-z][a-z0-9_]*: \S")  # "reason_code: what is wrong ..."
ORDER_ROUTES = ("/fapi/v1/order", "/fapi/v1/algoOrder", "/fapi/v1/batchOrders")


def _bad(i: int, **fields: Any) -> dict[str, Any]:
    return order_args(**{"idempotency_key": f"bad-{i}", **fields})


NUMBERS: list[Any] = ["NaN", "nan", "Infinity", "-Infinity", "inf", "1e400", -0.01, 0, "0",
                      1e30, "1,000", "0x10", "", "１０", True, [], {}]  # fmt: skip


def corpus() -> list[tuple[str, str, dict[str, Any]]]:
    """(what, tool, arguments): every one must be a tool error."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    n = 0
    for number in NUMBERS:
        for name in ("quantity", "stop_loss", "confidence"):
            n += 1
            out.append((f"{name}={number!r}", "place_order", _bad(n, **{name: number})))
    for what, fields in [
        ("side sideways", {"side": "sideways"}),
        ("side as a number", {"side": 1}),
        ("symbol as a number", {"symbol": 123}),
        ("symbol missing", {"symbol": None}),
        ("unknown symbol", {"symbol": "NOPE"}),
        ("unicode symbol", {"symbol": "B\u0000T\u202eC"}),
        ("emoji symbol", {"symbol": "🚀BTC"}),
        ("sql in symbol", {"symbol": "BTC' OR 1=1 --"}),
        ("very long symbol", {"symbol": "X" * 10_000}),
        ("unknown account", {"account": "nobody"}),
        ("very long account", {"account": "a" * 5_000}),
        ("very long comment", {"comment": "c" * 50_000}),  # under the 64 kB body limit
        ("very long key", {"idempotency_key": "k" * 10_000}),
        ("empty key", {"idempotency_key": ""}),
        ("reduce_only maybe", {"reduce_only": "maybe"}),
        ("leverage 0", {"leverage": 0}),
        ("leverage 500", {"leverage": 500}),
        ("leverage 1.5", {"leverage": 1.5}),
        ("order type iceberg", {"order_type": "iceberg"}),
        ("limit without price", {"order_type": "limit"}),
        ("both sizes", {"notional": 100}),
        ("stop above a long's entry", {"stop_loss": 99_999}),
        ("huge quantity", {"quantity": 1e9}),
    ]:
        n += 1
        out.append((what, "place_order", _bad(n, **fields)))
    out += [
        ("cancel: unknown order", "cancel_order", {"order_id": "404", "symbol": "BTC"}),
        ("cancel: long id", "cancel_order", {"order_id": "9" * 1_000, "symbol": "BTC"}),
        ("close: unknown symbol", "close_position", {"symbol": "NOPE"}),
        ("close: unknown account", "close_position", {"symbol": "BTC", "account": "nobody"}),
        ("halt: unknown tier", "halt", {"tier": "nuclear"}),
        ("halt: long reason", "halt", {"reason": "r" * 10_000}),
        ("resume: unknown account", "resume", {"account": "nobody"}),
        ("ticker: unknown symbol", "get_ticker", {"symbol": "NOPE"}),
        ("signal: path", "get_signal", {"signal": "../../etc/passwd"}),
        ("signal: long", "get_signal", {"signal": "s" * 10_000}),
        ("balance: unknown account", "get_balance", {"account": "nobody"}),
        ("preview: NaN", "preview_order", {**order_args(), "quantity": "NaN"}),
        ("unknown argument", "get_positions", {"everything": True}),
        ("unknown tool", "drop_tables", {}),
    ]
    return out


# raw JSON-RPC texts: the number tokens a JSON client library will not produce
RAW_NUMBERS = ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400)


@pytest.fixture
def server(sim_server: SimServer, tmp_path: Path) -> Iterator[tuple[LiveServer, AppConfig]]:
    config = mcp_config(sim_server, tmp_path, funded(sim_server))
    live = LiveServer(config).start()
    try:
        yield live, config
    finally:
        live.stop()


@asynccontextmanager
async def mcp_session(url: str) -> AsyncIterator[ClientSession]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {ADMIN}"})
    async with (
        http,
        streamable_http_client(url, http_client=http) as (read, write, _),
        ClientSession(read, write) as client,
    ):
        await client.initialize()
        yield client


def _text(result: CallToolResult) -> str:
    block = result.content[0] if result.content else None
    return block.text if isinstance(block, TextContent) else ""


async def _raw_calls(url: str) -> list[tuple[str, int, str]]:
    """tools/call with raw number tokens in the JSON text: (token, HTTP status, answer)."""
    headers = {
        "Authorization": f"Bearer {ADMIN}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "corpus", "version": "1"}}}  # fmt: skip
    out = []
    async with httpx.AsyncClient(timeout=30) as http:
        first = await http.post(url, json=init, headers=headers)
        assert first.status_code == 200, first.text
        session = first.headers.get("mcp-session-id")
        if session:
            headers["mcp-session-id"] = session
        ready = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await http.post(url, json=ready, headers=headers)
        huge = {"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {
            "name": "place_order", "arguments": order_args(comment="c" * 1_000_000)}}  # fmt: skip
        got = await http.post(url, json=huge, headers=headers)
        out.append(("1 MB body", got.status_code, got.text))
        for i, token in enumerate(RAW_NUMBERS, start=1):
            args = json.dumps(order_args(idempotency_key=f"raw-{i}")).replace(
                '"quantity": 0.01', f'"quantity": {token}'
            )
            assert token in args
            body = (
                f'{{"jsonrpc": "2.0", "id": {i}, "method": "tools/call", '
                f'"params": {{"name": "place_order", "arguments": {args}}}}}'
            )
            got = await http.post(url, content=body, headers=headers)
            out.append((token, got.status_code, got.text))
    return out


def _engine_account(sim: SimServer, config: AppConfig, name: str) -> str:
    key = config.accounts[name].api_key
    assert key is not None
    account = sim.simulator.binance.keys.account_for(key.get_secret_value())
    assert account is not None
    return account


def _venue_orders(sim: SimServer, creds_accounts: list[str]) -> int:
    engine = sim.simulator.binance.engine
    return sum(1 for o in engine.orders.values() if o.account_id in creds_accounts)


def _order_requests(sim: SimServer) -> list[str]:
    """Orders sent to the venue (a cancel of an unknown id is asked of the venue: only it
    knows; that is not an order)."""
    rows = httpx.get(f"{sim.base_url}/_sim/requests?limit=100000", timeout=30).json()
    return [
        f"{r['method']} {r['path']}"
        for r in rows["requests"]
        if r["method"] == "POST" and r["path"].startswith(ORDER_ROUTES)
    ]


async def test_every_bad_tool_call_is_a_clear_tool_error_and_nothing_executes(
    server: tuple[LiveServer, AppConfig], sim_server: SimServer
) -> None:
    live, config = server
    url = f"{live.base_url}/mcp"
    accounts = [_engine_account(sim_server, config, name) for name in ("bn", "live")]
    answers: list[tuple[str, CallToolResult]] = []
    async with mcp_session(url) as client:
        for what, tool, args in corpus():
            answers.append((what, await client.call_tool(tool, args)))
        # after all that, the server still answers
        after = data(await client.call_tool("get_balance", {"account": "bn"}))
    raw = await _raw_calls(url)

    not_errors = [what for what, result in answers if not result.isError]
    assert not_errors == [], not_errors
    unclear = [(what, _text(r)[:120]) for what, r in answers if not CODE.match(_text(r))]
    assert unclear == [], unclear  # "reason_code: message", one line
    long = [what for what, r in answers if len(_text(r)) > 600 or "\n" in _text(r)]
    assert long == [], long  # short enough for a model's context; never echoes 100 kB
    assert not any("Traceback" in _text(r) for _, r in answers)
    assert raw[0][:2] == ("1 MB body", 413), raw[0]  # refused before it is read
    for token, status, text in raw[1:]:
        assert status == 200, (token, status, text[:300])  # a JSON-RPC answer, not a crash
        assert '"isError":true' in text.replace(" ", "") or '"error"' in text, (token, text)
    assert after  # healthy: a real answer (data() refuses a tool error)
    assert _venue_orders(sim_server, accounts) == 0
    assert _order_requests(sim_server) == []
    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as http:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        assert (await http.get("/ready", headers=headers)).status_code == 200
        seen = (await http.get("/signals", headers=headers)).json()["signals"]
    assert [s["idempotency_key"] for s in seen if s["status"] == "filled"] == []
    shown = "\n".join(_text(r) for _, r in answers) + "\n".join(t for _, _, t in raw)
    assert not [s[:4] for s in secrets_of(config) if s in shown]


async def test_confirmation_tokens_missing_forged_mismatched_or_replayed_are_refused(
    server: tuple[LiveServer, AppConfig], sim_server: SimServer
) -> None:
    live, config = server
    account = _engine_account(sim_server, config, "live")
    args = order_args(account="live", quantity=0.002)
    async with mcp_session(f"{live.base_url}/mcp") as client:

        async def place(key: str, **extra: Any) -> CallToolResult:
            return await client.call_tool("place_order", {**args, "idempotency_key": key, **extra})

        refused = {
            "missing": await place("ct-1"),
            "forged": await place("ct-2", confirmation_token="ct_" + "0" * 40),
            "too long": await place("ct-3", confirmation_token="ct_" + "0" * 500),
            "not text": await place("ct-4", confirmation_token=12345),
        }
        preview = data(await client.call_tool("preview_order", args))
        token = preview["confirmation_token"]
        refused["other arguments"] = await place("ct-5", confirmation_token=token, quantity=0.003)
        used = await place("ct-6", confirmation_token=token)  # the legitimate use
        refused["replayed"] = await place("ct-7", confirmation_token=token)
        refused["replayed, same key"] = await place("ct-6b", confirmation_token=token)
    codes = {what: _text(r).partition(":")[0] for what, r in refused.items()}
    assert all(r.isError for r in refused.values()), codes
    assert codes == {
        "missing": "confirmation_required",
        "forged": "confirmation_invalid",
        "too long": "invalid_request",
        "not text": "invalid_request",
        "other arguments": "confirmation_mismatch",
        "replayed": "confirmation_used",
        "replayed, same key": "confirmation_used",
    }
    assert not used.isError, _text(used)
    engine = sim_server.simulator.binance.engine
    entries = [
        o
        for o in engine.orders.values()
        if o.account_id == account and o.spec.parent_id is None and not o.spec.reduce_only
    ]
    assert len(entries) == 1  # the one confirmed order, nothing for the refusals
    assert entries[0].spec.qty == Decimal("0.002")


def test_stdio_non_finite_numbers_are_refused_not_read_as_missing(
    sim_server: SimServer, tmp_path: Path
) -> None:
    """``tradeexec mcp`` over stdio, raw JSON-RPC lines: ``NaN`` and ``1e400`` as a quantity
    are refused by name (the SDK alone would make them null, and the sizing would pick a
    quantity), and nothing reaches the venue."""
    import os
    import queue
    import subprocess
    import threading

    from test_mcp_stdio import TRADEEXEC, write_config

    creds = funded(sim_server)
    env = {**os.environ, "TRADEEXEC_HOME": str(tmp_path / "home"),
           **write_config(sim_server, tmp_path, creds)}  # fmt: skip
    lines = [
        '{"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": '
        '"2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}',
        '{"jsonrpc": "2.0", "method": "notifications/initialized"}',
    ]
    for i, token in enumerate(("NaN", "1e400", "-Infinity"), start=1):
        args = json.dumps(order_args(idempotency_key=f"stdio-{i}"))
        args = args.replace('"quantity": 0.01', f'"quantity": {token}')
        lines.append(
            f'{{"jsonrpc": "2.0", "id": {i}, "method": "tools/call", '
            f'"params": {{"name": "place_order", "arguments": {args}}}}}'
        )
    with (tmp_path / "stderr.log").open("w") as errlog:
        proc = subprocess.Popen(
            [TRADEEXEC, "mcp", "--config", str(tmp_path / "exchange.yaml")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, env=env, text=True,
        )  # fmt: skip
    answers: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            answers.put(line)

    threading.Thread(target=read, daemon=True).start()
    assert proc.stdin is not None
    got: dict[int, dict[str, Any]] = {}
    try:
        for line in lines:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
        while len(got) < 4:
            answer = json.loads(answers.get(timeout=120))  # bounded: a hang fails here
            got[int(answer["id"])] = answer
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for i in (1, 2, 3):
        result = got[i]["result"]
        assert result["isError"], result
        assert result["content"][0]["text"].startswith("invalid_request: quantity: "), result
        assert "finite" in result["content"][0]["text"], result
    assert not any(o.spec.qty for o in sim_server.simulator.binance.engine.orders.values())
