"""`VenueHarness`: a started `TradingService` on one venue's fresh funded account.

The service runs on a temporary store (a SQLite file unless a store URL is given) with one
account (named `ACCOUNT`); signals go in through `submit`, and what reached the venue is read
from the venue itself (see `VenueUnderTest`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeexec.config import AppConfig, RiskConfig
from tradeexec.domain import SignalSource
from tradeexec.exchanges.interface import ExchangeTrader
from tradeexec.exchanges.paper import PaperTrader
from tradeexec.execution.report import ExecutionReport
from tradeexec.execution.signals import Signal
from tradeexec.service import TradingService
from tradeexec.sim.server import SimServer
from tradeexec.testing.defaults import ACCOUNT
from tradeexec.testing.venue_under_test import VenueUnderTest

# Limits roomy enough for tradeexec's scenarios (a 0.1 -> -0.2 flip moves 0.3 BTC), tight
# enough to refuse a 1 BTC order on max_order_notional.
RISK = RiskConfig(
    max_order_notional=Decimal(30000),
    max_position_notional=Decimal(60000),
    max_orders_per_minute=1000,
)

_keys = itertools.count()


def new_key(prefix: str = "t") -> str:
    """A fresh idempotency key."""
    return f"{prefix}-{next(_keys)}-{datetime.now(UTC).timestamp():.6f}"


@dataclass(kw_only=True)
class VenueHarness(VenueUnderTest):
    """One venue under test, with ``service`` started on a fresh funded account.

    ``tmp`` holds the store (unless ``database_url`` names another, e.g. a PostgreSQL
    database); ``cache_dir`` (optional) a market cache shared between tests, since the
    simulator's markets never change.
    """

    tmp: Path
    cache_dir: Path | None = None
    database_url: str | None = None
    risk: RiskConfig = RISK
    service: TradingService = field(init=False)
    services: list[TradingService] = field(default_factory=list)

    @classmethod
    async def start(
        cls,
        name: str,
        sim: SimServer | None,
        tmp: Path,
        cache_dir: Path | None = None,
        *,
        store_url: str | None = None,
    ) -> VenueHarness:
        """A started service on a fresh funded account, the mark at `START_MARK`; its store
        at ``store_url`` (a migrated, empty database) or a SQLite file in ``tmp``."""
        harness = cls(name, sim, tmp=tmp, cache_dir=cache_dir, database_url=store_url)
        harness.new_venue_account()
        harness.service = await harness.new_service(start=False)
        if name == "paper":
            paper = await harness.trader()
            assert isinstance(paper, PaperTrader)
            harness.adopt_paper_trader(paper)
        harness.set_mark(harness.start_mark)
        await harness.service.start()
        await harness.trader()  # connected: markets loaded
        return harness

    # ---------------------------------------------------------------- config
    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.tmp / 't.db'}"

    def app_config(self, risk: RiskConfig | None = None, **account_overrides: Any) -> AppConfig:
        """The service's config: the main account as `ACCOUNT`, this harness's store."""
        account = {**self.account_fields(), **account_overrides}
        return AppConfig.model_validate(
            {
                "accounts": {ACCOUNT: account},
                "store_url": self.store_url,
                "market_cache_dir": str(self.cache_dir or self.tmp / "markets"),
                "risk": risk if risk is not None else self.risk,
            }
        )

    async def new_service(
        self, *, start: bool = True, risk: RiskConfig | None = None, **account_overrides: Any
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
        """The service's trader for the account (connected on first use)."""
        return await (service or self.service).manager.get(ACCOUNT)

    # --------------------------------------------------------------- signals
    def signal(self, **fields: Any) -> Signal:
        """A signal for the account: an agent's, confidence 0.9, a fresh idempotency key."""
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
