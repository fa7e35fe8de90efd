"""Signal -> gate -> size -> risk -> entry -> TP/SL -> record. One path for every surface.

Write before you act: the signal, the risk decision and each order intent are committed to
the store before anything is sent; acknowledgements, fills and positions after. The
idempotency key is unique in the store and every exchange client order id is derived from
it, so a re-delivered signal finds its first record and sends nothing.

Per account, signals are executed one at a time (an asyncio lock), so risk checks that look
at positions and order rates see the effects of the previous signal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from tradeexec import errors
from tradeexec.domain import Order, OrderRequest, OrderSide, OrderStatus, Position, TradingState
from tradeexec.exchanges.factory import ExchangeManager
from tradeexec.exchanges.interface import ExchangeTrader
from tradeexec.execution import brackets
from tradeexec.execution.brackets import BracketLeg
from tradeexec.execution.ids import derive_client_order_id
from tradeexec.execution.planning import plan_entries
from tradeexec.execution.report import ExecutionReport
from tradeexec.execution.riskgate import RiskGate
from tradeexec.execution.signals import Signal
from tradeexec.store.records import OrderRecord
from tradeexec.store.repository import Store

log = logging.getLogger(__name__)


@dataclass
class Pipeline:
    manager: ExchangeManager
    store: Store
    gate: RiskGate
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _leverage_applied: set[tuple[str, str, int, str | None]] = field(default_factory=set)

    async def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Store calls are synchronous SQLAlchemy; run them off the event loop."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    def lock(self, account: str) -> asyncio.Lock:
        """One signal (or reconciliation) at a time per account."""
        return self._locks.setdefault(account, asyncio.Lock())

    # ------------------------------------------------------------------ entry
    async def execute(self, signal: Signal) -> ExecutionReport:
        account = signal.account or self.manager.default_name()
        signal = replace(signal, account=account) if signal.account is None else signal
        signal_id, created = await self.db(
            self.store.record_signal,
            idempotency_key=signal.idempotency_key,
            account=account,
            symbol=signal.symbol,
            source=signal.source.value,
            payload=signal.to_record(),
            confidence=signal.confidence,
        )
        if not created:
            return await self._duplicate(signal, signal_id)
        async with self.lock(account):
            try:
                return await self._execute(signal, signal_id, account)
            except errors.TradeExecError as exc:
                await self.db(self.store.set_signal_status, signal_id, "failed")
                await self.event("signal_failed", account, signal_id, error=exc.to_dict())
                return ExecutionReport.failure(signal, signal_id, exc)

    async def _duplicate(self, signal: Signal, signal_id: int) -> ExecutionReport:
        orders = await self.db(self.store.orders_for_signal, signal_id)
        entry = next((o for o in orders if o.role in ("entry", "close")), None)
        first = await self.db(self.store.get_signal, signal_id)
        await self.event(
            "signal_duplicate", signal.account, signal_id, idempotency_key=signal.idempotency_key
        )
        return ExecutionReport.duplicate(signal, signal_id, entry, first.status if first else None)

    async def event(
        self,
        kind: str,
        account: str | None,
        signal_id: int | None = None,
        order_id: int | None = None,
        **data: Any,
    ) -> None:
        await self.db(
            self.store.append_event, kind, account, data, signal_id=signal_id, order_id=order_id
        )

    async def _execute(self, signal: Signal, signal_id: int, account: str) -> ExecutionReport:
        trader = await self.manager.get(account)
        symbol = trader.resolve_symbol(signal.symbol)
        decision = await self.gate.decide(trader, signal, symbol)
        decided = partial(
            self.store.record_decision,
            signal_id,
            decision.approved,
            decision.reason_code,
            decision.detail,
            decision.sizing,
        )
        if not decision.approved:
            steps: list[Callable[[], Any]] = [decided, self._status_step(signal_id, "rejected")]
            if decision.halt_account:
                steps += [
                    partial(
                        self.store.set_trading_state,
                        account,
                        TradingState.HALTED.value,
                        decision.detail,
                    ),
                    partial(
                        self.store.append_event,
                        "account_halted",
                        account,
                        {"reason": decision.detail},
                        signal_id=signal_id,
                    ),
                ]
            await self.write(*steps)
            return ExecutionReport.rejected(signal, signal_id, decision)

        plans = plan_entries(signal, symbol, decision.quantity, decision.position)
        report = ExecutionReport.started(signal, signal_id, decision)
        capped = (decision.sizing or {}).get("capped_by") or []
        if capped:  # only mode-derived sizes are capped; say so rather than shrink quietly
            report = report.with_warning(f"size {decision.quantity} capped by {', '.join(capped)}")
        if not plans:
            await self.write(decided, self._status_step(signal_id, report.status))
            return report
        requests = [
            (p.role, replace(p.request, client_order_id=self._cid(trader, signal, p.role)))
            for p in plans
        ]
        # write before you act: the decision and the first order's intent, in one commit
        _, order_id = await self.write(
            decided, self._intent_step(account, requests[0][1], requests[0][0], signal_id)
        )
        await self._apply_leverage(trader, symbol, signal.leverage)
        for index, (role, request) in enumerate(requests):
            order = await self.send(trader, request, order_id, signal_id)
            report = report.with_order(role, order)
            if role == "close" and order.status is OrderStatus.FILLED:
                # the position these legs protected is gone (closed, or flipped next)
                await self._cancel_stale_legs(trader, symbol, signal_id)
            # refused, or ended with nothing filled (IOC expired / cancelled): stop here
            stop_here = order.status is OrderStatus.UNKNOWN or report.status == "rejected"
            if not stop_here and index + 1 < len(requests):
                next_role, next_request = requests[index + 1]
                (order_id,) = await self.record_order(
                    order_id,
                    order,
                    "acknowledged",
                    self._intent_step(account, next_request, next_role, signal_id),
                )
                continue
            legs = [] if stop_here or not plans[-1].opens else self._legs(trader, signal, order)
            if not legs:
                await self.record_order(
                    order_id, order, "acknowledged", self._status_step(signal_id, report.status)
                )
                return report
            # the entry's acknowledgement and both legs' intents, in one commit
            leg_ids = await self.record_order(
                order_id,
                order,
                "acknowledged",
                *(self._intent_step(account, leg.request, leg.role, signal_id) for leg in legs),
            )
            return await self._protect(trader, signal_id, symbol, order, legs, leg_ids, report)
        raise AssertionError("unreachable: the loop returns on its last order")

    async def _apply_leverage(
        self, trader: ExchangeTrader, symbol: str, requested: int | None
    ) -> None:
        """The signal's leverage, else the account's configured one (with its margin mode),
        set once per symbol and value: the venue keeps it, so it is not re-sent each order."""
        account_cfg = self.manager.config.accounts.get(trader.account)
        leverage = requested or (account_cfg.leverage if account_cfg else None)
        if leverage is None:
            return
        mode = account_cfg.margin_mode if account_cfg else None
        key = (trader.account, symbol, leverage, mode.value if mode else None)
        if key not in self._leverage_applied:
            await trader.set_leverage(symbol, leverage, mode)
            self._leverage_applied.add(key)

    # ---------------------------------------------------------------- orders
    def client_id(self, trader: ExchangeTrader, idempotency_key: str, role: str) -> str:
        return derive_client_order_id(idempotency_key, role, trader.capabilities.client_id_format)

    def _cid(self, trader: ExchangeTrader, signal: Signal, role: str) -> str:
        return self.client_id(trader, signal.idempotency_key, role)

    async def write(self, *steps: Callable[[], Any]) -> list[Any]:
        """Run store writes as ONE transaction (one commit), off the event loop."""

        def run() -> list[Any]:
            with self.store.batch():
                return [step() for step in steps]

        return await asyncio.to_thread(run)

    def _status_step(self, signal_id: int, status: str) -> Callable[[], Any]:
        return partial(self.store.set_signal_status, signal_id, status)

    def _intent_step(
        self, account: str, request: OrderRequest, role: str, signal_id: int | None
    ) -> Callable[[], int]:
        assert request.client_order_id is not None
        return partial(
            self.store.record_order_intent,
            account=account,
            symbol=request.symbol,
            client_order_id=request.client_order_id,
            role=role,
            side=request.side.value,
            order_type=request.type.value,
            quantity=request.quantity,
            signal_id=signal_id,
            price=request.price,
            trigger_price=request.trigger_price,
            reduce_only=request.reduce_only,
            status=OrderStatus.PENDING_SUBMIT.value,
        )

    def _ack_step(self, order_id: int, order: Order, event: str) -> Callable[[], Any]:
        return partial(
            self.store.update_order,
            order_id,
            status=order.status.value,
            exchange_order_id=order.id,
            filled_quantity=order.filled_quantity,
            average_price=order.average_price,
            event=event,
        )

    async def record_intent(
        self, account: str, request: OrderRequest, role: str, signal_id: int | None
    ) -> int:
        """Write before you act: the order as we are about to send it."""
        (order_id,) = await self.write(self._intent_step(account, request, role, signal_id))
        return int(order_id)

    async def record_order(
        self, order_id: int, order: Order, event: str, *then: Callable[[], Any]
    ) -> list[Any]:
        """Record what the venue answered for an order, plus ``then`` steps in the same
        commit (the next order's intent, the signal's status); returns their results."""
        results = await self.write(self._ack_step(order_id, order, event), *then)
        return results[1:]

    async def send(
        self, trader: ExchangeTrader, request: OrderRequest, order_id: int, signal_id: int | None
    ) -> Order:
        """Send a recorded intent. A refusal or an unknown outcome is recorded, then raised."""
        try:
            return await trader.create_order(request)
        except errors.OrderOutcomeUnknown as exc:
            await self._record_failure(
                trader.account,
                order_id,
                signal_id,
                OrderStatus.UNKNOWN,
                exc,
                event="timed_out",
                kind="order_outcome_unknown",
                data={"client_order_id": request.client_order_id},
            )
            raise
        except errors.ExchangeError as exc:
            await self._record_failure(
                trader.account,
                order_id,
                signal_id,
                OrderStatus.REJECTED,
                exc,
                event="rejected",
                kind="order_rejected",
                data={"error": exc.to_dict()},
            )
            raise

    async def _record_failure(
        self,
        account: str,
        order_id: int,
        signal_id: int | None,
        status: OrderStatus,
        exc: errors.ExchangeError,
        *,
        event: str,
        kind: str,
        data: dict[str, Any],
    ) -> None:
        await self.write(
            partial(
                self.store.update_order, order_id, status=status.value, event=event, detail=str(exc)
            ),
            partial(
                self.store.append_event, kind, account, data, signal_id=signal_id, order_id=order_id
            ),
        )

    async def place(
        self, trader: ExchangeTrader, request: OrderRequest, role: str, signal_id: int | None
    ) -> Order:
        """Record the intent, send, record the outcome (one order on its own)."""
        order_id = await self.record_intent(trader.account, request, role, signal_id)
        order = await self.send(trader, request, order_id, signal_id)
        await self.record_order(order_id, order, "acknowledged")
        return order

    # --------------------------------------------------------------- brackets
    async def _cancel_stale_legs(self, trader: ExchangeTrader, symbol: str, signal_id: int) -> None:
        """Cancel the resting stop / target legs of earlier signals on ``symbol``.

        Called once a close has filled: left alone, they would rest until the next
        reconciliation (a reduce-only leg cannot open a position, but it clutters the book
        and counts against the venue's stop-order limit). A leg already gone is settled from
        the venue's answer (filled or cancelled), once.
        """
        open_statuses = [OrderStatus.SUBMITTED.value, OrderStatus.PARTIALLY_FILLED.value]
        records = await self.db(self.store.list_orders, trader.account, open_statuses, 200)
        for record in records:
            if (
                record.symbol != symbol
                or record.role not in brackets.BRACKET_ROLES
                or record.signal_id == signal_id
            ):
                continue
            cancelled = await brackets.cancel_quietly(
                trader, symbol, record.exchange_order_id, record.client_order_id
            )
            if cancelled is None:
                # already gone (fired, or cancelled around us): settle it once, as the
                # reconciler would, so no later close tries to cancel it again
                await self._settle_gone_leg(trader, record)
                continue
            await self.record_order(
                record.id,
                cancelled,
                "canceled",
                partial(
                    self.store.append_event,
                    "stale_leg_cancelled",
                    trader.account,
                    {"client_order_id": record.client_order_id},
                    signal_id=signal_id,
                    order_id=record.id,
                ),
            )

    async def _settle_gone_leg(self, trader: ExchangeTrader, record: OrderRecord) -> None:
        from tradeexec.execution.reconcile import Reconciler, ReconcileReport

        try:
            order: Order | None = await trader.fetch_order(
                record.symbol, record.exchange_order_id, record.client_order_id
            )
        except errors.OrderNotFound:
            order = None
        await Reconciler(self).apply(trader, record, order, ReconcileReport(trader.account))

    def _legs(self, trader: ExchangeTrader, signal: Signal, entry: Order) -> list[BracketLeg]:
        quantity = entry.filled_quantity if entry.filled_quantity > 0 else entry.quantity
        return brackets.bracket_legs(
            entry.symbol,
            entry.side,
            quantity,
            stop_loss=signal.stop_loss,
            take_profit=signal.take_profit,
            client_id=lambda role: self._cid(trader, signal, role),
        )

    async def _protect(
        self,
        trader: ExchangeTrader,
        signal_id: int,
        symbol: str,
        entry: Order,
        legs: list[BracketLeg],
        leg_ids: list[Any],
        report: ExecutionReport,
    ) -> ExecutionReport:
        """Send the stop and the target together; record both answers and the outcome."""
        outcomes = await asyncio.gather(
            *(
                self.send(trader, leg.request, oid, signal_id)
                for leg, oid in zip(legs, leg_ids, strict=True)
            ),
            return_exceptions=True,
        )
        acks: list[Callable[[], Any]] = []
        stop_error: errors.ExchangeError | None = None
        for leg, oid, outcome in zip(legs, leg_ids, outcomes, strict=True):
            if isinstance(outcome, errors.ExchangeError):
                if leg.role == brackets.ROLE_STOP:
                    stop_error = outcome
                else:
                    report = report.with_warning(f"take-profit not placed: {outcome}")
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            acks.append(self._ack_step(oid, outcome, "acknowledged"))
            report = report.with_order(leg.role, outcome)
        if stop_error is None:
            await self.write(*acks, self._status_step(signal_id, report.status))
            return report
        if acks:
            await self.write(*acks)
        report = await self._stop_failed(trader, signal_id, symbol, entry, report, stop_error)
        await self.write(self._status_step(signal_id, report.status))
        return report

    async def _stop_failed(
        self,
        trader: ExchangeTrader,
        signal_id: int,
        symbol: str,
        entry: Order,
        report: ExecutionReport,
        exc: errors.ExchangeError,
    ) -> ExecutionReport:
        """The entry is on, its stop is not: flatten now (default) or keep and say so."""
        policy = self.gate.risk_config(trader.account).on_stop_failure
        await self.event(
            "stop_loss_failed", trader.account, signal_id, error=exc.to_dict(), policy=policy
        )
        if policy != "flatten":
            return report.with_warning(f"stop-loss not placed ({exc}); position kept as configured")
        request = brackets.flatten_request(
            await trader.fetch_positions([symbol]),
            symbol,
            self.client_id(trader, report.idempotency_key, "flatten"),
        )
        if request is not None:
            # stored as a close (the store's roles); its client id still says "flatten"
            order = await self.place(trader, request, "close", signal_id)
            report = report.with_order("flatten", order)
        target = report.orders.get(brackets.ROLE_TAKE)
        if target is not None:  # placed alongside the failed stop: nothing left to take profit on
            await brackets.cancel_quietly(trader, symbol, target.id, target.client_order_id)
        await self.event(
            "position_flattened",
            trader.account,
            signal_id,
            reason="stop_loss_failed",
            entry_order_id=entry.id,
        )
        return report.flattened(exc)


def position_for(positions: list[Position], symbol: str) -> Decimal:
    return sum((p.quantity for p in positions if p.symbol == symbol), Decimal(0))


__all__ = ["ExecutionReport", "OrderSide", "Pipeline", "position_for"]
