"""Rate limits in the simulator (`sim.ratelimit`): the limiter's rules, then unmodified ccxt
against both faces over HTTP, getting what it gets from the live venues.

The HTTP tests freeze the limiter's clock (its window never rolls), so what is counted and
refused does not depend on how fast the machine is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt
import pytest
from ccxt.base.errors import DDoSProtection, RateLimitExceeded

from tradeexec.exchanges.endpoints import point_ccxt_at
from tradeexec.sim.ratelimit import (
    BinanceLimits,
    BinanceRateLimiter,
    HyperliquidLimits,
    HyperliquidRateLimiter,
    binance_weight,
    hyperliquid_action_weight,
    hyperliquid_info_weight,
)

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

BTC = "BTC/USDT:USDT"
HL_BTC = "BTC/USDC:USDC"


class Clock:
    def __init__(self, now: float = 1_000_040.0) -> None:  # 20 s into a minute window
        self.now = now

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------------- the rules
def test_binance_weights_follow_the_documented_table() -> None:
    assert binance_weight("binance.balance", {}) == 5
    assert binance_weight("binance.order.open", {"symbol": "BTCUSDT"}) == 1
    assert binance_weight("binance.order.open", {}) == 40  # every symbol: heavier
    assert binance_weight("binance.depth", {"limit": "5"}) == 2
    assert binance_weight("binance.depth", {}) == 10  # default limit 500
    assert binance_weight("binance.depth", {"limit": "1000"}) == 20
    assert binance_weight("binance.order.create", {"symbol": "BTCUSDT"}) == 0  # orders count apart
    assert binance_weight("binance.positionMode.get", {}) == 30


def test_hyperliquid_weights_follow_the_documented_table() -> None:
    assert hyperliquid_info_weight("l2Book") == 2
    assert hyperliquid_info_weight("userRole") == 60
    assert hyperliquid_info_weight("meta") == 20
    assert hyperliquid_action_weight(1) == 1
    assert hyperliquid_action_weight(79) == 2  # 1 + floor(79 / 40)


def test_binance_counts_weight_per_ip_and_says_when_the_window_frees() -> None:
    clock = Clock()
    limiter = BinanceRateLimiter(BinanceLimits(enforce=True, request_weight=10), clock)
    first = limiter.admit("1.1.1.1", "binance.balance", {}, "acct")
    assert first.headers == {"X-MBX-USED-WEIGHT-1M": "5"} and not first.refused
    assert limiter.admit("2.2.2.2", "binance.balance", {}, "acct").headers == {
        "X-MBX-USED-WEIGHT-1M": "5"
    }  # another IP has its own budget
    limiter.admit("1.1.1.1", "binance.balance", {}, "acct")
    over = limiter.admit("1.1.1.1", "binance.time", {}, None)
    assert (over.status, over.code) == (429, -1003)
    assert over.headers["Retry-After"] == "40"  # 20 s into the minute: 40 s left
    assert "current limit is 10 request weight per 1 MINUTE" in over.message
    clock.now += 40  # the next minute: a fresh budget
    assert limiter.admit("1.1.1.1", "binance.balance", {}, "acct").headers == {
        "X-MBX-USED-WEIGHT-1M": "5"
    }


def test_binance_bans_an_ip_that_keeps_sending_after_429_and_longer_each_time() -> None:
    clock = Clock()
    limits = BinanceLimits(enforce=True, request_weight=1, ban_after=2, ban_s=120)
    limiter = BinanceRateLimiter(limits, clock)
    statuses = [limiter.admit("ip", "binance.time", {}, None).status for _ in range(5)]
    assert statuses == [None, 429, 429, 429, 418]  # two more after the first 429: banned
    banned = limiter.admit("ip", "binance.time", {}, None)
    assert banned.status == 418 and banned.headers["Retry-After"] == "120"
    assert "IP banned until" in banned.message
    clock.now += 120  # the ban is over; the same offence again bans for twice as long
    for _ in range(4):
        limiter.admit("ip", "binance.time", {}, None)
    again = limiter.admit("ip", "binance.time", {}, None)
    assert again.status == 418 and again.headers["Retry-After"] == "240"


def test_binance_order_counts_are_per_account() -> None:
    limits = BinanceLimits(enforce=True, orders_short=2, orders_short_window_s=10)
    limiter = BinanceRateLimiter(limits, Clock())
    for count in ("1", "2"):
        answer = limiter.admit("ip", "binance.order.create", {"symbol": "X"}, "a")
        assert answer.headers["X-MBX-ORDER-COUNT-10S"] == count
        assert answer.headers["X-MBX-USED-WEIGHT-1M"] == "0"  # orders weigh 0 on the IP
    refused = limiter.admit("ip", "binance.algo.create", {"symbol": "X"}, "a")
    assert (refused.status, refused.code) == (429, -1015)
    assert "Retry-After" not in refused.headers
    assert not limiter.admit("ip", "binance.order.create", {"symbol": "X"}, "b").refused


def test_nothing_is_counted_unless_enforced() -> None:
    limiter = BinanceRateLimiter(BinanceLimits(request_weight=1), Clock())
    assert all(not limiter.admit("ip", "binance.balance", {}, "a").refused for _ in range(50))
    assert limiter.admit("ip", "binance.balance", {}, "a").headers == {}


def test_hyperliquid_address_budget_grows_with_volume_and_lets_one_through_every_10s() -> None:
    clock = Clock()
    limits = HyperliquidLimits(enforce=True, address_initial=4)
    limiter = HyperliquidRateLimiter(limits, clock)
    assert limiter.admit_action("0xa", 4, Decimal(0), cancel=False) is None  # a batch of 4
    assert limiter.admit_action("0xa", 1, Decimal(0), cancel=False) is None  # 1 per 10 s
    refusal = limiter.admit_action("0xa", 1, Decimal(0), cancel=False)
    assert refusal is not None
    assert refusal.startswith("Too many cumulative requests sent (6 > 4) for cumulative volume")
    assert limiter.admit_action("0xa", 1, Decimal(0), cancel=True) is None  # cancels: 2x cap
    assert limiter.admit_action("0xb", 1, Decimal(0), cancel=False) is None  # per address
    # 5.5 USDC traded adds 5 requests: request 8 fits the cap of 9
    assert limiter.admit_action("0xa", 1, Decimal("5.5"), cancel=False) is None
    clock.now += 10
    assert limiter.admit_action("0xa", 5, Decimal(0), cancel=False) is None  # 10 s later


# ----------------------------------------------------------------- over HTTP, Binance
def _binance(sim_server: SimServer, creds: dict[str, str]) -> Any:
    ex = ccxt.binanceusdm(
        {"apiKey": creds["apiKey"], "secret": creds["secret"], "enableRateLimit": False}
    )
    return point_ccxt_at(ex, sim_server.base_url)


@pytest.fixture
async def binance(sim_server: SimServer) -> AsyncIterator[Any]:
    creds = sim_server.simulator.binance.create_account(Decimal(10000))
    ex = _binance(sim_server, creds)
    try:
        await ex.load_markets()
        yield ex
    finally:
        await ex.close()


def _enforce(sim_server: SimServer, venue: str, clock: Clock | None = None, **limits: Any) -> None:
    sim = sim_server.simulator
    if venue == "binance":
        sim.ctx.limits.binance.configure(BinanceLimits(enforce=True, **limits))
        sim.ctx.limits.binance.clock = clock or Clock()
    else:
        sim.ctx.limits.hyperliquid.configure(HyperliquidLimits(enforce=True, **limits))
        sim.ctx.limits.hyperliquid.clock = clock or Clock()


async def test_by_default_no_limit_and_no_weight_header(binance: Any) -> None:
    for _ in range(3):
        await binance.fetch_balance()
    assert not any(k.upper().startswith("X-MBX-") for k in binance.last_response_headers)


async def test_every_answer_reports_the_ip_weight_used(sim_server: SimServer, binance: Any) -> None:
    _enforce(sim_server, "binance")
    await binance.fetch_balance()
    await binance.fetch_balance()
    headers = {k.upper(): v for k, v in binance.last_response_headers.items()}
    assert headers["X-MBX-USED-WEIGHT-1M"] == "10"
    order = await binance.create_order(BTC, "market", "buy", 0.002)
    assert order["status"] == "closed"
    headers = {k.upper(): v for k, v in binance.last_response_headers.items()}
    assert headers["X-MBX-ORDER-COUNT-10S"] == "1" and headers["X-MBX-ORDER-COUNT-1M"] == "1"
    assert headers["X-MBX-USED-WEIGHT-1M"] == "10"  # a new order weighs 0 on the IP


async def test_exchange_info_publishes_the_configured_limits(
    sim_server: SimServer, binance: Any
) -> None:
    _enforce(sim_server, "binance", request_weight=90, weight_window_s=3)
    info = await binance.fapiPublicGetExchangeInfo()
    assert {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "SECOND",
        "intervalNum": 3,
        "limit": 90,
    } in info["rateLimits"]
    await binance.fetch_time()
    assert {k.upper() for k in binance.last_response_headers} >= {"X-MBX-USED-WEIGHT-3S"}


async def test_raw_ccxt_in_a_tight_loop_gets_429_then_418(
    sim_server: SimServer, binance: Any
) -> None:
    _enforce(sim_server, "binance", request_weight=20, ban_after=3)
    answers: list[str] = []
    for _ in range(12):
        try:
            await binance.fetch_balance()
            answers.append("ok")
        except DDoSProtection as exc:  # ccxt's class for Binance's 429 and 418 alike
            answers.append(str(exc).split()[1])
            retry_after = {k.lower(): v for k, v in binance.last_response_headers.items()}
            assert int(retry_after["retry-after"]) > 0
    assert answers[:4] == ["ok"] * 4  # 4 x weight 5 = the limit of 20
    assert answers[4:8] == ["429"] * 4  # the first 429, then 3 more tolerated
    assert set(answers[8:]) == {"418"}  # then banned, and it stays banned
    logged = [e["status"] for e in sim_server.simulator.log.recent(100, "binance")]
    assert logged[-8:] == [429] * 4 + [418] * 4


async def test_too_many_orders_is_429_minus_1015(sim_server: SimServer, binance: Any) -> None:
    _enforce(sim_server, "binance", orders_short=2)
    for _ in range(2):
        await binance.create_order(BTC, "market", "buy", 0.002)
    with pytest.raises(DDoSProtection, match="-1015"):
        await binance.create_order(BTC, "market", "buy", 0.002)
    assert len(await binance.fetch_positions([BTC])) == 1
    assert sim_server.simulator.binance.engine.positions(
        sim_server.simulator.binance.keys.account_for(binance.apiKey) or ""
    )[0].qty == Decimal("0.004")  # the refused order was not placed


# ------------------------------------------------------------- over HTTP, Hyperliquid
@pytest.fixture
async def hyperliquid(sim_server: SimServer) -> AsyncIterator[Any]:
    creds = sim_server.simulator.hyperliquid.create_account(Decimal(10000))
    ex = ccxt.hyperliquid(
        {
            "walletAddress": creds["walletAddress"],
            "privateKey": creds["privateKey"],
            "enableRateLimit": False,
            "options": {"builderFee": False, "refSet": True},
        }
    )
    point_ccxt_at(ex, sim_server.base_url)
    try:
        await ex.load_markets()
        yield ex
    finally:
        await ex.close()


async def test_hyperliquid_ip_weight_is_429_rate_limit_exceeded(
    sim_server: SimServer, hyperliquid: Any
) -> None:
    _enforce(sim_server, "hyperliquid", ip_weight=6)
    for _ in range(3):
        await hyperliquid.publicPostInfo({"type": "allMids"})  # weight 2 each
    with pytest.raises(RateLimitExceeded):
        await hyperliquid.publicPostInfo({"type": "allMids"})


async def test_hyperliquid_address_budget_refuses_orders_in_the_venues_words(
    sim_server: SimServer, hyperliquid: Any
) -> None:
    _enforce(sim_server, "hyperliquid", address_initial=3)
    price = round(float(sim_server.simulator.hyperliquid.engine.marks["BTC"]) * 0.9)
    for _ in range(4):  # three in the budget, then one "every 10 seconds"
        await hyperliquid.create_order(HL_BTC, "limit", "buy", 0.001, price)
    with pytest.raises(RateLimitExceeded, match="Too many cumulative requests sent"):
        await hyperliquid.create_order(HL_BTC, "limit", "buy", 0.001, price)
    opened = await hyperliquid.fetch_open_orders(HL_BTC)
    assert len(opened) == 4  # the refused order was not placed
    user = hyperliquid.walletAddress.lower()
    usage = await hyperliquid.publicPostInfo({"type": "userRateLimit", "user": user})
    assert (usage["nRequestsUsed"], usage["nRequestsCap"]) == (5, 3)
    await hyperliquid.cancel_order(opened[0]["id"], HL_BTC)  # cancels have a larger budget
