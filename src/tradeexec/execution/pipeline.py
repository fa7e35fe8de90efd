"""Signal -> gate -> size -> risk -> entry -> TP/SL -> record. One path for every surface.

Write before you act: the signal, the risk decision and each order intent are committed to
the store before anything is sent; acknowledgements, fills and positions after. The
idempotency key is unique in the store and every exchange client order id is derived from
it, so a re-delivered signal finds its first record and sends nothing.

Every signal moves through the lifecycle of `signal_state` and ends in a terminal status with
a reason. One interrupted by a crash is *resumed* by the same code (`resume`): the approved
decision's plan is stored with it, so the same orders are rebuilt with the same client ids;
an order already recorded is looked up by its client id (never sent twice), one never
reached is sent, and nothing new is sent for a signal older than ``max_signal_age_s``.

Per account, signals are executed one at a time (an asyncio lock), so risk checks that look
at positions and order rates see the effects of the previous signal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from tradeexec import errors
from tradeexec.domain import Order, OrderRequest, OrderRole, OrderSide, TradingState
from tradeexec.exchanges.factory import ExchangeManager
from tradeexec.exchanges.interface import ExchangeTrader
from tradeexec.execution import leg_intents, protection
from tradeexec.execution.account_state import AccountStates, Mover
from tradeexec.execution.brackets import BracketLeg
from tradeexec.execution.failover import Failover, raise_failover
from tradeexec.execution.intake import Accepted, SignalIntake
from tradeexec.execution.journal import IntentStep, order_from_record
from tradeexec.execution.leverage import LeverageOnce
from tradeexec.execution.planning import EntryPlan, StoredPlan, plan_entries
from tradeexec.execution.protect_step import ProtectStep
from tradeexec.execution.recording import SignalRef, Steps
from tradeexec.execution.report import ExecutionReport
from tradeexec.execution.riskgate import Decision, RiskGate
from tradeexec.execution.signal_run import SignalRun
from tradeexec.execution.signals import Signal
from tradeexec.signal_state import SignalStatus
from tradeexec.store.leases import StaleLease
from tradeexec.store.repository import Store

log = logging.getLogger(__name__)

ST = SignalStatus


class Pipeline(ProtectStep, SignalIntake):
    #: pauses between attempts to flatten a position whose stop was refused (then: HALTED)
    retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0)

    def __init__(self, manager: ExchangeManager, store: Store, gate: RiskGate) -> None:
        super().__init__(store, manager)
        self.gate = gate
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._locks: dict[str, asyncio.Lock] = {}
        self.leverage = LeverageOnce(manager)
        self.states = AccountStates(self)

    def lock(self, account: str) -> asyncio.Lock:
        """One signal (or reconciliation) at a time per account."""
        return self._locks.setdefault(account, asyncio.Lock())

    async def _run_locked(
        self, signal: Signal, signal_id: int | SignalRef, *, resumed: bool
    ) -> ExecutionReport:
        assert signal.account is not None
        rec = signal_id if isinstance(signal_id, SignalRef) else SignalRef(signal_id)
        async with self.lock(signal.account):
            if resumed:  # it may have ended while we waited for the lock
                signal_id = rec.id
                current = await self.records.get_signal(signal_id)
                assert current is not None
                if SignalStatus(current.status).is_terminal:
                    orders = await self.records.orders_for_signal(signal_id)
                    return ExecutionReport.duplicate(signal, current, orders).as_original()
                if current.status == ST.RECEIVED and self._too_old(signal):
                    return await self._expire(signal, signal_id, current.status)
            try:
                return await self._run(signal, rec, resumed)
            except Failover as failover:
                moved = failover
        return await self._fail_over(signal, rec, resumed, moved)

    def _failover_target(self, signal: Signal, exc: errors.TradeExecError) -> None:
        """Raise `Failover` when the signal's account names a fallback and ``exc`` says the
        venue could not be reached (nothing was sent: connect or the pre-trade reads)."""
        account = self.manager.config.accounts.get(signal.account or "")
        raise_failover(account.fallback if account else None, exc)

    async def _fail_over(
        self, signal: Signal, rec: SignalRef, resumed: bool, failover: Failover
    ) -> ExecutionReport:
        """Execute on the fallback account, with its own risk checks and symbols; recorded."""
        cause = failover.cause
        await self._write_for(
            rec,
            lambda signal_id: [
                partial(self.store.set_signal_account, signal_id, failover.fallback),
                partial(
                    self.store.append_event,
                    "signal_failover",
                    signal.account,
                    {"to": failover.fallback, "reason": cause.code, "error": str(cause)},
                    signal_id=signal_id,
                ),
            ],
        )
        moved = replace(signal, account=failover.fallback)
        async with self.lock(failover.fallback):
            report = await self._run(moved, rec, resumed, may_fail_over=False)
        return report.with_warning(
            f"executed on {failover.fallback}: {signal.account} was unreachable ({cause.code})"
        )

    def _too_old(self, signal: Signal) -> bool:
        assert signal.account is not None
        limit = self.gate.risk_config(signal.account).max_signal_age_s
        return (self.now() - signal.created_at).total_seconds() > limit

    async def _expire(self, signal: Signal, signal_id: int, current: str) -> ExecutionReport:
        reason = "interrupted: not decided before a restart, and now too old to decide"
        await self.set_status(signal_id, ST.EXPIRED, "interrupted")
        await self.event("signal_expired", signal.account, signal_id, reason="interrupted")
        return ExecutionReport.ended(signal, signal_id, ST.EXPIRED, "interrupted", reason)

    async def _write_for(self, rec: SignalRef, steps: Steps, *, durable: bool = True) -> list[Any]:
        """One commit of ``steps`` for the signal, recording it first if it is not yet
        (`recording`: raises `AlreadyRecorded`, having written nothing, if its key was). A
        replica whose lease moved on has its intents refused (`StaleLease`): the signal is
        still recorded, alone, for the account's owner to execute."""
        try:
            return rec.settle(await self.write(*rec.batch(steps), durable=durable))
        except StaleLease:
            if rec.pending:
                rec.settle(await self.write(*rec.batch(lambda _signal_id: [])))
            raise

    async def _run(
        self, signal: Signal, rec: SignalRef, resumed: bool, *, may_fail_over: bool = True
    ) -> ExecutionReport:
        run: SignalRun | None = None
        try:
            try:
                trader = await self.manager.get(signal.account)
            except errors.TradeExecError as exc:
                if may_fail_over:
                    self._failover_target(signal, exc)
                raise
            run = SignalRun(
                signal,
                rec,
                trader,
                trader.resolve_symbol(signal.symbol),
                resumed,
                ExecutionReport.begun(signal, rec.signal_id),
            )
            return await self._execute(run, may_fail_over)
        except errors.OrderOutcomeUnknown as exc:
            # it may exist on the venue: the signal stays `executing`; the reconcile loop (or a
            # re-delivery) resolves it by client id, never by sending it again
            reason = f"order_outcome_unknown: {exc.client_order_id or ''}".strip()
            signal_id = rec.id  # an order was sent: its signal's record was committed first
            await self.set_status(signal_id, ST.EXECUTING, reason)
            await self.event("signal_in_progress", signal.account, signal_id, error=exc.to_dict())
            self._follow_up(signal_id)
            report = run.report if run is not None else ExecutionReport.begun(signal, signal_id)
            return report.in_progress(exc)
        except errors.TradeExecError as exc:
            partly = run is not None and run.filled_any
            status = ST.PARTIALLY_DONE if partly else ST.FAILED
            # nothing filled, so no leg was sent: legs recorded with the entry never will be
            unsent = [] if run is None or partly else self._unsent(run, exc.code)
            why, error = f"{exc.code}: {exc}", {"error": exc.to_dict(), "status": status.value}
            await self._write_for(
                rec,
                lambda signal_id: [
                    self.status_step(signal_id, status, why),
                    *unsent,
                    partial(
                        self.store.append_event,
                        "signal_failed",
                        signal.account,
                        error,
                        signal_id=signal_id,
                    ),
                ],
            )
            report = run.report if run is not None else ExecutionReport.begun(signal, rec.id)
            return replace(report, signal_id=rec.id).failed(exc, status)

    async def _execute(self, run: SignalRun, may_fail_over: bool = False) -> ExecutionReport:
        signal = run.signal
        plan = await self.stored_plan(run.signal_id) if run.resumed else None
        first_id: int | None = None
        if plan is None:
            try:
                decided = await self._decide(run)
            except errors.TradeExecError as exc:  # the reads before anything is sent
                if may_fail_over:
                    self._failover_target(signal, exc)
                raise
            if decided is None:
                return run.report
            plans, first_id = decided
        else:
            run.position, run.stop_loss, run.take_profit = plan.position, plan.stop, plan.target
            run.report = run.report.with_quantity(plan.quantity)
            plans = plan_entries(signal, run.symbol, plan.quantity, run.position, plan.closing)
            if not plans:
                await self.set_status(
                    run.signal_id, ST.NOOP, "nothing to do: already at the target"
                )
                return run.report
        requests = [
            (p.role, replace(p.request, client_order_id=self._cid(run.trader, signal, p.role)))
            for p in plans
        ]
        await self.leverage.apply(run.trader, run.symbol, signal.leverage)
        order_id = first_id  # the fresh path records each intent in the commit before it
        for index, (role, request) in enumerate(requests):
            sent = await self._order_step(run, role, request, order_id)
            if sent is None:  # not sent on resume: too old, or the account was halted since
                return await self._end_unsent(run, role)
            order, order_id, fresh = sent
            run.report = run.report.with_order(role, order)
            # refused, or ended with nothing filled (IOC expired / cancelled): stop here
            stop_here = run.report.status == "rejected"
            last = stop_here or index + 1 == len(requests)
            legs = self._legs(run, order) if last and not stop_here and plans[-1].opens else []
            # in the same commit as this answer: the next intent, or the legs' intents, or
            # the signal's end (on resume each order is looked up or recorded on its own)
            then: list[Callable[[], Any]] = []
            carried: list[Callable[[], Any]] = []  # the entry's answer, in the legs' commit
            if legs and run.legs_recorded:  # recorded with the entry's intent (`leg_intents`)
                then = leg_intents.resize_steps(self, run.legs_recorded, legs)
                if not then:  # sent as recorded: nothing to commit before sending them
                    carried = [self.ack_step(order_id, order, "acknowledged")]
            elif not last and not run.resumed:
                next_role, next_request = requests[index + 1]
                then = [
                    self.intent_step(run.trader.account, next_request, next_role, run.signal_id)
                ]
            elif legs and not run.resumed:
                then = [self.intent_step(run.trader.account, leg.request, leg.role, run.signal_id)
                        for leg in legs]  # fmt: skip
            elif last and not legs:
                then = [self._final_status_step(run), *self._unsent(run, "nothing filled")]
            if carried:
                results: list[Any] = [run.legs_recorded[leg.role][0] for leg in legs]
            else:
                results = await self._record_step(order_id, order, fresh, then)
            if role == OrderRole.CLOSE and order.filled_quantity > 0 and fresh:
                # only when its answer is new: a close recorded before a restart was fitted
                # for then, and the position it started from may be another one by now
                await self._after_close(run, order)
            if not last:
                order_id = results[0] if results else None
                continue
            if not legs:
                return run.report
            return await self._protect(run, order, legs, results or [None] * len(legs), carried)
        raise AssertionError("unreachable: the loop returns on its last order")

    async def _decide(self, run: SignalRun) -> tuple[list[EntryPlan], int] | None:
        """Decide and record (with the signal's record, if it is due: `recording`); returns
        the plan and the first intent's id (None: ended)."""
        signal, trader = run.signal, run.trader
        decision = await self.gate.decide(trader, signal, run.symbol)
        # the legs' prices as the decision rounded them onto the venue's grid
        run.stop_loss, run.take_profit = decision.stop_loss, decision.take_profit
        plan_record = StoredPlan(
            decision.quantity, decision.position, decision.closing, run.stop_loss, run.take_profit
        ).to_record()

        def decided(signal_id: int, *then: Callable[[], Any]) -> list[Callable[[], Any]]:
            return [
                partial(
                    self.store.record_decision,
                    signal_id,
                    decision.approved,
                    decision.reason_code,
                    decision.detail,
                    decision.sizing,
                    plan=plan_record if decision.approved else None,
                ),
                *then,
            ]

        if not decision.approved:
            reason = decision.reason_code or "rejected"

            def refused(sid: int) -> list[Callable[[], Any]]:
                steps = decided(sid, self.status_step(sid, ST.REJECTED, reason))
                if decision.halt_account:  # a loss limit: the account stops here
                    steps.append(
                        self.states.step(
                            trader.account, TradingState.HALTED, Mover.RISK, decision.detail, sid
                        )
                    )
                return steps

            await self._write_for(run.rec, refused)
            run.report = ExecutionReport.rejected(signal, run.signal_id, decision)
            return None
        plans = plan_entries(
            signal, run.symbol, decision.quantity, decision.position, decision.closing
        )
        run.position = decision.position
        if not plans:
            noop = decision.detail or "noop"
            await self._write_for(
                run.rec, lambda sid: decided(sid, self.status_step(sid, ST.NOOP, noop))
            )
            run.report = self._started(run, decision)
            return None
        first = plans[0]
        request = replace(first.request, client_order_id=self._cid(trader, signal, first.role))
        legs = leg_intents.provisional_legs(
            plans,
            request,
            stop_loss=run.stop_loss,
            take_profit=run.take_profit,
            client_id=lambda role: self._cid(trader, signal, role),
        )
        # write before you act: the decision, the status, the entry's intent and its legs'
        # (sized as planned), in one commit
        _, _, order_id, *leg_ids = await self._write_for(
            run.rec,
            lambda sid: decided(
                sid,
                self.status_step(sid, ST.EXECUTING, "sending"),
                self.intent_step(trader.account, request, first.role, sid),
                *(self.intent_step(trader.account, leg.request, leg.role, sid) for leg in legs),
            ),
        )
        run.legs_recorded = {
            leg.role: (int(leg_id), leg.request.quantity)
            for leg, leg_id in zip(legs, leg_ids, strict=True)
        }
        run.report = self._started(run, decision)
        return plans, int(order_id)

    def _started(self, run: SignalRun, decision: Decision) -> ExecutionReport:
        report = ExecutionReport.started(run.signal, run.signal_id, decision)
        capped = (decision.sizing or {}).get("capped_by") or []
        if capped:  # only mode-derived sizes are capped; say so rather than shrink quietly
            report = report.with_warning(f"size {decision.quantity} capped by {', '.join(capped)}")
        for warning in decision.warnings:
            report = report.with_warning(warning)
        return report

    # ------------------------------------------------------------- one order
    async def _order_step(
        self,
        run: SignalRun,
        role: str,
        request: OrderRequest,
        order_id: int | None,
        *,
        protective: bool = False,
    ) -> tuple[Order, int, bool] | None:
        """Send one planned order: (answer, its store id, whether its answer is unrecorded).

        On the fresh path the intent is already recorded (``order_id``). On resume the order
        is looked up by its client id (`ensure`); one never reached is sent only while the
        signal is young enough and the account allows it - unless it is ``protective`` (a
        stop or target for what already filled), which is always sent."""
        if order_id is not None:
            return await self.send(run.trader, request, order_id, run.signal_id), order_id, True

        async def may_send() -> bool:
            return protective or await self._may_send(run, request)

        return await self.ensure(run.trader, request, role, run.signal_id, may_send=may_send)

    async def _may_send(self, run: SignalRun, request: OrderRequest) -> bool:
        """On resume: nothing new for a signal past its age limit, nor into a halted account
        (a reducing one still takes reduce-only orders)."""
        if self._too_old(run.signal):
            return False
        state, _ = await self.records.get_trading_state(run.trader.account)
        state = TradingState(state)
        if state is TradingState.HALTED:
            return False
        return state is TradingState.ACTIVE or request.reduce_only

    async def _end_unsent(self, run: SignalRun, role: str) -> ExecutionReport:
        if run.filled_any:
            status, reason = ST.PARTIALLY_DONE, f"interrupted: the {role} order was not sent"
        else:
            status, reason = ST.EXPIRED, "interrupted"
        await self.set_status(run.signal_id, status, reason if run.filled_any else "interrupted")
        await self.event("signal_ended_unsent", run.trader.account, run.signal_id, role=role)
        return run.report.ended_as(status, "interrupted", reason)

    async def _record_step(
        self, order_id: int, order: Order, fresh: bool, then: list[Callable[[], Any]]
    ) -> list[Any]:
        """The answer and ``then`` in one commit: synced to the disk when ``then`` records an
        intent about to be sent (write before you act), relaxed otherwise."""
        if fresh:
            return await self.record_order(order_id, order, "acknowledged", *then)
        if not then:
            return []
        return await self.write(*then, durable=any(isinstance(s, IntentStep) for s in then))

    def _unsent(self, run: SignalRun, why: str) -> list[Callable[[], Any]]:
        """End the legs recorded with an entry that filled nothing: never sent."""
        recorded, run.legs_recorded = run.legs_recorded, {}
        return leg_intents.unsent_steps(self, recorded, f"not sent: the entry: {why}")

    def _final_status_step(self, run: SignalRun) -> Callable[[], Any]:
        """The signal's end, from the report (which says what the venue answered)."""
        if run.report.status == "rejected" and run.filled_any:
            # a flip's close filled and its opening order did not: half done, and said so
            run.report = run.report.partly("the opening order ended with nothing filled")
        status = SignalStatus(run.report.status)
        return self.status_step(run.signal_id, status, run.report.reason or status.value)

    async def _after_close(self, run: SignalRun, close: Order) -> None:
        """A close filled (its answer is recorded): the resting legs of earlier signals now
        protect a smaller position, or none. Best-effort: a failure is an event, and the
        reconciler finishes the job; it never undoes what the close did."""
        remaining = protection.left_after_close(run.position, close)
        await protection.fit_resting_legs(self, run.trader, run.symbol, run.signal_id, remaining)

    def _cid(self, trader: ExchangeTrader, signal: Signal, role: str) -> str:
        return self.client_id(trader, signal.idempotency_key, role)

    # --------------------------------------------------------------- brackets
    def _legs(self, run: SignalRun, entry: Order) -> list[BracketLeg]:
        return leg_intents.filled_legs(
            entry, run.stop_loss, run.take_profit, lambda r: self._cid(run.trader, run.signal, r)
        )


__all__ = [
    "Accepted",
    "ExecutionReport",
    "OrderSide",
    "Pipeline",
    "order_from_record",
]
