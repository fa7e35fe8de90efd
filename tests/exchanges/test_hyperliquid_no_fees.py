"""No surprise fees: HyperliquidTrader approves no builder fee, sets no referrer and tags no
order with a builder unless the account configures one.

The same steps through raw ccxt against the same simulator DO send all three, so these
tests would notice if the guard stopped working (or if ccxt changed what it does).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt

from tradeexec.domain import OrderRequest, OrderStatus
from tradeexec.exchanges.endpoints import point_ccxt_at
from tradeexec.exchanges.hyperliquid_trader import HyperliquidTrader

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

BUILDER = "0x" + "be" * 20
REFERRER = "FRIEND"


def actions(sim: SimServer) -> list[dict[str, Any]]:
    """Every /exchange action the simulator received, in order."""
    return [
        e["body"]["action"]
        for e in sim.simulator.log.recent(10_000)
        if e["path"] == "/exchange" and isinstance(e["body"], dict) and "action" in e["body"]
    ]


def action_types(sim: SimServer) -> list[str]:
    return [a["type"] for a in actions(sim)]


def builders_on_orders(sim: SimServer) -> list[Any]:
    return [a.get("builder") for a in actions(sim) if a["type"] == "order"]


async def trade_a_little(trader: HyperliquidTrader) -> None:
    """The private calls that make ccxt approve, refer and tag: balance, an order, a cancel."""
    sym = trader.resolve_symbol("BTC")
    await trader.fetch_balance()
    filled = await trader.create_order(OrderRequest(sym, "buy", "market", Decimal("0.002")))
    assert filled.status is OrderStatus.FILLED
    resting = await trader.create_order(
        OrderRequest(sym, "buy", "limit", Decimal("0.002"), price=Decimal("60000"))
    )
    await trader.cancel_order(sym, order_id=resting.id)
    await trader.set_leverage(sym, 3)


def hyperliquid_trader(sim: SimServer, **kw: Any) -> HyperliquidTrader:
    c = sim.simulator.hyperliquid.create_account(Decimal("10000"))
    creds = {"walletAddress": c["walletAddress"], "privateKey": c["privateKey"]}
    return HyperliquidTrader(
        "hl", credentials=creds, api_url=sim.base_url, retry_backoff_s=0.01, timeout_ms=2000, **kw
    )


async def test_by_default_nothing_is_approved_referred_or_tagged(sim_server: SimServer) -> None:
    trader = hyperliquid_trader(sim_server)
    await trader.connect()
    try:
        await trade_a_little(trader)
    finally:
        await trader.close()
    sent = action_types(sim_server)
    assert sent.count("order") == 2 and "cancel" in sent and "updateLeverage" in sent
    assert "approveBuilderFee" not in sent
    assert "setReferrer" not in sent
    assert builders_on_orders(sim_server) == [None, None]
    engine = sim_server.simulator.hyperliquid.engine
    (account,) = engine.accounts.values()
    # only the venue's own taker fee was paid: nothing went to a builder
    (fill,) = engine.fills
    assert account.fees_paid == fill.fee == fill.qty * fill.price * engine.taker_fee


async def test_raw_ccxt_against_the_same_simulator_does_approve_refer_and_tag(
    sim_server: SimServer,
) -> None:
    """Proof that the test above can fail: unguarded ccxt sends all three."""
    c = sim_server.simulator.hyperliquid.create_account(Decimal("10000"))
    exchange = ccxt.hyperliquid(
        {
            "walletAddress": c["walletAddress"],
            "privateKey": c["privateKey"],
            "enableRateLimit": False,
        }
    )
    point_ccxt_at(exchange, sim_server.base_url)
    try:
        await exchange.load_markets()
        await exchange.create_order("BTC/USDC:USDC", "market", "buy", 0.002, 67500)
    finally:
        await exchange.close()
    sent = action_types(sim_server)
    assert "approveBuilderFee" in sent
    assert "setReferrer" in sent
    (builder,) = builders_on_orders(sim_server)
    assert builder is not None and builder["b"].lower() != c["walletAddress"].lower()


async def test_a_configured_builder_and_referrer_are_used(sim_server: SimServer) -> None:
    trader = hyperliquid_trader(sim_server, builder=(BUILDER, Decimal("0.0001")), referrer=REFERRER)
    await trader.connect()
    try:
        await trade_a_little(trader)
    finally:
        await trader.close()
    by_type = {a["type"]: a for a in actions(sim_server)}
    assert by_type["approveBuilderFee"]["builder"].lower() == BUILDER
    assert by_type["setReferrer"]["code"] == REFERRER
    builders = builders_on_orders(sim_server)
    assert builders and all(b is not None and b["b"].lower() == BUILDER for b in builders)
