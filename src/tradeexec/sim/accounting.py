"""Accounts, positions and margin for the simulator: the money side of the engine.

Invariant (checked by property tests): for every account,
``wallet_balance == deposits + realized_pnl - fees_paid + funding + insurance``, exactly, in
Decimal (``funding``: net funding received; ``insurance``: what the insurance fund paid to keep
a liquidated wallet from going negative). Realised PnL, fees and funding are settled at 8
decimals (`settle`) when booked, as venues do, so the sums stay exact however long the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

ZERO = Decimal(0)
# Money is settled at this precision, as venues do; entry prices keep full precision.
MONEY_QUANTUM = Decimal("0.00000001")


def settle(amount: Decimal) -> Decimal:
    """An amount of collateral as the venue books it (8 decimals, half-even)."""
    return amount.quantize(MONEY_QUANTUM, ROUND_HALF_EVEN)


class PositionSide(StrEnum):
    BOTH = "BOTH"  # one-way mode
    LONG = "LONG"  # hedge mode
    SHORT = "SHORT"


class MarginMode(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


@dataclass(slots=True)
class Position:
    """A signed position: ``qty`` > 0 is long, < 0 is short (hedge-mode sides keep their sign)."""

    coin: str
    position_side: PositionSide = PositionSide.BOTH
    qty: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    def unrealized(self, mark: Decimal) -> Decimal:
        return self.qty * (mark - self.entry_price)

    def apply(self, delta: Decimal, price: Decimal) -> Decimal:
        """Apply a signed fill; return the PnL it realised."""
        if self.qty == 0 or (self.qty > 0) == (delta > 0):
            new_qty = self.qty + delta
            self.entry_price = (abs(self.qty) * self.entry_price + abs(delta) * price) / abs(
                new_qty
            )
            self.qty = new_qty
            return ZERO
        closing = min(abs(delta), abs(self.qty))
        pnl = settle(closing * (price - self.entry_price) * (1 if self.qty > 0 else -1))
        new_qty = self.qty + delta
        if new_qty == 0:
            self.entry_price = ZERO
        elif (new_qty > 0) != (self.qty > 0):  # flipped: the remainder opens at the fill price
            self.entry_price = price
        self.qty = new_qty
        self.realized_pnl += pnl
        return pnl


@dataclass(slots=True)
class Account:
    account_id: str
    wallet_balance: Decimal = ZERO
    deposits: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    funding: Decimal = ZERO  # net funding received (paid: negative)
    insurance: Decimal = ZERO  # paid in by the insurance fund after a liquidation
    hedge_mode: bool = False
    leverage: dict[str, int] = field(default_factory=dict)
    margin_mode: dict[str, MarginMode] = field(default_factory=dict)
    positions: dict[tuple[str, PositionSide], Position] = field(default_factory=dict)

    def position(self, coin: str, side: PositionSide) -> Position:
        key = (coin, side)
        if key not in self.positions:
            self.positions[key] = Position(coin, side)
        return self.positions[key]

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if p.qty != 0]

    def position_qty(self, coin: str) -> Decimal:
        """The absolute size held in ``coin`` (both sides in hedge mode)."""
        return sum((abs(p.qty) for p in self.positions.values() if p.coin == coin), ZERO)

    def deposit(self, amount: Decimal) -> None:
        self.wallet_balance += amount
        self.deposits += amount

    def book_fill(self, realized: Decimal, fee: Decimal) -> None:
        self.wallet_balance += realized - fee
        self.realized_pnl += realized
        self.fees_paid += fee

    def book_funding(self, amount: Decimal) -> None:
        """A funding payment received (``amount`` > 0) or paid (< 0)."""
        self.wallet_balance += amount
        self.funding += amount

    def book_insurance(self, amount: Decimal) -> None:
        self.wallet_balance += amount
        self.insurance += amount


@dataclass(frozen=True, slots=True)
class AccountSummary:
    wallet_balance: Decimal
    unrealized_pnl: Decimal
    equity: Decimal
    position_margin: Decimal
    order_margin: Decimal
    available: Decimal
    fees_paid: Decimal
    realized_pnl: Decimal
