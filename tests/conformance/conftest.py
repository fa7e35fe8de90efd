"""The conformance suite tests the trader contract itself: its ``venue`` is the plugin's
``trader_venue`` (a connected `ExchangeTrader` per venue; see `tradeexec.testing`)."""

from __future__ import annotations

import pytest

from tradeexec.testing import TraderHarness


@pytest.fixture
def venue(trader_venue: TraderHarness) -> TraderHarness:
    return trader_venue
