"""The matching engine on its own: matching rules, triggers, margin, and accounting properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeexec.sim.accounting import MarginMode, PositionSide
from tradeexec.sim.engine import (
    Engine,
    OrderKind,
    OrderSpec,
    OrderStatus,
    Reject,
    Side,
    SimError,
    TimeInForce,
)
from tradeexec.sim.markets import BINANCE_MARKETS, HYPERLIQUID_MARKETS

D = Decimal


def binance() -> Engine:
    engine = Engine(BINANCE_MARKETS, collateral="USDT", clock=lambda: 1_700_000_000_000)
    engine.create_account("a", D(10_000))
    return engine


def spec(side: Side, kind: OrderKind, qty: str, **kw: object) -> OrderSpec:
    return OrderSpec("BTC", side, kind, D(qty), **kw)  # type: ignore[arg-type]


def test_market_order_fills_at_touch_and_charges_taker_fee() -> None:
    engine = binance()
    bid, ask = engine.bid_ask("BTC")
    assert bid < engine.marks["BTC"] < ask
    order = engine.place_order("a", spec(Side.BUY, OrderKind.MARKET, "0.1"))
    assert order.status is OrderStatus.FILLED
    assert order.avg_price == ask
    assert order.fee_paid == (D("0.1") * ask * engine.taker_fee).quantize(D("1e-8"))
    (pos,) = engine.positions("a")
    assert pos.qty == D("0.1") and pos.entry_price == ask


def test_resting_limit_fills_as_maker_when_price_crosses() -> None:
    engine = binance()
    order = engine.place_order("a", spec(Side.BUY, OrderKind.LIMIT, "0.1", price=D("66000")))
    assert order.status is OrderStatus.NEW
    assert engine.set_mark("BTC", D("66500")) == []
    fills = engine.set_mark("BTC", D("65990"))
    assert [f.price for f in fills] == [D("66000")]
    assert fills[0].maker and fills[0].fee == D("0.1") * D("66000") * engine.maker_fee
    assert order.status is OrderStatus.FILLED


def test_post_only_that_would_cross_is_refused_and_ioc_expires() -> None:
    engine = binance()
    with pytest.raises(SimError) as err:
        engine.place_order(
            "a", spec(Side.BUY, OrderKind.LIMIT, "0.1", price=D("70000"), tif=TimeInForce.POST_ONLY)
        )
    assert err.value.reason is Reject.POST_ONLY_WOULD_CROSS
    ioc = engine.place_order(
        "a", spec(Side.BUY, OrderKind.LIMIT, "0.1", price=D("60000"), tif=TimeInForce.IOC)
    )
    assert ioc.status is OrderStatus.EXPIRED and ioc.expire_reason is Reject.IOC_NO_MATCH


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (spec(Side.BUY, OrderKind.LIMIT, "0.1", price=D("66000.05")), Reject.BAD_PRICE),
        (spec(Side.BUY, OrderKind.MARKET, "0.0015"), Reject.BAD_QTY),
        (spec(Side.BUY, OrderKind.MARKET, "0.001"), Reject.BELOW_MIN_NOTIONAL),
        (spec(Side.BUY, OrderKind.MARKET, "5"), Reject.INSUFFICIENT_MARGIN),
        (spec(Side.SELL, OrderKind.MARKET, "0.1", reduce_only=True), Reject.REDUCE_ONLY),
        (
            spec(Side.SELL, OrderKind.STOP_MARKET, "0.1", trigger_price=D("70000")),
            Reject.WOULD_TRIGGER_IMMEDIATELY,
        ),
        (
            spec(Side.BUY, OrderKind.MARKET, "0.1", position_side=PositionSide.LONG),
            Reject.POSITION_SIDE_MISMATCH,
        ),
    ],
)
def test_refusals_carry_their_reason(order: OrderSpec, reason: Reject) -> None:
    engine = binance()
    with pytest.raises(SimError) as err:
        engine.place_order("a", order)
    assert err.value.reason is reason
    assert engine.account("a").wallet_balance == D(10_000)


def test_stop_fires_on_mark_and_orphaned_take_profit_expires() -> None:
    engine = binance()
    engine.place_order("a", spec(Side.BUY, OrderKind.MARKET, "0.1"))
    stop = engine.place_order(
        "a",
        spec(Side.SELL, OrderKind.STOP_MARKET, "0.1", trigger_price=D("66000"), reduce_only=True),
    )
    take = engine.place_order(
        "a",
        spec(
            Side.SELL,
            OrderKind.TAKE_PROFIT_MARKET,
            "0.1",
            trigger_price=D("69000"),
            reduce_only=True,
        ),
    )
    assert engine.set_mark("BTC", D("66100")) == []
    (fill,) = engine.set_mark("BTC", D("65950"))
    assert fill.order_id == stop.order_id and fill.realized_pnl < 0
    assert engine.positions("a") == []
    assert take.status is OrderStatus.NEW  # the venue leaves the sibling: callers cancel it
    engine.set_mark("BTC", D("69500"))
    assert take.status is OrderStatus.EXPIRED and take.expire_reason is Reject.REDUCE_ONLY


def test_child_orders_arm_only_when_parent_fills_and_die_with_it() -> None:
    engine = Engine(HYPERLIQUID_MARKETS, collateral="USDC", reject_immediate_trigger=False)
    engine.create_account("h", D(10_000))
    parent = engine.place_order("h", spec(Side.BUY, OrderKind.LIMIT, "0.01", price=D("60000")))
    child = engine.place_order(
        "h",
        spec(
            Side.SELL,
            OrderKind.STOP_MARKET,
            "0.01",
            trigger_price=D("59000"),
            reduce_only=True,
            parent_id=parent.order_id,
        ),
    )
    assert not child.armed
    engine.set_mark("BTC", D("58000"))  # parent fills at 60000 (maker) ...
    assert parent.status is OrderStatus.FILLED
    assert child.armed  # ... and the stop only arms afterwards, firing on the next mark
    engine.set_mark("BTC", D("58500"))
    assert child.status is OrderStatus.FILLED
    parent2 = engine.place_order("h", spec(Side.BUY, OrderKind.LIMIT, "0.01", price=D("50000")))
    child2 = engine.place_order(
        "h",
        spec(
            Side.SELL,
            OrderKind.STOP_MARKET,
            "0.01",
            trigger_price=D("49000"),
            reduce_only=True,
            parent_id=parent2.order_id,
        ),
    )
    engine.cancel_order("h", parent2.order_id)
    assert child2.status is OrderStatus.CANCELED


def test_hyperliquid_price_rules() -> None:
    btc, sol = HYPERLIQUID_MARKETS[0], HYPERLIQUID_MARKETS[2]
    assert btc.price_is_valid(D("67512")) and not btc.price_is_valid(D("67512.5"))
    assert sol.price_is_valid(D("150.12")) and not sol.price_is_valid(D("150.123"))
    assert btc.price_is_valid(D("123456"))  # integers are always allowed
    assert btc.round_price(D("67512.37")) == D("67512")


def test_margin_mode_and_leverage_rules() -> None:
    engine = binance()
    with pytest.raises(SimError) as err:
        engine.set_margin_mode("a", "BTC", MarginMode.CROSS)
    assert err.value.reason is Reject.MARGIN_MODE_UNCHANGED
    engine.set_margin_mode("a", "BTC", MarginMode.ISOLATED)
    with pytest.raises(SimError):
        engine.set_leverage("a", "BTC", 126)
    engine.set_leverage("a", "BTC", 5)
    engine.place_order("a", spec(Side.BUY, OrderKind.MARKET, "0.1"))
    assert engine.summary("a").position_margin == D("0.1") * engine.marks["BTC"] / 5
    with pytest.raises(SimError) as err:
        engine.set_margin_mode("a", "BTC", MarginMode.CROSS)
    assert err.value.reason is Reject.POSITION_EXISTS


def test_flip_realises_pnl_on_the_closed_part_only() -> None:
    engine = binance()
    engine.place_order("a", spec(Side.BUY, OrderKind.MARKET, "0.1"))
    entry = engine.positions("a")[0].entry_price
    engine.set_mark("BTC", D("68000"))
    order = engine.place_order("a", spec(Side.SELL, OrderKind.MARKET, "0.3"))
    (pos,) = engine.positions("a")
    assert pos.qty == D("-0.2") and pos.entry_price == order.avg_price
    assert engine.account("a").realized_pnl == D("0.1") * (order.avg_price - entry)


# --------------------------------------------------------------- properties

actions = st.lists(
    st.one_of(
        st.tuples(
            st.just("order"),
            st.sampled_from(["BUY", "SELL"]),
            st.sampled_from(["MARKET", "LIMIT"]),
            st.integers(1, 400),  # qty in steps of 0.001 BTC
            st.integers(-300, 300),  # limit offset from mark, in dollars
            st.booleans(),  # reduce-only
        ),
        st.tuples(st.just("price"), st.integers(-4000, 4000)),
        st.tuples(st.just("leverage"), st.integers(1, 50)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=actions)
def test_accounting_is_conserved_and_margin_bounds_positions(actions: list[tuple]) -> None:  # type: ignore[type-arg]
    engine = binance()
    acct = engine.account("a")
    for action in actions:
        if action[0] == "price":
            engine.set_mark("BTC", max(D(1000), engine.marks["BTC"] + D(action[1])))
        elif action[0] == "leverage":
            engine.set_leverage("a", "BTC", action[1])
        else:
            _, side, kind, steps, offset, reduce_only = action
            price = engine.marks["BTC"] + D(offset) if kind == "LIMIT" else None
            before = engine.summary("a")
            pos_before = sum((abs(p.qty) for p in acct.open_positions()), D(0))
            try:
                engine.place_order(
                    "a",
                    OrderSpec(
                        "BTC",
                        Side(side),
                        OrderKind(kind),
                        D(steps) * D("0.001"),
                        price=BINANCE_MARKETS[0].round_price(price) if price else None,
                        reduce_only=reduce_only,
                    ),
                )
            except SimError:
                continue
            pos_after = sum((abs(p.qty) for p in acct.open_positions()), D(0))
            if pos_after > pos_before:  # exposure grew: it must have fitted the margin
                grew = (pos_after - pos_before) * engine.marks["BTC"]
                lev = engine.leverage("a", "BTC")
                assert grew / lev <= before.available + grew * D("0.001")
        # conservation: every unit of money is accounted for, exactly
        assert acct.wallet_balance == acct.deposits + acct.realized_pnl - acct.fees_paid + (
            acct.funding + acct.insurance  # both zero on a bare engine (`clearing` adds them)
        )
        assert acct.funding == acct.insurance == 0
        fills = engine.account_fills("a")
        assert acct.fees_paid == sum((f.fee for f in fills), D(0))
        assert acct.realized_pnl == sum((f.realized_pnl for f in fills), D(0))


def test_client_id_is_unique_among_open_orders_only_as_on_binance() -> None:
    """A stricter simulator would hide a client that resends a filled order under its id."""
    engine = binance()
    resting = engine.place_order(
        "a", spec(Side.BUY, OrderKind.LIMIT, "0.1", price=D("60000"), client_id="c1")
    )
    with pytest.raises(SimError) as err:
        engine.place_order("a", spec(Side.BUY, OrderKind.MARKET, "0.1", client_id="c1"))
    assert err.value.reason is Reject.DUPLICATE_CLIENT_ID
    engine.cancel_order("a", resting.order_id)
    again = engine.place_order("a", spec(Side.BUY, OrderKind.MARKET, "0.1", client_id="c1"))
    assert again.status is OrderStatus.FILLED
    assert engine.get_order("a", client_id="c1") is again  # the newest order owns the id
