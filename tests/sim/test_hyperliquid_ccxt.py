"""Unmodified ccxt.async_support.hyperliquid against the running simulator, over HTTP."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt_async
import pytest
from ccxt.base.errors import (
    DDoSProtection,
    ExchangeError,
    ExchangeNotAvailable,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimitExceeded,
    RequestTimeout,
)
from eth_account import Account

from tradeexec.exchanges.endpoints import point_ccxt_at
from tradeexec.sim.accounting import settle
from tradeexec.sim.faults import FaultRule
from tradeexec.sim.hl_signing import USER_SIGNED_TYPES
from tradeexec.sim.hyperliquid_api import HyperliquidFace

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

SYMBOL = "BTC/USDC:USDC"
CCXT_BUILDER = "0x6530512A6c89C7cfCEbC3BA7fcD9aDa5f30827a6"
TAKER = Decimal("0.00045")
MAKER = Decimal("0.00015")
BUILDER_RATE = Decimal("0.0001")  # ccxt's f=10: tenths of a basis point

Factory = Callable[..., Awaitable[Any]]


@pytest.fixture
def face(sim_server: SimServer) -> HyperliquidFace:
    return sim_server.simulator.hyperliquid


@pytest.fixture
async def hl_factory(sim_server: SimServer) -> AsyncIterator[Factory]:
    """make(wallet_address, private_key, **options) -> a ccxt hyperliquid pointed at the sim."""
    made: list[Any] = []

    async def make(
        wallet: str, key: str, *, sandbox: bool = False, cls: Any = None, **options: Any
    ) -> Any:
        ex = (cls or ccxt_async.hyperliquid)(
            {
                "walletAddress": wallet,
                "privateKey": key,
                "enableRateLimit": False,
                "timeout": 30_000,  # a loaded CI box; faulted calls set their own
                "options": options,
            }
        )
        if sandbox:
            ex.set_sandbox_mode(True)
        point_ccxt_at(ex, sim_server.base_url)
        made.append(ex)
        return ex

    yield make
    for ex in made:
        await ex.close()


@pytest.fixture
async def hl_ccxt(face: HyperliquidFace, hl_factory: Factory) -> Any:
    creds = face.create_account(Decimal(10000))
    return await hl_factory(creds["walletAddress"], creds["privateKey"])


def account_of(ex: Any) -> str:
    return str(ex.walletAddress).lower()


def hl_log(sim_server: SimServer) -> list[dict[str, Any]]:
    return [e["body"] for e in sim_server.simulator.log.recent(1000, "hyperliquid")]


async def settled_log(sim_server: SimServer, requests: int) -> list[dict[str, Any]]:
    """The request log once it holds ``requests`` entries (the server logs a request only
    after its answer is sent, so the client can be a moment ahead)."""
    for _ in range(100):
        if len(hl_log(sim_server)) >= requests:
            break
        await asyncio.sleep(0.01)
    return hl_log(sim_server)


async def exchange_actions(sim_server: SimServer, requests: int = 0) -> list[dict[str, Any]]:
    log = await settled_log(sim_server, requests)
    return [b["action"] for b in log if isinstance(b, dict) and "action" in b]


def cloid() -> str:
    return "0x" + secrets.token_hex(16)


def fees_of(face: HyperliquidFace, account: str) -> Decimal:
    return sum((f.fee for f in face.engine.account_fills(account)), Decimal(0))


# ------------------------------------------------------------------ markets and data
async def test_load_markets_reads_the_universe(sim_server: SimServer, hl_ccxt: Any) -> None:
    markets = await hl_ccxt.load_markets()
    assert [s for s in markets if markets[s]["swap"]] == [
        "BTC/USDC:USDC",
        "ETH/USDC:USDC",
        "SOL/USDC:USDC",
    ]
    btc, eth = markets["BTC/USDC:USDC"], markets["ETH/USDC:USDC"]
    assert (btc["baseId"], eth["baseId"]) == ("0", "1")  # the asset index
    assert btc["precision"] == {"amount": 1e-05, "price": 1.0}
    assert eth["precision"] == {"amount": 0.0001, "price": 0.1}
    assert btc["limits"]["leverage"]["max"] == 40
    assert btc["limits"]["cost"]["min"] == 10
    info_types = sorted(b["type"] for b in await settled_log(sim_server, 7) if "type" in b)
    assert info_types == sorted(
        ["spotMeta", "userAbstraction", "spotMetaAndAssetCtxs", "metaAndAssetCtxs", "perpDexs"]
    )


async def test_ticker_book_and_tickers(face: HyperliquidFace, hl_ccxt: Any) -> None:
    face.engine.set_mark("BTC", Decimal("70000"))
    bid, ask = face.engine.bid_ask("BTC")
    ticker = await hl_ccxt.fetch_ticker(SYMBOL)
    assert (ticker["bid"], ticker["ask"]) == (float(bid), float(ask))
    assert ticker["info"]["markPx"] == "70000.0"
    book = await hl_ccxt.fetch_order_book(SYMBOL)
    assert book["bids"][0][0] == float(bid) and book["asks"][0][0] == float(ask)
    tickers = await hl_ccxt.fetch_tickers(["BTC/USDC:USDC", "ETH/USDC:USDC"])
    assert tickers["ETH/USDC:USDC"]["info"]["markPx"] == "3500.0"
    assert abs(await hl_ccxt.fetch_time() - hl_ccxt.milliseconds()) < 5000
    assert (await hl_ccxt.fetch_status())["status"] == "ok"


# ----------------------------------------------------- ccxt's builder / referrer flow
async def test_default_ccxt_approves_builder_sets_referrer_and_pays_builder_fee(
    sim_server: SimServer, face: HyperliquidFace, hl_ccxt: Any
) -> None:
    account = account_of(hl_ccxt)
    await hl_ccxt.load_markets()
    actions = await exchange_actions(sim_server, 7)
    assert sorted(a["type"] for a in actions) == ["approveBuilderFee", "setReferrer"]
    approve = next(a for a in actions if a["type"] == "approveBuilderFee")
    referrer = next(a for a in actions if a["type"] == "setReferrer")
    assert approve == {
        "hyperliquidChain": "Mainnet",
        "signatureChainId": "0x66eee",
        "maxFeeRate": "0.01%",
        "builder": CCXT_BUILDER,
        "nonce": approve["nonce"],
        "type": "approveBuilderFee",
    }
    assert referrer == {"type": "setReferrer", "code": "CCXT1"}
    assert face.approved_builders(account) == {CCXT_BUILDER.lower(): 10}
    assert face.referrer(account) == "CCXT1"

    order = await hl_ccxt.create_order(SYMBOL, "market", "buy", 0.01, 67500)
    assert order["filled"] == 0.01
    assert (await exchange_actions(sim_server, 8))[-1]["builder"] == {
        "b": CCXT_BUILDER.lower(),
        "f": 10,
    }
    [fill] = face.engine.account_fills(account)
    builder_fee = settle(fill.qty * fill.price * BUILDER_RATE)
    [trade] = await hl_ccxt.fetch_my_trades(SYMBOL)
    assert Decimal(trade["info"]["builderFee"]) == builder_fee.quantize(Decimal("1e-6"))
    assert trade["fee"]["cost"] == pytest.approx(float(fill.fee + builder_fee), abs=1e-6)
    wallet = face.engine.account(account).wallet_balance
    assert wallet == Decimal(10000) - fill.fee - builder_fee
    # a second private call does not approve or refer again
    await hl_ccxt.create_order(SYMBOL, "market", "sell", 0.01, 67500)
    actions = await exchange_actions(sim_server, 9)
    assert [a["type"] for a in actions].count("approveBuilderFee") == 1


async def test_ccxt_told_to_skip_approval_and_referrer_sends_neither(
    sim_server: SimServer, face: HyperliquidFace, hl_factory: Factory
) -> None:
    class NoBuilder(ccxt_async.hyperliquid):  # type: ignore[misc]
        async def handle_builder_fee_approval(self) -> bool:
            return True

    creds = face.create_account(Decimal(10000))
    ex = await hl_factory(creds["walletAddress"], creds["privateKey"], cls=NoBuilder, refSet=True)
    await ex.create_order(SYMBOL, "market", "buy", 0.01, 67500)
    actions = await exchange_actions(sim_server, 6)
    assert [a["type"] for a in actions] == ["order"]
    assert "builder" not in actions[0]
    assert face.approved_builders(creds["account"]) == {}
    assert face.referrer(creds["account"]) is None
    assert face.builder_fees_charged(creds["account"]) == 0


async def test_builder_field_without_approval_is_rejected(
    face: HyperliquidFace, hl_factory: Factory
) -> None:
    creds = face.create_account(Decimal(10000))
    # as if the approval had happened: ccxt tags orders with its builder without approving
    ex = await hl_factory(creds["walletAddress"], creds["privateKey"], approvedBuilderFee=True)
    with pytest.raises(ExchangeError, match="Builder fee has not been approved"):
        await ex.create_order(SYMBOL, "market", "buy", 0.01, 67500)
    assert face.engine.account_fills(creds["account"]) == []


# -------------------------------------------------------------------- orders & fills
async def test_market_buy_position_and_balance(face: HyperliquidFace, hl_ccxt: Any) -> None:
    account = account_of(hl_ccxt)
    order = await hl_ccxt.create_order(SYMBOL, "market", "buy", 0.1, 67500)
    _, ask = face.engine.bid_ask("BTC")
    assert (order["average"], order["filled"]) == (float(ask), 0.1)
    [position] = await hl_ccxt.fetch_positions([SYMBOL])
    assert (position["side"], position["contracts"], position["entryPrice"]) == (
        "long",
        0.1,
        float(ask),
    )
    assert position["leverage"] == 20 and position["marginMode"] == "cross"
    balance = await hl_ccxt.fetch_balance()
    summary = face.engine.summary(account)
    assert balance["USDC"]["total"] == pytest.approx(float(summary.equity), abs=1e-6)
    assert balance["USDC"]["used"] == pytest.approx(float(summary.position_margin), abs=1e-6)


async def test_resting_limit_fills_when_the_mark_moves(face: HyperliquidFace, hl_ccxt: Any) -> None:
    order = await hl_ccxt.create_order(SYMBOL, "limit", "buy", 0.01, 66000)
    assert order["id"] is not None and order["status"] is None
    [listed] = await hl_ccxt.fetch_open_orders(SYMBOL)
    assert (listed["id"], listed["price"], listed["status"]) == (order["id"], 66000, "open")
    face.engine.set_mark("BTC", Decimal("65900"))
    fetched = await hl_ccxt.fetch_order(order["id"], SYMBOL)
    assert (fetched["status"], fetched["filled"]) == ("closed", 0.01)
    assert await hl_ccxt.fetch_open_orders(SYMBOL) == []
    [trade] = await hl_ccxt.fetch_my_trades(SYMBOL)
    assert (trade["price"], trade["takerOrMaker"]) == (66000, "maker")


async def test_post_only_and_ioc(face: HyperliquidFace, hl_ccxt: Any) -> None:
    with pytest.raises(InvalidOrder, match="Post only order would have immediately matched"):
        await hl_ccxt.create_order(SYMBOL, "limit", "buy", 0.01, 68000, {"postOnly": True})
    resting = await hl_ccxt.create_order(SYMBOL, "limit", "buy", 0.01, 66000, {"postOnly": True})
    fetched = await hl_ccxt.fetch_order(resting["id"], SYMBOL)
    assert (fetched["postOnly"], fetched["timeInForce"]) == (True, "ALO")
    with pytest.raises(InvalidOrder, match="could not immediately match"):
        await hl_ccxt.create_order(SYMBOL, "limit", "buy", 0.01, 60000, {"timeInForce": "Ioc"})


async def test_stop_loss_fires_when_the_mark_crosses_it(
    face: HyperliquidFace, hl_ccxt: Any
) -> None:
    account = account_of(hl_ccxt)
    await hl_ccxt.create_order(SYMBOL, "market", "buy", 0.1, 67500)
    stop = await hl_ccxt.create_order(
        SYMBOL, "market", "sell", 0.1, 66000, {"stopLossPrice": 66000, "reduceOnly": True}
    )
    [listed] = await hl_ccxt.fetch_open_orders(SYMBOL)
    assert listed["id"] == stop["id"]
    assert (listed["triggerPrice"], listed["stopLossPrice"], listed["reduceOnly"]) == (
        66000,
        66000,
        True,
    )
    face.engine.set_mark("BTC", Decimal("66500"))  # not yet
    assert len(await hl_ccxt.fetch_positions([SYMBOL])) == 1
    face.engine.set_mark("BTC", Decimal("65900"))
    assert await hl_ccxt.fetch_positions([SYMBOL]) == []
    assert (await hl_ccxt.fetch_order(stop["id"], SYMBOL))["status"] == "closed"
    buy, sell = face.engine.account_fills(account)
    bid, _ = face.engine.bid_ask("BTC")
    assert sell.price == bid
    realized = (sell.price - buy.price) * Decimal("0.1")
    assert sell.realized_pnl == realized < 0
    balance = await hl_ccxt.fetch_balance()
    expected = Decimal(10000) + realized - fees_of(face, account)
    expected -= face.builder_fees_charged(account)
    assert balance["USDC"]["total"] == pytest.approx(float(expected), abs=1e-6)
    assert balance["USDC"]["used"] == 0


async def test_take_profit_fires_when_the_mark_crosses_it(
    face: HyperliquidFace, hl_ccxt: Any
) -> None:
    await hl_ccxt.create_order(SYMBOL, "market", "sell", 0.1, 67500)  # short
    tp = await hl_ccxt.create_order(
        SYMBOL, "market", "buy", 0.1, 65000, {"takeProfitPrice": 65000, "reduceOnly": True}
    )
    [listed] = await hl_ccxt.fetch_open_orders(SYMBOL)
    assert (listed["takeProfitPrice"], listed["side"]) == (65000, "buy")
    face.engine.set_mark("BTC", Decimal("64900"))
    assert await hl_ccxt.fetch_positions([SYMBOL]) == []
    assert (await hl_ccxt.fetch_order(tp["id"], SYMBOL))["status"] == "closed"
    trades = await hl_ccxt.fetch_my_trades(SYMBOL)
    assert [t["side"] for t in trades] == ["sell", "buy"]
    assert trades[1]["info"]["dir"] == "Close Short"
    assert Decimal(trades[1]["info"]["closedPnl"]) > 0


async def test_attached_tp_sl_arm_on_fill_and_cancel_each_other(
    sim_server: SimServer, face: HyperliquidFace, hl_ccxt: Any
) -> None:
    entry = await hl_ccxt.create_order(
        SYMBOL,
        "limit",
        "buy",
        0.1,
        67000,
        {"takeProfit": {"triggerPrice": 69000}, "stopLoss": {"triggerPrice": 66000}},
    )
    action = (await exchange_actions(sim_server, 8))[-1]
    assert action["grouping"] == "normalTpsl" and len(action["orders"]) == 3
    [parent] = await hl_ccxt.fetch_open_orders(SYMBOL)  # children wait under the parent
    assert parent["id"] == entry["id"]
    children = parent["info"]["children"]
    assert sorted(c["triggerPx"] for c in children) == ["66000.0", "69000.0"]
    face.engine.set_mark("BTC", Decimal("66900"))  # the entry fills, its TP/SL arm
    armed = await hl_ccxt.fetch_open_orders(SYMBOL)
    assert sorted(o["triggerPrice"] for o in armed) == [66000, 69000]
    assert all(o["reduceOnly"] and o["side"] == "sell" for o in armed)
    face.engine.set_mark("BTC", Decimal("69100"))  # the TP fills, the SL is cancelled
    assert await hl_ccxt.fetch_open_orders(SYMBOL) == []
    assert await hl_ccxt.fetch_positions([SYMBOL]) == []
    stop = next(o for o in armed if o["triggerPrice"] == 66000)
    fetched = await hl_ccxt.fetch_order(stop["id"], SYMBOL)
    assert fetched["status"] == "canceled"
    assert fetched["info"]["status"] == "siblingFilledCanceled"


async def test_market_entry_with_tp_sl_arms_at_once(face: HyperliquidFace, hl_ccxt: Any) -> None:
    await hl_ccxt.create_order(
        SYMBOL,
        "market",
        "buy",
        0.1,
        67500,
        {
            "takeProfit": {"triggerPrice": 70000, "type": "market"},
            "stopLoss": {"triggerPrice": 65000, "type": "market"},
        },
    )
    armed = await hl_ccxt.fetch_open_orders(SYMBOL)
    assert sorted(o["triggerPrice"] for o in armed) == [65000, 70000]
    face.engine.set_mark("BTC", Decimal("64000"))
    assert await hl_ccxt.fetch_positions([SYMBOL]) == []
    assert await hl_ccxt.fetch_open_orders(SYMBOL) == []


async def test_reduce_only(face: HyperliquidFace, hl_ccxt: Any) -> None:
    with pytest.raises(InvalidOrder, match="Reduce only order would increase position"):
        await hl_ccxt.create_order(SYMBOL, "market", "sell", 0.01, 67500, {"reduceOnly": True})
    await hl_ccxt.create_order(SYMBOL, "market", "buy", 0.02, 67500)
    with pytest.raises(InvalidOrder, match="Reduce only order would increase position"):
        await hl_ccxt.create_order(SYMBOL, "market", "buy", 0.01, 67500, {"reduceOnly": True})
    await hl_ccxt.create_order(SYMBOL, "market", "sell", 0.05, 67500, {"reduceOnly": True})
    assert await hl_ccxt.fetch_positions([SYMBOL]) == []  # reduced to zero, never flipped


async def test_client_order_id_fetch_and_cancel(face: HyperliquidFace, hl_ccxt: Any) -> None:
    cid = cloid()
    order = await hl_ccxt.create_order(SYMBOL, "limit", "buy", 0.01, 60000, {"clientOrderId": cid})
    assert order["clientOrderId"] == cid
    by_param = await hl_ccxt.fetch_order(None, SYMBOL, {"clientOrderId": cid})
    by_id_arg = await hl_ccxt.fetch_order(cid, SYMBOL)
    assert by_param["id"] == by_id_arg["id"] == order["id"]
    assert by_param["status"] == "open" and by_param["clientOrderId"] == cid
    cancelled = await hl_ccxt.cancel_order(None, SYMBOL, {"clientOrderId": cid})
    assert cancelled["status"] == "success"
    assert (await hl_ccxt.fetch_order(cid, SYMBOL))["status"] == "canceled"
    with pytest.raises(OrderNotFound):
        await hl_ccxt.cancel_order(None, SYMBOL, {"clientOrderId": cid})


async def test_unknown_orders(hl_ccxt: Any) -> None:
    with pytest.raises(OrderNotFound):
        await hl_ccxt.fetch_order("123456", SYMBOL)
    with pytest.raises(OrderNotFound):
        await hl_ccxt.fetch_order(cloid(), SYMBOL)
    with pytest.raises(OrderNotFound, match="never placed"):
        await hl_ccxt.cancel_order("123456", SYMBOL)


async def test_rejected_order_is_found_by_cloid_as_rejected(hl_ccxt: Any) -> None:
    cid = cloid()
    with pytest.raises(InvalidOrder, match="minimum value of \\$10"):
        await hl_ccxt.create_order(SYMBOL, "limit", "buy", 0.0001, 66000, {"clientOrderId": cid})
    found = await hl_ccxt.fetch_order(cid, SYMBOL)
    assert (found["status"], found["info"]["status"]) == ("rejected", "minTradeNtlRejected")


async def test_my_trades_since_uses_fills_by_time(sim_server: SimServer, hl_ccxt: Any) -> None:
    await hl_ccxt.create_order(SYMBOL, "market", "buy", 0.01, 67500)
    first = (await hl_ccxt.fetch_my_trades(SYMBOL))[0]
    await hl_ccxt.create_order(SYMBOL, "market", "sell", 0.01, 67500)
    later = await hl_ccxt.fetch_my_trades(SYMBOL, since=first["timestamp"] + 1)
    assert [t["side"] for t in later] == ["sell"]
    assert (await settled_log(sim_server, 11))[-1]["type"] == "userFillsByTime"


# --------------------------------------------------------------- leverage and margin
async def test_leverage_and_margin_mode(face: HyperliquidFace, hl_ccxt: Any) -> None:
    account = account_of(hl_ccxt)
    engine = face.engine
    await hl_ccxt.set_leverage(10, SYMBOL)
    assert (engine.leverage(account, "BTC"), engine.margin_mode(account, "BTC").value) == (
        10,
        "cross",
    )
    await hl_ccxt.set_leverage(5, SYMBOL, {"marginMode": "isolated"})
    assert (engine.leverage(account, "BTC"), engine.margin_mode(account, "BTC").value) == (
        5,
        "isolated",
    )
    await hl_ccxt.set_margin_mode("cross", SYMBOL, {"leverage": 4})
    assert (engine.leverage(account, "BTC"), engine.margin_mode(account, "BTC").value) == (
        4,
        "cross",
    )
    await hl_ccxt.create_order(SYMBOL, "market", "buy", 0.1, 67500)
    [position] = await hl_ccxt.fetch_positions([SYMBOL])
    assert (position["leverage"], position["marginMode"]) == (4, "cross")
    assert position["initialMargin"] == pytest.approx(0.1 * 67500 / 4)
    with pytest.raises(ExchangeError, match="Cannot switch leverage type"):
        await hl_ccxt.set_margin_mode("isolated", SYMBOL, {"leverage": 4})
    with pytest.raises(ExchangeError, match="Invalid leverage value"):
        await hl_ccxt.set_leverage(100, SYMBOL)
    assert engine.leverage(account, "BTC") == 4


# --------------------------------------------------------------------------- errors
async def test_insufficient_margin(face: HyperliquidFace, hl_factory: Factory) -> None:
    creds = face.create_account(Decimal(100))
    ex = await hl_factory(creds["walletAddress"], creds["privateKey"])
    with pytest.raises(
        InsufficientFunds, match=re.escape("Insufficient margin to place order. asset=0")
    ):
        await ex.create_order(SYMBOL, "market", "buy", 1, 67500)


async def test_below_minimum_value(hl_ccxt: Any) -> None:
    with pytest.raises(
        InvalidOrder, match=re.escape("Order must have minimum value of $10. asset=0")
    ):
        await hl_ccxt.create_order(SYMBOL, "market", "buy", 0.0001, 67500)


async def _send_raw_order(ex: Any, **override: str) -> Any:
    """Build an order with ccxt's own helpers, override wire fields, sign with ccxt, send."""
    await ex.load_markets()
    wire = ex.create_order_request(SYMBOL, "limit", "buy", 0.01, 66000, {})
    wire.update(override)
    action = {"type": "order", "orders": [wire], "grouping": "na"}
    if ex.options.get("approvedBuilderFee"):
        action["builder"] = {"b": CCXT_BUILDER.lower(), "f": 10}
    nonce = ex.incrementing_nonce()
    signature = ex.sign_l1_action(action, nonce)
    return await ex.privatePostExchange({"action": action, "nonce": nonce, "signature": signature})


async def test_bad_price_and_size_precision(face: HyperliquidFace, hl_ccxt: Any) -> None:
    with pytest.raises(
        InvalidOrder, match=re.escape("Price must be divisible by tick size. asset=0")
    ):
        await _send_raw_order(hl_ccxt, p="66000.5")  # 6 significant figures
    with pytest.raises(InvalidOrder, match="Order has invalid size"):
        await _send_raw_order(hl_ccxt, s="0.010001")  # BTC has szDecimals 5
    answer = await _send_raw_order(hl_ccxt)
    assert "resting" in answer["response"]["data"]["statuses"][0]


async def test_replayed_nonce_is_rejected(face: HyperliquidFace, hl_ccxt: Any) -> None:
    await hl_ccxt.load_markets()
    request = hl_ccxt.create_orders_request(
        [{"symbol": SYMBOL, "type": "limit", "side": "buy", "amount": 0.01, "price": 66000}]
    )
    first = await hl_ccxt.privatePostExchange(request)
    assert "resting" in first["response"]["data"]["statuses"][0]
    with pytest.raises(ExchangeError, match=f"Invalid nonce: duplicate nonce {request['nonce']}"):
        await hl_ccxt.privatePostExchange(request)
    assert len(face.engine.open_orders(account_of(hl_ccxt))) == 1


async def test_key_that_is_neither_account_nor_agent_is_rejected(
    face: HyperliquidFace, hl_factory: Factory
) -> None:
    victim = face.create_account(Decimal(10000))
    stranger = Account.create()
    ex = await hl_factory(victim["walletAddress"], "0x" + bytes(stranger.key).hex())
    with pytest.raises(InvalidOrder, match=f"User or API Wallet {stranger.address.lower()} does"):
        await ex.create_order(SYMBOL, "market", "buy", 0.01, 67500)
    assert face.engine.account_fills(victim["account"]) == []
    assert face.approved_builders(victim["account"]) == {}
    assert face.referrer(victim["account"]) is None


async def test_sandbox_signatures_are_not_mainnet_signatures(
    face: HyperliquidFace, hl_factory: Factory
) -> None:
    face.network = "mainnet"  # the default, "both", accepts them (tests/sim/test_official_sdks.py)
    creds = face.create_account(Decimal(10000))
    ex = await hl_factory(creds["walletAddress"], creds["privateKey"], sandbox=True)
    with pytest.raises(InvalidOrder, match="does not exist"):
        await ex.create_order(SYMBOL, "market", "buy", 0.01, 67500)
    assert face.approved_builders(creds["account"]) == {}  # "Testnet" approval refused


async def test_approved_agent_wallet_trades_for_the_account(
    sim_server: SimServer, face: HyperliquidFace, hl_factory: Factory
) -> None:
    master = face.create_account(Decimal(10000))
    master_ex = await hl_factory(master["walletAddress"], master["privateKey"])
    agent = Account.create()
    nonce = master_ex.incrementing_nonce()
    message = {
        "hyperliquidChain": "Mainnet",
        "agentAddress": agent.address,
        "agentName": "tradeexec",
        "nonce": nonce,
    }
    types = {"HyperliquidTransaction:ApproveAgent": USER_SIGNED_TYPES["approveAgent"][1]}
    signature = master_ex.sign_user_signed_action(types, message)
    answer = await master_ex.privatePostExchange(
        {
            "action": {"type": "approveAgent", "signatureChainId": "0x66eee", **message},
            "nonce": nonce,
            "signature": signature,
            "vaultAddress": None,
        }
    )
    assert answer == {"status": "ok", "response": {"type": "default"}}
    assert face.approved_agents(master["account"]) == {"tradeexec": agent.address.lower()}

    agent_ex = await hl_factory(master["walletAddress"], "0x" + bytes(agent.key).hex())
    order = await agent_ex.create_order(SYMBOL, "market", "buy", 0.01, 67500)
    assert order["filled"] == 0.01
    [position] = await agent_ex.fetch_positions([SYMBOL])
    assert position["contracts"] == 0.01
    assert len(face.engine.account_fills(master["account"])) == 1
    # an agent key cannot approve a builder fee (user-signed): ccxt swallows the refusal and
    # then sends no builder field; the referrer (an L1 action) is set for the master
    assert face.approved_builders(master["account"]) == {}
    assert "builder" not in (await exchange_actions(sim_server, 10))[-1]
    assert face.referrer(master["account"]) == "CCXT1"


async def test_sub_account_through_vault_address(
    face: HyperliquidFace, hl_ccxt: Any, hl_factory: Factory
) -> None:
    sub = face.create_sub_account(account_of(hl_ccxt), Decimal(1000))
    await hl_ccxt.create_order(
        SYMBOL, "limit", "buy", 0.01, 60000, {"vaultAddress": sub["subAccountAddress"]}
    )
    assert len(face.engine.open_orders(sub["account"])) == 1
    assert await hl_ccxt.fetch_open_orders(SYMBOL) == []
    listed = await hl_ccxt.fetch_open_orders(SYMBOL, params={"user": sub["account"]})
    assert len(listed) == 1
    other = face.create_account(Decimal(1000))
    other_ex = await hl_factory(other["walletAddress"], other["privateKey"])
    with pytest.raises(ExchangeError, match="Vault not registered"):
        await other_ex.create_order(
            SYMBOL, "limit", "buy", 0.01, 60000, {"vaultAddress": sub["subAccountAddress"]}
        )


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, RateLimitExceeded), (418, DDoSProtection), (503, ExchangeNotAvailable)],
)
async def test_injected_status(
    sim_server: SimServer, hl_ccxt: Any, status: int, error: type[Exception]
) -> None:
    sim_server.simulator.ctx.faults.add(
        FaultRule(route="hyperliquid.info.clearinghouseState", kind="status", status=status)
    )
    with pytest.raises(error):
        await hl_ccxt.fetch_balance()


async def test_injected_429_on_orders(sim_server: SimServer, hl_ccxt: Any) -> None:
    await hl_ccxt.load_markets()
    sim_server.simulator.ctx.faults.add(
        FaultRule(route="hyperliquid.exchange.order", kind="status", status=429, times=1)
    )
    with pytest.raises(RateLimitExceeded):
        await hl_ccxt.create_order(SYMBOL, "market", "buy", 0.01, 67500)
    order = await hl_ccxt.create_order(SYMBOL, "market", "buy", 0.01, 67500)
    assert order["filled"] == 0.01


async def test_injected_timeout(sim_server: SimServer, hl_ccxt: Any) -> None:
    await hl_ccxt.load_markets()
    sim_server.simulator.ctx.faults.add(
        FaultRule(route="hyperliquid.exchange.order", kind="timeout", seconds=1.0)
    )
    hl_ccxt.timeout = 300
    with pytest.raises(RequestTimeout):
        await hl_ccxt.create_order(SYMBOL, "market", "buy", 0.01, 67500)


async def test_lost_response_is_resolved_by_client_id(
    sim_server: SimServer, face: HyperliquidFace, hl_ccxt: Any
) -> None:
    await hl_ccxt.load_markets()
    sim_server.simulator.ctx.faults.add(
        FaultRule(route="hyperliquid.exchange.order", kind="lost_response", seconds=1.0, times=1)
    )
    hl_ccxt.timeout = 300
    cid = cloid()
    with pytest.raises(RequestTimeout):
        await hl_ccxt.create_order(SYMBOL, "market", "buy", 0.01, 67500, {"clientOrderId": cid})
    hl_ccxt.timeout = 30_000
    found = await hl_ccxt.fetch_order(cid, SYMBOL)
    assert (found["status"], found["filled"], found["clientOrderId"]) == ("closed", 0.01, cid)
