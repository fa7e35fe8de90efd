"""Optional order-book depth around the mark: levels and sizes, seeded.

Off by default (the engine then fills whole at the touch). When a `Depth` is set on an
engine (globally, `SimConfig.depth`, or per account through ``POST /_sim/depth``):

- the opposite side of the book is ``levels`` price levels, the first at the touch (mark
  -/+ half the spread), each next one ``step_bps`` of the mark further away; level ``i``
  holds ``size * growth**i`` of the base asset, times a seeded factor in
  ``[1 - jitter, 1 + jitter]`` (the same seed, coin, side and level give the same size);
- a taker order (market, crossing limit, a fired trigger) walks the levels in order, one
  fill per level (slippage); a limit order stops at its price;
- what the walk leaves unfilled: a market or IOC order expires with what it filled (Binance
  ``EXPIRED`` with ``executedQty`` > 0; Hyperliquid answers ``filled`` with the smaller
  ``totalSz``); FOK fills nothing unless the whole quantity is there; a GTC limit rests
  (Binance ``PARTIALLY_FILLED``, Hyperliquid ``resting``);
- a resting limit order the mark moves through fills at most ``size`` per mark move (the
  liquidity that reaches one price), so it can fill in parts.

The venue-wide book is what the public depth endpoints serve (Binance ``/fapi/v1/depth``,
Hyperliquid ``l2Book``), built by `Depth.sides` from the same `Depth.book` the walk uses; an
account-only depth is not shown there (those endpoints have no account). The book is not
consumed: every walk, and every read, sees the full configured book again.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from tradeexec.sim.markets import MarketSpec

__all__ = ["Depth", "Levels", "depth_from_json", "walk"]

Levels = list[tuple[Decimal, Decimal]]  # (price, size), best first


@dataclass(frozen=True)
class Depth:
    size: Decimal  # base-asset quantity at the first level
    levels: int = 5
    step_bps: Decimal = Decimal("1")
    growth: Decimal = Decimal("1")
    jitter: Decimal = Decimal("0")
    seed: int = 0

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError("size must be > 0")
        if not 1 <= self.levels <= 1000:
            raise ValueError("levels must be between 1 and 1000")
        if self.step_bps < 0 or self.growth <= 0 or not 0 <= self.jitter < 1:
            raise ValueError("step_bps >= 0, growth > 0 and 0 <= jitter < 1")

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(self).items()}

    def book(
        self,
        coin: str,
        buy: bool,
        touch: Decimal,
        mark: Decimal,
        round_price: Callable[[Decimal], Decimal],
        round_qty: Callable[[Decimal], Decimal],
    ) -> list[tuple[Decimal, Decimal]]:
        """The levels a ``buy`` (asks) or sell (bids) order meets: (price, size), best first."""
        out: list[tuple[Decimal, Decimal]] = []
        step = mark * self.step_bps / Decimal(10000)
        for i in range(self.levels):
            price = round_price(touch + step * i if buy else touch - step * i)
            factor = Decimal(1)
            if self.jitter:
                rng = random.Random(f"{self.seed}:{coin}:{'ask' if buy else 'bid'}:{i}")
                factor += self.jitter * Decimal(str(round(rng.uniform(-1, 1), 6)))
            size = round_qty(self.size * self.growth**i * factor)
            if price <= 0 or size <= 0:
                continue
            if out and out[-1][0] == price:  # two levels on one tick: one level
                out[-1] = (price, out[-1][1] + size)
            else:
                out.append((price, size))
        return out

    def sides(
        self, market: MarketSpec, bid: Decimal, ask: Decimal, mark: Decimal
    ) -> tuple[Levels, Levels]:
        """(bids, asks) as a taker order on ``market`` meets them: `book` with the arguments
        `Engine._execute_taker` passes (the touch, the mark, the market's price rounding,
        sizes rounded down), so a depth endpoint shows the book an order walks."""
        coin, price, size = market.coin, market.round_price, market.round_qty_down
        return (
            self.book(coin, False, bid, mark, price, size),
            self.book(coin, True, ask, mark, price, size),
        )


def walk(
    levels: list[tuple[Decimal, Decimal]], qty: Decimal, buy: bool, limit: Decimal | None
) -> list[tuple[Decimal, Decimal]]:
    """The (price, qty) fills of ``qty`` taken from ``levels``, not past ``limit``."""
    fills: list[tuple[Decimal, Decimal]] = []
    left = qty
    for price, size in levels:
        if left <= 0 or (limit is not None and (price > limit if buy else price < limit)):
            break
        take = min(left, size)
        fills.append((price, take))
        left -= take
    return fills


def depth_from_json(body: dict[str, Any]) -> Depth:
    """A `Depth` from control-API JSON; ValueError / TypeError on bad input."""
    allowed = {"size", "levels", "step_bps", "growth", "jitter", "seed"}
    unknown = set(body) - allowed
    if unknown:
        raise ValueError(f"unknown depth fields {sorted(unknown)}")
    fields: dict[str, Any] = {}
    for name in ("size", "step_bps", "growth", "jitter"):
        if name in body:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError(f"{name} must be a number")
            try:
                fields[name] = Decimal(str(value))
            except ArithmeticError as exc:
                raise ValueError(f"{name} must be a number") from exc
            if not fields[name].is_finite() or fields[name] > Decimal("1E15"):
                raise ValueError(f"{name} must be a finite number up to 1E15")
    for name in ("levels", "seed"):
        if name in body:
            if isinstance(body[name], bool) or not isinstance(body[name], int):
                raise ValueError(f"{name} must be an integer")
            fields[name] = body[name]
    if "size" not in fields:
        raise ValueError("size is required")
    return Depth(**fields)
