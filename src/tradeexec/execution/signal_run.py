"""One execution (or resumption) of one signal: what the pipeline's steps share."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tradeexec.exchanges.interface import ExchangeTrader
from tradeexec.execution.recording import SignalRef
from tradeexec.execution.report import ExecutionReport
from tradeexec.execution.signals import Signal


@dataclass
class SignalRun:
    """One execution (or resumption) of one signal."""

    signal: Signal
    rec: SignalRef  # its id, or its record, due in the run's first commit
    trader: ExchangeTrader
    symbol: str
    resumed: bool
    report: ExecutionReport
    position: Decimal = Decimal(0)  # the signed position before this signal (its plan's)
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    #: the legs' intents recorded with the entry's, sized as planned: role -> (id, size)
    legs_recorded: dict[str, tuple[int, Decimal]] = field(default_factory=dict)

    @property
    def signal_id(self) -> int:
        return self.rec.id

    @property
    def filled_any(self) -> bool:
        return any(o.filled_quantity > 0 for o in self.report.orders.values())


__all__ = ["SignalRun"]
