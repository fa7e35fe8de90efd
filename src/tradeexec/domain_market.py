"""What a venue reports about a market and an account: `Market` (a contract and its
trading rules, with the rounding they imply), `Ticker`, `Position` and `Balance`. Import
them from ``tradeexec.domain``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Literal

from tradeexec.domain_enums import MarginMode, OrderSide
from tradeexec.domain_fields import ZERO, convert_decimals, enum_value, set_field

__all__ = ["Balance", "Market", "Position", "Ticker"]


@dataclass(frozen=True, slots=True)
class Position:
    """An open (or flat) position. ``quantity`` is signed: > 0 long, < 0 short."""

    symbol: str
    quantity: Decimal
    entry_price: Decimal | None = None
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal = ZERO
    leverage: int | None = None
    margin_mode: MarginMode | None = None
    liquidation_price: Decimal | None = None

    def __post_init__(self) -> None:
        convert_decimals(
            self,
            ("quantity", "unrealized_pnl"),
            ("entry_price", "mark_price", "liquidation_price"),
        )
        if self.margin_mode is not None:
            set_field(self, "margin_mode", enum_value(MarginMode, self.margin_mode, "margin_mode"))

    @property
    def side(self) -> Literal["long", "short", "flat"]:
        if self.quantity > 0:
            return "long"
        if self.quantity < 0:
            return "short"
        return "flat"

    @property
    def notional(self) -> Decimal:
        """abs(quantity) x mark price (the entry price when no mark is known; 0 if neither)."""
        price = self.mark_price if self.mark_price is not None else self.entry_price
        return abs(self.quantity) * (price if price is not None else ZERO)


@dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    total: Decimal
    free: Decimal
    used: Decimal = ZERO

    def __post_init__(self) -> None:
        convert_decimals(self, ("total", "free", "used"))


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    mark: Decimal | None = None
    timestamp: int = 0  # ms since the epoch

    def __post_init__(self) -> None:
        convert_decimals(self, (), ("bid", "ask", "last", "mark"))

    @property
    def mid(self) -> Decimal | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2

    @property
    def reference_price(self) -> Decimal | None:
        """The best single price to value things at: mark, else mid, else last."""
        if self.mark is not None:
            return self.mark
        return self.mid if self.mid is not None else self.last


@dataclass(frozen=True, slots=True)
class Market:
    """One tradable contract and the venue's rules for it.

    ``price_step`` is None when the venue constrains prices by significant figures instead
    (Hyperliquid: ``price_sig_figs=5`` and at most ``price_max_decimals`` decimals).
    """

    symbol: str
    base: str
    quote: str
    settle: str | None
    amount_step: Decimal
    price_step: Decimal | None
    min_amount: Decimal | None = None
    min_notional: Decimal | None = None
    max_leverage: int | None = None
    contract_size: Decimal = Decimal(1)
    active: bool = True
    price_sig_figs: int | None = None
    price_max_decimals: int | None = None

    def __post_init__(self) -> None:
        convert_decimals(
            self,
            ("amount_step", "contract_size"),
            ("price_step", "min_amount", "min_notional"),
        )

    def round_amount(self, amount: Decimal, rounding: str = ROUND_DOWN) -> Decimal:
        """``amount`` on the amount grid (rounded down by default: never size up)."""
        return _to_step(amount, self.amount_step, rounding)

    def round_price(self, price: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        """``price`` as the venue accepts it: on the tick grid, or to significant figures."""
        if self.price_step is not None:
            return _to_step(price, self.price_step, rounding)
        result = price
        if self.price_sig_figs is not None and price != 0:
            exponent = price.adjusted() - self.price_sig_figs + 1
            if exponent > 0:
                exponent = 0  # integers are always allowed
            result = price.quantize(Decimal(1).scaleb(exponent), rounding=rounding)
        if self.price_max_decimals is not None:
            limit = Decimal(1).scaleb(-self.price_max_decimals)
            if -result.as_tuple().exponent > self.price_max_decimals:  # type: ignore[operator]
                result = result.quantize(limit, rounding=rounding)
        return result


def _to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:
        return value
    return (value / step).quantize(Decimal(1), rounding=rounding) * step


def net_position(positions: Iterable[Position], symbol: str) -> Decimal:
    """The signed quantity held in ``symbol`` (> 0 long, < 0 short, 0 flat)."""
    return sum((p.quantity for p in positions if p.symbol == symbol), ZERO)


def opposes(side: OrderSide | str, position: Decimal) -> bool:
    """Does an order on ``side`` go against the (signed) ``position``, i.e. reduce it?"""
    return position != 0 and (position > 0) != (OrderSide(side) is OrderSide.BUY)
