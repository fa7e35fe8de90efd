"""Funding: the rate per coin, when it is paid, and the record of every payment.

A venue pays funding at fixed times (Binance USD-M every 8 h at 00:00, 08:00 and 16:00 UTC;
Hyperliquid every hour on the hour): each open position pays or receives
``qty * mark * rate`` (longs pay when the rate is positive, shorts receive), booked into the
wallet at once. The rate is configurable per coin (``POST /_sim/funding``); it holds until
changed. Payments and the rates applied are kept here so the faces can answer Binance
``/fapi/v1/income`` (FUNDING_FEE) and ``/fapi/v1/fundingRate``, Hyperliquid ``userFunding``
and ``fundingHistory``.

Funding is paid when the simulator's clock passes a funding time: on ``POST /_sim/time``,
and on the wall clock only while the price feed runs on a timer (``--tick-ms``), so a test
never sees a payment it did not ask for.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from tradeexec.sim.accounting import PositionSide

__all__ = ["FundingBook", "FundingPayment", "FundingRate"]

HISTORY = 10_000  # rates and payments kept (oldest dropped first)


@dataclass(frozen=True, slots=True)
class FundingRate:
    """One coin's rate as applied at one funding time."""

    coin: str
    rate: Decimal
    mark: Decimal
    time_ms: int


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """What one position paid (``amount`` < 0) or received at one funding time."""

    payment_id: int
    account_id: str
    coin: str
    position_side: PositionSide
    qty: Decimal  # the signed position it was paid on
    rate: Decimal
    amount: Decimal
    time_ms: int


@dataclass
class FundingBook:
    """One venue's funding schedule, rates and records."""

    interval_ms: int
    default_rate: Decimal
    next_ms: int  # the next funding time
    rates: dict[str, Decimal] = field(default_factory=dict)  # per coin, over default_rate
    history: deque[FundingRate] = field(default_factory=lambda: deque(maxlen=HISTORY))
    payments: deque[FundingPayment] = field(default_factory=lambda: deque(maxlen=HISTORY))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(8_000_000_001))

    @classmethod
    def starting(cls, interval_ms: int, default_rate: Decimal, now_ms: int) -> FundingBook:
        """A book whose first funding time is the first interval boundary after ``now_ms``
        (boundaries are multiples of the interval since the epoch: 00/08/16 UTC for 8 h)."""
        return cls(interval_ms, default_rate, next_boundary(now_ms, interval_ms))

    def rate(self, coin: str) -> Decimal:
        return self.rates.get(coin, self.default_rate)

    def last_rate(self, coin: str) -> FundingRate | None:
        return next((r for r in reversed(self.history) if r.coin == coin), None)

    def due(self, now_ms: int) -> int | None:
        """The funding time now due (and moves past it), or None."""
        if self.next_ms > now_ms:
            return None
        due = self.next_ms
        self.next_ms += self.interval_ms
        return due

    def record_rate(self, coin: str, mark: Decimal, time_ms: int) -> Decimal:
        rate = self.rate(coin)
        self.history.append(FundingRate(coin, rate, mark, time_ms))
        return rate

    def record_payment(
        self,
        account_id: str,
        coin: str,
        side: PositionSide,
        qty: Decimal,
        rate: Decimal,
        amount: Decimal,
        time_ms: int,
    ) -> FundingPayment:
        payment = FundingPayment(
            next(self._ids), account_id, coin, side, qty, rate, amount, time_ms
        )
        self.payments.append(payment)
        return payment

    def account_payments(self, account_id: str) -> list[FundingPayment]:
        return [p for p in self.payments if p.account_id == account_id]


def next_boundary(now_ms: int, interval_ms: int) -> int:
    """The first multiple of ``interval_ms`` strictly after ``now_ms``."""
    return (now_ms // interval_ms + 1) * interval_ms
