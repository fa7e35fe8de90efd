"""Domain values: exact money, validation of order requests, derived properties."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeexec.domain import (
    Balance,
    Fill,
    InvalidNumber,
    MarginMode,
    Market,
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    SignalSource,
    Ticker,
    TimeInForce,
    TradingState,
    to_decimal,
)
from tradeexec.errors import InvalidOrder, InvalidSignal


def test_enum_values_and_lenient_lookup() -> None:
    assert OrderSide("BUY") is OrderSide.BUY
    assert OrderSide(" Sell ") is OrderSide.SELL
    assert OrderType("STOP_MARKET") is OrderType.STOP_MARKET
    assert TimeInForce("po") is TimeInForce.POST_ONLY
    assert TimeInForce("post_only") is TimeInForce.POST_ONLY
    assert OrderStatus("FILLED") is OrderStatus.FILLED
    assert MarginMode("Cross") is MarginMode.CROSS
    assert TradingState("halted") is TradingState.HALTED
    assert SignalSource("TradingView") is SignalSource.TRADINGVIEW
    assert str(OrderSide.BUY) == "buy"
    with pytest.raises(ValueError):
        OrderSide("hold")


def test_side_opposite() -> None:
    assert OrderSide.BUY.opposite is OrderSide.SELL
    assert OrderSide.SELL.opposite is OrderSide.BUY


@pytest.mark.parametrize(
    ("kind", "trigger", "price"),
    [
        (OrderType.MARKET, False, False),
        (OrderType.LIMIT, False, True),
        (OrderType.STOP_MARKET, True, False),
        (OrderType.TAKE_PROFIT_MARKET, True, False),
        (OrderType.STOP_LIMIT, True, True),
        (OrderType.TAKE_PROFIT_LIMIT, True, True),
    ],
)
def test_order_type_properties(kind: OrderType, trigger: bool, price: bool) -> None:
    assert kind.is_trigger is trigger
    assert kind.needs_price is price


def test_order_status_terminal_and_open_are_disjoint_and_complete() -> None:
    terminal = {s for s in OrderStatus if s.is_terminal}
    open_ = {s for s in OrderStatus if s.is_open}
    assert terminal == {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
    }
    assert open_ == {
        OrderStatus.SUBMITTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.CANCEL_PENDING,
    }
    assert not terminal & open_
    # PENDING_SUBMIT and UNKNOWN are neither: not yet live, or not known to be.
    assert set(OrderStatus) - terminal - open_ == {OrderStatus.PENDING_SUBMIT, OrderStatus.UNKNOWN}


def test_to_decimal_accepts_floats_exactly_as_written() -> None:
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal(67500.0) == Decimal("67500.0")
    assert to_decimal("1.50") == Decimal("1.50")
    assert to_decimal(3) == Decimal(3)
    assert to_decimal(Decimal("2")) == Decimal(2)
    with pytest.raises(TypeError):
        to_decimal(True)
    with pytest.raises(TypeError):
        to_decimal(None)
    with pytest.raises(ValueError):
        to_decimal("abc")
    with pytest.raises(ValueError):
        to_decimal(float("nan"))
    with pytest.raises(ValueError):
        to_decimal("Infinity")


SANE_FLOATS = st.floats(min_value=1e-12, max_value=1e15) | st.floats(
    min_value=-1e15, max_value=-1e-12
)


@given(SANE_FLOATS | st.just(0.0))
def test_to_decimal_round_trips_float_repr(x: float) -> None:
    assert float(to_decimal(x)) == x


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1e3", Decimal(1000)),  # a positive exponent is normalised away
        ("1E-5", Decimal("0.00001")),
        (1e-05, Decimal("0.00001")),  # str(1e-05) is '1e-05'
        (" 67500.5 ", Decimal("67500.5")),
        ("-0", Decimal(0)),
        ("1e15", Decimal("1e15")),
        ("1e-12", Decimal("1e-12")),
        (10**15, Decimal(10**15)),
    ],
)
def test_to_decimal_accepts_sane_numbers_in_any_plain_notation(
    value: object, expected: Decimal
) -> None:
    result = to_decimal(value)
    assert result == expected
    assert "E+" not in str(result)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e30", "out of range"),
        ("1E-30", "out of range"),
        (1e30, "out of range"),
        (10**16, "out of range"),
        (Decimal("1e400"), "out of range"),
        (Decimal("-1e16"), "out of range"),
        ("1,000", "not a number"),
        ("1_000", "not a number"),  # valid for Python's Decimal, not for us
        ("", "not a number"),
        ("  ", "not a number"),
        ("NaN", "not a number"),
        ("-Infinity", "not a number"),
        (float("inf"), "not a number"),
        (Decimal("sNaN"), "not a finite number"),
        ("\u0661\u0662", "not a number"),  # Arabic-Indic digits
        ("0x10", "not a number"),
        ("1e99999", "not a number"),  # exponents of more than 4 digits never reach Decimal
        ("1." + "1" * 70, "not a number"),  # over 64 characters
        ("0." + "1" * 29, "significant digits"),
        (True, "expected a number"),
        ([1], "expected a number"),
    ],
)
def test_to_decimal_refuses_malformed_and_extreme_numbers(value: object, message: str) -> None:
    with pytest.raises(InvalidNumber, match=message):
        to_decimal(value)


def test_invalid_number_is_an_invalid_signal_and_the_errors_it_always_was() -> None:
    with pytest.raises(InvalidSignal) as caught:
        to_decimal("1e30")
    assert caught.value.code == "invalid_signal"
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, TypeError)
    assert pickle.loads(pickle.dumps(caught.value)).message == caught.value.message


def test_order_request_converts_and_freezes() -> None:
    req = OrderRequest("BTC/USDT", "buy", "limit", "0.1", price=67000, params={"a": 1})
    assert req.side is OrderSide.BUY
    assert req.type is OrderType.LIMIT
    assert req.quantity == Decimal("0.1")
    assert isinstance(req.price, Decimal)
    assert req.time_in_force is TimeInForce.GTC
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.quantity = Decimal(1)  # type: ignore[misc]
    with pytest.raises(TypeError):
        req.params["b"] = 2  # type: ignore[index]
    assert not hasattr(req, "__dict__")  # slotted


def test_order_request_params_are_a_copy() -> None:
    params: dict[str, object] = {"a": 1}
    req = OrderRequest("BTC", OrderSide.BUY, OrderType.MARKET, Decimal(1), params=params)
    params["a"] = 2
    assert req.params["a"] == 1


def test_order_request_survives_pickle_copy_asdict_replace_hash() -> None:
    req = OrderRequest("BTC", "sell", "stop_market", "1", trigger_price="60000", params={"x": [1]})
    assert pickle.loads(pickle.dumps(req)) == req
    assert copy.deepcopy(req) == req
    assert dataclasses.asdict(req)["params"] == {"x": [1]}
    assert dataclasses.replace(req, quantity=Decimal(2)).quantity == 2
    assert hash(req) == hash(copy.deepcopy(req))


def test_float_money_is_refused() -> None:
    with pytest.raises(TypeError, match="float"):
        OrderRequest("BTC", "buy", "market", 0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Balance("USDT", 1.0, "1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type": "market", "quantity": "0"}, "quantity must be > 0"),
        ({"type": "market", "quantity": "-1"}, "quantity must be > 0"),
        ({"type": "limit"}, "needs a price"),
        ({"type": "market", "price": "1"}, "takes no price"),
        ({"type": "stop_market"}, "needs a trigger_price"),
        ({"type": "stop_limit", "price": "1"}, "needs a trigger_price"),
        ({"type": "take_profit_limit", "trigger_price": "1"}, "needs a price"),
        ({"type": "limit", "price": "1", "trigger_price": "2"}, "takes no trigger_price"),
        ({"type": "limit", "price": "0"}, "price must be > 0"),
        ({"type": "market", "stop_loss": "-5"}, "stop_loss must be > 0"),
        ({"type": "market", "time_in_force": "PO"}, "post-only"),
        ({"type": "market", "client_order_id": " "}, "client_order_id is empty"),
        ({"type": "market", "position_side": "up"}, "position_side"),
        ({"type": "market", "stop_loss": "70000", "take_profit": "60000"}, "wrong sides"),
        ({"type": "market", "symbol": ""}, "symbol is empty"),
        ({"type": "market", "quantity": "abc"}, "not a number"),
        ({"type": "market", "side": "hold"}, "side"),
    ],
)
def test_order_request_validation(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"symbol": "BTC/USDT", "side": "buy", "quantity": "1"}
    args.update(kwargs)
    with pytest.raises(InvalidOrder, match=message):
        OrderRequest(**args)  # type: ignore[arg-type]


def test_order_request_valid_variants() -> None:
    OrderRequest("BTC", "buy", "market", "1", stop_loss="60000", take_profit="70000")
    OrderRequest("BTC", "sell", "market", "1", stop_loss="70000", take_profit="60000")
    OrderRequest("BTC", "sell", "stop_limit", "1", price="59000", trigger_price="60000")
    OrderRequest("BTC", "buy", "limit", "1", price="1", time_in_force="PO")
    req = OrderRequest("BTC", "buy", "market", "1", position_side="LONG")
    assert req.position_side == "long"


def test_order_remaining_and_info_excluded_from_eq_and_repr() -> None:
    a = Order("1", "c1", "BTC", "buy", "limit", "partially_filled", "2", "0.5", info={"raw": 1})
    b = Order("1", "c1", "BTC", "buy", "limit", "partially_filled", "2", "0.5", info={"raw": 2})
    assert a == b
    assert "raw" not in repr(a)
    assert a.remaining == Decimal("1.5")
    assert a.status is OrderStatus.PARTIALLY_FILLED
    over = Order("1", None, "BTC", "buy", "market", "filled", "1", "1.2")
    assert over.remaining == 0


def test_fill_notional() -> None:
    fill = Fill("t1", "o1", None, "BTC", "sell", "0.5", "100", fee="0.02", realized_pnl="-1")
    assert fill.notional == Decimal(50)
    assert fill.side is OrderSide.SELL


@pytest.mark.parametrize(("qty", "side"), [("1", "long"), ("-2", "short"), ("0", "flat")])
def test_position_side(qty: str, side: str) -> None:
    assert Position("BTC", qty, "100", "110").side == side  # type: ignore[arg-type]


def test_position_notional_uses_mark_then_entry() -> None:
    assert Position("BTC", "-2", "100", "110").notional == Decimal(220)
    assert Position("BTC", "2", "100").notional == Decimal(200)
    assert Position("BTC", "2").notional == 0
    assert Position("BTC", "1", margin_mode="ISOLATED").margin_mode is MarginMode.ISOLATED  # type: ignore[arg-type]


def test_ticker_prices() -> None:
    t = Ticker("BTC", "99", "101", "100.5")
    assert t.mid == 100
    assert t.reference_price == 100
    assert Ticker("BTC", "99", "101", "100.5", mark="100.2").reference_price == Decimal("100.2")
    assert Ticker("BTC", None, None, "7").reference_price == 7
    assert Ticker("BTC", None, None, None).reference_price is None


def test_market_rounding_on_steps() -> None:
    m = Market("BTC/USDT:USDT", "BTC", "USDT", "USDT", "0.001", "0.1", "0.001", "100", 125)
    assert m.round_amount(Decimal("0.12399")) == Decimal("0.123")
    assert m.round_price(Decimal("67000.06")) == Decimal("67000.1")
    assert m.contract_size == 1
    assert m.active


def test_market_rounding_significant_figures() -> None:
    m = Market(
        "BTC/USDC:USDC",
        "BTC",
        "USDC",
        "USDC",
        "0.00001",
        None,
        price_sig_figs=5,
        price_max_decimals=1,
    )
    assert m.round_price(Decimal("67012.56")) == Decimal("67013")
    assert m.round_price(Decimal("123.456")) == Decimal("123.5")
    small = Market(
        "X/USDC:USDC", "X", "USDC", "USDC", "1", None, price_sig_figs=5, price_max_decimals=6
    )
    assert small.round_price(Decimal("0.0012345678")) == Decimal("0.001235")
