"""CCXTTrader's safety rules against the simulator, through unmodified ccxt.

Writes are never resent: a create whose answer is lost is found by its client order id (and
exists once); one that may or may not have arrived and cannot be found raises
`OrderOutcomeUnknown`. A definite refusal (429) is raised as is. Each test counts the
requests that reach a route with a zero-second latency rule placed after the fault, so
"not resent" is checked when the request arrives, not by waiting for logs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from tradeexec import errors
from tradeexec.domain import OrderRequest, OrderStatus, OrderType
from tradeexec.exchanges.binance_futures import BinanceFuturesTrader
from tradeexec.exchanges.ccxt_trader import CCXTTrader
from tradeexec.exchanges.hyperliquid_trader import HyperliquidTrader
from tradeexec.sim.faults import FaultKind, FaultRule

if TYPE_CHECKING:
    from tradeexec.sim.engine import Engine
    from tradeexec.sim.server import SimServer

VENUES = ("binance", "hyperliquid")
CREATE = {"binance": "binance.order.create", "hyperliquid": "hyperliquid.exchange.order"}
CANCEL = {"binance": "binance.order.cancel", "hyperliquid": "hyperliquid.exchange.cancel"}
QTY = Decimal("0.002")

MakeTrader = Callable[..., Awaitable[CCXTTrader]]


def engine(sim: SimServer, venue: str) -> Engine:
    face = sim.simulator.binance if venue == "binance" else sim.simulator.hyperliquid
    return face.engine


@pytest.fixture
async def make_trader(sim_server: SimServer) -> AsyncIterator[MakeTrader]:
    """``await make_trader(venue, **trader_kwargs)``: a connected trader on a fresh account."""
    made: list[CCXTTrader] = []

    async def make(venue: str, **kw: Any) -> CCXTTrader:
        options: dict[str, Any] = {
            "api_url": sim_server.base_url,
            "retry_backoff_s": 0.01,
            "timeout_ms": 1000,
            **kw,
        }
        trader: CCXTTrader
        if venue == "binance":
            c = sim_server.simulator.binance.create_account(Decimal("10000"))
            creds = {"apiKey": c["apiKey"], "secret": c["secret"]}
            trader = BinanceFuturesTrader("bn", credentials=creds, **options)
        else:
            c = sim_server.simulator.hyperliquid.create_account(Decimal("10000"))
            creds = {"walletAddress": c["walletAddress"], "privateKey": c["privateKey"]}
            trader = HyperliquidTrader("hl", credentials=creds, **options)
        made.append(trader)
        await trader.connect()
        return trader

    yield make
    for trader in made:
        await trader.close()


def inject(sim: SimServer, route: str, kind: FaultKind, **kw: Any) -> tuple[FaultRule, FaultRule]:
    """One fault on ``route``, then a no-op rule that counts every later request to it."""
    fault = FaultRule(route=route, kind=kind, times=1, **kw)
    later = FaultRule(route=route, kind="latency", seconds=0)
    sim.simulator.ctx.faults.add(fault)
    sim.simulator.ctx.faults.add(later)
    return fault, later


def client_id(trader: CCXTTrader) -> str:
    return trader._new_client_order_id()  # the venue's own format


def market_buy(trader: CCXTTrader, cid: str) -> OrderRequest:
    return OrderRequest(trader.resolve_symbol("BTC"), "buy", "market", QTY, client_order_id=cid)


def orders_with(sim: SimServer, venue: str, cid: str) -> list[Any]:
    return [o for o in engine(sim, venue).orders.values() if o.spec.client_id == cid]


# ----------------------------------------------------------------------------- creates


@pytest.mark.parametrize("kind", ["lost_response", "lost_drop"])
@pytest.mark.parametrize("venue", VENUES)
async def test_a_create_whose_answer_is_lost_is_found_by_client_id_and_placed_once(
    venue: str, kind: FaultKind, sim_server: SimServer, make_trader: MakeTrader
) -> None:
    trader = await make_trader(venue)
    fault, later = inject(sim_server, CREATE[venue], kind, seconds=2)
    cid = client_id(trader)
    order = await trader.create_order(market_buy(trader, cid))
    assert fault.fired == 1 and later.fired == 0  # answered from a lookup, never resent
    assert order.client_order_id == cid and order.status is OrderStatus.FILLED
    assert order.filled_quantity == QTY
    assert len(orders_with(sim_server, venue, cid)) == 1
    (position,) = await trader.fetch_positions()
    assert position.quantity == QTY


@pytest.mark.parametrize(("kind", "status"), [("drop", 200), ("status", 503), ("status", 502)])
@pytest.mark.parametrize("venue", VENUES)
async def test_a_create_that_never_arrived_is_outcome_unknown_and_not_resent(
    venue: str, kind: FaultKind, status: int, sim_server: SimServer, make_trader: MakeTrader
) -> None:
    trader = await make_trader(venue)
    fault, later = inject(sim_server, CREATE[venue], kind, status=status)
    cid = client_id(trader)
    with pytest.raises(errors.OrderOutcomeUnknown) as caught:
        await trader.create_order(market_buy(trader, cid))
    assert not isinstance(caught.value, errors.NetworkError)  # so no caller retries it
    assert caught.value.client_order_id == cid  # what to reconcile by
    assert fault.fired == 1 and later.fired == 0
    assert engine(sim_server, venue).orders == {}
    assert await trader.fetch_positions() == []


@pytest.mark.parametrize("venue", VENUES)
async def test_a_rate_limited_create_is_a_definite_refusal(
    venue: str, sim_server: SimServer, make_trader: MakeTrader
) -> None:
    trader = await make_trader(venue)
    fault, later = inject(sim_server, CREATE[venue], "status", status=429)
    with pytest.raises(errors.RateLimited):
        await trader.create_order(market_buy(trader, client_id(trader)))
    assert fault.fired == 1 and later.fired == 0
    assert engine(sim_server, venue).orders == {}


@pytest.mark.parametrize("venue", VENUES)
async def test_our_client_order_id_is_always_sent(
    venue: str, sim_server: SimServer, make_trader: MakeTrader
) -> None:
    trader = await make_trader(venue)
    sym = trader.resolve_symbol("BTC")
    order = await trader.create_order(OrderRequest(sym, "buy", "market", QTY))
    (placed,) = engine(sim_server, venue).orders.values()
    assert order.client_order_id and placed.spec.client_id == order.client_order_id
    (sent,) = [
        e
        for e in sim_server.simulator.log.recent(10_000)
        if e["method"] == "POST" and e["path"] in ("/fapi/v1/order", "/exchange")
    ]
    assert order.client_order_id in str(sent["body"])
    assert "x-" not in str(sent["body"])  # no broker-tagged id injected by ccxt


# ----------------------------------------------------------------------------- cancels


async def resting_limit(trader: CCXTTrader) -> Any:
    sym = trader.resolve_symbol("BTC")
    return await trader.create_order(OrderRequest(sym, "buy", "limit", QTY, price=Decimal("60000")))


@pytest.mark.parametrize("venue", VENUES)
async def test_a_cancel_whose_answer_is_lost_is_resolved_by_reading_the_order(
    venue: str, sim_server: SimServer, make_trader: MakeTrader
) -> None:
    trader = await make_trader(venue)
    order = await resting_limit(trader)
    fault, later = inject(sim_server, CANCEL[venue], "lost_response", seconds=2)
    cancelled = await trader.cancel_order(order.symbol, order_id=order.id)
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELED
    assert cancelled.id == order.id
    assert fault.fired == 1 and later.fired == 0


@pytest.mark.parametrize("venue", VENUES)
async def test_a_cancel_that_never_arrived_is_outcome_unknown(
    venue: str, sim_server: SimServer, make_trader: MakeTrader
) -> None:
    trader = await make_trader(venue)
    order = await resting_limit(trader)
    fault, later = inject(sim_server, CANCEL[venue], "drop")
    with pytest.raises(errors.OrderOutcomeUnknown):
        await trader.cancel_order(order.symbol, order_id=order.id)
    assert fault.fired == 1 and later.fired == 0
    still = await trader.fetch_order(order.symbol, order_id=order.id)
    assert still.status is OrderStatus.SUBMITTED


# ------------------------------------------------------------------ triggers and reads


async def test_binance_stops_go_to_the_algo_service_and_cancel_there(
    sim_server: SimServer, make_trader: MakeTrader
) -> None:
    trader = await make_trader("binance")
    sym = trader.resolve_symbol("BTC")
    await trader.create_order(OrderRequest(sym, "buy", "market", QTY))
    stop = await trader.create_order(
        OrderRequest(
            sym,
            "sell",
            OrderType.STOP_MARKET,
            QTY,
            trigger_price=Decimal("60000"),
            reduce_only=True,
        )
    )
    posts = [e["path"] for e in sim_server.simulator.log.recent(10_000) if e["method"] == "POST"]
    assert posts[-1] == "/fapi/v1/algoOrder"
    cancelled = await trader.cancel_order(sym, order_id=stop.id)
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELED
    deletes = [
        e["path"] for e in sim_server.simulator.log.recent(10_000) if e["method"] == "DELETE"
    ]
    assert deletes == ["/fapi/v1/algoOrder"]  # straight to the algo service: it knew the kind


@pytest.mark.parametrize("venue", VENUES)
async def test_health_check_reports_and_never_raises(
    venue: str, sim_server: SimServer, make_trader: MakeTrader
) -> None:
    trader = await make_trader(venue, read_retries=0)
    health = await trader.health_check()
    assert health.ok and health.venue == venue and health.latency_ms is not None
    sim_server.simulator.ctx.faults.add(FaultRule(route=f"{venue}.*", kind="status", status=503))
    health = await trader.health_check()
    assert not health.ok and health.error


async def test_a_trader_that_is_not_connected_says_so() -> None:
    trader = BinanceFuturesTrader("bn", credentials={"apiKey": "k", "secret": "s"})
    with pytest.raises(errors.NotInitializedError):
        await trader.fetch_balance()
    with pytest.raises(errors.NotInitializedError):
        trader.resolve_symbol("BTC")
    assert not (await trader.health_check()).ok


async def test_configuration_mistakes_fail_at_start_up() -> None:
    with pytest.raises(errors.ConfigError):
        CCXTTrader("generic")  # no exchange id
    with pytest.raises(errors.ConfigError):
        await CCXTTrader("generic", exchange_id="no_such_exchange").connect()


async def test_binance_testnet_means_demo_trading_wherever_it_is_set(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ccxt refuses Binance's gone futures testnet; demo trading is its heir. The trader owns
    that fact, so the configuration, BINANCE_TESTNET, the plugin and code all get demo."""
    trader = BinanceFuturesTrader("bn", testnet=True)
    assert (trader.testnet, trader.demo) == (False, True)
    assert "'testnet' means its demo trading" in caplog.text
    exchange = trader._build()
    try:
        assert exchange.urls["api"]["fapiPrivate"].startswith("https://demo-fapi.binance.com")
    finally:
        await exchange.close()
    plain = BinanceFuturesTrader("bn")._build()
    try:
        assert plain.urls["api"]["fapiPrivate"].startswith("https://fapi.binance.com")
    finally:
        await plain.close()


async def test_a_generic_ccxt_trader_reads_any_ccxt_exchange(sim_server: SimServer) -> None:
    c = sim_server.simulator.binance.create_account(Decimal("777"))
    trader = CCXTTrader(
        "any",
        exchange_id="binanceusdm",
        credentials={"apiKey": c["apiKey"], "secret": c["secret"]},
        api_url=sim_server.base_url,
    )
    try:
        await trader.connect()
        assert trader.capabilities.venue == "binanceusdm"
        assert trader.resolve_symbol("BTCUSDT") == "BTC/USDT:USDT"
        assert (await trader.fetch_balance())["USDT"].total == Decimal("777")
        ticker = await trader.fetch_ticker("BTC")
        assert ticker.reference_price == Decimal("67500")
    finally:
        await trader.close()
