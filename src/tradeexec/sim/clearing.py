"""The venue's clearinghouse on top of the matching engine: funding and liquidation.

`ClearingEngine` is the `Engine` the simulator's faces run on. It adds:

- **funding** (`sim.funding`): `run_due` pays every funding time the clock has passed, on
  each open position at the mark, then liquidates whoever that left underwater;
- **liquidation** (`sim.margin`): after a mark moves (and its triggers and resting orders
  have had their turn: on a jump they act first, wherever the liquidation price lies on
  the way), every account that held that coin whose equity is at or below its
  maintenance margin is liquidated, position by position (the largest maintenance margin
  first) until it is not: the account's open orders on that coin are cancelled (Binance
  cancels them before liquidating; Hyperliquid ``liquidatedCanceled``), and the position is
  closed by an IOC order of the venue's (Binance: client id ``autoclose-...``, listed by
  ``/fapi/v1/forceOrders``; Hyperliquid: a fill carrying ``liquidation``), filled at the
  mark but never worse than the bankruptcy price. A wallet left below zero with nothing
  open is brought back to zero by the insurance fund (`Account.insurance`).

Not modelled: partial liquidation of large positions, the liquidation clearance fee
(Binance) and backstop liquidation (Hyperliquid: the liquidator vault keeps the maintenance
margin), auto-deleveraging of the other side.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from tradeexec.sim.accounting import Account, Position, settle
from tradeexec.sim.engine import (
    Engine,
    Fill,
    OrderKind,
    OrderSpec,
    OrderStatus,
    Reject,
    Side,
    SimOrder,
    TimeInForce,
)
from tradeexec.sim.funding import FundingBook
from tradeexec.sim.liquidation import Liquidation, autoclose_client_id
from tradeexec.sim.margin import bankruptcy_price, is_liquidatable, position_maintenance
from tradeexec.sim.markets import MarketSpec

__all__ = ["ClearingEngine"]


class ClearingEngine(Engine):
    """An `Engine` with funding payments and liquidations."""

    def __init__(
        self,
        markets: Iterable[MarketSpec],
        *,
        funding_interval_ms: int,
        funding_rate: Decimal,
        **engine_options: Any,
    ) -> None:
        super().__init__(markets, **engine_options)
        self.funding: FundingBook = FundingBook.starting(
            funding_interval_ms, funding_rate, self.clock()
        )
        self._autoclose_seq = itertools.count(1)

    # ------------------------------------------------------------------ prices
    def set_mark(self, coin: str, price: Decimal, last: Decimal | None = None) -> list[Fill]:
        holders = [a for a in self.accounts.values() if a.position_qty(coin)]
        fills = super().set_mark(coin, price, last)
        return fills + self.liquidate_underwater(holders)

    # ------------------------------------------------------------------- time
    def run_due(self) -> int:
        """Pay every funding time the clock has passed (oldest first), liquidating after
        each; returns how many funding times were paid."""
        paid = 0
        while (when := self.funding.due(self.clock())) is not None:
            self.pay_funding(when)
            self.liquidate_underwater(list(self.accounts.values()))
            paid += 1
        return paid

    def pay_funding(self, when_ms: int) -> None:
        """One funding time: every open position pays (long, rate > 0) or receives
        ``qty * mark * rate``, settled at 8 decimals."""
        rates = {
            coin: self.funding.record_rate(coin, self.marks[coin], when_ms) for coin in self.markets
        }
        for acct in list(self.accounts.values()):
            for pos in acct.open_positions():
                amount = settle(-pos.qty * self.marks[pos.coin] * rates[pos.coin])
                if amount == 0:
                    continue
                acct.book_funding(amount)
                self.funding.record_payment(
                    acct.account_id, pos.coin, pos.position_side, pos.qty, rates[pos.coin],
                    amount, when_ms,
                )  # fmt: skip

    # ------------------------------------------------------------ liquidation
    def liquidate_underwater(self, accounts: Iterable[Account]) -> list[Fill]:
        """Liquidate each of ``accounts`` at or below its maintenance margin; one left flat
        below zero (a gap, or a stop filled past the bankruptcy price) is brought back to
        zero by the insurance fund. Returns the liquidation fills."""
        before = len(self.fills)
        for acct in accounts:
            by_margin = sorted(
                acct.open_positions(), key=lambda p: position_maintenance(self, p), reverse=True
            )
            for pos in by_margin:  # each closes whole: the loop ends whatever the prices
                if not is_liquidatable(self, acct.account_id):
                    break
                self._liquidate(acct, pos)
            if not acct.open_positions() and acct.wallet_balance < 0:
                acct.book_insurance(-acct.wallet_balance)
        return self.fills[before:]

    def _liquidate(self, acct: Account, pos: Position) -> None:
        now, market, mark = self.clock(), self.market(pos.coin), self.marks[pos.coin]
        side = Side.SELL if pos.qty > 0 else Side.BUY
        bankrupt = bankruptcy_price(self, acct.account_id, pos)
        price = mark
        if bankrupt is not None:  # a gap past the bankruptcy price is the insurance fund's
            price = max(mark, bankrupt) if side is Side.SELL else min(mark, bankrupt)
        price = market.round_price(price)
        for order in self.open_orders(acct.account_id, pos.coin):
            self._close(order, OrderStatus.CANCELED, Reject.LIQUIDATED)
        spec = OrderSpec(
            pos.coin,
            side,
            OrderKind.LIMIT,
            abs(pos.qty),
            price=market.round_price(bankrupt) if bankrupt is not None else price,
            tif=TimeInForce.IOC,
            position_side=pos.position_side,
            client_id=autoclose_client_id(now, next(self._autoclose_seq)),
        )
        order = SimOrder(next(self._order_ids), acct.account_id, spec, now, now)
        self._register(order)
        self.liquidations[order.order_id] = Liquidation(
            order.order_id, acct.account_id, pos.coin, pos.position_side, pos.qty, mark,
            bankrupt, now,
        )  # fmt: skip
        self._fill(order, price, maker=False)
