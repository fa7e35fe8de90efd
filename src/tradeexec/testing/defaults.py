"""The harness's defaults: which venues a test runs on, and how each account starts."""

from __future__ import annotations

from decimal import Decimal

VENUES = ("paper", "binance", "hyperliquid")
SIM_VENUES = ("binance", "hyperliquid")  # the venues behind the simulator's HTTP faces
ACCOUNT = "acct"  # the account's name in the service's config
START_MARK = Decimal("67500")  # BTC's mark when a test starts
BALANCE = Decimal("10000")  # what a fresh account is funded with (USDT, or USDC on Hyperliquid)
