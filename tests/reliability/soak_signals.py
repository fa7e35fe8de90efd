"""The soak's signal mix and price path: seeded, generated batch by batch from what the venue
holds at that moment, so targets grow, shrink and flip real positions.

Every signal that can add exposure carries a stop-loss (the accounts run with
``require_stop_loss``), so an open position without a covering stop is always a finding,
never the caller's choice.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

D = Decimal
ZERO = D(0)

# one order "unit" per coin: above both venues' minimum size and notional at the start marks
UNITS: Mapping[str, Decimal] = {"BTC": D("0.002"), "ETH": D("0.04"), "SOL": D("1")}
START_MARKS: Mapping[str, Decimal] = {"BTC": D("67500"), "ETH": D("3500"), "SOL": D("150")}
COIN_WEIGHTS: Mapping[str, int] = {"BTC": 5, "ETH": 3, "SOL": 2}
QUOTE = {"binance": "USDT", "hyperliquid": "USDC"}

# kind -> weight; see `SignalMaker.make`
KIND_WEIGHTS: Mapping[str, int] = {
    "bracket": 30,  # side + quantity, stop and target
    "stop_only": 10,  # side + quantity, stop only
    "grow": 12,  # target_position further from zero
    "shrink": 12,  # target_position nearer zero, same side
    "flip": 12,  # target_position on the other side
    "flat": 8,  # target_position 0
    "reduce": 10,  # reduce-only close (side against the position, part or all)
    "low_confidence": 6,  # refused by the confidence gate
}


def round_price(price: Decimal) -> Decimal:
    """Five significant figures: valid on both venues' price grids for these coins."""
    exponent = price.adjusted() - 4
    return price.quantize(D(1).scaleb(exponent), ROUND_HALF_EVEN)


@dataclass(frozen=True)
class SoakAccount:
    """One account of the soak: its tradeexec name and the simulated venue behind it."""

    name: str
    venue: str  # "binance" | "hyperliquid"


class PricePath:
    """A seeded, mean-reverting walk per coin with occasional jumps that fire stops and targets."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.marks: dict[str, Decimal] = dict(START_MARKS)

    def step(self) -> dict[str, Decimal]:
        for coin, mark in self.marks.items():
            move = self.rng.gauss(0, 0.006)
            if self.rng.random() < 0.15:
                move += self.rng.choice((-1, 1)) * self.rng.uniform(0.02, 0.035)
            pull = 0.15 * float((START_MARKS[coin] - mark) / mark)
            self.marks[coin] = round_price(mark * D(str(1 + move + pull)))
        return dict(self.marks)


class SignalMaker:
    def __init__(self, rng: random.Random, accounts: list[SoakAccount], run_id: str) -> None:
        self.rng = rng
        self.accounts = accounts
        self.run_id = run_id
        self.count = 0

    def _pick(self, weights: Mapping[str, int]) -> str:
        names = list(weights)
        return self.rng.choices(names, weights=[weights[n] for n in names])[0]

    def make(
        self,
        marks: Mapping[str, Decimal],
        positions: Mapping[tuple[str, str], Decimal],
    ) -> dict[str, Any]:
        """One signal (the REST / plugin dict shape). ``positions``: (account, coin) -> signed
        size on the venue when the batch was made (later signals of the batch may differ)."""
        account = self.rng.choice(self.accounts)
        coin = self._pick(COIN_WEIGHTS)
        kind = self._pick(KIND_WEIGHTS)
        unit, mark = UNITS[coin], marks[coin]
        current = positions.get((account.name, coin), ZERO)
        units = self.rng.randint(1, 4)
        self.count += 1
        data: dict[str, Any] = {
            "idempotency_key": f"soak-{self.run_id}-{self.count:05d}",
            "account": account.name,
            "symbol": f"{coin}/{QUOTE[account.venue]}",
            "confidence": round(self.rng.uniform(0.7, 0.99), 2),
            "timestamp": datetime.now(UTC).isoformat(),
            "comment": kind,
        }
        direction = self.rng.choice((1, -1)) if current == 0 else (1 if current > 0 else -1)
        if kind in ("bracket", "stop_only", "low_confidence"):
            direction = self.rng.choice((1, -1))
            data.update(side="buy" if direction > 0 else "sell", quantity=str(unit * units))
            if kind == "low_confidence":
                data["confidence"] = 0.3
        elif kind == "grow":
            data["target_position"] = str(current + direction * unit * units)
        elif kind == "shrink":
            kept = (abs(current) / unit / 2).to_integral_value() * unit
            data["target_position"] = str(direction * kept)
        elif kind == "flip":
            direction = -direction
            data["target_position"] = str(direction * unit * units)
        elif kind == "flat":
            data["target_position"] = "0"
        else:  # reduce
            side = "sell" if direction > 0 else "buy"
            data.update(side=side, reduce_only=True)
            if current != 0 and self.rng.random() < 0.6:
                part = max(unit, (abs(current) / unit / 2).to_integral_value() * unit)
                data["quantity"] = str(part)
        opens = "side" in data and not data.get("reduce_only")
        target = data.get("target_position")
        if target is not None and D(target) != 0 and abs(D(target)) > abs(current):
            opens = True
        if opens or (target is not None and D(target) != 0):
            # the stop (and maybe a target) on the side the signal leads to
            stop_pct = D(str(round(self.rng.uniform(0.01, 0.025), 4)))
            data["stop_loss"] = str(round_price(mark * (1 - direction * stop_pct)))
            if kind == "bracket" or self.rng.random() < 0.4:
                take_pct = D(str(round(self.rng.uniform(0.015, 0.035), 4)))
                data["take_profit"] = str(round_price(mark * (1 + direction * take_pct)))
        return data
