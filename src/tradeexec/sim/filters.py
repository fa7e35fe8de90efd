"""The refusals that depend on an order and its market alone: the market's filters.

A price or trigger price must be there when the order kind needs one and sit on the market's
grid; a quantity must sit on the step and within min..max. Account-dependent refusals
(position side, duplicate client id, reduce-only, notional, margin) are the engine's.
"""

from __future__ import annotations

from tradeexec.sim.markets import MarketSpec
from tradeexec.sim.orders import OrderSpec, Reject, SimError

__all__ = ["check_filters"]


def check_filters(spec: OrderSpec, market: MarketSpec) -> None:
    """Raise `SimError` if ``market``'s filters refuse ``spec``. An order that closes the whole
    position carries no quantity, so only its prices are checked."""
    if spec.kind.needs_price or (spec.price is not None):
        if spec.price is None:
            raise SimError(Reject.MISSING_PRICE, spec.kind.value)
        if not market.price_is_valid(spec.price):
            raise SimError(Reject.BAD_PRICE, str(spec.price))
    if spec.kind.is_trigger:
        if spec.trigger_price is None:
            raise SimError(Reject.MISSING_TRIGGER, spec.kind.value)
        if not market.price_is_valid(spec.trigger_price):
            raise SimError(Reject.BAD_PRICE, str(spec.trigger_price))
    if spec.close_position:
        return
    if not market.qty_is_valid(spec.qty):
        raise SimError(Reject.BAD_QTY, str(spec.qty))
    if spec.qty < market.min_qty:
        raise SimError(Reject.BELOW_MIN_QTY, f"{spec.qty} < {market.min_qty}")
    if spec.qty > market.max_qty:
        raise SimError(Reject.ABOVE_MAX_QTY, f"{spec.qty} > {market.max_qty}")
