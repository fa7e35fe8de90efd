"""Price feeds for the simulator and the paper venue.

- `SyntheticWalk`: a seeded random walk (the default), so a run with the same seed sees the
  same prices.
- `ReplayFeed`: prices from a CSV file with columns ``timestamp,coin,price`` (header
  required), one step per distinct timestamp.
- `LivePublicFeed`: public tickers from a real exchange through ccxt (needs a network; no keys).

A feed's ``step()`` returns the next marks ``{coin: Decimal}``; the caller applies them.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol


class PriceFeed(Protocol):
    def step(self) -> dict[str, Decimal]: ...


class SyntheticWalk:
    """Geometric-ish walk: each step moves each coin by a seeded normal draw of ``vol_bps``."""

    def __init__(
        self, start: Mapping[str, Decimal], *, seed: int = 0, vol_bps: Decimal = Decimal("5")
    ) -> None:
        self._prices = dict(start)
        self._rng = random.Random(seed)
        self._vol = vol_bps / Decimal(10000)

    def step(self) -> dict[str, Decimal]:
        for coin, price in self._prices.items():
            shock = Decimal(repr(round(self._rng.gauss(0.0, 1.0), 6)))
            self._prices[coin] = price * (Decimal(1) + shock * self._vol)
        return dict(self._prices)


class ReplayFeed:
    """Replays ``timestamp,coin,price`` rows; stays on the last prices when exhausted."""

    def __init__(self, path: str | Path) -> None:
        self._steps = self._load(Path(path))
        self._last: dict[str, Decimal] = {}

    @staticmethod
    def _load(path: Path) -> Iterator[dict[str, Decimal]]:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"timestamp", "coin", "price"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path}: replay CSV needs columns {sorted(missing)}")
            rows = [
                (row["timestamp"], row["coin"].upper(), Decimal(row["price"])) for row in reader
            ]
        steps: dict[str, dict[str, Decimal]] = {}
        for stamp, coin, price in rows:
            steps.setdefault(stamp, {})[coin] = price
        return iter(list(steps.values()))

    def step(self) -> dict[str, Decimal]:
        self._last.update(next(self._steps, {}))
        return dict(self._last)


class LivePublicFeed:
    """Mark prices from a real exchange's public tickers (only where a network exists)."""

    def __init__(self, exchange_id: str, symbols: Mapping[str, str]) -> None:
        self._exchange_id = exchange_id
        self._symbols = dict(symbols)  # coin -> that exchange's symbol
        self._exchange: Any = None

    async def astep(self) -> dict[str, Decimal]:
        if self._exchange is None:
            import ccxt.async_support as ccxt  # heavy import, only when used

            self._exchange = getattr(ccxt, self._exchange_id)({"enableRateLimit": True})
        tickers = await self._exchange.fetch_tickers(list(self._symbols.values()))
        marks: dict[str, Decimal] = {}
        for coin, symbol in self._symbols.items():
            last = tickers.get(symbol, {}).get("last")
            if last is not None:
                marks[coin] = Decimal(str(last))
        return marks

    async def close(self) -> None:
        if self._exchange is not None:
            await self._exchange.close()
