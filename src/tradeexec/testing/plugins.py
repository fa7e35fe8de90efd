"""`PluginHarness`: the original plan's API (`create_ccxt_plugin`) on one venue.

Each plugin gets its own temporary store and is pointed at the simulator (or is paper).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeexec.exchanges.paper import PaperTrader
from tradeexec.plugin import CCXTPlugin, create_ccxt_plugin
from tradeexec.testing.defaults import BALANCE
from tradeexec.testing.venue_under_test import VenueUnderTest


@dataclass(kw_only=True)
class PluginHarness(VenueUnderTest):
    """`create_ccxt_plugin` for one venue; ``tmp`` holds the plugins' stores."""

    tmp: Path
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
        fields = self.account_fields(balance)
        del fields["type"]  # the exchange id says it
        return fields

    def create(self, **kwargs: Any) -> CCXTPlugin:
        """A plugin, not initialised, on its own store (unless ``store_url`` is given)."""
        kwargs.setdefault("store_url", f"sqlite:///{self.tmp / f'p{len(self.plugins)}.db'}")
        plugin = create_ccxt_plugin(self.exchange_id, **kwargs)
        self.plugins.append(plugin)
        return plugin

    async def start(self, balance: Decimal = BALANCE, **kwargs: Any) -> CCXTPlugin:
        """An initialised plugin on a fresh funded account, the mark at ``start_mark``."""
        plugin = self.create(**{**self.kwargs(balance), **kwargs})
        await plugin.init()
        if self.name == "paper":
            paper = await plugin.service.manager.get(plugin.account)
            assert isinstance(paper, PaperTrader)
            self.adopt_paper_trader(paper)
        self.set_mark(self.start_mark)
        return plugin

    async def close(self) -> None:
        for plugin in self.plugins:
            await plugin.close()
