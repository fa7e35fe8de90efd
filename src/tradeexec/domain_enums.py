"""The vocabulary's enumerations: order sides, types, time in force and statuses, margin
modes, trading states and signal sources.

Every one looks its members up by value or name, ignoring case and surrounding whitespace
(``'BUY'`` -> ``OrderSide.BUY``), so enum-typed fields accept their string values too.
Import them from ``tradeexec.domain``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = [
    "MarginMode",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "SignalSource",
    "TimeInForce",
    "TradingState",
]


class _LenientStrEnum(StrEnum):
    """A StrEnum whose lookup by value ignores case and surrounding whitespace."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            wanted = value.strip().lower()
            for member in cls:
                if member.value.lower() == wanted or member.name.lower() == wanted:
                    return member
        return None


class OrderSide(_LenientStrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(_LenientStrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    TAKE_PROFIT_MARKET = "take_profit_market"
    STOP_LIMIT = "stop_limit"
    TAKE_PROFIT_LIMIT = "take_profit_limit"

    @property
    def is_trigger(self) -> bool:
        """Rests until the mark/last price reaches ``trigger_price``."""
        return self not in (OrderType.MARKET, OrderType.LIMIT)

    @property
    def needs_price(self) -> bool:
        """Carries a limit price."""
        return self in (OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT)

    @property
    def is_stop(self) -> bool:
        return self in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)

    @property
    def is_take_profit(self) -> bool:
        return self in (OrderType.TAKE_PROFIT_MARKET, OrderType.TAKE_PROFIT_LIMIT)


class TimeInForce(_LenientStrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "PO"  # ccxt's spelling; Binance GTX, Hyperliquid Alo


class OrderStatus(_LenientStrEnum):
    PENDING_SUBMIT = "pending_submit"  # recorded, not yet sent
    SUBMITTED = "submitted"  # accepted by the exchange, open, nothing filled
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCEL_PENDING = "cancel_pending"  # cancel sent, not yet confirmed
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # sent, answer lost: reconcile by client order id

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        """Live on the exchange (may still fill)."""
        return self in _OPEN


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)
_OPEN = frozenset({OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.CANCEL_PENDING})


class MarginMode(_LenientStrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


class TradingState(_LenientStrEnum):
    ACTIVE = "active"  # everything allowed
    REDUCING = "reducing"  # only orders that reduce exposure (and cancels)
    HALTED = "halted"  # only cancels


class SignalSource(_LenientStrEnum):
    AGENT = "agent"
    TRADINGVIEW = "tradingview"
    CLI = "cli"
    MCP = "mcp"
    API = "api"


class OrderRole(_LenientStrEnum):
    """What an order does for its signal (the store keeps these words)."""

    ENTRY = "entry"  # opens or adds
    CLOSE = "close"  # reduces first (reduce-only); a flatten is stored as a close
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    ADOPTED = "adopted"  # found on the venue, placed around tradeexec


#: the resting protective legs of a position
BRACKET_ROLES = (OrderRole.STOP_LOSS, OrderRole.TAKE_PROFIT)
