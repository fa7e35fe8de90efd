"""TradingView alert payloads: shapes, aliases, placeholders, dedupe keys, secrets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tradeexec.domain import OrderSide, OrderType, SignalSource
from tradeexec.errors import InvalidSignal
from tradeexec.execution.tradingview import signal_from_tradingview

RECEIVED = datetime(2024, 11, 4, 16, 0, 1, tzinfo=UTC)
ALERT: dict[str, Any] = {
    "secret": "s3cret-value",
    "ticker": "BTCUSDT.P",
    "exchange": "BINANCE",
    "action": "buy",
    "contracts": "0.25",
    "price": "67500.5",
    "order_id": "Long",
    "comment": "breakout",
    "time": "2024-11-04T16:00:00Z",
}


def tv(payload: Any = None, defaults: dict[str, Any] | None = None, **overrides: Any) -> Any:
    if payload is None:
        payload = {k: v for k, v in {**ALERT, **overrides}.items() if v is not None}
    return signal_from_tradingview(payload, received_at=RECEIVED, defaults=defaults)


def test_a_strategy_entry_alert() -> None:
    signal = tv()
    assert signal.source is SignalSource.TRADINGVIEW
    assert signal.symbol == "BTCUSDT.P"
    assert signal.side is OrderSide.BUY
    assert signal.quantity == Decimal("0.25")
    assert signal.price == Decimal("67500.5")
    assert signal.order_type is OrderType.MARKET
    assert signal.target_position is None
    assert signal.comment == "breakout"
    assert signal.created_at == datetime(2024, 11, 4, 16, 0, tzinfo=UTC)
    assert signal.confidence is None  # the gate applies the configured default
    assert signal.raw["exchange"] == "BINANCE"


def test_the_body_as_text_or_bytes_parses_numbers_exactly() -> None:
    body = json.dumps({**ALERT, "contracts": 0.1}).replace('"0.1"', "0.1")
    for payload in (body, body.encode()):
        signal = tv(payload)
        assert signal.quantity == Decimal("0.1")


def test_the_secret_never_reaches_raw_or_the_record() -> None:
    signal = tv(defaults={"secret": "default-secret"})
    assert "secret" not in signal.raw
    record = json.dumps(signal.to_record())
    assert "s3cret-value" not in record
    assert "default-secret" not in record


@pytest.mark.parametrize(
    ("aliases", "attribute", "expected"),
    [
        ({"ticker": None, "symbol": "ETHUSDT"}, "symbol", "ETHUSDT"),
        ({"action": None, "side": "sell"}, "side", OrderSide.SELL),
        ({"action": "long"}, "side", OrderSide.BUY),
        ({"contracts": None, "qty": "3"}, "quantity", Decimal(3)),
        ({"contracts": None, "quantity": "3"}, "quantity", Decimal(3)),
    ],
)
def test_common_aliases(aliases: dict[str, Any], attribute: str, expected: object) -> None:
    assert getattr(tv(**aliases), attribute) == expected


def test_conflicting_aliases_are_refused() -> None:
    with pytest.raises(InvalidSignal, match="disagree"):
        tv(symbol="ETHUSDT")
    assert tv(symbol="BTCUSDT.P").symbol == "BTCUSDT.P"


def test_market_position_flat_is_a_close() -> None:
    signal = tv(
        action="sell", market_position="flat", position_size="0", prev_market_position="long"
    )
    assert signal.is_close
    assert signal.target_position == 0
    assert signal.reduce_only is True
    assert signal.quantity is None
    assert signal.raw["contracts"] == "0.25"  # kept for the record


@pytest.mark.parametrize("action", ["close", "EXIT", "flat"])
def test_close_actions(action: str) -> None:
    signal = tv(action=action)
    assert signal.is_close and signal.side is None and signal.reduce_only


@pytest.mark.parametrize(
    ("market_position", "position_size", "target"),
    [
        ("long", "2", Decimal(2)),
        ("short", "-1.5", Decimal("-1.5")),
        ("short", "1.5", Decimal("-1.5")),  # unsigned templates: the market position signs it
        (None, "-0.7", Decimal("-0.7")),  # signed on its own
    ],
)
def test_position_size_means_a_target_position(
    market_position: str | None, position_size: str, target: Decimal
) -> None:
    signal = tv(action="sell", market_position=market_position, position_size=position_size)
    assert signal.target_position == target
    assert signal.quantity is None
    assert signal.reduce_only is False


def test_a_reversal_keeps_the_stop_on_the_new_side() -> None:
    signal = tv(action="sell", market_position="short", position_size="-1",
                prev_market_position="long", stop_loss="69000", take_profit="66000")  # fmt: skip
    assert signal.direction is OrderSide.SELL
    with pytest.raises(InvalidSignal, match="wrong side"):
        tv(action="sell", market_position="short", position_size="-1", stop_loss="66000")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"market_position": "flat", "position_size": "1"}, "flat with a non-zero position_size"),
        ({"market_position": "long", "position_size": "0"}, "long with position_size 0"),
        ({"market_position": "sideways"}, "market_position: 'sideways' is not one of"),
        ({"action": "hodl"}, "action: 'hodl' is not one of buy, sell, long, short, close"),
        ({"ticker": None}, "ticker is required"),
        ({"contracts": "NaN"}, "contracts: 'NaN' is not a number"),
        ({"contracts": "abc"}, "contracts: 'abc' is not a number"),
        ({"contracts": "1e30"}, "contracts: 1E\\+30 is out of range"),
        ({"contracts": "1,000"}, "contracts: '1,000' is not a number"),
        ({"contracts": True}, "contracts: expected a number"),
        ({"price": "1E-30"}, "price: 1E-30 is out of range"),
        ({"stop_loss": "Infinity"}, "stop_loss: 'Infinity' is not a number"),
        ({"position_size": "-1e20"}, "position_size: -1E\\+20 is out of range"),
        ({"qty": "-1", "contracts": None}, "qty must be > 0"),
        ({"position_size": "n/a"}, "position_size: 'n/a' is not a number"),
        ({"price": ""}, "price: '' is not a number"),
        ({"leverage": "x5"}, "leverage: 'x5' is not a number"),
        ({"confidence": "2"}, "confidence must be between 0 and 1"),
        ({"time": "soon"}, "time: 'soon' is not an ISO 8601 time"),
        ({"order_type": "limit", "price": None}, "a limit order needs a price"),
    ],
)
def test_bad_fields_are_named(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSignal, match=message):
        tv(**overrides)


@pytest.mark.parametrize(
    "number", ["1e400", "-1e400", "1e30", "1E-30", "NaN", "Infinity", "-Infinity", "1" + "0" * 40]
)
def test_unquoted_extreme_numbers_in_the_body_are_refused(number: str) -> None:
    """TradingView renders {{close}}*1e30 or an unset series as bare JSON numbers."""
    body = json.dumps({**ALERT, "contracts": "__N__"}).replace('"__N__"', number)
    with pytest.raises(InvalidSignal, match="contracts"):
        tv(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("contracts", "{{strategy.order.contracts}}"),
        ("ticker", "{{ticker}}"),
        ("comment", "entry {{strategy.order.comment}}"),
        ("time", "{{timenow}}"),
        ("extra_field", "{{plot_0}}"),
    ],
)
def test_unrendered_placeholders_are_refused_by_field(field: str, value: str) -> None:
    with pytest.raises(InvalidSignal, match=f"field '{field}' still contains an unrendered"):
        tv(**{field: value})


def test_a_placeholder_in_a_nested_value_is_found() -> None:
    with pytest.raises(InvalidSignal, match=r"field 'meta\.levels\[1\]'"):
        tv(meta={"levels": ["1", "{{plot_1}}"]})


def test_a_placeholder_in_the_secret_is_named_but_not_echoed() -> None:
    with pytest.raises(InvalidSignal) as info:
        tv(secret="{{my secret}}")
    assert "'secret'" in str(info.value)
    assert "my secret" not in str(info.value)


def test_an_unquoted_placeholder_breaks_the_json_with_a_hint() -> None:
    body = '{"ticker": "BTCUSDT", "action": "buy", "contracts": {{strategy.order.contracts}}}'
    with pytest.raises(InvalidSignal, match="unrendered"):
        tv(body)


@pytest.mark.parametrize("body", ["buy BTCUSDT now", "", b"\xff\xfe", "[1, 2]", '"buy"'])
def test_plain_text_bodies_are_refused_with_a_hint(body: str | bytes) -> None:
    with pytest.raises(InvalidSignal, match=r"JSON|UTF-8") as info:
        tv(body)
    if isinstance(body, str) and body.startswith("buy"):
        assert "text/plain" in str(info.value) and "{{ticker}}" in str(info.value)


def test_defaults_fill_gaps_and_the_payload_wins() -> None:
    signal = tv(defaults={"account": "main", "leverage": 3, "ticker": "IGNORED"}, leverage="5")
    assert signal.account == "main"
    assert signal.leverage == 5
    assert signal.symbol == "BTCUSDT.P"


def test_payload_confidence_limit_and_protective_fields() -> None:
    signal = tv(confidence="0.8", order_type="limit", stop_loss="66000", take_profit="69000")
    assert signal.confidence == 0.8
    assert signal.order_type is OrderType.LIMIT
    assert signal.stop_loss == Decimal(66000)
    assert signal.take_profit == Decimal(69000)


# ------------------------------------------------------------------ dedupe key


def test_a_redelivered_alert_has_the_same_key() -> None:
    first = tv()
    again = tv(json.dumps(ALERT))
    assert first.idempotency_key == again.idempotency_key
    assert first.idempotency_key.startswith("tv-") and len(first.idempotency_key) == 67


@pytest.mark.parametrize(
    "change",
    [
        {"ticker": "ETHUSDT.P"},
        {"order_id": "Long2"},
        {"action": "sell"},
        {"contracts": "0.5"},
        {"time": "2024-11-04T16:01:00Z"},
        {"account": "other"},
    ],
)
def test_a_different_alert_has_a_different_key(change: dict[str, str]) -> None:
    assert tv(**change).idempotency_key != tv().idempotency_key


def test_fields_outside_the_key_do_not_change_it() -> None:
    # Same alert, re-sent; only the receive time and unrelated fields differ.
    assert tv(comment="other words").idempotency_key == tv().idempotency_key
    later = signal_from_tradingview(ALERT, received_at=datetime(2025, 1, 1, tzinfo=UTC))
    assert later.idempotency_key == tv().idempotency_key


def test_without_a_time_an_alert_is_not_deduplicated() -> None:
    first, second = tv(time=None), tv(time=None)
    assert first.idempotency_key != second.idempotency_key
    assert first.created_at == RECEIVED


def test_an_explicit_key_wins() -> None:
    assert tv(idempotency_key="mine-1").idempotency_key == "mine-1"
