"""What a liquidation leaves behind: the record the faces render it from.

The process (when, at what price, what is cancelled) is `clearing.ClearingEngine`'s; this
leaf module only holds the record, so `engine_accounts.AccountBook` can keep them without
importing the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradeexec.sim.accounting import PositionSide

__all__ = ["Liquidation", "autoclose_client_id"]


@dataclass(frozen=True, slots=True)
class Liquidation:
    """One position closed by the venue: the closing order, what it closed and at which mark."""

    order_id: int
    account_id: str
    coin: str
    position_side: PositionSide
    qty: Decimal  # the signed position that was closed
    mark: Decimal  # the mark that made the account liquidatable
    bankruptcy_price: Decimal | None
    time_ms: int


def autoclose_client_id(time_ms: int, seq: int) -> str:
    """Binance's client id for a liquidation order: ``autoclose-`` and a number made of the
    time and a sequence (``autoclose-1596107620040000020`` in "User's Force Orders")."""
    return f"autoclose-{time_ms}{seq:06d}"
