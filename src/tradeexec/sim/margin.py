"""Maintenance margin, liquidation and bankruptcy prices of an account, from the engine's state.

One model serves both venues (cross margin, as the engine margins every position):

- a position's maintenance margin is its market's tier rule on its notional at the mark
  (`MarketSpec.maintenance_margin`: Binance brackets, Hyperliquid margin tables);
- the account is liquidatable when its equity (wallet + unrealised PnL) is at or below the
  sum of its positions' maintenance margins (Binance: margin ratio reaches 100 %;
  Hyperliquid "Liquidations": account equity below maintenance margin);
- a position's liquidation price is the mark at which that holds with everything else
  unchanged. Binance's "How to calculate the liquidation price of USDⓈ-M contracts" gives
  ``LP = (WB - TMM1 + UPNL1 + cum - side*Q*EP) / (Q*MMR - side*Q)`` (TMM1, UPNL1: the other
  positions' maintenance margin and unrealised PnL); Hyperliquid's
  ``price - side * margin_available / size / (1 - l * side)`` ("Liquidations") is the same
  line written from the current price. The tier is the one of the current notional;
- the bankruptcy price is where equity reaches zero (no maintenance margin): a liquidation
  never fills worse than it, the insurance fund takes the rest.
"""

from __future__ import annotations

from decimal import Decimal

from tradeexec.sim.accounting import ZERO, Position
from tradeexec.sim.engine import Engine

__all__ = [
    "account_maintenance",
    "bankruptcy_price",
    "is_liquidatable",
    "liquidation_price",
    "position_maintenance",
]


def position_maintenance(engine: Engine, pos: Position) -> Decimal:
    notional = abs(pos.qty) * engine.marks[pos.coin]
    return engine.market(pos.coin).maintenance_margin(notional)


def account_maintenance(engine: Engine, account_id: str) -> Decimal:
    return sum((position_maintenance(engine, p) for p in engine.positions(account_id)), ZERO)


def is_liquidatable(engine: Engine, account_id: str) -> bool:
    """Open positions, and equity at or below their maintenance margin."""
    if not engine.positions(account_id):
        return False
    return engine.summary(account_id).equity <= account_maintenance(engine, account_id)


def liquidation_price(engine: Engine, account_id: str, pos: Position) -> Decimal | None:
    """The mark at which the account would be liquidated, everything else held; None where
    no positive price does it (a long the account can carry to zero)."""
    tier = engine.market(pos.coin).tier_for(abs(pos.qty) * engine.marks[pos.coin])
    return _price_at(engine, account_id, pos, tier.maint_margin_ratio, tier.cum, with_others=True)


def bankruptcy_price(engine: Engine, account_id: str, pos: Position) -> Decimal | None:
    """The mark at which the account's equity would be zero, everything else held."""
    return _price_at(engine, account_id, pos, ZERO, ZERO, with_others=False)


def _price_at(
    engine: Engine, account_id: str, pos: Position, rate: Decimal, cum: Decimal, *,
    with_others: bool,
) -> Decimal | None:  # fmt: skip
    if pos.qty == 0:
        return None
    others = [p for p in engine.positions(account_id) if p is not pos]
    wallet = engine.account(account_id).wallet_balance
    others_pnl = sum((p.unrealized(engine.marks[p.coin]) for p in others), ZERO)
    others_maint = (
        sum((position_maintenance(engine, p) for p in others), ZERO) if with_others else ZERO
    )
    side = Decimal(1) if pos.qty > 0 else Decimal(-1)
    size = abs(pos.qty)
    price = (wallet - others_maint + others_pnl + cum - side * size * pos.entry_price) / (
        size * rate - side * size
    )
    return price if price > 0 else None
