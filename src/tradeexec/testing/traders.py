"""`TraderHarness`: connected `ExchangeTrader`s on fresh funded accounts of one venue.

For tests of the trader contract itself (tradeexec's conformance suite is written on it):
no store, no service, just the trader a venue type builds, pointed at the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tradeexec.exchanges.binance_futures import BinanceFuturesTrader
from tradeexec.exchanges.hyperliquid_trader import HyperliquidTrader
from tradeexec.exchanges.interface import Capabilities, ExchangeTrader
from tradeexec.exchanges.paper import PaperTrader
from tradeexec.sim.engine import SimOrder
from tradeexec.testing.defaults import BALANCE
from tradeexec.testing.venue_under_test import VenueUnderTest, orders_of


@dataclass
class TraderHarness(VenueUnderTest):
    """One venue under test, with ``trader`` connected on a fresh funded account.

    ``symbol`` is the venue's own BTC perpetual (``BTC/USDT:USDT``, ``BTC/USDC:USDC``),
    spelled from the venue's settle currency, independently of `resolve_symbol`.
    """

    trader: ExchangeTrader = field(init=False)
    traders: list[ExchangeTrader] = field(default_factory=list)
    accounts: dict[int, str] = field(default_factory=dict)  # id(trader) -> engine account

    async def start(self) -> None:
        """Connect the main trader and put the mark at ``start_mark``."""
        self.trader = await self.fresh_account(self.balance)
        settle = self.capabilities.settle_currency
        self.symbol = f"BTC/{settle}:{settle}"
        self.set_mark(self.symbol, self.start_mark)

    @property
    def capabilities(self) -> Capabilities:
        return self.trader.capabilities

    def client_id(self) -> str:
        """A client order id in the venue's accepted format."""
        return self.new_client_id()

    async def fresh_account(self, balance: Decimal = BALANCE) -> ExchangeTrader:
        """A connected trader on a new account funded with ``balance`` (the first one
        becomes the main account)."""
        trader: ExchangeTrader
        label = f"{self.name}{len(self.traders)}"
        if self.sim is None:
            paper = PaperTrader(label, venue="binance", starting_balance=balance)
            if self.paper_trader is None:
                self.adopt_paper_trader(paper)
            trader, account = paper, paper.account
        else:
            creds = self.open_venue_account(balance)
            if not self.engine_account:
                self.credentials, self.engine_account = creds, creds["account"]
            trader, account = self._sim_trader(label, creds), creds["account"]
        self.traders.append(trader)
        self.accounts[id(trader)] = account
        await trader.connect()
        return trader

    def _sim_trader(self, label: str, creds: dict[str, str]) -> ExchangeTrader:
        assert self.sim is not None
        binance = self.name == "binance"
        keys = ("apiKey", "secret") if binance else ("walletAddress", "privateKey")
        venue_type = BinanceFuturesTrader if binance else HyperliquidTrader
        return venue_type(
            label,
            credentials={key: creds[key] for key in keys},
            api_url=self.sim.base_url,
            retry_backoff_s=0.01,
            timeout_ms=2000,
        )

    def _paper_traders(self) -> list[PaperTrader]:
        return [t for t in self.traders if isinstance(t, PaperTrader)]

    def venue_orders(self, trader: ExchangeTrader | None = None) -> list[SimOrder]:
        """Every order the venue holds for the trader's account (default: the main one)."""
        trader = trader or self.trader
        engine = trader.engine if isinstance(trader, PaperTrader) else self.engine
        return orders_of(engine, self.accounts[id(trader)])

    async def close(self) -> None:
        for trader in self.traders:
            await trader.close()
