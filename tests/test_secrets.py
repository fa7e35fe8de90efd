"""Secrets across every surface (issue 12), end to end: a real ``tradeexec -vv --log-file ...
serve`` process configured with real-looking credentials (the simulator's Binance key and
secret, 64 characters each as Binance's are; a Hyperliquid private key; three API tokens; a
webhook secret), driven through every door, then everything it said or wrote is scanned:

- every HTTP answer (status line, headers, body): probes, REST reads and writes, 401 / 403 /
  404 / 413 / 422 problem documents, ``/metrics``, ``/cluster``, the webhook (body secret,
  path secret, wrong secret, refused bodies that contained the secret), the dashboard pages
  (sign-in refused and accepted, every page), the SSE feed from its start;
- MCP over HTTP through the ``mcp`` SDK client: tool answers and tool errors;
- venue errors the service passes on (the simulator answers 401 and 500 on chosen routes);
- the process's stdout banner, its stderr at ``-vv`` (every library's debug output: ccxt logs
  each request with its headers there) and its ``--log-file``;
- the SQLite store as bytes (signals, events, errors; the WAL too) and a CLI read of it.

(The suite-wide guard in ``conftest.py`` watches the in-process log records of every test;
this test is the one that covers a whole service process from outside.)
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from secret_guard import register_canaries
from tradeexec.sim.faults import FaultRule
from tradeexec.sim.server import SimServer

pytestmark = pytest.mark.slow

PRICE = Decimal(67500)


def _secrets(sim: SimServer) -> dict[str, str]:
    sim.simulator.set_price("BTC", PRICE)
    bn = sim.simulator.binance.create_account(Decimal(10000))
    hl = sim.simulator.hyperliquid.create_account(Decimal(10000))
    return {
        "BN_KEY": bn["apiKey"],
        "BN_SECRET": bn["secret"],
        "HL_WALLET": hl["walletAddress"],  # public: configured, not a secret
        "HL_KEY": hl["privateKey"],
        "ADMIN_TOKEN": "te_" + secrets.token_hex(20),
        "TRADER_TOKEN": "te_" + secrets.token_hex(20),
        "READER_TOKEN": "te_" + secrets.token_hex(20),
        "TV_SECRET": "tv_" + secrets.token_urlsafe(24),
    }


def _config(sim: SimServer, tmp: Path) -> Path:
    data = {
        "accounts": {
            "bn": {"type": "binance", "api_url": sim.base_url, "api_key": "${BN_KEY}",
                   "api_secret": "${BN_SECRET}", "timeout_ms": 10000},
            "hl": {"type": "hyperliquid", "api_url": sim.base_url,
                   "wallet_address": "${HL_WALLET}", "private_key": "${HL_KEY}",
                   "timeout_ms": 10000},
        },
        "default_account": "bn",
        "store_url": f"sqlite:///{tmp / 'secrets.db'}",
        "market_cache_dir": str(tmp / "markets"),
        "risk": {"max_order_notional": 30000, "max_orders_per_minute": 1000},
        "service": {
            "tokens": {
                "admin": {"token": "${ADMIN_TOKEN}", "scopes": ["admin"]},
                "trader": {"token": "${TRADER_TOKEN}", "scopes": ["trade"]},
                "reader": {"token": "${READER_TOKEN}", "scopes": ["read"]},
            },
            "webhooks": {"main": {"secret": "${TV_SECRET}", "accounts": ["bn", "hl"]}},
        },
    }  # fmt: skip
    path = tmp / "exchange.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class Seen:
    """Everything the service said, as text."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def response(self, response: httpx.Response) -> None:
        response.read()
        head = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        what = f"{response.request.method} {response.request.url.path} {response.status_code}"
        self.add(what, f"{head}\n{response.text}")

    def leaks(self, values: dict[str, str]) -> list[str]:
        return sorted(
            {
                f"{name} in {where}"
                for name, value in values.items()
                for where, text in self.texts
                if value in text or value.removeprefix("0x") in text
            }
        )


def _serve(config: Path, tmp: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    out, err = (tmp / "serve.out").open("w"), (tmp / "serve.err").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradeexec", "-vv", "--log-file", str(tmp / "serve.log"),
         "serve", "--config", str(config), "--port", "0"],
        stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, text=True,
    )  # fmt: skip
    out.close()
    err.close()
    deadline = time.monotonic() + 90
    while True:
        first = (tmp / "serve.out").read_text().partition("\n")
        if first[1]:
            base = str(json.loads(first[0])["base_url"])
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    return proc, base
            except httpx.HTTPError:
                pass
        assert proc.poll() is None, (tmp / "serve.err").read_text()[-3000:]
        assert time.monotonic() < deadline, "the service did not come up"
        time.sleep(0.1)


def _http(base: str, s: dict[str, str], sim: SimServer, seen: Seen) -> str:
    """Every REST, webhook and dashboard door, good and bad; returns a signal's key."""
    admin = {"Authorization": f"Bearer {s['ADMIN_TOKEN']}"}
    reader = {"Authorization": f"Bearer {s['READER_TOKEN']}"}
    trader = {"Authorization": f"Bearer {s['TRADER_TOKEN']}"}
    wrong = {"Authorization": f"Bearer {s['ADMIN_TOKEN'][:-4]}0000"}
    hook = "/webhooks/tradingview"
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    alert = {"passphrase": s["TV_SECRET"], "ticker": "BTCUSDT", "action": "buy",
             "contracts": "0.01", "price": str(PRICE), "stop_loss_pct": 0.02,
             "order_id": "secrets", "time": now}  # fmt: skip
    hooks = {"response": [seen.response]}
    with httpx.Client(base_url=base, timeout=30, event_hooks=hooks) as http:
        for path in ("/health", "/ready", "/accounts", "/balances", "/positions", "/orders",
                     "/metrics", "/cluster", "/signals", "/openapi.json"):  # fmt: skip
            http.get(path, headers=admin)
        http.get("/signals", headers=wrong)  # 401
        http.get("/signals")  # 401, no token
        http.post("/halt", headers=reader, json={"reason": "x"})  # 403
        http.get("/positions?account=nobody", headers=admin)  # 404
        http.post("/signals", headers=trader, json={"symbol": "BTC", "side": "sideways"})  # 422
        http.post("/signals", headers=trader, json={"symbol": "BTC", "side": "buy",
                  "quantity": "0.002", "confidence": 0.9, "stop_loss": "66000"})  # fmt: skip
        accepted = http.post(hook, json=alert)
        assert accepted.status_code == 202, accepted.text
        http.post(hook, json=alert)  # re-delivered: 200
        http.post(f"{hook}/{s['TV_SECRET']}", json={**alert, "passphrase": None,
                  "order_id": "in path"})  # fmt: skip
        http.post(f"{hook}/{s['TV_SECRET']}x", json=alert)  # 401, secret-like path
        http.post(hook, json={**alert, "passphrase": s["TV_SECRET"][:-2]})  # 401
        http.post(hook, json={**alert, "stoploss": 1})  # 422 unknown field, recorded
        http.post(hook, json={**alert, "contracts": "{{strategy.order.contracts}}"})  # 422
        garbage = f'{{"passphrase": "{s["TV_SECRET"]}", "ticker": BTC'
        http.post(hook, content=garbage, headers={"Content-Type": "text/plain"})  # 400
        http.post(hook, content=b"x" * 70_000 + s["TV_SECRET"].encode())  # 413
        # the venue refuses our credentials, then fails an order: its errors pass through
        sim.simulator.ctx.faults.rules.append(
            FaultRule(route="binance.balance", kind="status", status=401, times=1)
        )
        http.get("/balances?account=bn", headers=admin)
        sim.simulator.ctx.faults.rules.append(
            FaultRule(route="binance.*.create", kind="status", status=500, times=1)
        )
        http.post("/signals", headers=trader, json={"symbol": "BTC", "side": "sell",
                  "quantity": "0.002", "confidence": 0.9, "stop_loss": "69000"})  # fmt: skip
        sim.simulator.ctx.faults.clear()
        key = str(http.get("/signals", headers=admin).json()["signals"][0]["idempotency_key"])
        # the dashboard: a refused sign-in, then every page
        http.post("/ui/login", data={"token": s["ADMIN_TOKEN"] + "x", "next": "/ui/signals"})
        http.post("/ui/login", data={"token": s["ADMIN_TOKEN"], "next": "/ui/signals"})
        pages = ["/ui/signals", "/ui/signals/rows", f"/ui/signals/{key}", "/ui/orders"]
        pages += ["/ui/positions", "/ui/pnl", "/ui/health", "/ui/accounts", "/ui/banner"]
        for page in pages:
            http.get(page)
    # the SSE feed from its start, for a bounded moment (a client without the reading hook)
    replay = {**admin, "Last-Event-ID": "0"}
    with (
        httpx.Client(base_url=base, timeout=5) as sse,
        sse.stream("GET", "/events", headers=replay) as feed,
    ):
        chunks, ends = [], time.monotonic() + 3
        try:
            for chunk in feed.iter_text():
                chunks.append(chunk)
                if time.monotonic() > ends:
                    break
        except httpx.ReadTimeout:
            pass
        seen.add("GET /events (SSE)", "".join(chunks))
        assert "event:" in "".join(chunks)
    return key


async def _mcp(base: str, s: dict[str, str], seen: Seen) -> None:
    """MCP over HTTP: answers and tool errors."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {s['ADMIN_TOKEN']}"})
    async with (
        http,
        streamable_http_client(f"{base}/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as client,
    ):
        await client.initialize()
        tools = await client.list_tools()
        seen.add("mcp tools/list", json.dumps([t.model_dump(mode="json") for t in tools.tools]))
        calls: list[tuple[str, dict[str, Any]]] = [
            ("list_accounts", {}),
            ("get_balance", {"account": "bn"}),
            ("get_balance", {"account": "hl"}),
            ("get_positions", {}),
            ("get_orders", {"account": "bn"}),
            ("get_ticker", {"symbol": "BTC", "account": "hl"}),
            ("get_balance", {"account": "nobody"}),  # a tool error
            (
                "preview_order",
                {
                    "symbol": "BTC",
                    "side": "buy",
                    "quantity": 0.002,
                    "confidence": 0.9,
                    "stop_loss": 66000,
                    "account": "hl",
                },
            ),
            (
                "place_order",
                {
                    "symbol": "BTC",
                    "side": "buy",
                    "quantity": 0.002,
                    "confidence": 0.9,
                    "stop_loss": 66000,
                    "account": "bn",
                },
            ),
            ("get_signal", {"signal": "nothing-like-it"}),
        ]
        for tool, args in calls:
            result = await client.call_tool(tool, args)
            seen.add(f"mcp {tool}", json.dumps(result.model_dump(mode="json")))


def test_no_secret_in_any_answer_log_event_or_store(sim_server: SimServer, tmp_path: Path) -> None:
    import asyncio

    values = _secrets(sim_server)
    secret = {k: v for k, v in values.items() if k != "HL_WALLET"}
    register_canaries(*secret.values())
    config = _config(sim_server, tmp_path)
    env = {**os.environ, **values, "TRADEEXEC_HOME": str(tmp_path / "home")}
    seen = Seen()
    proc, base = _serve(config, tmp_path, env)
    try:
        key = _http(base, values, sim_server, seen)
        asyncio.run(_mcp(base, values, seen))
        time.sleep(1.0)  # the background execution of the last signals
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    cli = subprocess.run(
        [sys.executable, "-m", "tradeexec", "-vv", "signal", "list", "--config", str(config),
         "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr[-2000:]
    seen.add("cli signal list", cli.stdout + cli.stderr)
    for name in ("serve.out", "serve.err", "serve.log"):
        seen.add(name, (tmp_path / name).read_text(errors="replace"))
    for path in tmp_path.glob("secrets.db*"):  # signals, events, errors; the WAL too
        seen.add(path.name, path.read_bytes().decode("latin-1"))

    # the run did what it should, so the scan covers real traffic
    log = (tmp_path / "serve.log").read_text()
    assert key and "ccxt" in log and "X-MBX-APIKEY" in log  # -vv: ccxt's request headers
    assert any("401" in where for where, _ in seen.texts)
    assert json.loads((tmp_path / "serve.out").read_text().splitlines()[0])["api_token"] is None
    leaked = seen.leaks(secret)
    assert leaked == [], leaked


def test_the_session_guard_sees_a_canary_in_any_record() -> None:
    """The guard of conftest.py finds a registered secret in a message, its arguments and a
    traceback, from any logger, and says which logger without repeating the secret."""
    import logging

    from secret_guard import GUARD

    canary = "canary-" + secrets.token_hex(12)
    register_canaries(canary, "short")  # under 8 characters: ignored, it would match words
    GUARD.check()  # start clean
    logging.getLogger("some.library").warning("sent %s", {"key": canary})
    try:
        raise ValueError(f"bad key {canary}")
    except ValueError:
        logging.getLogger("tradeexec.x").exception("failed")
    logging.getLogger("tradeexec.y").debug("a short word in a line")
    found = GUARD.check()  # read and forgotten: this test does not fail at teardown
    assert found == [
        f"logger 'some.library' wrote a configured secret {canary[:4]}...",
        f"logger 'tradeexec.x' wrote a configured secret {canary[:4]}...",
    ]
    assert all(canary not in line for line in found)
