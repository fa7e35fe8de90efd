"""The last step of a bracketed signal: send its stop and target together, record their
answers (and the entry's, when it rode along: `leg_intents`) with the signal's end; a stop
the venue refuses is retried, then the position is flattened or kept (`protection`)."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from tradeexec import errors
from tradeexec.domain import Order, OrderRequest, OrderRole, OrderStatus
from tradeexec.execution import protection
from tradeexec.execution.brackets import BracketLeg
from tradeexec.execution.journal import Journal
from tradeexec.execution.report import ExecutionReport
from tradeexec.execution.riskgate import RiskGate
from tradeexec.execution.signal_run import SignalRun


class ProtectStep(Journal, ABC):
    """The pipeline's last step (a base of `Pipeline`)."""

    gate: RiskGate
    retry_delays: tuple[float, ...]  # `Pipeline.retry_delays`

    @abstractmethod
    async def _order_step(
        self,
        run: SignalRun,
        role: str,
        request: OrderRequest,
        order_id: int | None,
        *,
        protective: bool = False,
    ) -> tuple[Order, int, bool] | None:
        """Send one planned order (`Pipeline._order_step`)."""

    @abstractmethod
    def _final_status_step(self, run: SignalRun) -> Callable[[], Any]:
        """The signal's end, from the report."""

    async def _protect(
        self,
        run: SignalRun,
        entry: Order,
        legs: list[BracketLeg],
        leg_ids: list[Any],
        carried: list[Callable[[], Any]],
    ) -> ExecutionReport:
        """Send the stop and the target together; record both answers (after ``carried``:
        the entry's, when nothing had to be committed before the legs) and the outcome."""
        outcomes = await asyncio.gather(
            *(
                self._leg_step(run, leg, oid)
                for leg, oid in zip(legs, leg_ids or [None] * len(legs), strict=True)
            ),
            return_exceptions=True,
        )
        acks: list[Callable[[], Any]] = list(carried)
        stop_error: errors.ExchangeError | None = None
        for leg, outcome in zip(legs, outcomes, strict=True):
            if isinstance(outcome, errors.ExchangeError):
                if leg.role == OrderRole.STOP_LOSS:
                    stop_error = outcome
                else:
                    run.report = run.report.with_warning(f"take-profit not placed: {outcome}")
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            order, oid, fresh = outcome
            if fresh:
                acks.append(self.ack_step(oid, order, "acknowledged"))
            run.report = run.report.with_order(leg.role, order)
        if stop_error is None:  # relaxed: recovery rebuilds answers and the end by client id
            await self.write(*acks, self._final_status_step(run), durable=False)
            return run.report
        if acks:
            await self.write(*acks, durable=False)
        stop = next(leg for leg in legs if leg.role == OrderRole.STOP_LOSS)
        placed = await protection.retry_stop(
            self, run.trader, run.signal_id, run.signal.idempotency_key, stop.request,
            stop_error, self.retry_delays,
        )  # fmt: skip
        if isinstance(placed, Order):  # a passing refusal (429, 5xx): the stop rests now
            run.report = run.report.with_order(OrderRole.STOP_LOSS, placed)
            await self.write(self._final_status_step(run), durable=False)
            return run.report
        run.report = await protection.stop_failed(
            self,
            run.trader,
            run.signal_id,
            run.symbol,
            entry,
            run.report,
            placed,
            policy=self.gate.risk_config(run.trader.account).on_stop_failure,
            retry_delays=self.retry_delays,
        )
        await self.write(self._final_status_step(run))
        return run.report

    async def _leg_step(
        self, run: SignalRun, leg: BracketLeg, order_id: int | None
    ) -> tuple[Order, int, bool]:
        sent = await self._order_step(run, leg.role, leg.request, order_id, protective=True)
        assert sent is not None  # protective orders are always sent
        order, oid, fresh = sent
        if order.status in (OrderStatus.REJECTED, OrderStatus.CANCELED, OrderStatus.EXPIRED):
            # on resume: a leg that was refused, or never left; it does not rest
            raise errors.InvalidOrder(f"{leg.role} is not resting ({order.status.value})")
        return order, oid, fresh


__all__ = ["ProtectStep"]
