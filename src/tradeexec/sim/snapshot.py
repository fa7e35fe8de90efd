"""The engine's records as plain data and back: what `Engine.export_account` writes.

Everything becomes JSON-ready (str, int, bool, None, lists and dicts); every Decimal is its
exact ``str()``, so a round trip gives back equal values, never a float's neighbour. The
format carries a version number (`FORMAT`) so a later change can read older snapshots.
Like the rest of `sim/`, this module knows nothing of the product: what to do with a
snapshot (store it, ship it) is the caller's business.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeexec.sim.accounting import Account, MarginMode, Position, PositionSide
from tradeexec.sim.orders import (
    Fill,
    OrderKind,
    OrderSpec,
    OrderStatus,
    Reject,
    Side,
    SimOrder,
    TimeInForce,
)

FORMAT = 1


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _undec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _req(value: Any) -> Decimal:
    return Decimal(str(value))


def account_to_dict(acct: Account) -> dict[str, Any]:
    return {
        "account_id": acct.account_id,
        "wallet_balance": str(acct.wallet_balance),
        "deposits": str(acct.deposits),
        "realized_pnl": str(acct.realized_pnl),
        "fees_paid": str(acct.fees_paid),
        "funding": str(acct.funding),
        "insurance": str(acct.insurance),
        "hedge_mode": acct.hedge_mode,
        "leverage": dict(acct.leverage),
        "margin_mode": {coin: mode.value for coin, mode in acct.margin_mode.items()},
        "positions": [
            {
                "coin": p.coin,
                "position_side": p.position_side.value,
                "qty": str(p.qty),
                "entry_price": str(p.entry_price),
                "realized_pnl": str(p.realized_pnl),
            }
            for p in acct.positions.values()
        ],
    }


def account_from_dict(data: dict[str, Any]) -> Account:
    acct = Account(
        str(data["account_id"]),
        wallet_balance=_req(data["wallet_balance"]),
        deposits=_req(data["deposits"]),
        realized_pnl=_req(data["realized_pnl"]),
        fees_paid=_req(data["fees_paid"]),
        funding=_req(data.get("funding", "0")),  # absent from snapshots before funding
        insurance=_req(data.get("insurance", "0")),
        hedge_mode=bool(data["hedge_mode"]),
        leverage={str(coin): int(lev) for coin, lev in data["leverage"].items()},
        margin_mode={str(c): MarginMode(m) for c, m in data["margin_mode"].items()},
    )
    for p in data["positions"]:
        side = PositionSide(p["position_side"])
        acct.positions[(p["coin"], side)] = Position(
            p["coin"], side, _req(p["qty"]), _req(p["entry_price"]), _req(p["realized_pnl"])
        )
    return acct


def order_to_dict(order: SimOrder) -> dict[str, Any]:
    spec = order.spec
    return {
        "order_id": order.order_id,
        "account_id": order.account_id,
        "spec": {
            "coin": spec.coin,
            "side": spec.side.value,
            "kind": spec.kind.value,
            "qty": str(spec.qty),
            "price": _dec(spec.price),
            "trigger_price": _dec(spec.trigger_price),
            "tif": spec.tif.value,
            "reduce_only": spec.reduce_only,
            "close_position": spec.close_position,
            "position_side": spec.position_side.value,
            "client_id": spec.client_id,
            "parent_id": spec.parent_id,
        },
        "created_ms": order.created_ms,
        "updated_ms": order.updated_ms,
        "status": order.status.value,
        "filled_qty": str(order.filled_qty),
        "avg_price": str(order.avg_price),
        "fee_paid": str(order.fee_paid),
        "triggered_ms": order.triggered_ms,
        "armed": order.armed,
        "expire_reason": order.expire_reason.value if order.expire_reason else None,
        "trade_ids": list(order.trade_ids),
        "placed_id": order.placed_id,
    }


def order_from_dict(data: dict[str, Any]) -> SimOrder:
    s = data["spec"]
    spec = OrderSpec(
        coin=s["coin"],
        side=Side(s["side"]),
        kind=OrderKind(s["kind"]),
        qty=_req(s["qty"]),
        price=_undec(s["price"]),
        trigger_price=_undec(s["trigger_price"]),
        tif=TimeInForce(s["tif"]),
        reduce_only=bool(s["reduce_only"]),
        close_position=bool(s["close_position"]),
        position_side=PositionSide(s["position_side"]),
        client_id=s["client_id"],
        parent_id=s["parent_id"],
    )
    reason = data["expire_reason"]
    return SimOrder(
        order_id=int(data["order_id"]),
        account_id=str(data["account_id"]),
        spec=spec,
        created_ms=int(data["created_ms"]),
        updated_ms=int(data["updated_ms"]),
        status=OrderStatus(data["status"]),
        filled_qty=_req(data["filled_qty"]),
        avg_price=_req(data["avg_price"]),
        fee_paid=_req(data["fee_paid"]),
        triggered_ms=data["triggered_ms"],
        armed=bool(data["armed"]),
        expire_reason=Reject(reason) if reason else None,
        trade_ids=[int(t) for t in data["trade_ids"]],
        placed_id=data.get("placed_id"),  # absent in snapshots taken before it existed
    )


def fill_to_dict(fill: Fill) -> dict[str, Any]:
    return {
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "client_id": fill.client_id,
        "account_id": fill.account_id,
        "coin": fill.coin,
        "side": fill.side.value,
        "qty": str(fill.qty),
        "price": str(fill.price),
        "fee": str(fill.fee),
        "realized_pnl": str(fill.realized_pnl),
        "maker": fill.maker,
        "time_ms": fill.time_ms,
        "position_side": fill.position_side.value,
    }


def fill_from_dict(data: dict[str, Any]) -> Fill:
    return Fill(
        trade_id=int(data["trade_id"]),
        order_id=int(data["order_id"]),
        client_id=data["client_id"],
        account_id=str(data["account_id"]),
        coin=str(data["coin"]),
        side=Side(data["side"]),
        qty=_req(data["qty"]),
        price=_req(data["price"]),
        fee=_req(data["fee"]),
        realized_pnl=_req(data["realized_pnl"]),
        maker=bool(data["maker"]),
        time_ms=int(data["time_ms"]),
        position_side=PositionSide(data["position_side"]),
    )
