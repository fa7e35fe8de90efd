"""The `venue` fixture: the same harness over paper, Binance (simulator) and Hyperliquid
(simulator).

A test gets a connected trader on a fresh funded account, a way to move the mark price that
works on every venue, the venue's `Capabilities`, and a factory for more fresh accounts. The
harness also exposes what reached the venue (the engine's orders, the simulator's request
log) so a test can prove that something was refused *before* it was sent.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from tradeexec.exchanges.interface import Capabilities, ExchangeTrader

if TYPE_CHECKING:
    from tradeexec.sim.engine import Engine, SimOrder
    from tradeexec.sim.server import SimServer

VENUES = ("paper", "binance", "hyperliquid")
START_MARK = Decimal("67500")
BALANCE = Decimal("10000")

# where an order would be placed on each wire (the request log records path and body)
_ORDER_PATHS = frozenset({"/fapi/v1/order", "/fapi/v1/algoOrder", "/fapi/v1/batchOrders"})


def _is_order_request(entry: dict[str, Any]) -> bool:
    if entry["method"] != "POST":
        return False
    if entry["path"] in _ORDER_PATHS:
        return True
    body = entry.get("body")
    action = body.get("action") if isinstance(body, dict) else None
    return isinstance(action, dict) and action.get("type") == "order"


def new_client_id(caps: Capabilities) -> str:
    """A client order id in the venue's accepted format."""
    if caps.client_id_format == "hyperliquid":
        return "0x" + secrets.token_hex(16)
    return "conf" + secrets.token_hex(12)


@dataclass
class Venue:
    """One venue under test. ``name`` is for test ids only: tests read `capabilities`."""

    name: str
    sim: SimServer | None
    trader: ExchangeTrader = field(init=False)
    traders: list[ExchangeTrader] = field(default_factory=list)
    accounts: dict[int, str] = field(default_factory=dict)  # id(trader) -> engine account

    @property
    def capabilities(self) -> Capabilities:
        return self.trader.capabilities

    @property
    def symbol(self) -> str:
        """The venue's own BTC perpetual, spelled independently of `resolve_symbol`."""
        settle = self.capabilities.settle_currency
        return f"BTC/{settle}:{settle}"

    def client_id(self) -> str:
        return new_client_id(self.capabilities)

    # ------------------------------------------------------------------ prices
    def set_mark(self, symbol: str, price: Decimal) -> None:
        """Move the mark on the venue (fires triggers and crossed limit orders)."""
        if self.sim is not None:
            self.sim.simulator.set_price(self.trader.market(symbol).base, price)
            return
        for trader in self.traders:
            trader.set_mark(symbol, price)  # type: ignore[attr-defined]

    # ---------------------------------------------------------------- accounts
    async def fresh_account(self, balance: Decimal = BALANCE) -> ExchangeTrader:
        """A connected trader on a new account funded with ``balance``."""
        if self.sim is None:
            from tradeexec.exchanges.paper import PaperTrader

            trader: ExchangeTrader = PaperTrader(
                f"paper{len(self.traders)}", venue="binance", starting_balance=balance
            )
            account = trader.account
        elif self.name == "binance":
            from tradeexec.exchanges.binance_futures import BinanceFuturesTrader

            creds = self.sim.simulator.binance.create_account(balance)
            trader = BinanceFuturesTrader(
                f"bn{len(self.traders)}",
                credentials={"apiKey": creds["apiKey"], "secret": creds["secret"]},
                api_url=self.sim.base_url,
                retry_backoff_s=0.01,
                timeout_ms=2000,
            )
            account = creds["account"]
        else:
            from tradeexec.exchanges.hyperliquid_trader import HyperliquidTrader

            creds = self.sim.simulator.hyperliquid.create_account(balance)
            trader = HyperliquidTrader(
                f"hl{len(self.traders)}",
                credentials={
                    "walletAddress": creds["walletAddress"],
                    "privateKey": creds["privateKey"],
                },
                api_url=self.sim.base_url,
                retry_backoff_s=0.01,
                timeout_ms=2000,
            )
            account = creds["account"]
        self.traders.append(trader)
        self.accounts[id(trader)] = account
        await trader.connect()
        return trader

    async def close(self) -> None:
        for trader in self.traders:
            await trader.close()

    # ------------------------------------------------------- what reached the venue
    def engine(self, trader: ExchangeTrader | None = None) -> Engine:
        if self.sim is None:
            return (trader or self.trader).engine  # type: ignore[attr-defined,no-any-return]
        face = (
            self.sim.simulator.binance if self.name == "binance" else self.sim.simulator.hyperliquid
        )
        return face.engine

    def venue_orders(self, trader: ExchangeTrader | None = None) -> list[SimOrder]:
        """Every order the venue holds for the account, in any state."""
        account = self.accounts[id(trader or self.trader)]
        return [o for o in self.engine(trader).orders.values() if o.account_id == account]

    def order_requests(self) -> list[dict[str, Any]]:
        """Order placements that went over the wire (none for paper: there is no wire)."""
        if self.sim is None:
            return []
        return [e for e in self.sim.simulator.log.recent(10_000) if _is_order_request(e)]


@pytest.fixture(params=VENUES)
async def venue(request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    sim = None if request.param == "paper" else request.getfixturevalue("sim_server")
    harness = Venue(request.param, sim)
    harness.trader = await harness.fresh_account()
    harness.set_mark(harness.symbol, START_MARK)
    try:
        yield harness
    finally:
        await harness.close()
