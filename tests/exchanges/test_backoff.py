"""tradeexec backs off before a venue bans it (`exchanges.backoff`).

First the gate's rules on a fake clock (no waiting, nothing timing-dependent), then over
HTTP against the simulator with lowered limits: raw ccxt in a loop is banned (418), the
same work through tradeexec's trader ends with no 429 and no 418 and everything done, and a
pipeline through `TradingService` places every bracket.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt
import pytest

from tradeexec import errors
from tradeexec.domain import OrderRequest, OrderSide, OrderType
from tradeexec.exchanges.backoff import (
    BINANCE_RATE_LIMITS,
    HYPERLIQUID_RATE_LIMITS,
    RateGate,
    RateLimit,
    RateLimitRules,
)
from tradeexec.exchanges.binance_futures import BinanceFuturesTrader
from tradeexec.exchanges.endpoints import point_ccxt_at
from tradeexec.exchanges.hyperliquid_trader import HyperliquidTrader
from tradeexec.sim.ratelimit import BinanceLimits, HyperliquidLimits

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer
    from tradeexec.testing import VenueHarness


class FakeTime:
    """A clock and a sleep that advances it: waits are recorded, never slept."""

    def __init__(self, now: float = 6_000.0) -> None:  # the start of a minute
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def gate(rules: RateLimitRules = BINANCE_RATE_LIMITS) -> tuple[RateGate, FakeTime]:
    time = FakeTime()
    return RateGate(rules, clock=time.clock, sleep=time.sleep), time


# --------------------------------------------------------------------------- the rules
def test_request_weights_come_from_the_venue_tables() -> None:
    weigh = BINANCE_RATE_LIMITS.weight
    assert weigh("GET", "/fapi/v1/openOrders", "symbol=BTCUSDT&timestamp=1", None) == 1
    assert weigh("GET", "/fapi/v1/openOrders", "timestamp=1", None) == 40
    assert weigh("GET", "/fapi/v3/account", "", None) == 5
    assert weigh("POST", "/fapi/v1/order", "", "symbol=BTCUSDT&side=BUY") == 0
    hl = HYPERLIQUID_RATE_LIMITS.weight
    assert hl("POST", "/info", "", '{"type": "l2Book", "coin": "BTC"}') == 2
    assert hl("POST", "/info", "", '{"type": "meta"}') == 20
    assert hl("POST", "/exchange", "", '{"action": {"type": "order"}}') == 1


async def test_near_the_reported_weight_it_waits_for_the_next_window() -> None:
    g, time = gate()
    time.now += 20  # 20 s into the minute
    await g.before("GET", "/fapi/v3/account")
    g.after({"x-mbx-used-weight-1m": "2151"})  # the venue's count, other processes included
    await g.before("GET", "/fapi/v3/account")  # 2156: within 2160 (90 % of 2400)
    assert time.slept == []
    await g.before("GET", "/fapi/v3/account")  # 2161 would pass the headroom
    assert time.slept == [40.25]  # the rest of the minute, plus the clock margin
    assert g.stats.waits == 1
    await g.before("GET", "/fapi/v3/account")  # a new window: counted from 0 again
    assert time.slept == [40.25]


async def test_orders_are_paced_by_the_account_order_count() -> None:
    g, time = gate()
    g.after({"X-MBX-ORDER-COUNT-10S": "269", "X-MBX-ORDER-COUNT-1M": "269"})
    await g.before("POST", "/fapi/v1/order", "", "symbol=BTCUSDT")  # the 270th fits
    assert time.slept == []
    await g.before("GET", "/fapi/v1/order", "symbol=BTCUSDT")  # a read is not an order
    assert time.slept == []
    await g.before("POST", "/fapi/v1/algoOrder", "", "symbol=BTCUSDT")
    assert time.slept == [10.25]  # the short window ends


async def test_retry_after_is_honoured_and_a_bare_429_pauses_longer_each_time() -> None:
    g, time = gate()
    g.after({"Retry-After": "7"}, refused=True)
    await g.before("GET", "/fapi/v1/time")
    assert time.slept[0] == 7.0
    g.after({})  # answered: the streak of refusals ends
    time.slept.clear()
    for _ in range(3):  # no Retry-After (Hyperliquid): 0.25 s, 0.5 s, 1 s
        g.after({}, refused=True)
        await g.before("GET", "/fapi/v1/time")
    assert time.slept == [0.25, 0.5, 1.0]
    g.after({})  # an answer that is not a refusal ends the streak
    g.after({}, refused=True)
    await g.before("GET", "/fapi/v1/time")
    assert time.slept[-1] == 0.25


async def test_a_ban_fails_requests_at_once_instead_of_holding_them() -> None:
    g, time = gate()
    g.after({"Retry-After": "120"}, refused=True)  # a 418: banned for 2 minutes
    with pytest.raises(errors.RateLimited, match="120 s"):
        await g.before("GET", "/fapi/v1/time")
    assert time.slept == []
    time.now += 120
    await g.before("GET", "/fapi/v1/time")  # the ban is over
    assert time.slept == []


async def test_published_limits_replace_the_defaults() -> None:
    g, time = gate()
    g.learn(
        {
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND", "intervalNum": 3,
                 "limit": 20},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 2, "limit": 5},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 1,
                 "limit": 9},
            ]
        }
    )  # fmt: skip
    weight = [lim for lim in g.rules.limits if lim.kind == "REQUEST_WEIGHT"]
    assert [(w.limit, w.interval_s, w.header) for w in weight] == [(20, 3, "X-MBX-USED-WEIGHT-3S")]
    orders = [lim for lim in g.rules.limits if lim.kind == "ORDERS"]
    assert [(o.limit, o.header, o.per) for o in orders] == [(5, "X-MBX-ORDER-COUNT-2S", "account")]
    g.after({"X-MBX-USED-WEIGHT-3S": "16"})  # 90 % of 20 is 18
    await g.before("GET", "/fapi/v3/account")
    assert time.slept and time.slept[0] > 0


async def test_unreported_limits_are_counted_only_when_asked() -> None:
    tight = replace(
        HYPERLIQUID_RATE_LIMITS,
        limits=(RateLimit(kind="REQUEST_WEIGHT", limit=50, interval_s=60),),
    )
    g, time = gate(tight)
    for _ in range(5):
        await g.before("POST", "/info", "", '{"type": "meta"}')  # 20 each: 100 > 50
    assert time.slept == []  # ccxt's own limiter paces these live
    g, time = gate(replace(tight, pace_unreported=True))
    for _ in range(3):
        await g.before("POST", "/info", "", '{"type": "meta"}')
    assert time.slept == [60.0]  # the third waits until the first leaves the window


# --------------------------------------------------------- over HTTP, Binance face
def _binance_limits(sim_server: SimServer) -> None:
    """A 2-second "minute" of 60 weight, 4 orders per 2 s, banned at the 2nd request
    after a 429: strict enough that a client that does not back off is banned at once."""
    sim_server.simulator.ctx.limits.binance.configure(
        BinanceLimits(
            enforce=True,
            request_weight=60,
            weight_window_s=2,
            orders_short=4,
            orders_short_window_s=2,
            ban_after=1,
        )
    )


def _statuses(sim_server: SimServer) -> list[int | None]:
    return [e["status"] for e in sim_server.simulator.log.recent(100_000, "binance")]


async def _work(trade: Any, read: Any) -> int:
    """The same work for both clients: 30 balance reads (weight 5 each: 150 > 60) and 6
    orders (more than the 4 per window)."""
    done = 0
    for i in range(30):
        await read()
        done += 1
        if i % 5 == 0:
            await trade()
            done += 1
    return done


async def test_raw_ccxt_is_banned_where_the_trader_backs_off_and_finishes(
    sim_server: SimServer,
) -> None:
    sim = sim_server.simulator
    creds = sim.binance.create_account(Decimal(10000))
    _binance_limits(sim_server)
    keys = {"apiKey": creds["apiKey"], "secret": creds["secret"]}
    trader = BinanceFuturesTrader("acct", credentials=keys, api_url=sim_server.base_url,
                                  timeout_ms=5000)  # fmt: skip
    await trader.connect()  # reads exchangeInfo: the simulator's limits
    try:
        order = OrderRequest(symbol="BTC/USDT:USDT", side=OrderSide.BUY,
                             type=OrderType.MARKET, quantity=Decimal("0.002"))  # fmt: skip
        done = await _work(lambda: trader.create_order(order), trader.fetch_balance)
    finally:
        await trader.close()
    assert done == 36
    assert trader.rate_gate is not None and trader.rate_gate.stats.waits > 0
    assert 418 not in _statuses(sim_server) and 429 not in _statuses(sim_server)
    account = creds["account"]
    assert sim.binance.engine.positions(account)[0].qty == Decimal("0.012")

    sim.log.entries.clear()
    _binance_limits(sim_server)  # counters afresh; the same work by raw ccxt, in one window
    sim.ctx.limits.binance.clock = lambda: 6_000.0  # (however slow this machine is today)
    raw = point_ccxt_at(
        ccxt.binanceusdm({"apiKey": creds["apiKey"], "secret": creds["secret"],
                          "enableRateLimit": False}),
        sim_server.base_url,
    )  # fmt: skip

    async def raw_read() -> Any:
        try:
            return await raw.fetch_balance()
        except ccxt.DDoSProtection:
            return None  # a naive loop: log and carry on

    async def raw_trade() -> Any:
        try:
            return await raw.create_order("BTC/USDT:USDT", "market", "buy", 0.002)
        except ccxt.DDoSProtection:
            return None

    try:
        await raw.load_markets()
        await _work(raw_trade, raw_read)
    finally:
        await raw.close()
    statuses = _statuses(sim_server)
    assert 429 in statuses and 418 in statuses
    assert statuses.index(429) < statuses.index(418)


# ----------------------------------------------------- over HTTP, Hyperliquid face
async def test_hyperliquid_trader_paces_its_own_weight_when_asked(
    sim_server: SimServer,
) -> None:
    sim = sim_server.simulator
    creds = sim.hyperliquid.create_account(Decimal(10000))
    sim.ctx.limits.hyperliquid.configure(
        HyperliquidLimits(enforce=True, ip_weight=100, weight_window_s=2)
    )
    rules = replace(
        HYPERLIQUID_RATE_LIMITS,
        limits=(RateLimit(kind="REQUEST_WEIGHT", limit=100, interval_s=2),),
        pace_unreported=True,
    )
    trader = HyperliquidTrader(
        "acct",
        credentials={"walletAddress": creds["walletAddress"], "privateKey": creds["privateKey"]},
        api_url=sim_server.base_url,
        timeout_ms=5000,
        rate_limits=rules,
    )
    await trader.connect()
    try:
        balances = [await trader.fetch_balance() for _ in range(12)]  # 12 x weight 2
        trades = [await trader.fetch_my_trades("BTC/USDC:USDC") for _ in range(6)]  # 20 each
    finally:
        await trader.close()
    assert len(balances) == 12 and len(trades) == 6
    assert trader.rate_gate is not None and trader.rate_gate.stats.waits > 0
    assert 429 not in [e["status"] for e in sim.log.recent(100_000, "hyperliquid")]


# ------------------------------------------------------------ through the pipeline
@pytest.mark.parametrize("sim_venue", ["binance"], indirect=True)
async def test_a_pipeline_under_a_low_limit_places_every_bracket(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    assert venue.sim is not None
    _binance_limits(venue.sim)
    trader = await venue.trader()
    await trader.load_markets(reload=True)  # from the venue: its published limits
    mark = venue.start_mark
    for _ in range(3):
        opened = await venue.submit(
            side="buy",
            quantity=Decimal("0.01"),
            stop_loss=mark * Decimal("0.98"),
            take_profit=mark * Decimal("1.03"),
        )
        assert opened.status == "filled", (opened.status, opened.error)
        assert {"stop_loss", "take_profit"} <= set(opened.orders), opened.orders
        closed = await venue.submit(target_position=Decimal(0))
        assert closed.status == "filled", (closed.status, closed.error)
    statuses = [e["status"] for e in venue.sim.simulator.log.recent(100_000, "binance")]
    assert 418 not in statuses and 429 not in statuses
    assert sum(1 for e in venue.order_requests() if "algoOrder" in e["path"]) >= 6
