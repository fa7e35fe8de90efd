"""The `venue` fixture: a started `TradingService` on paper, Binance (sim) and Hyperliquid (sim).

Each scenario test takes ``venue`` and runs three times. The harness owns one funded account
on a temporary SQLite store and exposes what actually reached the venue (the engine's orders,
positions and fills, the simulator's request log), so a test can prove that something was, or
was not, sent.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tradeexec.config import AccountConfig, AppConfig, RiskConfig
from tradeexec.domain import SignalSource
from tradeexec.execution.plugin import CCXTPlugin, create_ccxt_plugin
from tradeexec.execution.report import ExecutionReport
from tradeexec.execution.signals import Signal
from tradeexec.service import TradingService
from tradeexec.sim.faults import FaultRule

if TYPE_CHECKING:
    from tradeexec.exchanges.interface import ExchangeTrader
    from tradeexec.sim.engine import Engine, SimOrder
    from tradeexec.sim.server import SimServer

VENUES = ("paper", "binance", "hyperliquid")
SIM_VENUES = ("binance", "hyperliquid")
ACCOUNT = "acct"
START_MARK = Decimal("67500")
BALANCE = Decimal("10000")
# Limits roomy enough for the scenarios (a 0.1 -> -0.2 flip moves 0.3 BTC), tight enough to
# refuse a 1 BTC order on max_order_notional.
RISK = RiskConfig(
    max_order_notional=Decimal(30000),
    max_position_notional=Decimal(60000),
    max_orders_per_minute=1000,
)

# order placements as they appear in the simulator's request log
_ORDER_PATHS = frozenset({"/fapi/v1/order", "/fapi/v1/algoOrder", "/fapi/v1/batchOrders"})
_keys = itertools.count()


def is_order_request(entry: dict[str, Any]) -> bool:
    if entry["method"] != "POST":
        return False
    if entry["path"] in _ORDER_PATHS:
        return True
    body = entry.get("body")
    action = body.get("action") if isinstance(body, dict) else None
    return isinstance(action, dict) and action.get("type") == "order"


def new_key(prefix: str = "t") -> str:
    return f"{prefix}-{next(_keys)}-{datetime.now(UTC).timestamp():.6f}"


@dataclass
class VenueViews:
    """What reached one venue account: engine orders, positions, the request log."""

    name: str
    sim: SimServer | None
    tmp: Path
    engine_account: str = ""
    credentials: dict[str, str] = field(default_factory=dict)
    paper_trader: Any = None
    symbol: str = "BTC/USDT"  # what signals say; every venue resolves it
    cache_dir: Path | None = None  # shared market cache (the simulator's markets never change)
    start_mark: Decimal = START_MARK
    balance: Decimal = BALANCE
    risk: RiskConfig = RISK

    @property
    def face(self) -> Any:
        """The simulator face of this venue."""
        assert self.sim is not None
        sim = self.sim.simulator
        return sim.binance if self.name == "binance" else sim.hyperliquid

    def new_venue_account(self, balance: Decimal = BALANCE) -> None:
        """A fresh funded account on the simulated venue (paper accounts come with a trader)."""
        if self.sim is None:
            return
        self.credentials = dict(self.face.create_account(balance))
        self.engine_account = self.credentials["account"]

    def new_client_id(self) -> str:
        """A client order id in the venue's format, for orders placed around tradeexec."""
        if self.name == "hyperliquid":
            return "0x" + secrets.token_hex(16)
        return "manual" + secrets.token_hex(8)

    def adopt_paper_trader(self, trader: Any) -> None:
        self.paper_trader = trader
        self.engine_account = trader.account

    # ---------------------------------------------------------------- prices
    def set_mark(self, price: Decimal | str | int) -> None:
        """Move BTC's mark on the venue (fires triggers and crossed limits)."""
        price = Decimal(str(price))
        if self.sim is not None:
            self.sim.simulator.set_price("BTC", price)
        else:
            self.paper_trader.set_mark(self.symbol, price)

    # ------------------------------------------------------ what reached the venue
    @property
    def engine(self) -> Engine:
        if self.sim is None:
            return self.paper_trader.engine  # type: ignore[no-any-return]
        return self.face.engine  # type: ignore[no-any-return]

    def engine_orders(self) -> list[SimOrder]:
        """Every order the venue holds for the account, in any state, oldest first."""
        orders = [o for o in self.engine.orders.values() if o.account_id == self.engine_account]
        return sorted(orders, key=lambda o: o.order_id)

    def open_engine_orders(self) -> list[SimOrder]:
        return list(self.engine.open_orders(self.engine_account))

    def engine_orders_by_client_id(self, client_order_id: str) -> list[SimOrder]:
        return [o for o in self.engine_orders() if o.spec.client_id == client_order_id]

    def engine_position(self, coin: str = "BTC") -> Decimal:
        """The account's signed position in ``coin`` on the venue."""
        return sum(
            (p.qty for p in self.engine.positions(self.engine_account) if p.coin == coin),
            Decimal(0),
        )

    def order_requests(self) -> list[dict[str, Any]]:
        """Order placements that went over the wire (none for paper: there is no wire)."""
        if self.sim is None:
            return []
        return [e for e in self.sim.simulator.log.recent(10_000) if is_order_request(e)]

    def add_fault(self, route: str, **kwargs: Any) -> FaultRule:
        """A simulator fault; ``route`` is 'create' (entry orders), 'trigger' (stop and
        target orders), 'any_create' (both, in the order they are sent) or a full route name
        (see the sim faces' docstrings)."""
        assert self.sim is not None
        names = {
            ("binance", "create"): "binance.order.create",
            ("binance", "trigger"): "binance.algo.create",
            ("binance", "any_create"): "binance.*.create",
            ("hyperliquid", "any_create"): "hyperliquid.exchange.order",
            ("hyperliquid", "create"): "hyperliquid.exchange.order",
            ("hyperliquid", "trigger"): "hyperliquid.exchange.order",
        }
        rule = FaultRule(route=names.get((self.name, route), route), **kwargs)
        self.sim.simulator.ctx.faults.add(rule)
        return rule


@dataclass
class VenueHarness(VenueViews):
    """One venue under test, with a started service on a fresh funded account."""

    service: TradingService = field(init=False)
    services: list[TradingService] = field(default_factory=list)

    # ---------------------------------------------------------------- config
    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.tmp / 't.db'}"

    def account_config(self, **overrides: Any) -> AccountConfig:
        fields: dict[str, Any]
        if self.name == "paper":
            fields = {"type": "paper", "starting_balance": BALANCE}
        elif self.name == "binance":
            assert self.sim is not None
            fields = {
                "type": "binance",
                "api_url": self.sim.base_url,
                "api_key": self.credentials["apiKey"],
                "api_secret": self.credentials["secret"],
                "timeout_ms": 3000,
            }
        else:
            assert self.sim is not None
            fields = {
                "type": "hyperliquid",
                "api_url": self.sim.base_url,
                "wallet_address": self.credentials["walletAddress"],
                "private_key": self.credentials["privateKey"],
                "timeout_ms": 3000,
            }
        return AccountConfig(**{**fields, **overrides})

    def app_config(self, risk: RiskConfig = RISK, **account_overrides: Any) -> AppConfig:
        return AppConfig(
            accounts={ACCOUNT: self.account_config(**account_overrides)},
            store_url=self.store_url,
            market_cache_dir=str(self.cache_dir or self.tmp / "markets"),
            risk=risk,
        )

    async def new_service(
        self, *, start: bool = True, risk: RiskConfig = RISK, **account_overrides: Any
    ) -> TradingService:
        """Another service on the same store and the same venue account (a restarted
        process). The paper venue lives in-process, so its engine is handed over."""
        service = TradingService(self.app_config(risk, **account_overrides))
        if self.paper_trader is not None:
            await self.paper_trader.connect()
            service.manager.add(self.paper_trader)
        self.services.append(service)
        if start:
            await service.start()
        return service

    async def trader(self, service: TradingService | None = None) -> ExchangeTrader:
        return await (service or self.service).manager.get(ACCOUNT)

    # --------------------------------------------------------------- signals
    def signal(self, **fields: Any) -> Signal:
        values: dict[str, Any] = {
            "symbol": self.symbol,
            "source": SignalSource.AGENT,
            "idempotency_key": new_key(),
            "created_at": datetime.now(UTC),
            "account": ACCOUNT,
            "confidence": 0.9,
        }
        values.update(fields)
        return Signal(**values)

    async def submit(self, **fields: Any) -> ExecutionReport:
        return await self.service.submit_signal(self.signal(**fields))

    async def close(self) -> None:
        for service in reversed(self.services):
            await service.stop()
        if self.paper_trader is not None:
            await self.paper_trader.close()


@dataclass
class PluginHarness(VenueViews):
    """`create_ccxt_plugin` for one venue, on a temporary store, pointed at the simulator."""

    plugins: list[CCXTPlugin] = field(default_factory=list)

    @property
    def exchange_id(self) -> str:
        return self.name

    def kwargs(self, balance: Decimal = BALANCE) -> dict[str, Any]:
        """Credentials (of a fresh funded account) and where to find the venue."""
        self.new_venue_account(balance)
        return self.account_kwargs(balance)

    def account_kwargs(self, balance: Decimal = BALANCE) -> dict[str, Any]:
        """Credentials of the current venue account and where to find the venue."""
        if self.name == "paper":
            return {"starting_balance": balance}
        assert self.sim is not None
        common = {"api_url": self.sim.base_url, "timeout_ms": 3000}
        if self.name == "binance":
            return {
                "api_key": self.credentials["apiKey"],
                "api_secret": self.credentials["secret"],
                **common,
            }
        return {
            "wallet_address": self.credentials["walletAddress"],
            "private_key": self.credentials["privateKey"],
            **common,
        }

    def create(self, **kwargs: Any) -> CCXTPlugin:
        kwargs.setdefault("store_url", f"sqlite:///{self.tmp / f'p{len(self.plugins)}.db'}")
        plugin = create_ccxt_plugin(self.exchange_id, **kwargs)
        self.plugins.append(plugin)
        return plugin

    async def start(self, balance: Decimal = BALANCE, **kwargs: Any) -> CCXTPlugin:
        """An initialised plugin on a fresh funded account, mark at `START_MARK`."""
        plugin = self.create(**{**self.kwargs(balance), **kwargs})
        await plugin.init()
        if self.name == "paper":
            self.adopt_paper_trader(await plugin.service.manager.get(plugin.account))
        self.set_mark(START_MARK)
        return plugin

    async def close(self) -> None:
        for plugin in self.plugins:
            await plugin.close()


@pytest.fixture(params=VENUES)
async def plugin_venue(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    shared_workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[PluginHarness]:
    monkeypatch.chdir(shared_workdir)  # the plugin's market cache is relative to it
    sim = None if request.param == "paper" else request.getfixturevalue("sim_server")
    harness = PluginHarness(request.param, sim, tmp_path)
    try:
        yield harness
    finally:
        await harness.close()


@pytest.fixture
async def plugin_harness(
    sim_server: SimServer, tmp_path: Path, shared_workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[[str], PluginHarness]]:
    """A factory of plugin harnesses on a named simulated venue (for venue-specific cases)."""
    monkeypatch.chdir(shared_workdir)
    made: list[PluginHarness] = []

    def make(name: str) -> PluginHarness:
        made.append(PluginHarness(name, sim_server, tmp_path / f"{name}{len(made)}"))
        made[-1].tmp.mkdir()
        return made[-1]

    try:
        yield make
    finally:
        for harness in made:
            await harness.close()


async def make_harness(
    name: str, sim: SimServer | None, tmp: Path, cache_dir: Path | None = None
) -> VenueHarness:
    harness = VenueHarness(name, sim, tmp, cache_dir=cache_dir)
    harness.new_venue_account()
    harness.service = await harness.new_service(start=False)
    if name == "paper":
        harness.adopt_paper_trader(await harness.trader())
    harness.set_mark(START_MARK)
    await harness.service.start()
    await harness.trader()  # connected: markets loaded
    return harness


@pytest.fixture(scope="session")
def shared_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory whose ``.tradeexec/markets`` cache every test shares."""
    return tmp_path_factory.mktemp("workdir")


async def _harness(request: pytest.FixtureRequest, tmp: Path) -> AsyncIterator[VenueHarness]:
    sim = None if request.param == "paper" else request.getfixturevalue("sim_server")
    cache = request.getfixturevalue("shared_workdir") / ".tradeexec" / "markets"
    harness = await make_harness(request.param, sim, tmp, cache)
    try:
        yield harness
    finally:
        await harness.close()


@pytest.fixture(params=VENUES)
async def venue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VenueHarness]:
    async for harness in _harness(request, tmp_path):
        yield harness


@pytest.fixture(params=SIM_VENUES)
async def sim_venue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VenueHarness]:
    """Only the simulated venues: for faults injected on the wire and the request log."""
    async for harness in _harness(request, tmp_path):
        yield harness
