"""Markets cached on disk: a cold start writes the file, a warm start within the TTL asks
the venue for no market data (the simulator's request log proves it), a stale file reloads."""

from __future__ import annotations

import json
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tradeexec.domain import OrderRequest, OrderStatus
from tradeexec.exchanges.binance_futures import BinanceFuturesTrader
from tradeexec.exchanges.ccxt_trader import CCXTTrader
from tradeexec.exchanges.hyperliquid_trader import HyperliquidTrader
from tradeexec.exchanges.market_cache import MarketCache

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

VENUES = ("binance", "hyperliquid")


def market_requests(sim: SimServer) -> list[str]:
    """Requests that download market definitions (Binance exchangeInfo, Hyperliquid *meta*)."""
    out = []
    for e in sim.simulator.log.recent(10_000):
        body = e["body"] if isinstance(e["body"], dict) else {}
        kind = str(body.get("type", "")) if e["path"] == "/info" else ""
        if e["path"] == "/fapi/v1/exchangeInfo" or "eta" in kind or kind == "perpDexs":
            out.append(e["path"] + (f":{kind}" if kind else ""))
    return out


def trader_for(sim: SimServer, venue: str, cache: MarketCache | None) -> CCXTTrader:
    common: dict[str, Any] = {
        "api_url": sim.base_url,
        "retry_backoff_s": 0.01,
        "timeout_ms": 2000,
        "market_cache": cache,
    }
    if venue == "binance":
        c = sim.simulator.binance.create_account(Decimal("10000"))
        creds = {"apiKey": c["apiKey"], "secret": c["secret"]}
        return BinanceFuturesTrader("bn", credentials=creds, **common)
    c = sim.simulator.hyperliquid.create_account(Decimal("10000"))
    creds = {"walletAddress": c["walletAddress"], "privateKey": c["privateKey"]}
    return HyperliquidTrader("hl", credentials=creds, **common)


def the_cache_file(directory: Path) -> Path:
    (path,) = directory.glob("*.json")
    return path


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


async def connect_and_close(trader: CCXTTrader) -> dict[str, Any]:
    try:
        await trader.connect()
        return {sym: trader.market(sym) for sym in await trader.load_markets()}
    finally:
        await trader.close()


@pytest.mark.parametrize("venue", VENUES)
async def test_cold_load_writes_warm_load_asks_nothing_stale_reloads(
    venue: str, sim_server: SimServer, tmp_path: Path
) -> None:
    cache = MarketCache(tmp_path, ttl_s=3600)
    cold = await connect_and_close(trader_for(sim_server, venue, cache))
    assert market_requests(sim_server)  # the cold start downloaded them
    written = the_cache_file(tmp_path)
    assert "markets" in json.loads(written.read_text())

    sim_server.simulator.log.entries.clear()
    warm = await connect_and_close(trader_for(sim_server, venue, cache))
    assert market_requests(sim_server) == []
    assert warm == cold  # the same normalised markets, precision and minimums included

    age(written, 7200)
    sim_server.simulator.log.entries.clear()
    await connect_and_close(trader_for(sim_server, venue, cache))
    assert market_requests(sim_server)  # stale: downloaded again
    assert time.time() - written.stat().st_mtime < 3600  # and rewritten


@pytest.mark.parametrize("venue", VENUES)
async def test_a_trader_started_from_the_cache_trades_normally(
    venue: str, sim_server: SimServer, tmp_path: Path
) -> None:
    cache = MarketCache(tmp_path, ttl_s=3600)
    await connect_and_close(trader_for(sim_server, venue, cache))
    trader = trader_for(sim_server, venue, cache)
    await trader.connect()
    try:
        sym = trader.resolve_symbol("BTCUSDT.P")
        assert trader.amount_to_precision(sym, Decimal("0.0029999")) < Decimal("0.003")
        order = await trader.create_order(
            OrderRequest(sym, "buy", "limit", Decimal("0.0029999"), price=Decimal("60000.123"))
        )
        assert order.status is OrderStatus.SUBMITTED
        assert order.price == trader.price_to_precision(sym, Decimal("60000.123"))
        filled = await trader.create_order(OrderRequest(sym, "buy", "market", Decimal("0.002")))
        assert filled.status is OrderStatus.FILLED
    finally:
        await trader.close()


async def test_reload_bypasses_a_fresh_cache(sim_server: SimServer, tmp_path: Path) -> None:
    trader = trader_for(sim_server, "binance", MarketCache(tmp_path, ttl_s=3600))
    await trader.connect()
    try:
        sim_server.simulator.log.entries.clear()
        await trader.load_markets(reload=True)
        assert market_requests(sim_server) == ["/fapi/v1/exchangeInfo"]
    finally:
        await trader.close()


def test_one_file_per_exchange_and_endpoint(tmp_path: Path) -> None:
    cache = MarketCache(tmp_path)
    cache.save("binanceusdm", "http://sim|testnet=False", {"BTC/USDT:USDT": {"id": "sim"}}, None)
    cache.save("binanceusdm", "default|testnet=False", {"BTC/USDT:USDT": {"id": "real"}}, None)
    cache.save("hyperliquid", "http://sim|testnet=False", {"BTC/USDC:USDC": {}}, {"USDC": {}})
    assert len(list(tmp_path.glob("*.json"))) == 3
    sim = cache.load("binanceusdm", "http://sim|testnet=False")
    real = cache.load("binanceusdm", "default|testnet=False")
    assert sim is not None and real is not None
    assert sim["markets"]["BTC/USDT:USDT"]["id"] == "sim"
    assert real["markets"]["BTC/USDT:USDT"]["id"] == "real"
    hl = cache.load("hyperliquid", "http://sim|testnet=False")
    assert hl is not None and hl["currencies"] == {"USDC": {}}
    assert cache.load("hyperliquid", "default|testnet=False") is None
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


@pytest.mark.parametrize("content", ["{not json", "[]", '{"currencies": {}}', ""])
def test_unreadable_or_wrong_shaped_files_are_a_miss(tmp_path: Path, content: str) -> None:
    cache = MarketCache(tmp_path)
    cache.save("x", "e", {"A": {}}, None)
    the_cache_file(tmp_path).write_text(content)
    assert cache.load("x", "e") is None


def test_ttl_decides_freshness(tmp_path: Path) -> None:
    MarketCache(tmp_path, ttl_s=60).save("x", "e", {"A": {}}, None)
    assert MarketCache(tmp_path, ttl_s=60).load("x", "e") is not None
    age(the_cache_file(tmp_path), 61)
    assert MarketCache(tmp_path, ttl_s=60).load("x", "e") is None
    assert MarketCache(tmp_path, ttl_s=120).load("x", "e") is not None
