"""`EngineWatch`: what the websocket faces are told changed, straight from an engine."""

from __future__ import annotations

from decimal import Decimal

from tradeexec.sim.engine import Engine, OrderKind, OrderSpec, OrderStatus, Side
from tradeexec.sim.markets import BINANCE_MARKETS
from tradeexec.sim.ws_hub import EngineWatch

D = Decimal


def engine_with(*accounts: str) -> Engine:
    engine = Engine(BINANCE_MARKETS, collateral="USDT", clock=lambda: 1_700_000_000_000)
    for account in accounts:
        engine.create_account(account, D("10000"))
    return engine


def test_a_new_order_and_its_fill_are_one_change_then_nothing() -> None:
    engine = engine_with("a")
    watch = EngineWatch(engine)
    order = engine.place_order("a", OrderSpec("BTC", Side.BUY, OrderKind.MARKET, D("0.01")))

    (change,) = watch.diff().orders
    assert change.order is order and change.before is None
    assert [f.qty for f in change.fills] == [D("0.01")]
    assert not watch.diff()  # told once


def test_a_resting_order_filled_by_a_mark_move_carries_its_state_before() -> None:
    engine = engine_with("a")
    spec = OrderSpec("BTC", Side.BUY, OrderKind.LIMIT, D("0.01"), price=D("67000"))
    order = engine.place_order("a", spec)
    watch = EngineWatch(engine)  # the order is already resting: not new

    engine.set_mark("BTC", D("66900"))

    changes = watch.diff()
    (change,) = changes.orders
    assert change.order is order and change.before is not None
    assert change.before.status is OrderStatus.NEW and change.before.filled == 0
    assert order.status is OrderStatus.FILLED and len(change.fills) == 1
    assert changes.marks == {"BTC": D("66900")}


def test_only_watched_accounts_report_money_moves() -> None:
    engine = engine_with("a", "b")
    watch = EngineWatch(engine)
    watch.diff(["a"])  # the baseline of a newly watched account is not a change
    engine.account("a").deposit(D("5"))
    engine.account("b").deposit(D("5"))

    assert watch.diff(["a"]).accounts == {"a"}
    assert watch.diff(["a"]).accounts == set()


def test_a_last_price_set_apart_from_the_mark_is_a_price_move() -> None:
    engine = engine_with()
    watch = EngineWatch(engine)
    mark = engine.marks["BTC"]

    engine.set_mark("BTC", mark, last=mark + 10)

    assert watch.diff().marks == {"BTC": mark}  # the tickers (last price) move
    assert not watch.diff()
