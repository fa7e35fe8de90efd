"""Markets, accounts and their settings (leverage, margin mode, position mode): the part of
the simulator's `Engine` that holds no orders. Orders, matching and fills are in `engine`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from decimal import Decimal

from tradeexec.sim.accounting import ZERO, Account, MarginMode, Position
from tradeexec.sim.book import Depth
from tradeexec.sim.funding import FundingBook
from tradeexec.sim.liquidation import Liquidation
from tradeexec.sim.markets import MarketSpec
from tradeexec.sim.orders import Reject, SimError, SimOrder


class AccountBook(ABC):
    """One venue's markets and accounts; `Engine` adds the orders."""

    def __init__(self, markets: Iterable[MarketSpec], default_leverage: int) -> None:
        self.markets: dict[str, MarketSpec] = {m.coin: m for m in markets}
        self.default_leverage = default_leverage
        self.accounts: dict[str, Account] = {}
        self.depth: Depth | None = None  # None: no depth, whole fills at the touch (`sim.book`)
        self.account_depth: dict[str, Depth | None] = {}  # per account, over `depth`
        # set by `clearing.ClearingEngine` (funding, liquidations); empty on a bare engine
        self.funding: FundingBook | None = None
        self.liquidations: dict[int, Liquidation] = {}  # by the closing order's id

    def depth_for(self, account_id: str) -> Depth | None:
        return self.account_depth.get(account_id, self.depth)

    @abstractmethod
    def open_orders(self, account_id: str, coin: str | None = None) -> list[SimOrder]:
        """The account's open orders (the engine keeps them)."""

    # ----------------------------------------------------------------- lookups
    def market(self, coin: str) -> MarketSpec:
        try:
            return self.markets[coin]
        except KeyError:
            raise SimError(Reject.UNKNOWN_SYMBOL, coin) from None

    def account(self, account_id: str) -> Account:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise SimError(Reject.UNKNOWN_ACCOUNT, account_id) from None

    def create_account(self, account_id: str, balance: Decimal = ZERO) -> Account:
        acct = self.accounts.get(account_id) or Account(account_id)
        self.accounts[account_id] = acct
        if balance:
            acct.deposit(balance)
        return acct

    def leverage(self, account_id: str, coin: str) -> int:
        return self.account(account_id).leverage.get(coin, self.default_leverage)

    def margin_mode(self, account_id: str, coin: str) -> MarginMode:
        return self.account(account_id).margin_mode.get(coin, MarginMode.CROSS)

    def positions(self, account_id: str) -> list[Position]:
        return self.account(account_id).open_positions()

    # ------------------------------------------------------------ settings
    def set_leverage(self, account_id: str, coin: str, leverage: int) -> None:
        spec = self.market(coin)
        if not 1 <= leverage <= spec.max_leverage:
            raise SimError(Reject.BAD_LEVERAGE, f"{leverage} not in 1..{spec.max_leverage}")
        self.account(account_id).leverage[coin] = leverage

    def set_margin_mode(self, account_id: str, coin: str, mode: MarginMode) -> None:
        self.market(coin)
        acct = self.account(account_id)
        if self.margin_mode(account_id, coin) is mode:
            raise SimError(Reject.MARGIN_MODE_UNCHANGED, mode.value)
        if any(p.coin == coin for p in acct.open_positions()):
            raise SimError(Reject.POSITION_EXISTS, coin)
        acct.margin_mode[coin] = mode

    def set_position_mode(self, account_id: str, hedge: bool) -> None:
        acct = self.account(account_id)
        if acct.hedge_mode == hedge:
            return
        if acct.open_positions() or self.open_orders(account_id):
            raise SimError(Reject.POSITION_EXISTS, "close positions and orders first")
        acct.hedge_mode = hedge
