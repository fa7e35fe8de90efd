"""The normalised trading vocabulary every part of tradeexec speaks.

All values are frozen, slotted dataclasses. Money and quantities are ``decimal.Decimal``:
constructors also accept ``str`` and ``int`` (converted exactly) but refuse ``float`` with a
``TypeError``, because a float has usually already lost the value the user meant. At the
dict-shaped API boundary, where floats arrive from JSON, convert them with ``to_decimal``,
which goes through ``str()`` (``0.1`` becomes ``Decimal('0.1')``, not
``Decimal('0.1000000000000000055511151231257827')``).

Enum-typed fields accept their string values too, case-insensitively
(``'BUY'`` -> ``OrderSide.BUY``).

Import everything from here; the definitions live in siblings, one job each:

- ``domain_enums``: the enumerations (sides, order types and statuses, trading states, ...);
- ``domain_orders``: `OrderRequest`, `Order`, `Fill`;
- ``domain_market``: `Market`, `Ticker`, `Position`, `Balance`, and `net_position` / `opposes`;
- ``domain_fields``: how those take their fields (exact decimals, enums, `FrozenMap`);
- ``numeric``: numbers from outside (`to_decimal`, `InvalidNumber`).
"""

from __future__ import annotations

from tradeexec.domain_enums import (
    BRACKET_ROLES,
    MarginMode,
    OrderRole,
    OrderSide,
    OrderStatus,
    OrderType,
    SignalSource,
    TimeInForce,
    TradingState,
)
from tradeexec.domain_fields import ZERO as ZERO
from tradeexec.domain_fields import FrozenMap
from tradeexec.domain_market import Balance, Market, Position, Ticker, net_position, opposes
from tradeexec.domain_orders import Fill, Order, OrderRequest

# numbers from outside: re-exported here, where callers have always found to_decimal
from tradeexec.numeric import InvalidNumber, to_decimal

__all__ = [
    "BRACKET_ROLES",
    "Balance",
    "Fill",
    "FrozenMap",
    "InvalidNumber",
    "MarginMode",
    "Market",
    "Order",
    "OrderRequest",
    "OrderRole",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Position",
    "SignalSource",
    "Ticker",
    "TimeInForce",
    "TradingState",
    "net_position",
    "opposes",
    "to_decimal",
]
