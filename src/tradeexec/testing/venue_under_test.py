"""`VenueUnderTest`: one venue, the account a test trades on, and what reached the venue.

Everything here reads or moves the venue itself (the simulator's engine and request log, or
the paper trader's in-process engine), never tradeexec's own view of it, so a test can prove
that something was, or was not, sent.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, overload

from tradeexec.sim.faults import FaultRule
from tradeexec.testing.defaults import BALANCE, START_MARK

if TYPE_CHECKING:
    from tradeexec.exchanges.paper import PaperTrader
    from tradeexec.sim.engine import Engine, Fill, SimOrder
    from tradeexec.sim.face import ExchangeFace
    from tradeexec.sim.server import SimServer

Price = Decimal | str | int

# order placements as they appear in the simulator's request log
_ORDER_PATHS = frozenset({"/fapi/v1/order", "/fapi/v1/algoOrder", "/fapi/v1/batchOrders"})

# `add_fault` short names: the routes entry orders and stop/target orders take on each face
_FAULT_ROUTES = {
    ("binance", "create"): "binance.order.create",
    ("binance", "trigger"): "binance.algo.create",
    ("binance", "any_create"): "binance.*.create",
    ("hyperliquid", "any_create"): "hyperliquid.exchange.order",
    ("hyperliquid", "create"): "hyperliquid.exchange.order",
    ("hyperliquid", "trigger"): "hyperliquid.exchange.order",
}


def is_order_request(entry: dict[str, Any]) -> bool:
    """Whether a request-log entry placed an order (on either face)."""
    if entry["method"] != "POST":
        return False
    if entry["path"] in _ORDER_PATHS:
        return True
    body = entry.get("body")
    action = body.get("action") if isinstance(body, dict) else None
    return isinstance(action, dict) and action.get("type") == "order"


@dataclass
class VenueUnderTest:
    """One venue under test and its main account, seen from the venue's side.

    ``name`` is ``"paper"``, ``"binance"`` or ``"hyperliquid"``; ``sim`` is the running
    simulator, or None for paper, whose engine lives in-process in the paper trader. On the
    simulator the main account is ``credentials`` (from `new_venue_account`); on paper it is
    the adopted ``paper_trader``. Either way ``engine_account`` names it in the engine.
    """

    name: str
    sim: SimServer | None
    symbol: str = "BTC/USDT"  # what the test says; every venue resolves it
    start_mark: Decimal = START_MARK
    balance: Decimal = BALANCE
    engine_account: str = ""
    credentials: dict[str, str] = field(default_factory=dict)
    paper_trader: PaperTrader | None = None

    # ---------------------------------------------------------------- accounts
    @property
    def face(self) -> ExchangeFace:
        """The simulator face of this venue."""
        assert self.sim is not None, "paper has no simulator face"
        return self.sim.simulator.faces[self.name]

    def open_venue_account(self, balance: Decimal = BALANCE) -> dict[str, str]:
        """Credentials of a new funded account on the simulated venue (``account`` is its
        engine id); the main account stays as it is."""
        return dict(self.face.create_account(balance))

    def new_venue_account(self, balance: Decimal = BALANCE) -> None:
        """Make a fresh funded account the main one (paper accounts come with a trader:
        see `adopt_paper_trader`)."""
        if self.sim is None:
            return
        self.credentials = self.open_venue_account(balance)
        self.engine_account = self.credentials["account"]

    def adopt_paper_trader(self, trader: PaperTrader) -> None:
        """Make a paper trader's account the main one."""
        self.paper_trader = trader
        self.engine_account = trader.account

    def account_fields(self, balance: Decimal | None = None) -> dict[str, Any]:
        """The main account as config fields: what ``accounts.<name>`` holds in
        ``exchange.yaml`` (the keyword arguments of `create_ccxt_plugin`, plus ``type``)."""
        if self.sim is None:
            return {"type": "paper", "starting_balance": balance or self.balance}
        where = {"api_url": self.sim.base_url, "timeout_ms": 3000}
        creds = self.credentials
        if self.name == "binance":
            return {"type": "binance", "api_key": creds["apiKey"],
                    "api_secret": creds["secret"], **where}  # fmt: skip
        return {"type": "hyperliquid", "wallet_address": creds["walletAddress"],
                "private_key": creds["privateKey"], **where}  # fmt: skip

    def new_client_id(self) -> str:
        """A client order id in the venue's format, for orders placed around tradeexec."""
        if self.name == "hyperliquid":
            return "0x" + secrets.token_hex(16)
        return "manual" + secrets.token_hex(8)

    # ------------------------------------------------------------------ prices
    @overload
    def set_mark(self, price: Price, /) -> None: ...
    @overload
    def set_mark(self, symbol: str, price: Price, /) -> None: ...
    def set_mark(self, *args: Price) -> None:
        """Move the mark of ``symbol`` (default: the harness's) on the venue, which fires
        the triggers and fills the limit orders it crosses."""
        symbol, price = (self.symbol, args[0]) if len(args) == 1 else args
        mark = Decimal(str(price))
        if self.sim is not None:
            coin = str(symbol).split("/")[0]  # unified symbols only: BTC/USDT, BTC/USDC:USDC
            if not any(coin in face.engine.markets for face in self.sim.simulator.faces.values()):
                raise ValueError(f"no simulated market for {symbol!r}; say BASE/QUOTE")
            self.sim.simulator.set_price(coin, mark)
            return
        for trader in self._paper_traders():
            trader.set_mark(str(symbol), mark)

    def _paper_traders(self) -> list[PaperTrader]:
        """The paper engines a mark moves on (one per paper account)."""
        return [self.paper_trader] if self.paper_trader is not None else []

    # ------------------------------------------------------ what reached the venue
    @property
    def engine(self) -> Engine:
        """The venue's matching engine (the main account's, on paper)."""
        if self.sim is None:
            assert self.paper_trader is not None, "no paper trader adopted yet"
            return self.paper_trader.engine
        return self.face.engine

    def engine_orders(self) -> list[SimOrder]:
        """Every order the venue holds for the main account, in any state, oldest first."""
        return orders_of(self.engine, self.engine_account)

    def open_engine_orders(self) -> list[SimOrder]:
        return list(self.engine.open_orders(self.engine_account))

    def engine_orders_by_client_id(self, client_order_id: str) -> list[SimOrder]:
        return [o for o in self.engine_orders() if o.spec.client_id == client_order_id]

    def engine_position(self, coin: str = "BTC") -> Decimal:
        """The main account's signed position in ``coin`` on the venue."""
        return sum(
            (p.qty for p in self.engine.positions(self.engine_account) if p.coin == coin),
            Decimal(0),
        )

    def engine_fills(self, coin: str | None = None) -> list[Fill]:
        """The main account's fills on the venue."""
        return self.engine.account_fills(self.engine_account, coin)

    def order_requests(self) -> list[dict[str, Any]]:
        """Order placements that went over the wire (none for paper: there is no wire)."""
        if self.sim is None:
            return []
        return [e for e in self.sim.simulator.log.recent(10_000) if is_order_request(e)]

    # ------------------------------------------------------------------ faults
    def add_fault(self, route: str, **kwargs: Any) -> FaultRule:
        """A simulator fault (a `FaultRule`: ``kind``, ``times``, ``status``, ...). ``route``
        is 'create' (entry orders), 'trigger' (stop and target orders), 'any_create' (both,
        in the order they are sent) or a full route name (see the sim faces' docstrings).
        The `sim_server` fixture clears every fault after the test."""
        assert self.sim is not None, "faults are injected on the simulator's wire"
        rule = FaultRule(route=_FAULT_ROUTES.get((self.name, route), route), **kwargs)
        self.sim.simulator.ctx.faults.add(rule)
        return rule


def orders_of(engine: Engine, account: str) -> list[SimOrder]:
    """Every order ``engine`` holds for ``account``, in any state, oldest first."""
    orders = [o for o in engine.orders.values() if o.account_id == account]
    return sorted(orders, key=lambda o: o.order_id)
