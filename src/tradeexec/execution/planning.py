"""From a sized signal and the current position to the orders to send, in order.

- ``target_position`` T with position P: same sign (or flat) -> one order for T - P,
  reduce-only when it shrinks the position; opposite signs -> close P (reduce-only) first,
  then open T. "Go short 0.2 while long 0.1" is close 0.1, then sell 0.2.
- ``side`` + an explicit size q (quantity or notional) is an order of that size, as on the
  exchange and in TradingView's strategy orders: against an opposite position P it reduces
  first (reduce-only, min(q, |P|)) and opens only the excess q - |P|. With ``reverse`` (or a
  size left to the sizing mode) the opposite position is closed in full, then q is opened.
  A same-direction position is added to.
- a close (``target_position == 0``, or a reduce-only signal) never opens anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeexec.domain import OrderRequest, OrderRole, OrderSide, OrderType, opposes
from tradeexec.execution.signals import Signal

ZERO = Decimal(0)


@dataclass(frozen=True)
class StoredPlan:
    """What an approved decision asked for, stored with it: enough to rebuild the same
    orders (and so the same client ids) when the signal is resumed after a crash."""

    quantity: Decimal  # the opening part
    position: Decimal  # the signed position the decision started from
    closing: Decimal | None = None  # a side signal's reducing part (None: all of it)
    stop: Decimal | None = None  # the legs' prices, as rounded onto the venue's grid
    target: Decimal | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "position": self.position,
            "closing": self.closing,
            "stop_loss": self.stop,
            "take_profit": self.target,
        }

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> StoredPlan:
        def dec(name: str) -> Decimal | None:
            value = data.get(name)
            return None if value is None else Decimal(str(value))

        return cls(
            dec("quantity") or ZERO,
            dec("position") or ZERO,
            dec("closing"),
            dec("stop_loss"),
            dec("take_profit"),
        )


@dataclass(frozen=True)
class EntryPlan:
    role: OrderRole  # CLOSE (reduce-only, the closing part) or ENTRY (opens or adds)
    request: OrderRequest
    opens: bool


def _order(
    signal: Signal, symbol: str, side: OrderSide, qty: Decimal, *, reduce: bool
) -> OrderRequest:
    limit = signal.order_type is OrderType.LIMIT and not reduce
    return OrderRequest(
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT if limit else OrderType.MARKET,
        quantity=qty,
        price=signal.price if limit else None,
        reduce_only=reduce,
    )


def _close(
    signal: Signal, symbol: str, position: Decimal, quantity: Decimal | None = None
) -> EntryPlan:
    side = OrderSide.SELL if position > 0 else OrderSide.BUY
    qty = abs(position) if quantity is None else quantity
    return EntryPlan(OrderRole.CLOSE, _order(signal, symbol, side, qty, reduce=True), False)


def opening_quantity(signal: Signal, position: Decimal) -> Decimal | None:
    """For target signals, the part of the move that opens exposure (None: sized elsewhere)."""
    target = signal.target_position
    if target is None:
        return None
    if target == 0 or (
        position != 0 and (target > 0) == (position > 0) and abs(target) <= abs(position)
    ):
        return ZERO
    if position == 0 or (target > 0) != (position > 0):
        return abs(target)
    return abs(target) - abs(position)


def plan_entries(
    signal: Signal,
    symbol: str,
    quantity: Decimal,
    position: Decimal,
    closing: Decimal | None = None,
) -> list[EntryPlan]:
    """The orders for this signal; ``quantity`` is the sized opening quantity, ``closing``
    the part of a ``side`` signal that reduces an opposite position (None: all of it)."""
    target = signal.target_position
    if target is not None:
        if target == position:
            return []
        if position != 0 and (target == 0 or (target > 0) != (position > 0)):
            plans = [_close(signal, symbol, position)]
            if target != 0 and quantity > 0:
                side = OrderSide.BUY if target > 0 else OrderSide.SELL
                plans.append(
                    EntryPlan(
                        OrderRole.ENTRY, _order(signal, symbol, side, quantity, reduce=False), True
                    )
                )
            return plans
        delta = target - position
        side = OrderSide.BUY if delta > 0 else OrderSide.SELL
        shrinks = abs(target) < abs(position)
        qty = abs(delta) if shrinks else quantity
        if qty <= 0:
            return []
        return [
            EntryPlan(
                OrderRole.CLOSE if shrinks else OrderRole.ENTRY,
                _order(signal, symbol, side, qty, reduce=shrinks),
                not shrinks,
            )
        ]
    assert signal.side is not None
    if signal.reduce_only:
        if position == 0 or (position > 0) == (signal.side is OrderSide.BUY):
            return []
        asked = signal.quantity
        qty = min(asked, abs(position)) if asked else abs(position)
        return [
            EntryPlan(OrderRole.CLOSE, _order(signal, symbol, signal.side, qty, reduce=True), False)
        ]
    plans = []
    if opposes(signal.side, position):
        close_qty = abs(position) if closing is None else min(closing, abs(position))
        if close_qty > 0:
            plans.append(_close(signal, symbol, position, close_qty))
    if quantity > 0 or not plans:
        plans.append(
            EntryPlan(
                OrderRole.ENTRY, _order(signal, symbol, signal.side, quantity, reduce=False), True
            )
        )
    return plans
