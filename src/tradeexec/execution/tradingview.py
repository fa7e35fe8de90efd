"""TradingView alert payloads to ``Signal``.

The alert's message box holds JSON with placeholders that TradingView renders when the alert
fires; the webhook route authenticates the request (the ``secret`` field) and hands the body
here. The shape people use::

    {"secret": "...", "ticker": "{{ticker}}", "exchange": "{{exchange}}",
     "action": "{{strategy.order.action}}", "contracts": "{{strategy.order.contracts}}",
     "price": "{{close}}", "order_id": "{{strategy.order.id}}",
     "comment": "{{strategy.order.comment}}",
     "position_size": "{{strategy.position_size}}",
     "market_position": "{{strategy.market_position}}",
     "prev_market_position": "{{strategy.prev_market_position}}",
     "time": "{{timenow}}",
     "account": "main", "stop_loss": 66000, "take_profit": 69000, "leverage": 5,
     "confidence": 0.8, "order_type": "market"}

Aliases: ``symbol`` for ``ticker``, ``side`` for ``action``, ``qty`` / ``quantity`` for
``contracts``. ``action`` may also be ``close`` / ``exit`` / ``flat`` (go flat).

What the signal asks for:

* ``market_position`` = ``flat`` (or ``action`` close): a close, ``target_position = 0``,
  reduce-only.
* ``position_size`` given (with ``market_position`` long / short, or signed on its own):
  the strategy's position after the order becomes ``target_position`` (so a reversal or a
  partial exit means the same thing on the exchange as in the strategy); ``contracts`` is
  then informational.
* otherwise ``action`` + ``contracts`` is an order of that size (no ``contracts``: the
  configured sizing decides).

``price`` (``{{close}}``) is the reference price of a market order, the limit price of a
limit order. ``confidence`` is the payload's or None: the gate applies the configured
default for non-agent sources.

De-duplication (TradingView has no alert id and re-sends on some 5xx): the key is
``tv-`` + SHA-256 over (ticker, order id, action, contracts, time, account) as received.
The time must be in the payload (``"time": "{{timenow}}"``): without it two genuine alerts
would look identical, so such a payload gets a random key and is **not** de-duplicated. An
explicit ``idempotency_key`` in the payload wins.

Refused with ``InvalidSignal`` (answered 4xx and recorded): a body that is not a JSON object
(TradingView sends ``text/plain`` when the message box is not valid JSON), any value still
holding an unrendered ``{{placeholder}}`` (named), a number field that is not a number
(``NaN`` from an unset strategy variable, say), and everything ``Signal`` refuses. The
``secret`` (and the other ``SENSITIVE_KEYS``) never reach ``Signal.raw``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from tradeexec.domain import OrderSide, SignalSource
from tradeexec.errors import InvalidSignal
from tradeexec.execution.signals import (
    SENSITIVE_KEYS,
    Signal,
    json_safe,
    new_idempotency_key,
    parse_bool,
    parse_idempotency_key,
    parse_number,
    parse_order_fields,
    parse_positive,
    parse_side,
    parse_symbol,
    parse_text,
    parse_timestamp,
    scrub,
)

__all__ = ["signal_from_tradingview"]

_PLACEHOLDER: Final = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_CLOSE_ACTIONS: Final = frozenset({"close", "exit", "flat"})
_MARKET_POSITIONS: Final = frozenset({"long", "short", "flat"})
_EXAMPLE: Final = (
    '{"secret": "...", "ticker": "{{ticker}}", "action": "{{strategy.order.action}}", '
    '"contracts": "{{strategy.order.contracts}}", "time": "{{timenow}}"}'
)


def signal_from_tradingview(
    payload: Mapping[str, Any] | str | bytes,
    *,
    received_at: datetime,
    defaults: Mapping[str, Any] | None = None,
) -> Signal:
    """The ``Signal`` a TradingView alert asks for.

    ``payload`` is the request body (bytes / text) or an already-parsed JSON object.
    ``received_at`` (timezone-aware) is the signal's time when the payload has no ``time``.
    ``defaults`` fill keys the payload lacks (e.g. ``{"account": "main", "leverage": 3}``);
    the payload always wins.
    """
    body = _parse_body(payload)
    data: dict[str, Any] = {**(defaults or {}), **body}
    _refuse_placeholders(data)

    ticker_key, ticker = _pick(data, "ticker", "symbol")
    action_key, action = _pick(data, "action", "side")
    contracts_key, contracts = _pick(data, "contracts", "qty", "quantity")
    symbol = parse_symbol(ticker, ticker_key)

    side, close = _parse_action(action, action_key)
    market_position = _parse_market_position(data.get("market_position"))
    position_size = parse_number(data.get("position_size"), "position_size")
    quantity = parse_positive(contracts, contracts_key)
    target = _target_position(close, market_position, position_size)
    if target is not None:
        quantity = None  # the target decides the size; contracts stay in raw

    created_at = received_at
    if data.get("time") is not None:
        created_at = parse_timestamp(data["time"], "time")

    return Signal(
        symbol=symbol,
        source=SignalSource.TRADINGVIEW,
        idempotency_key=_dedupe_key(data, ticker, action, contracts),
        created_at=created_at,
        account=parse_text(data.get("account"), "account"),
        side=side,
        target_position=target,
        quantity=quantity,
        **parse_order_fields(data),
        reduce_only=target == 0 or parse_bool(data.get("reduce_only"), "reduce_only"),
        comment=parse_text(data.get("comment"), "comment"),
        raw=scrub(json_safe(data)),
    )


def _parse_body(payload: Mapping[str, Any] | str | bytes) -> Mapping[str, Any]:
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidSignal("the alert body is not UTF-8 text") from None
    if isinstance(payload, str):
        text = payload
        try:
            # Decimals straight from the text: exact, and no float ever exists.
            payload = json.loads(text, parse_float=Decimal, parse_constant=str)
        except ValueError:
            hint = (
                " It holds an unrendered {{placeholder}}; quote every placeholder and check "
                "that the alert uses a strategy (strategy.* placeholders need one)."
                if _PLACEHOLDER.search(text)
                else ""
            )
            raise InvalidSignal(
                "the alert body is not JSON (TradingView sends the message as text/plain "
                f"when it is not valid JSON).{hint} Put a JSON object in the alert's message, "
                f"e.g. {_EXAMPLE}"
            ) from None
    if not isinstance(payload, Mapping):
        raise InvalidSignal(
            f"the alert body must be a JSON object, got {type(payload).__name__}; e.g. {_EXAMPLE}"
        )
    return payload


def _refuse_placeholders(data: Mapping[str, Any]) -> None:
    for path, value in _strings(data, ""):
        match = _PLACEHOLDER.search(value)
        if match is None:
            continue
        sensitive = path.rsplit(".", 1)[-1].lower() in SENSITIVE_KEYS
        shown = "" if sensitive else f" {match.group()}"
        raise InvalidSignal(
            f"field {path!r} still contains an unrendered TradingView placeholder{shown}; "
            "check its spelling and that the alert is created from a strategy"
        )


def _strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _pick(data: Mapping[str, Any], *names: str) -> tuple[str, Any]:
    """The first of ``names`` present (its name and value); conflicting aliases are refused."""
    present = [(name, data[name]) for name in names if data.get(name) is not None]
    if not present:
        return names[0], None
    name, value = present[0]
    for other, other_value in present[1:]:
        if str(other_value).strip() != str(value).strip():
            raise InvalidSignal(f"{name} {value!r} and {other} {other_value!r} disagree")
    return name, value


def _parse_action(value: object, name: str) -> tuple[OrderSide | None, bool]:
    """(side, is_close). ``close`` / ``exit`` / ``flat`` mean "go flat"."""
    if isinstance(value, str) and value.strip().lower() in _CLOSE_ACTIONS:
        return None, True
    try:
        return parse_side(value, name), False
    except InvalidSignal:
        raise InvalidSignal(
            f"{name}: {value!r} is not one of buy, sell, long, short, close"
        ) from None


def _parse_market_position(value: object) -> str | None:
    text = parse_text(value, "market_position")
    if text is None:
        return None
    position = text.lower()
    if position not in _MARKET_POSITIONS:
        raise InvalidSignal(f"market_position: {text!r} is not one of long, short, flat")
    return position


def _target_position(
    close: bool, market_position: str | None, position_size: Decimal | None
) -> Decimal | None:
    if close or market_position == "flat":
        if position_size is not None and position_size != 0:
            if close:
                raise InvalidSignal(f"action close with a non-zero position_size {position_size}")
            raise InvalidSignal(
                f"market_position flat with a non-zero position_size {position_size}"
            )
        return Decimal(0)
    if position_size is None:
        return None
    if market_position is None:
        return position_size  # strategy.position_size is signed: < 0 is short
    if position_size == 0:
        raise InvalidSignal(f"market_position {market_position} with position_size 0")
    # Some templates send the size unsigned; the market position gives the sign.
    return abs(position_size) if market_position == "long" else -abs(position_size)


def _dedupe_key(data: Mapping[str, Any], ticker: object, action: object, contracts: object) -> str:
    explicit = parse_idempotency_key(data.get("idempotency_key"), "idempotency_key")
    if explicit is not None:
        return explicit
    if data.get("time") is None:
        return new_idempotency_key()
    parts = [ticker, data.get("order_id"), action, contracts, data["time"], data.get("account")]
    material = json.dumps(["" if p is None else str(p).strip() for p in parts])
    return "tv-" + hashlib.sha256(material.encode("utf-8")).hexdigest()
