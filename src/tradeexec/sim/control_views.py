"""What the control API shows of orders: one shape for the account view's open orders and
the account's order history (``GET /_sim/accounts/{venue}/{account}/orders``)."""

from __future__ import annotations

from typing import Any

from tradeexec.sim.engine import Engine
from tradeexec.sim.orders import OrderStatus, SimOrder

STATUSES = tuple(s.value for s in OrderStatus)


def order_view(order: SimOrder) -> dict[str, Any]:
    spec = order.spec
    return {
        "id": order.order_id,
        "coin": spec.coin,
        "side": spec.side.value,
        "kind": spec.kind.value,
        "qty": str(spec.qty),
        "price": None if spec.price is None else str(spec.price),
        "trigger_price": None if spec.trigger_price is None else str(spec.trigger_price),
        "tif": spec.tif.value,
        "reduce_only": spec.reduce_only,
        "close_position": spec.close_position,
        "client_id": spec.client_id,
        "status": order.status.value,
        "filled_qty": str(order.filled_qty),
        "avg_price": str(order.avg_price),
        "triggered": order.triggered_ms is not None,
        "placed_id": order.placed_id,
        "expire_reason": None if order.expire_reason is None else order.expire_reason.value,
        "created_ms": order.created_ms,
        "updated_ms": order.updated_ms,
    }


def order_history(
    engine: Engine, account_id: str, status: str | None, limit: int
) -> list[dict[str, Any]]:
    """The account's orders in any status (``status``: one of `STATUSES`), oldest first, the
    newest ``limit`` of them. Raises ValueError for an unknown status."""
    wanted = None
    if status:
        if status.upper() not in STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {list(STATUSES)}")
        wanted = OrderStatus(status.upper())
    rows = sorted(
        (
            o
            for o in engine.orders.values()
            if o.account_id == account_id and (wanted is None or o.status is wanted)
        ),
        key=lambda o: o.order_id,
    )
    return [order_view(o) for o in rows[-limit:]]
