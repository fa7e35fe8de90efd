"""``Signal``: the normalised trading intent, whatever door it came through.

Every surface (TradingView webhook, agent REST call, MCP tool, CLI, the plugin API's
``execute_order`` dict) turns its input into one ``Signal`` before anything else happens;
the gate, sizing and risk checks only ever see this type.

What a signal asks for is either

* an order: ``side`` plus, optionally, an explicit size (``quantity`` *or* ``notional``;
  without one the configured sizing mode decides), or
* a desired position: ``target_position`` (signed; ``0`` means flat). The order is whatever
  moves the current position there; ``side`` may accompany it but the target decides.

For a market order ``price`` is an optional *reference* price (the price the signal was made
at, e.g. TradingView's ``{{close}}``); it is never sent as a limit. Only ``market`` and
``limit`` entries are accepted: protective orders are expressed with ``stop_loss`` /
``take_profit``. Those are validated against the direction of the resulting position (below
the entry for a long, above for a short) except for closes and reduce-only signals, where
the pipeline ignores them.

Idempotency: the ``idempotency_key`` is unique in the store and the exchange client order ids
are derived from it (``tradeexec.execution.ids``). If the caller passes none, a random
``gen-<uuid4>`` key is generated: such a signal is *never* de-duplicated. Callers that may
re-send (webhooks, retrying agents) must pass their own key; deriving one from the content
and a time bucket is deliberately not done, because two genuine identical orders would be
merged and one re-send across a bucket edge would still be doubled.

Malformed input raises ``InvalidSignal`` naming the field; floats from JSON are converted
exactly via ``to_decimal`` (``str()``), never used for arithmetic. How each field is parsed
from outside input is `signal_fields`' job (shared with the TradingView mapping).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from tradeexec.domain import FrozenMap, OrderSide, OrderType, SignalSource
from tradeexec.errors import InvalidSignal
from tradeexec.execution.signal_fields import (
    SIGNAL_ORDER_TYPES,
    SIZING_MODES,
    new_idempotency_key,
    parse_bool,
    parse_confidence,
    parse_idempotency_key,
    parse_leverage,
    parse_number,
    parse_order_fields,
    parse_order_type,
    parse_positive,
    parse_request_key,
    parse_side,
    parse_sizing_mode,
    parse_source,
    parse_symbol,
    parse_text,
    parse_timestamp,
)
from tradeexec.numeric import decimal_text

# The field parsers live in signal_fields; they are re-exported here, where the TradingView
# mapping, the webhook and older callers have always imported them.
__all__ = [
    "SENSITIVE_KEYS",
    "SIGNAL_ORDER_TYPES",
    "SIZING_MODES",
    "Signal",
    "json_safe",
    "new_idempotency_key",
    "parse_bool",
    "parse_confidence",
    "parse_idempotency_key",
    "parse_leverage",
    "parse_number",
    "parse_order_fields",
    "parse_order_type",
    "parse_positive",
    "parse_side",
    "parse_sizing_mode",
    "parse_symbol",
    "parse_text",
    "parse_timestamp",
    "scrub",
]

#: Keys never kept in ``Signal.raw`` (nor therefore in the store or logs).
SENSITIVE_KEYS: Final = frozenset(
    {
        "secret",
        "passphrase",
        "password",
        "token",
        "api_key",
        "apikey",
        "api_secret",
        "secret_key",
        "private_key",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal:
    """One normalised trading intent. Validated on construction (raises ``InvalidSignal``).

    Decimal fields accept ``Decimal``, ``int`` or ``str`` (not ``float``: convert with
    ``to_decimal``). ``created_at`` must be timezone-aware and is stored in UTC. ``raw`` is
    the input as received minus ``SENSITIVE_KEYS``; it is not part of equality.
    """

    symbol: str
    source: SignalSource
    idempotency_key: str
    created_at: datetime
    account: str | None = None
    side: OrderSide | None = None
    target_position: Decimal | None = None
    quantity: Decimal | None = None
    notional: Decimal | None = None
    sizing_mode: str | None = None
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    leverage: int | None = None
    confidence: float | None = None
    reduce_only: bool = False
    # side + size is an order of that size (against an opposite position: reduce it, and open
    # only the excess); reverse=True is the older "close the opposite position in full, then
    # open the whole size"
    reverse: bool = False
    comment: str | None = None
    raw: Mapping[str, Any] = field(default_factory=FrozenMap, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        _normalise(self)
        problem = _problem(self)
        if problem is not None:
            raise InvalidSignal(f"invalid signal: {problem}", symbol=self.symbol or None)

    # ------------------------------------------------------------------ views

    @property
    def is_close(self) -> bool:
        """Asks to end flat (``target_position == 0``)."""
        return self.target_position is not None and self.target_position == 0

    @property
    def direction(self) -> OrderSide | None:
        """The side of the position this signal leads to: BUY for long, SELL for short.

        None for a close. For ``side`` signals it is the side; for targets, the target's sign.
        """
        if self.target_position is None:
            return self.side
        if self.target_position > 0:
            return OrderSide.BUY
        if self.target_position < 0:
            return OrderSide.SELL
        return None

    # ------------------------------------------------------------------ parsing

    @classmethod
    def from_request(
        cls, data: Mapping[str, Any], source: SignalSource | str, now: datetime
    ) -> Signal:
        """Parse the dict shape of the plugin API (``execute_order``) and the REST body.

        Keys: ``symbol``, ``side`` (buy / sell, or long / short), ``order_type`` (market /
        limit), ``quantity``, ``notional``, ``target_position``, ``sizing_mode``, ``price``,
        ``stop_loss``, ``take_profit``, ``leverage``, ``confidence`` (0..1),
        ``idempotency_key`` or ``client_order_id``, ``account``, ``reduce_only``,
        ``comment``, ``timestamp`` (epoch seconds or milliseconds, or ISO 8601; naive means
        UTC; absent means ``now``). Unknown keys are kept in ``raw``.
        """
        if not isinstance(data, Mapping):
            raise InvalidSignal(f"a signal must be a JSON object, got {type(data).__name__}")
        created_at = now
        if data.get("timestamp") is not None:
            created_at = parse_timestamp(data["timestamp"], "timestamp")
        return cls(
            symbol=parse_symbol(data.get("symbol"), "symbol"),
            source=parse_source(source, "source"),
            idempotency_key=parse_request_key(data),
            created_at=created_at,
            account=parse_text(data.get("account"), "account"),
            side=parse_side(data.get("side"), "side"),
            target_position=parse_number(data.get("target_position"), "target_position"),
            quantity=parse_positive(data.get("quantity"), "quantity"),
            **parse_order_fields(data),
            reduce_only=parse_bool(data.get("reduce_only"), "reduce_only"),
            reverse=parse_bool(data.get("reverse"), "reverse"),
            comment=parse_text(data.get("comment"), "comment"),
            raw=scrub(data),
        )

    # ------------------------------------------------------------------ records

    def to_record(self) -> dict[str, Any]:
        """A JSON-safe dict (Decimals as strings, enums as values, ``created_at`` ISO 8601)."""
        return {f.name: json_safe(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Signal:
        """The inverse of ``to_record`` (for signals read back from the store)."""
        values = dict(record)
        values["created_at"] = datetime.fromisoformat(values["created_at"])
        values["raw"] = FrozenMap(values.get("raw") or {})
        return cls(**values)


# --------------------------------------------------------------------------- validation


def _normalise(signal: Signal) -> None:
    def put(name: str, value: object) -> None:
        object.__setattr__(signal, name, value)

    try:
        put("source", SignalSource(signal.source))
        put("order_type", OrderType(signal.order_type))
    except ValueError as exc:
        raise InvalidSignal(str(exc)) from None
    if signal.side is not None:
        put("side", parse_side(signal.side, "side"))
    for name in ("target_position", "quantity", "notional", "price", "stop_loss", "take_profit"):
        value = getattr(signal, name)
        if value is None:
            continue
        if isinstance(value, float):
            raise InvalidSignal(f"{name}: float {value!r} is not exact; pass a Decimal or str")
        # Decimals too: a NaN, an Infinity or 1e30 must not get past the door
        put(name, parse_number(value, name))
    if signal.confidence is not None:
        put("confidence", parse_confidence(signal.confidence, "confidence"))
    if not isinstance(signal.created_at, datetime) or signal.created_at.utcoffset() is None:
        raise InvalidSignal("created_at must be a timezone-aware datetime")
    put("created_at", signal.created_at.astimezone(UTC))
    if not isinstance(signal.raw, FrozenMap):
        put("raw", scrub(signal.raw))


def _problem(s: Signal) -> str | None:
    if not isinstance(s.symbol, str) or not s.symbol.strip():
        return "symbol is empty"
    if not isinstance(s.idempotency_key, str) or not s.idempotency_key.strip():
        return "idempotency_key is empty"
    if s.order_type not in SIGNAL_ORDER_TYPES:
        return (
            f"order_type {s.order_type.value} is not accepted for a signal (market or limit); "
            "use stop_loss / take_profit for protective orders"
        )
    if s.side is None and s.target_position is None:
        return "give a side (buy / sell) or a target_position"
    if s.target_position is not None and (s.quantity is not None or s.notional is not None):
        return "target_position and quantity / notional are alternatives; give one"
    if s.quantity is not None and s.notional is not None:
        return "quantity and notional are alternatives; give one"
    for name in ("quantity", "notional", "price", "stop_loss", "take_profit"):
        value = getattr(s, name)
        if value is not None and value <= 0:
            return f"{name} must be > 0, got {value}"
    if s.sizing_mode is not None and s.sizing_mode not in SIZING_MODES:
        return f"sizing_mode {s.sizing_mode!r} is not one of {', '.join(sorted(SIZING_MODES))}"
    if s.order_type is OrderType.LIMIT and s.price is None:
        return "a limit order needs a price"
    if s.leverage is not None and (
        isinstance(s.leverage, bool) or not isinstance(s.leverage, int) or s.leverage < 1
    ):
        return f"leverage must be an integer >= 1, got {s.leverage!r}"
    if not isinstance(s.reduce_only, bool):
        return f"reduce_only must be a boolean, got {s.reduce_only!r}"
    return None if s.reduce_only else _protective_problem(s)


def _protective_problem(s: Signal) -> str | None:
    """Stop below / target above the entry for a long; the other way round for a short."""
    direction = s.direction
    if direction is None:
        return None
    long = direction is OrderSide.BUY
    word, stop_side, target_side = (
        ("long", "below", "above") if long else ("short", "above", "below")
    )

    def wrong(lower: Decimal, upper: Decimal) -> bool:
        """For a long ``lower < upper`` must hold; for a short ``lower > upper``."""
        return lower >= upper if long else lower <= upper

    if s.stop_loss is not None and s.take_profit is not None and wrong(s.stop_loss, s.take_profit):
        return (
            f"stop_loss {s.stop_loss} must be {stop_side} take_profit {s.take_profit} for a {word}"
        )
    if s.price is not None and s.stop_loss is not None and wrong(s.stop_loss, s.price):
        return (
            f"stop_loss {s.stop_loss} is on the wrong side of the entry price {s.price} "
            f"for a {word} (must be {stop_side})"
        )
    if s.price is not None and s.take_profit is not None and wrong(s.price, s.take_profit):
        return (
            f"take_profit {s.take_profit} is on the wrong side of the entry price {s.price} "
            f"for a {word} (must be {target_side})"
        )
    return None


# --------------------------------------------------------------------------- records


def scrub(data: Mapping[str, Any]) -> FrozenMap:
    """A read-only copy of ``data`` without ``SENSITIVE_KEYS`` (at any depth)."""
    return FrozenMap(_scrubbed(data))


def _scrubbed(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if str(key).strip().lower() in SENSITIVE_KEYS:
            continue
        out[str(key)] = _scrubbed(value) if isinstance(value, Mapping) else value
    return out


def json_safe(value: object) -> Any:
    """``value`` made JSON-serialisable without losing exactness (Decimals become strings)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return str(value)
