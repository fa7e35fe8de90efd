"""Signal: parsing the plugin-API dict, validation, and the JSON-safe record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from tradeexec.domain import OrderSide, OrderType, SignalSource
from tradeexec.errors import InvalidSignal
from tradeexec.execution.signals import Signal

NOW = datetime(2024, 11, 4, 16, 0, tzinfo=UTC)
PLAN_EXAMPLE: dict[str, Any] = {
    "symbol": "BTC/USDT",
    "side": "buy",
    "order_type": "market",
    "quantity": 0.1,
    "confidence": 0.85,
    "stop_loss": 66000.0,
    "take_profit": 69000.0,
}


def parse(**overrides: Any) -> Signal:
    data = {**PLAN_EXAMPLE, **overrides}
    return Signal.from_request({k: v for k, v in data.items() if v is not None}, "agent", NOW)


def test_the_plan_example_parses_exactly() -> None:
    signal = parse()
    assert signal.symbol == "BTC/USDT"
    assert signal.side is OrderSide.BUY
    assert signal.order_type is OrderType.MARKET
    assert signal.quantity == Decimal("0.1")  # not 0.1000000000000000055...
    assert signal.stop_loss == Decimal("66000.0")
    assert signal.confidence == 0.85
    assert signal.source is SignalSource.AGENT
    assert signal.created_at == NOW
    assert signal.reduce_only is False
    assert signal.direction is OrderSide.BUY


def test_without_a_key_each_signal_gets_its_own_random_one() -> None:
    first, second = parse(), parse()
    assert first.idempotency_key.startswith("gen-")
    assert first.idempotency_key != second.idempotency_key


@pytest.mark.parametrize("key_field", ["idempotency_key", "client_order_id"])
def test_a_caller_key_is_kept(key_field: str) -> None:
    assert parse(**{key_field: "agent-42"}).idempotency_key == "agent-42"


def test_conflicting_keys_are_refused() -> None:
    with pytest.raises(InvalidSignal, match="differ"):
        parse(idempotency_key="a", client_order_id="b")
    assert parse(idempotency_key="a", client_order_id="a").idempotency_key == "a"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"side": "hold"}, "side: 'hold' is not one of buy, sell"),
        ({"side": None}, "give a side"),
        ({"symbol": None}, "symbol is required"),
        ({"symbol": "  "}, "symbol is required"),
        ({"quantity": -1}, "quantity must be > 0"),
        ({"quantity": 0}, "quantity must be > 0"),
        ({"quantity": "lots"}, "quantity: 'lots' is not a number"),
        ({"quantity": True}, "quantity: expected a number"),
        ({"quantity": float("nan")}, "quantity: nan is not a number"),
        ({"quantity": "Infinity"}, "quantity: 'Infinity' is not a number"),
        ({"quantity": "1e30"}, "quantity: 1E\\+30 is out of range"),
        ({"quantity": 1e30}, "quantity: 1E\\+30 is out of range"),
        ({"quantity": 10**30}, "quantity: 1000000000000000000000000000000 is out of range"),
        ({"quantity": "1E-30"}, "quantity: 1E-30 is out of range"),
        ({"quantity": "1,000"}, "quantity: '1,000' is not a number"),
        ({"quantity": "1_000"}, "quantity: '1_000' is not a number"),
        ({"quantity": ""}, "quantity: '' is not a number"),
        ({"stop_loss": "1e400"}, "stop_loss: 1E\\+400 is out of range"),
        ({"price": "-Infinity"}, "price: '-Infinity' is not a number"),
        ({"target_position": "-1e16", "quantity": None}, "target_position: -1E\\+16 is out"),
        ({"notional": "1e-13", "quantity": None}, "notional: 1E-13 is out of range"),
        ({"leverage": "1e20"}, "leverage: 1E\\+20 is out of range"),
        ({"confidence": 1e-300}, "confidence: 1E-300 is out of range"),
        ({"timestamp": "1e400"}, "timestamp: 1E\\+400 is out of range"),
        ({"price": -5}, "price must be > 0"),
        ({"order_type": "limit"}, "a limit order needs a price"),
        ({"order_type": "stop_market"}, "order_type: 'stop_market' is not one of market, limit"),
        ({"confidence": 1.5}, "confidence must be between 0 and 1"),
        ({"confidence": "high"}, "confidence: 'high' is not a number"),
        ({"leverage": 2.5}, "leverage must be an integer >= 1"),
        ({"leverage": 0}, "leverage must be an integer >= 1"),
        ({"reduce_only": "maybe"}, "reduce_only: 'maybe' is not a boolean"),
        ({"sizing_mode": "kelly"}, "sizing_mode: 'kelly' is not one of"),
        ({"notional": 100}, "quantity and notional are alternatives"),
        ({"target_position": 1}, "target_position and quantity / notional are alternatives"),
        ({"timestamp": "yesterday"}, "timestamp: 'yesterday' is not an ISO 8601 time"),
        ({"timestamp": -1}, "timestamp must not be negative"),
        ({"idempotency_key": "x" * 129}, "at most 128 printable"),
        ({"idempotency_key": "a\nb"}, "at most 128 printable"),
    ],
)
def test_bad_fields_are_refused_by_name(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSignal, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(**overrides)


@pytest.mark.parametrize("value", ["1e30", "NaN", "Infinity", "-0.1", "1e-30"])
def test_a_signal_built_from_decimals_checks_them_too(value: str) -> None:
    """The Python API passes Decimals straight in: the same range applies."""
    with pytest.raises(InvalidSignal, match="quantity"):
        Signal(
            symbol="BTC/USDT",
            source=SignalSource.API,
            idempotency_key="k",
            created_at=NOW,
            side=OrderSide.BUY,
            quantity=Decimal(value),
        )


def test_exponent_forms_in_range_are_plain_numbers() -> None:
    signal = parse(quantity="1e-3", stop_loss="6.6e4", take_profit=69000)
    assert signal.quantity == Decimal("0.001")
    assert str(signal.stop_loss) == "66000"  # never 6.6E+4 in a record


@pytest.mark.parametrize(
    ("side", "stop", "target", "price", "message"),
    [
        ("buy", 70000, None, 67500, "stop_loss 70000 is on the wrong side .* for a long"),
        ("sell", 66000, None, 67500, "stop_loss 66000 is on the wrong side .* for a short"),
        ("buy", None, 60000, 67500, "take_profit 60000 is on the wrong side .* for a long"),
        ("sell", None, 70000, 67500, "take_profit 70000 is on the wrong side .* for a short"),
        ("buy", 69000, 66000, None, "stop_loss 69000 must be below take_profit 66000"),
        ("sell", 66000, 69000, None, "stop_loss 66000 must be above take_profit 69000"),
        ("buy", 67500, None, 67500, "stop_loss 67500 is on the wrong side"),
    ],
)
def test_protective_prices_on_the_wrong_side_are_refused(
    side: str, stop: int | None, target: int | None, price: int | None, message: str
) -> None:
    with pytest.raises(InvalidSignal, match=message):
        parse(side=side, stop_loss=stop, take_profit=target, price=price)


def test_a_short_with_protective_prices_the_right_way_round_passes() -> None:
    signal = parse(side="short", stop_loss=69000, take_profit=66000, price=67500)
    assert signal.side is OrderSide.SELL


def test_protective_prices_are_not_judged_on_closes_and_reduce_only() -> None:
    close = parse(side="sell", quantity=None, target_position=0, stop_loss=70000)
    assert close.is_close and close.direction is None
    reduce = parse(side="sell", reduce_only="true", stop_loss=66000, take_profit=69000)
    assert reduce.reduce_only is True


def test_a_target_position_sets_the_direction() -> None:
    short = parse(side=None, quantity=None, target_position="-0.5", stop_loss=69000, take_profit=1)
    assert short.target_position == Decimal("-0.5")
    assert short.direction is OrderSide.SELL
    with pytest.raises(InvalidSignal, match="must be above take_profit"):
        parse(side=None, quantity=None, target_position="-0.5", stop_loss=60000, take_profit=61000)


def test_reduce_only_with_a_non_zero_target_is_a_partial_exit() -> None:
    # "Move towards the target, but only if that reduces": the risk engine enforces it.
    signal = parse(quantity=None, target_position=1, reduce_only=True, stop_loss=None)
    assert signal.reduce_only and signal.target_position == 1


def test_limit_order_with_price_and_aliases() -> None:
    signal = parse(side="LONG", order_type="LIMIT", price="67000.5", leverage="10")
    assert signal.side is OrderSide.BUY
    assert signal.order_type is OrderType.LIMIT
    assert signal.price == Decimal("67000.5")
    assert signal.leverage == 10


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1699113600000, datetime(2023, 11, 4, 16, 0, tzinfo=UTC)),  # ms, as the plan's results
        (1699113600, datetime(2023, 11, 4, 16, 0, tzinfo=UTC)),  # seconds
        ("1699113600000", datetime(2023, 11, 4, 16, 0, tzinfo=UTC)),
        ("2023-11-04T16:00:00Z", datetime(2023, 11, 4, 16, 0, tzinfo=UTC)),
        ("2023-11-04T17:00:00+01:00", datetime(2023, 11, 4, 16, 0, tzinfo=UTC)),
        ("2023-11-04T16:00:00", datetime(2023, 11, 4, 16, 0, tzinfo=UTC)),  # naive = UTC
    ],
)
def test_timestamps(value: object, expected: datetime) -> None:
    created = parse(timestamp=value).created_at
    assert created == expected
    assert created.tzinfo is UTC


def test_unknown_keys_are_kept_in_raw_but_secrets_are_not() -> None:
    signal = parse(strategy="breakout", secret="hunter2", nested={"api_key": "k", "x": 1})
    assert signal.raw["strategy"] == "breakout"
    assert "secret" not in signal.raw
    assert signal.raw["nested"] == {"x": 1}
    assert "hunter2" not in json.dumps(signal.to_record())


def test_raw_is_read_only_and_not_part_of_equality() -> None:
    signal = parse(idempotency_key="k", extra=1)
    with pytest.raises(TypeError):
        signal.raw["extra"] = 2  # type: ignore[index]
    assert signal == parse(idempotency_key="k", extra=2)


def test_record_is_json_safe_and_round_trips() -> None:
    signal = parse(idempotency_key="k-1", price=67500, account="main", comment="hi")
    record = signal.to_record()
    assert record["quantity"] == "0.1"
    assert record["side"] == "buy"
    assert record["source"] == "agent"
    assert record["created_at"] == "2024-11-04T16:00:00+00:00"
    again = Signal.from_record(json.loads(json.dumps(record)))
    assert again == signal
    assert dict(again.raw) == dict(signal.raw)


def test_direct_construction_validates_and_normalises() -> None:
    signal = Signal(
        symbol="ETH/USDT",
        source="cli",  # type: ignore[arg-type]
        idempotency_key="cli-1",
        created_at=datetime(2024, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))),
        side="sell",  # type: ignore[arg-type]
        quantity="2",  # type: ignore[arg-type]
    )
    assert signal.source is SignalSource.CLI
    assert signal.side is OrderSide.SELL
    assert signal.quantity == Decimal(2)
    assert signal.created_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert signal.created_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"created_at": datetime(2024, 1, 1)}, "timezone-aware"),
        ({"quantity": 0.1}, "float 0.1 is not exact"),
        ({"idempotency_key": ""}, "idempotency_key is empty"),
        ({"source": "telegram"}, "telegram"),
        ({"leverage": True}, "leverage must be an integer"),
    ],
)
def test_direct_construction_refuses(overrides: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {
        "symbol": "ETH/USDT",
        "source": SignalSource.API,
        "idempotency_key": "k",
        "created_at": NOW,
        "side": OrderSide.BUY,
        **overrides,
    }
    with pytest.raises(InvalidSignal, match=message):
        Signal(**values)


def test_a_non_mapping_body_is_refused() -> None:
    with pytest.raises(InvalidSignal, match="must be a JSON object"):
        Signal.from_request(["buy"], "api", NOW)  # type: ignore[arg-type]
