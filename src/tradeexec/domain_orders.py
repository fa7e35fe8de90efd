"""Orders: what we ask a venue to do (`OrderRequest`, validated on construction) and what
it reports back (`Order`, and `Fill` for each execution). Import them from
``tradeexec.domain``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradeexec.domain_enums import OrderSide, OrderStatus, OrderType, TimeInForce
from tradeexec.domain_fields import (
    ZERO,
    convert_decimals,
    enum_value,
    frozen_mapping,
    set_field,
)
from tradeexec.errors import InvalidOrder

__all__ = ["Fill", "Order", "OrderRequest"]


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What we ask an exchange to do. Validated on construction (raises ``InvalidOrder``).

    ``price`` is required exactly for limit-type orders and ``trigger_price`` exactly for
    trigger (stop / take-profit) orders. ``stop_loss`` / ``take_profit`` are protective
    trigger prices to place after (or attached to) the entry. ``position_side`` is for
    hedge mode only: ``'long'`` / ``'short'`` (``'both'`` means one-way).
    ``params`` are venue-specific extras, passed through; stored as a read-only copy.
    """

    symbol: str
    side: OrderSide
    type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    client_order_id: str | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    position_side: str | None = None
    params: Mapping[str, object] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        try:
            set_field(self, "side", enum_value(OrderSide, self.side, "side"))
            set_field(self, "type", enum_value(OrderType, self.type, "type"))
            set_field(
                self, "time_in_force", enum_value(TimeInForce, self.time_in_force, "time_in_force")
            )
            convert_decimals(
                self,
                ("quantity",),
                ("price", "trigger_price", "stop_loss", "take_profit"),
            )
        except ValueError as exc:
            raise InvalidOrder(str(exc), symbol=self.symbol or None) from None
        set_field(self, "params", frozen_mapping(self.params))
        problem = self._problem()
        if problem:
            raise InvalidOrder(
                f"invalid {self.type.value} {self.side.value} order: {problem}",
                symbol=self.symbol or None,
                client_order_id=self.client_order_id,
            )
        if self.position_side is not None:
            set_field(self, "position_side", self.position_side.lower())

    def _problem(self) -> str | None:
        kind = self.type.value
        if not self.symbol or not self.symbol.strip():
            return "symbol is empty"
        if self.quantity <= 0:
            return f"quantity must be > 0, got {self.quantity}"
        if self.type.needs_price and self.price is None:
            return f"a {kind} order needs a price"
        if not self.type.needs_price and self.price is not None:
            return f"a {kind} order takes no price (got {self.price})"
        if self.type.is_trigger and self.trigger_price is None:
            return f"a {kind} order needs a trigger_price"
        if not self.type.is_trigger and self.trigger_price is not None:
            return f"a {kind} order takes no trigger_price (got {self.trigger_price})"
        for name in ("price", "trigger_price", "stop_loss", "take_profit"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                return f"{name} must be > 0, got {value}"
        if self.time_in_force is TimeInForce.POST_ONLY and not self.type.needs_price:
            return "post-only needs a limit price"
        if self.client_order_id is not None and not self.client_order_id.strip():
            return "client_order_id is empty"
        if self.position_side is not None and self.position_side.lower() not in (
            "long",
            "short",
            "both",
        ):
            return f"position_side must be long, short or both, got {self.position_side!r}"
        if self.stop_loss is not None and self.take_profit is not None:
            # A long's stop is below its target, a short's above.
            wrong = (
                self.stop_loss >= self.take_profit
                if self.side is OrderSide.BUY
                else self.stop_loss <= self.take_profit
            )
            if wrong:
                return (
                    f"stop_loss {self.stop_loss} and take_profit {self.take_profit} are on the "
                    f"wrong sides for a {self.side.value}"
                )
        return None


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the exchange reports it, normalised. ``info`` is the raw venue payload."""

    id: str
    client_order_id: str | None
    symbol: str
    side: OrderSide
    type: OrderType
    status: OrderStatus
    quantity: Decimal
    filled_quantity: Decimal = ZERO
    average_price: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    reduce_only: bool = False
    timestamp: int = 0  # ms since the epoch
    fee: Decimal | None = None
    fee_currency: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        set_field(self, "side", enum_value(OrderSide, self.side, "side"))
        set_field(self, "type", enum_value(OrderType, self.type, "type"))
        set_field(self, "status", enum_value(OrderStatus, self.status, "status"))
        convert_decimals(
            self,
            ("quantity", "filled_quantity"),
            ("average_price", "price", "trigger_price", "fee"),
        )
        set_field(self, "info", frozen_mapping(self.info))

    @property
    def remaining(self) -> Decimal:
        return max(self.quantity - self.filled_quantity, ZERO)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution (trade) of an order. ``trade_id`` is unique per venue."""

    trade_id: str
    order_id: str
    client_order_id: str | None
    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal | None = None
    fee_currency: str | None = None
    realized_pnl: Decimal | None = None
    timestamp: int = 0  # ms since the epoch

    def __post_init__(self) -> None:
        set_field(self, "side", enum_value(OrderSide, self.side, "side"))
        convert_decimals(self, ("quantity", "price"), ("fee", "realized_pnl"))

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price
