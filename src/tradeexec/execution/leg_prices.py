"""Stop-loss and take-profit prices on the venue's price grid, rounded towards the entry.

A stop or target that is off the grid (TradingView sends ``{{close}}*0.98``, which never is)
is rounded to a valid price in the *protective* direction, never to the nearest one:

==========  ===============  ================
position    stop-loss        take-profit
==========  ===============  ================
long        rounds **up**    rounds **down**
short       rounds **down**  rounds **up**
==========  ===============  ================

so the stop is never further from the entry than asked (the loss at the stop is never larger
than the one the caller accepted, and risk-based sizing stays within its budget) and the
target is never further either (it is never harder to reach). Every change is reported
(``ProtectivePrices.rounded``): the decision records it and the report carries it as a
warning. A price already on the grid is kept as given.

The grid is the venue's own: ``round_price`` is the trader's ``price_to_precision`` (nearest
valid price), and the directed step comes from the ``Market``'s tick (Decimal quantize, never
a float). Venues that price by significant figures (Hyperliquid: 5, with a decimals cap) have
no single tick; there the next valid price is found by asking ``round_price`` about the
nearest candidates one power of ten apart. Either way the result is a fixed point of the
venue's own helper, so the ``precision`` check passes it. No valid price on the protective
side (the rounding would reach zero) is refused as ``precision``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Final

from tradeexec.domain import Market, OrderSide
from tradeexec.errors import RiskRejected

__all__ = ["ProtectivePrices", "Rounded", "protective_prices", "round_towards"]

ZERO: Final = Decimal(0)
# how many powers of ten to try above the finest digit of the price on a significant-figure
# grid (a 1e15 price with 1e-12 digits spans 27)
_MAX_PROBES: Final = 40


@dataclass(frozen=True, slots=True)
class Rounded:
    """One protective price moved onto the grid: ``asked`` by the caller, ``placed`` on the
    venue."""

    name: str  # "stop_loss" / "take_profit"
    asked: Decimal
    placed: Decimal

    @property
    def note(self) -> str:
        way = "up" if self.placed > self.asked else "down"
        return (
            f"{self.name} {self.asked} rounded {way} to {self.placed} "
            "(the venue's price grid, towards the entry)"
        )

    def to_record(self) -> dict[str, str]:
        return {"name": self.name, "asked": str(self.asked), "placed": str(self.placed)}


@dataclass(frozen=True, slots=True)
class ProtectivePrices:
    """The stop-loss and take-profit to place (None: not placed), and what was rounded."""

    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    rounded: tuple[Rounded, ...] = ()

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(r.note for r in self.rounded)

    def to_record(self) -> dict[str, object]:
        return {
            "stop_loss": None if self.stop_loss is None else str(self.stop_loss),
            "take_profit": None if self.take_profit is None else str(self.take_profit),
            "rounded": [r.to_record() for r in self.rounded],
        }


def protective_prices(
    direction: OrderSide,
    stop_loss: Decimal | None,
    take_profit: Decimal | None,
    *,
    market: Market,
    round_price: Callable[[Decimal], Decimal],
) -> ProtectivePrices:
    """The stop and target of a position in ``direction`` (BUY: long), on the grid.

    Raises ``RiskRejected('precision')`` when a price has no valid value on its protective
    side (it would round to zero or below).
    """
    long = direction is OrderSide.BUY
    placed: dict[str, Decimal | None] = {}
    rounded: list[Rounded] = []
    for name, asked, up in (
        ("stop_loss", stop_loss, long),  # a long's stop rounds up, towards the entry
        ("take_profit", take_profit, not long),  # a long's target rounds down
    ):
        if asked is None:
            placed[name] = None
            continue
        price = round_towards(asked, up=up, market=market, round_price=round_price)
        if price is None:
            raise RiskRejected(
                "precision",
                f"{name} {asked} has no valid price on {market.symbol} rounding "
                f"{'up' if up else 'down'} (towards the entry)",
            )
        placed[name] = price
        if price != asked:
            rounded.append(Rounded(name, asked, price))
    return ProtectivePrices(placed["stop_loss"], placed["take_profit"], tuple(rounded))


def round_towards(
    price: Decimal,
    *,
    up: bool,
    market: Market,
    round_price: Callable[[Decimal], Decimal],
) -> Decimal | None:
    """The valid price nearest ``price`` on its ``up`` (or down) side; ``price`` itself when
    it is valid. None when there is none (rounding down would reach zero)."""
    nearest = round_price(price)
    if nearest == price:
        return price
    if (nearest > price) == up and nearest > 0:
        return nearest
    # the nearest valid price is on the other side: the next one on this side
    step = market.price_step
    if step is not None and step > 0:
        candidate = market.round_price(price, ROUND_CEILING if up else ROUND_FLOOR)
        if candidate > 0 and (candidate > price) == up and round_price(candidate) == candidate:
            return round_price(candidate)  # the venue's spelling of it
    return _probe(price, nearest, up=up, round_price=round_price)


def _probe(
    price: Decimal, nearest: Decimal, *, up: bool, round_price: Callable[[Decimal], Decimal]
) -> Decimal | None:
    """The next valid price past ``nearest`` on a grid of unknown spacing (significant
    figures): the closest of ``nearest ± 10**k`` that the venue keeps as it is."""
    finest = min(_exponent(price), _exponent(nearest))
    for k in range(finest, finest + _MAX_PROBES):
        gap = Decimal(1).scaleb(k)
        candidate = nearest + gap if up else nearest - gap
        if candidate <= 0:
            return None
        if (candidate > price) == up and round_price(candidate) == candidate:
            return round_price(candidate)
    return None


def _exponent(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int), f"not a finite number: {number}"
    return exponent
