"""Take-profit / stop-loss orders: placing them, and cancelling the sibling when one ends.

Both legs rest on the exchange as reduce-only trigger orders (stop-market, take-profit-market)
so they protect the position even if tradeexec is down. Neither of our venues cancels the
other leg when one fires, so the reconciler (`execution.reconcile`) does it: when a leg has
filled, or the position is gone, the remaining leg is cancelled (an orphaned reduce-only
trigger could open a position later on some venues, and clutters the book on all of them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from tradeexec import errors
from tradeexec.domain import Order, OrderRequest, OrderRole, OrderSide, OrderType
from tradeexec.exchanges.interface import ExchangeTrader

ROLE_STOP = OrderRole.STOP_LOSS
ROLE_TAKE = OrderRole.TAKE_PROFIT
_ROLE_TYPE = {ROLE_STOP: OrderType.STOP_MARKET, ROLE_TAKE: OrderType.TAKE_PROFIT_MARKET}


@dataclass(frozen=True)
class BracketLeg:
    role: str
    request: OrderRequest


def bracket_legs(
    symbol: str,
    entry_side: OrderSide,
    quantity: Decimal,
    *,
    stop_loss: Decimal | None,
    take_profit: Decimal | None,
    client_id: Callable[[str], str],
) -> list[BracketLeg]:
    """The reduce-only trigger orders that protect a position opened by ``entry_side``.

    The stop comes first: if only one leg can be placed, it must be the stop.
    """
    legs = []
    for role, trigger in ((ROLE_STOP, stop_loss), (ROLE_TAKE, take_profit)):
        if trigger is None:
            continue
        legs.append(
            BracketLeg(
                role,
                OrderRequest(
                    symbol=symbol,
                    side=entry_side.opposite,
                    type=_ROLE_TYPE[role],
                    quantity=quantity,
                    trigger_price=trigger,
                    reduce_only=True,
                    client_order_id=client_id(role),
                ),
            )
        )
    return legs


async def cancel_quietly(
    trader: ExchangeTrader, symbol: str, order_id: str | None, client_order_id: str | None
) -> Order | None:
    """Cancel a leg; a leg that is already gone is fine (returns None)."""
    try:
        return await trader.cancel_order(symbol, order_id=order_id, client_order_id=client_order_id)
    except errors.OrderNotFound:
        return None
