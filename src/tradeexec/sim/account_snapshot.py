"""One account's whole snapshot: what `Engine.export_account` writes and `import_account`
reads back, and the checks a snapshot must pass before it replaces anything.

The records inside it (account, orders, fills) are `snapshot`'s; which orders and fills a
snapshot keeps, and what makes one unreadable, are here.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeexec.sim import snapshot
from tradeexec.sim.accounting import Account
from tradeexec.sim.orders import Fill, SimOrder

__all__ = ["AccountState", "dump_account", "load_account"]


@dataclass(frozen=True, slots=True)
class AccountState:
    """One account's state as a snapshot holds it: the account, its orders (in id order) and
    fills, the venue's marks and the next order and trade ids."""

    account: Account
    orders: list[SimOrder]
    fills: list[Fill]
    marks: dict[str, Decimal]
    next_order_id: int
    next_trade_id: int


def dump_account(
    state: AccountState, *, closed_orders: int | None = None, fills: int | None = None
) -> dict[str, Any]:
    """``state`` as JSON-ready data, keeping every open order, the last ``closed_orders``
    closed ones and the last ``fills`` fills (None: all of them)."""
    closed = [o.order_id for o in state.orders if not o.status.is_open]
    dropped = set(closed[: len(closed) - min(len(closed), _or(closed_orders, len(closed)))])
    kept_fills = state.fills[
        len(state.fills) - min(len(state.fills), _or(fills, len(state.fills))) :
    ]
    return {
        "format": snapshot.FORMAT,
        "account": snapshot.account_to_dict(state.account),
        "orders": [snapshot.order_to_dict(o) for o in state.orders if o.order_id not in dropped],
        "fills": [snapshot.fill_to_dict(f) for f in kept_fills],
        "marks": {coin: str(mark) for coin, mark in state.marks.items()},
        "next_order_id": state.next_order_id,
        "next_trade_id": state.next_trade_id,
    }


def load_account(data: dict[str, Any], coins: Container[str]) -> AccountState:
    """A `dump_account` snapshot read back, keeping the marks of ``coins`` only. Another
    format, or another account's orders or fills in it, is a ValueError; a malformed
    snapshot raises KeyError or ValueError."""
    if data.get("format") != snapshot.FORMAT:
        raise ValueError(f"unknown snapshot format {data.get('format')!r}")
    state = AccountState(
        account=snapshot.account_from_dict(data["account"]),
        orders=[snapshot.order_from_dict(o) for o in data["orders"]],
        fills=[snapshot.fill_from_dict(f) for f in data["fills"]],
        marks={c: Decimal(str(p)) for c, p in data["marks"].items() if c in coins},
        next_order_id=int(data["next_order_id"]),
        next_trade_id=int(data["next_trade_id"]),
    )
    owners = {o.account_id for o in state.orders} | {f.account_id for f in state.fills}
    if owners - {state.account.account_id}:
        raise ValueError("snapshot holds another account's orders or fills")
    return state


def _or(value: int | None, default: int) -> int:
    return default if value is None else value
