"""Writing an order through ccxt: what is sent, what is refused before sending, and what
happens when no answer comes back.

- `CCXT_ORDER_TYPE` and `order_params`: an `OrderRequest` as ``create_order``'s type and
  params (our client order id always; trigger, reduce-only and time-in-force flags);
- `check_minimums`: a below-minimum amount or order value is refused here, never sent;
- `complete_acknowledgement`: a thin acknowledgement filled in with what we know we sent;
- `resolve_lost_create`: a create whose outcome is unknown is looked up by its client order
  id and never resent; if it cannot be found, `OrderOutcomeUnknown`.

`CCXTTrader` uses these; venue files adjust the params through its ``_order_params`` hook.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from tradeexec import errors
from tradeexec.domain import Market, Order, OrderRequest, OrderType, TimeInForce

__all__ = [
    "CCXT_ORDER_TYPE",
    "check_minimums",
    "complete_acknowledgement",
    "order_params",
    "resolve_lost_create",
]

#: ccxt's order type for each of ours (triggers are flagged in the params).
CCXT_ORDER_TYPE = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.STOP_MARKET: "market",
    OrderType.TAKE_PROFIT_MARKET: "market",
    OrderType.STOP_LIMIT: "limit",
    OrderType.TAKE_PROFIT_LIMIT: "limit",
}


def order_params(
    request: OrderRequest, client_order_id: str, trigger_price: Decimal | None
) -> dict[str, Any]:
    """ccxt's unified params for ``request``; ``trigger_price`` is the request's trigger
    already on the venue's price grid (None for orders that have none). The request's own
    ``params`` come last, so they win."""
    params: dict[str, Any] = {"clientOrderId": client_order_id}
    if request.reduce_only:
        params["reduceOnly"] = True
    if request.type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
        assert trigger_price is not None
        params["stopLossPrice"] = float(trigger_price)
    elif request.type in (OrderType.TAKE_PROFIT_MARKET, OrderType.TAKE_PROFIT_LIMIT):
        assert trigger_price is not None
        params["takeProfitPrice"] = float(trigger_price)
    if request.time_in_force is TimeInForce.POST_ONLY:
        params["postOnly"] = True
    elif request.time_in_force is not TimeInForce.GTC:
        params["timeInForce"] = request.time_in_force.value
    params.update(request.params)
    return params


def check_minimums(
    market: Market,
    sym: str,
    amount: Decimal,
    reference: Decimal | None,
    *,
    reduce: bool,
    exchange: str,
) -> None:
    """Raise `BelowMinimum` if ``amount`` is below the market's minimum amount or, valued at
    ``reference`` (None: unknown, not checked), below its minimum order value. Reducing
    orders are exempt from the value minimum, as on the venues."""
    if amount <= 0 or (market.min_amount is not None and amount < market.min_amount):
        raise errors.BelowMinimum(
            f"amount {amount} is below the minimum {market.min_amount} for {sym}",
            exchange=exchange,
            symbol=sym,
        )
    if reduce or reference is None or market.min_notional is None:
        return
    if amount * reference < market.min_notional:
        raise errors.BelowMinimum(
            f"order value {amount * reference} is below the minimum {market.min_notional}"
            f" for {sym}",
            exchange=exchange,
            symbol=sym,
        )


def complete_acknowledgement(
    order: Order, cid: str, request: OrderRequest, amount: Decimal, price: Decimal | None
) -> Order:
    """Some venues acknowledge with a thin order; fill in what we know we sent."""
    return replace(
        order,
        client_order_id=order.client_order_id or cid,
        quantity=order.quantity or amount,
        type=request.type,
        side=request.side,
        reduce_only=order.reduce_only or request.reduce_only,
        trigger_price=order.trigger_price or request.trigger_price,
        price=order.price or (price if request.type.needs_price else None),
    )


async def resolve_lost_create(
    fetch_by_client_id: Callable[[], Awaitable[Order]],
    *,
    cause: BaseException,
    attempts: int,
    backoff_s: float,
    exchange: str,
    symbol: str,
    client_order_id: str,
) -> Order:
    """The create may have reached the venue: look for it by client id (``attempts`` times,
    backing off exponentially); never resend. Not found: `OrderOutcomeUnknown`."""
    for attempt in range(attempts):
        try:
            return await fetch_by_client_id()
        except (errors.OrderNotFound, errors.NetworkError):
            await asyncio.sleep(backoff_s * 2**attempt)
    raise errors.OrderOutcomeUnknown(
        f"no answer to the order ({type(cause).__name__}) and it was not found by its"
        f" client order id after {attempts} lookups; not resent",
        exchange=exchange,
        symbol=symbol,
        client_order_id=client_order_id,
    ) from cause
