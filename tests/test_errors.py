"""The error tree: shape, stable codes, context, retry classification."""

from __future__ import annotations

import pickle
import re

import pytest

from tradeexec import errors
from tradeexec.errors import (
    AuthenticationError,
    BelowMinimum,
    ConfigError,
    ExchangeError,
    ExchangeUnavailable,
    InsufficientFunds,
    InvalidOrder,
    InvalidTransitionError,
    NetworkError,
    NotInitializedError,
    NotSupported,
    OrderNotFound,
    OrderOutcomeUnknown,
    PrecisionError,
    RateLimited,
    ReduceOnlyRejected,
    RequestTimeout,
    RiskRejected,
    TradeExecError,
    UnknownSymbol,
    is_retryable_read,
)

PARENT = {
    ConfigError: TradeExecError,
    NotInitializedError: TradeExecError,
    InvalidTransitionError: TradeExecError,
    RiskRejected: TradeExecError,
    ExchangeError: TradeExecError,
    AuthenticationError: ExchangeError,
    InsufficientFunds: ExchangeError,
    InvalidOrder: ExchangeError,
    BelowMinimum: InvalidOrder,
    PrecisionError: InvalidOrder,
    ReduceOnlyRejected: InvalidOrder,
    OrderNotFound: ExchangeError,
    UnknownSymbol: ExchangeError,
    NotSupported: ExchangeError,
    OrderOutcomeUnknown: ExchangeError,
    NetworkError: ExchangeError,
    RateLimited: NetworkError,
    RequestTimeout: NetworkError,
    ExchangeUnavailable: NetworkError,
}

# Every error class the module defines, including ones added after this test was written.
ALL = [
    obj
    for obj in vars(errors).values()
    if isinstance(obj, type) and issubclass(obj, TradeExecError)
]


@pytest.mark.parametrize(("cls", "parent"), PARENT.items())
def test_tree_shape(cls: type[Exception], parent: type[Exception]) -> None:
    assert cls.__bases__ == (parent,)


def test_every_class_is_exported_and_drawn_in_the_docstring() -> None:
    doc = errors.__doc__ or ""
    for cls in ALL:
        assert cls.__name__ in errors.__all__
        assert re.search(rf"\b{cls.__name__}\b", doc), cls.__name__
        assert cls.code in doc, cls.code


def test_codes_are_unique_snake_case() -> None:
    codes = [cls.code for cls in ALL]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code)


@pytest.mark.parametrize("cls", [c for c in ALL if c not in (RiskRejected,)])
def test_context_and_message(cls: type[TradeExecError]) -> None:
    exc = cls("boom", exchange="binance", symbol="BTC/USDT:USDT", client_order_id="c1")
    assert str(exc).startswith("boom")
    assert "exchange=binance" in str(exc)
    d = exc.to_dict()
    assert d["reason"] == cls.code
    assert d["symbol"] == "BTC/USDT:USDT"
    assert d["client_order_id"] == "c1"
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is cls
    assert str(copy) == str(exc)
    assert copy.exchange == "binance"


def test_message_defaults_to_class_name() -> None:
    assert str(OrderNotFound()) == "OrderNotFound"


def test_risk_rejected_carries_reason_code() -> None:
    exc = RiskRejected("max_order_notional", "12000 > 10000", symbol="BTC")
    assert exc.code == "risk_rejected"
    assert exc.reason_code == "max_order_notional"
    assert exc.detail == "12000 > 10000"
    assert "max_order_notional" in str(exc) and "12000 > 10000" in str(exc)
    assert exc.to_dict()["reason_code"] == "max_order_notional"
    copy = pickle.loads(pickle.dumps(exc))
    assert copy.reason_code == "max_order_notional"
    assert copy.symbol == "BTC"


def test_unknown_symbol_lists_close_matches() -> None:
    exc = UnknownSymbol(symbol="BTCUSD", close_matches=["BTC/USDT:USDT", "BTC/USDC:USDC"])
    assert exc.close_matches == ("BTC/USDT:USDT", "BTC/USDC:USDC")
    assert "BTCUSD" in str(exc)
    assert "BTC/USDT:USDT" in str(exc) and "BTC/USDC:USDC" in str(exc)
    assert exc.to_dict()["close_matches"] == ["BTC/USDT:USDT", "BTC/USDC:USDC"]
    assert UnknownSymbol("no such market").close_matches == ()


def test_only_network_errors_are_retryable_reads() -> None:
    retryable = {cls for cls in ALL if is_retryable_read(cls("x"))}
    assert retryable == {NetworkError, RateLimited, RequestTimeout, ExchangeUnavailable}
    assert not is_retryable_read(OrderOutcomeUnknown("lost"))
    assert not is_retryable_read(ValueError())
