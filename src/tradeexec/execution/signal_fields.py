"""Parsing one field of a signal from outside input, the same way on every door.

Each ``parse_*`` takes the raw value and the field's name, returns the normalised value (None
when absent, where the field is optional) and raises ``InvalidSignal`` naming the field
otherwise. `Signal.from_request` and the TradingView mapping are built from these; numbers
go through ``to_decimal`` (exact, sane range), never through float arithmetic.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from tradeexec.domain import InvalidNumber, OrderSide, OrderType, SignalSource, to_decimal
from tradeexec.errors import InvalidSignal

__all__ = [
    "SIGNAL_ORDER_TYPES",
    "SIZING_MODES",
    "new_idempotency_key",
    "parse_bool",
    "parse_confidence",
    "parse_idempotency_key",
    "parse_leverage",
    "parse_number",
    "parse_order_fields",
    "parse_order_type",
    "parse_positive",
    "parse_request_key",
    "parse_side",
    "parse_sizing_mode",
    "parse_source",
    "parse_symbol",
    "parse_text",
    "parse_timestamp",
]

SIZING_MODES: Final = frozenset({"fixed_quantity", "fixed_notional", "percent_equity", "risk"})
SIGNAL_ORDER_TYPES: Final = (OrderType.MARKET, OrderType.LIMIT)
_MAX_KEY_LENGTH: Final = 128
_SIDE_ALIASES: Final = {
    "buy": OrderSide.BUY,
    "long": OrderSide.BUY,
    "sell": OrderSide.SELL,
    "short": OrderSide.SELL,
}
_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off", ""})
# Epoch numbers above this are milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD: Final = Decimal(10) ** 11


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def parse_order_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The optional order fields every source shares, parsed the same way everywhere."""
    return {
        "notional": parse_positive(data.get("notional"), "notional"),
        "sizing_mode": parse_sizing_mode(data.get("sizing_mode"), "sizing_mode"),
        "order_type": parse_order_type(data.get("order_type"), "order_type"),
        "price": parse_positive(data.get("price"), "price"),
        "stop_loss": parse_positive(data.get("stop_loss"), "stop_loss"),
        "take_profit": parse_positive(data.get("take_profit"), "take_profit"),
        "leverage": parse_leverage(data.get("leverage"), "leverage"),
        "confidence": parse_confidence(data.get("confidence"), "confidence"),
    }


def parse_number(value: object, name: str) -> Decimal | None:
    """A finite number in the sane range (int, float via ``str()``, Decimal or numeric
    string; see ``domain.to_decimal``), or None. Anything else is an ``InvalidSignal``
    naming the field: NaN, Infinity, ``"1,000"``, ``""``, booleans, 1e30, 1e-30."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise InvalidSignal(f"{name}: expected a number, got {_show(value)}")
    try:
        return to_decimal(value)
    except InvalidNumber as exc:
        raise InvalidSignal(f"{name}: {exc.message}") from None


def parse_positive(value: object, name: str) -> Decimal | None:
    number = parse_number(value, name)
    if number is not None and number <= 0:
        raise InvalidSignal(f"{name} must be > 0, got {number}")
    return number


def parse_side(value: object, name: str) -> OrderSide | None:
    if value is None:
        return None
    if isinstance(value, OrderSide):
        return value
    side = _SIDE_ALIASES.get(value.strip().lower()) if isinstance(value, str) else None
    if side is None:
        raise InvalidSignal(f"{name}: {_show(value)} is not one of buy, sell (or long, short)")
    return side


def parse_order_type(value: object, name: str) -> OrderType:
    if value is None:
        return OrderType.MARKET
    if isinstance(value, str):
        for order_type in SIGNAL_ORDER_TYPES:
            if value.strip().lower() == order_type.value:
                return order_type
    raise InvalidSignal(f"{name}: {_show(value)} is not one of market, limit")


def parse_leverage(value: object, name: str) -> int | None:
    number = parse_number(value, name)
    if number is None:
        return None
    if number != number.to_integral_value() or number < 1:
        raise InvalidSignal(f"{name} must be an integer >= 1, got {number}")
    return int(number)


def parse_confidence(value: object, name: str) -> float | None:
    """A probability in [0, 1], returned as a float (it is compared, never used for money)."""
    number = parse_number(value, name)
    if number is None:
        return None
    if not 0 <= number <= 1:
        raise InvalidSignal(f"{name} must be between 0 and 1, got {number}")
    return float(number)


def parse_bool(value: object, name: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise InvalidSignal(f"{name}: {_show(value)} is not a boolean (true / false)")


def parse_text(value: object, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidSignal(f"{name}: expected text, got {_show(value)}")
    text = str(value).strip()
    return text or None


#: what a symbol may contain, on any venue or in any TradingView ticker (BTC, BTC/USDT:USDT,
#: BINANCE:BTCUSDT.P, 1000PEPE-USDT ...): no spaces, control or invisible characters
_SYMBOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9:/._\-]{0,63}")


def parse_symbol(value: object, name: str) -> str:
    text = parse_text(value, name)
    if text is None:
        raise InvalidSignal(f"{name} is required")
    if not _SYMBOL.fullmatch(text):
        raise InvalidSignal(
            f"{name}: {_show(value)} is not a symbol (letters, digits and : / . _ - only)"
        )
    return text


def parse_sizing_mode(value: object, name: str) -> str | None:
    text = parse_text(value, name)
    if text is None:
        return None
    mode = text.lower()
    if mode not in SIZING_MODES:
        raise InvalidSignal(
            f"{name}: {_show(value)} is not one of {', '.join(sorted(SIZING_MODES))}"
        )
    return mode


def parse_idempotency_key(value: object, name: str) -> str | None:
    text = parse_text(value, name)
    if text is None:
        return None
    if len(text) > _MAX_KEY_LENGTH or not text.isprintable():
        raise InvalidSignal(f"{name} must be at most {_MAX_KEY_LENGTH} printable characters")
    return text


def parse_timestamp(value: object, name: str) -> datetime:
    """Epoch seconds or milliseconds (number or numeric string), ISO 8601, or a datetime.

    Naive datetimes are taken as UTC. Returns an aware UTC datetime.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and not _looks_numeric(value):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidSignal(f"{name}: {_show(value)} is not an ISO 8601 time") from None
    else:
        number = parse_number(value, name)
        assert number is not None
        if number < 0:
            raise InvalidSignal(f"{name} must not be negative, got {number}")
        seconds = number / 1000 if number >= _MS_THRESHOLD else number
        try:
            moment = datetime.fromtimestamp(float(seconds), UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidSignal(f"{name}: {number} is out of range") from None
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _looks_numeric(text: str) -> bool:
    try:
        Decimal(text.strip())
    except ArithmeticError:
        return False
    return True


def new_idempotency_key() -> str:
    """A random key: the signal will never be de-duplicated against another one."""
    return f"gen-{uuid.uuid4().hex}"


def parse_request_key(data: Mapping[str, Any]) -> str:
    """The signal's key from ``idempotency_key`` or ``client_order_id`` (the same thing under
    two names: if both are given they must agree), else a new random one."""
    key = parse_idempotency_key(data.get("idempotency_key"), "idempotency_key")
    client_id = parse_idempotency_key(data.get("client_order_id"), "client_order_id")
    if key is not None and client_id is not None and key != client_id:
        raise InvalidSignal(
            "idempotency_key and client_order_id differ; they name the same thing, give one"
        )
    return key or client_id or new_idempotency_key()


def parse_source(value: SignalSource | str, name: str) -> SignalSource:
    try:
        return SignalSource(value)
    except ValueError:
        raise InvalidSignal(f"{name}: {_show(value)} is not a known signal source") from None
