"""Maintenance margin, liquidation prices and liquidations, through unmodified ccxt.

Sources: Binance "Position Information" (``liquidationPrice``, ``maintMargin``), "User's
Force Orders" (``/fapi/v1/forceOrders``: LIMIT IOC, client id ``autoclose-...``), "How to
calculate the liquidation price of USDⓈ-M contracts" (``LP = (WB - TMM1 + UPNL1 + cum -
side*Q*EP) / (Q*MMR - side*Q)``); Hyperliquid "Liquidations" (equity below maintenance
margin, half the initial margin at max leverage), "Margin tiers", and a liquidated user's
fill carrying ``liquidation: {liquidatedUser, markPx, method}`` (ccxt 4.5
``fetch_my_liquidations``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeexec.sim.clearing import ClearingEngine
from tradeexec.sim.engine import OrderKind, OrderSpec, Side, SimError
from tradeexec.sim.margin import is_liquidatable, liquidation_price
from tradeexec.sim.markets import BINANCE_MARKETS
from tradeexec.testing import sim_ccxt

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

D = Decimal
BTC = "BTC/USDT:USDT"
HL_BTC = "BTC/USDC:USDC"
TRIGGER = {"trigger": True}


async def set_mark(sim_server: SimServer, venue: str, price: str) -> None:
    async with httpx.AsyncClient(base_url=sim_server.base_url) as client:
        answer = await client.post("/_sim/prices", json={"coin": "BTC", "price": price,
                                                         "venue": venue})  # fmt: skip
        assert answer.status_code == 200


@pytest.fixture
async def binance(sim_server: SimServer) -> AsyncIterator[tuple[Any, str]]:
    async with sim_ccxt(sim_server, "binance", 1000) as (ex, account):
        await ex.set_leverage(20, BTC)
        yield ex, account


@pytest.fixture
async def hyperliquid(sim_server: SimServer) -> AsyncIterator[tuple[Any, str]]:
    async with sim_ccxt(sim_server, "hyperliquid", 1000) as client:
        yield client


def expected_lp(wallet: D, qty: D, entry: D, rate: D, cum: D = D(0)) -> D:
    """Binance's one-position liquidation price."""
    side = 1 if qty > 0 else -1
    size = abs(qty)
    return (wallet + cum - side * size * entry) / (size * rate - side * size)


async def test_binance_reports_the_liquidation_price_and_liquidates_below_it(
    sim_server: SimServer, binance: tuple[Any, str]
) -> None:
    ex, account = binance
    engine = sim_server.simulator.binance.engine
    await ex.create_order(BTC, "market", "buy", 0.25)
    await ex.create_order(BTC, "limit", "sell", 0.25, 70000, params={"reduceOnly": True})
    stop = await ex.create_order(
        BTC, "market", "sell", 0.25, params={"stopLossPrice": 60000, "reduceOnly": True}
    )
    (pos,) = engine.positions(account)
    wallet = engine.account(account).wallet_balance
    lp = expected_lp(wallet, pos.qty, pos.entry_price, D("0.004"))  # BTCUSDT's first bracket
    (risk,) = await ex.fapiPrivateV3GetPositionRisk({"symbol": "BTCUSDT"})
    assert D(risk["liquidationPrice"]) == lp.quantize(D("1e-8"))
    assert D(risk["maintMargin"]) == (D("0.25") * engine.marks["BTC"] * D("0.004")).quantize(
        D("1e-8")
    )
    assert (await ex.fetch_positions([BTC]))[0]["liquidationPrice"] == pytest.approx(float(lp))

    await set_mark(sim_server, "binance", str((lp + 5).quantize(D("0.1"))))
    assert engine.positions(account)  # above it: still open

    await set_mark(sim_server, "binance", str((lp - 5).quantize(D("0.1"))))

    assert engine.positions(account) == []
    assert await ex.fetch_open_orders(BTC) == []
    assert await ex.fetch_open_orders(BTC, params=TRIGGER) == []
    cancelled = await ex.fetch_order(stop["id"], BTC, params=TRIGGER)
    assert cancelled["status"] == "canceled"
    (forced,) = await ex.fapiPrivateGetForceOrders({"symbol": "BTCUSDT"})
    assert forced["clientOrderId"].startswith("autoclose-") and forced["status"] == "FILLED"
    assert (forced["type"], forced["timeInForce"], forced["side"]) == ("LIMIT", "IOC", "SELL")
    assert D(forced["avgPrice"]) == (lp - 5).quantize(D("0.1"))  # filled at the mark
    assert D(forced["price"]) < D(forced["avgPrice"])  # its limit: the bankruptcy price
    (liquidation,) = await ex.fetch_my_liquidations(BTC)
    assert (liquidation["side"], liquidation["contracts"]) == ("sell", 0.25)
    trades = await ex.fetch_my_trades(BTC)
    assert trades[-1]["order"] == str(forced["orderId"]) and trades[-1]["amount"] == 0.25
    acct = engine.account(account)
    assert 0 < acct.wallet_balance < D(1000) and acct.insurance == 0
    assert acct.wallet_balance == acct.deposits + acct.realized_pnl - acct.fees_paid
    (loss,) = await ex.fapiPrivateGetIncome({"incomeType": "REALIZED_PNL", "symbol": "BTCUSDT"})
    assert D(loss["income"]) == acct.realized_pnl < 0 and loss["tradeId"] == trades[-1]["id"]


async def test_a_gap_past_the_bankruptcy_price_is_the_insurance_funds_loss(
    sim_server: SimServer, binance: tuple[Any, str]
) -> None:
    ex, account = binance
    engine = sim_server.simulator.binance.engine
    await ex.create_order(BTC, "market", "buy", 0.25)

    await set_mark(sim_server, "binance", "50000")  # ~26 % down at 20x

    acct = engine.account(account)
    assert engine.positions(account) == [] and acct.wallet_balance == 0
    assert acct.insurance > 0  # the fee on the close at the bankruptcy price, at most dust
    assert acct.wallet_balance == acct.deposits + acct.realized_pnl - acct.fees_paid + (
        acct.insurance
    )
    (forced,) = await ex.fapiPrivateGetForceOrders({"autoCloseType": "LIQUIDATION"})
    assert D(forced["avgPrice"]) == D(forced["price"]) > 50000  # never worse than bankruptcy
    assert await ex.fapiPrivateGetForceOrders({"autoCloseType": "ADL"}) == []


async def test_funding_can_push_an_account_into_liquidation(
    sim_server: SimServer, binance: tuple[Any, str]
) -> None:
    ex, account = binance
    engine = sim_server.simulator.binance.engine
    await ex.create_order(BTC, "market", "buy", 0.25)  # ~16 900 USDT on ~990
    async with httpx.AsyncClient(base_url=sim_server.base_url) as client:
        await client.post("/_sim/funding", json={"venue": "binance", "coin": "BTC",
                                                 "rate": "0.01"})  # fmt: skip
        moved = await client.post("/_sim/time", json={"advance_s": 7 * 8 * 3600})
    assert moved.json()["funding_paid"]["binance"] == 7
    # ~169 USDT a payment on ~990: the sixth leaves less than the maintenance margin
    assert engine.positions(account) == []
    assert len(await ex.fetch_my_liquidations(BTC)) == 1
    assert len(engine.funding.account_payments(account)) == 6


async def test_hyperliquid_reports_liquidation_px_and_liquidates_with_its_fill_shape(
    sim_server: SimServer, hyperliquid: tuple[Any, str]
) -> None:
    ex, account = hyperliquid
    engine = sim_server.simulator.hyperliquid.engine
    await ex.create_order(HL_BTC, "market", "buy", 0.2, 67500)
    target = await ex.create_order(HL_BTC, "limit", "sell", 0.2, 71000,
                                   params={"reduceOnly": True})  # fmt: skip
    (pos,) = engine.positions(account)
    state = await ex.publicPostInfo({"type": "clearinghouseState", "user": account})
    position = state["assetPositions"][0]["position"]
    # 40x max leverage: maintenance is 1/80 of the notional (Hyperliquid's margin table 56)
    assert D(state["crossMaintenanceMarginUsed"]) == D("0.2") * engine.marks["BTC"] / 80
    wallet = engine.account(account).wallet_balance
    lp = expected_lp(wallet, pos.qty, pos.entry_price, D("0.0125"))
    assert D(position["liquidationPx"]) == lp.quantize(D("1e-8"))
    assert (await ex.fetch_positions([HL_BTC]))[0]["liquidationPrice"] == pytest.approx(float(lp))

    await set_mark(sim_server, "hyperliquid", str(int(lp) - 1))

    assert engine.positions(account) == [] and await ex.fetch_open_orders(HL_BTC) == []
    status = await ex.publicPostInfo({"type": "orderStatus", "user": account,
                                      "oid": int(target["id"])})  # fmt: skip
    assert status["order"]["status"] == "liquidatedCanceled"
    fills = await ex.publicPostInfo({"type": "userFills", "user": account})
    assert fills[0]["liquidation"] == {"liquidatedUser": account, "markPx": str(int(lp) - 1)
                                       + ".0", "method": "market"}  # fmt: skip
    assert (fills[0]["dir"], fills[0]["crossed"]) == ("Close Long", True)
    assert "liquidation" not in fills[1]  # the opening fill
    (liquidation,) = await ex.fetch_my_liquidations(HL_BTC)
    assert (liquidation["side"], liquidation["contracts"]) == ("sell", 0.2)


# ----------------------------------------------------------------- engine properties
def clearing(clock: list[int]) -> ClearingEngine:
    engine = ClearingEngine(
        BINANCE_MARKETS, collateral="USDT", clock=lambda: clock[0],
        funding_interval_ms=8 * 3_600_000, funding_rate=D("0.0001"),
    )  # fmt: skip
    engine.create_account("a", D(2_000))
    engine.create_account("b", D(300))
    return engine


def test_liquidation_price_is_where_liquidation_starts() -> None:
    engine = clearing([1_700_000_000_000])
    engine.set_leverage("b", "BTC", 50)
    engine.place_order("b", OrderSpec("BTC", Side.SELL, OrderKind.MARKET, D("0.2")))
    (pos,) = engine.positions("b")
    lp = liquidation_price(engine, "b", pos)
    assert lp is not None and lp > engine.marks["BTC"]  # a short is liquidated above
    engine.set_mark("BTC", lp - D("0.5"))
    assert engine.positions("b") and not is_liquidatable(engine, "b")
    engine.set_mark("BTC", lp + D("0.5"))
    assert engine.positions("b") == []


def test_a_stop_filled_past_the_bankruptcy_price_leaves_the_wallet_at_zero() -> None:
    engine = clearing([1_700_000_000_000])
    engine.place_order("b", OrderSpec("BTC", Side.SELL, OrderKind.MARKET, D("0.05")))
    engine.place_order(
        "b",
        OrderSpec("BTC", Side.BUY, OrderKind.STOP_MARKET, D("0.05"), trigger_price=D(80000),
                  reduce_only=True),
    )  # fmt: skip
    engine.set_mark("BTC", D(90000))  # one jump over the stop and the bankruptcy price
    acct = engine.account("b")
    assert engine.positions("b") == [] and engine.liquidations == {}  # the stop closed it
    assert acct.wallet_balance == 0 and acct.insurance > 0


actions = st.lists(
    st.one_of(
        # an order for a share (percent) of what the account's free margin can open
        st.tuples(
            st.just("order"),
            st.sampled_from("ab"),
            st.sampled_from(["BUY", "SELL"]),
            st.integers(1, 100),
        ),
        st.tuples(st.just("price"), st.integers(-8000, 8000)),
        st.tuples(st.just("leverage"), st.sampled_from("ab"), st.integers(10, 125)),
        st.tuples(st.just("rate"), st.integers(-300, 300)),  # basis points per 8 h
        st.tuples(st.just("hours"), st.integers(1, 30)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=actions)
def test_money_is_conserved_through_funding_and_liquidations(actions: list[tuple]) -> None:  # type: ignore[type-arg]
    clock = [1_700_000_000_000]
    engine = clearing(clock)
    for action in actions:
        if action[0] == "price":
            engine.set_mark("BTC", max(D(1000), engine.marks["BTC"] + D(action[1])))
        elif action[0] == "leverage":
            try:
                engine.set_leverage(action[1], "BTC", action[2])
            except SimError:
                continue
        elif action[0] == "rate":
            engine.funding.rates["BTC"] = D(action[1]) / 10_000
        elif action[0] == "hours":
            clock[0] += action[1] * 3_600_000
            engine.run_due()
        else:
            _, who, side, percent = action
            room = engine.summary(who).available * engine.leverage(who, "BTC") * percent / 100
            qty = BINANCE_MARKETS[0].round_qty_down(max(D(0), room) / engine.marks["BTC"])
            try:
                engine.place_order(who, OrderSpec("BTC", Side(side), OrderKind.MARKET, qty))
            except SimError:
                continue
        for name in "ab":
            acct = engine.account(name)
            assert acct.wallet_balance == acct.deposits + acct.realized_pnl - acct.fees_paid + (
                acct.funding + acct.insurance
            )
            assert acct.funding == sum(
                (p.amount for p in engine.funding.account_payments(name)), D(0)
            )
            assert not is_liquidatable(engine, name)  # nobody is left underwater
            if not acct.open_positions():
                assert acct.wallet_balance >= 0  # the insurance fund takes the rest
