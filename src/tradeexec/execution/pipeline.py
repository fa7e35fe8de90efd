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
from typing import Any

from tradeexec import errors
from tradeexec.domain import Order, OrderRequest, OrderSide, OrderStatus, Position, TradingState
from tradeexec.exchanges.factory import ExchangeManager
from tradeexec.exchanges.interface import ExchangeTrader
from tradeexec.execution import brackets
from tradeexec.execution.ids import derive_client_order_id
from tradeexec.execution.planning import EntryPlan, plan_entries
from tradeexec.execution.report import ExecutionReport
from tradeexec.execution.riskgate import RiskGate
from tradeexec.execution.signals import Signal
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
        await self.db(
            self.store.record_decision,
            signal_id,
            decision.approved,
            decision.reason_code,
            decision.detail,
            decision.sizing,
        )
        if not decision.approved:
            await self.db(self.store.set_signal_status, signal_id, "rejected")
            if decision.halt_account:
                await self.db(
                    self.store.set_trading_state,
                    account,
                    TradingState.HALTED.value,
                    decision.detail,
                )
                await self.event("account_halted", account, signal_id, reason=decision.detail)
            return ExecutionReport.rejected(signal, signal_id, decision)

        await self._apply_leverage(trader, symbol, signal.leverage)
        plans = plan_entries(signal, symbol, decision.quantity, decision.position)
        report = ExecutionReport.started(signal, signal_id, decision)
        for plan in plans:
            order = await self._submit(trader, signal, signal_id, plan)
            report = report.with_order(plan.role, order)
            # refused, or ended with nothing filled (IOC expired / cancelled): stop here
            if order is None or order.status is OrderStatus.UNKNOWN or report.status == "rejected":
                await self.db(self.store.set_signal_status, signal_id, report.status)
                return report
        entry = report.entry
        if entry is not None and plans and plans[-1].opens:
            report = await self._protect(trader, signal, signal_id, symbol, entry, report)
        await self.db(self.store.set_signal_status, signal_id, report.status)
        return report

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

    async def _submit(
        self, trader: ExchangeTrader, signal: Signal, signal_id: int, plan: EntryPlan
    ) -> Order | None:
        request = replace(
            plan.request, client_order_id=self.client_id(trader, signal.idempotency_key, plan.role)
        )
        return await self.place(trader, request, plan.role, signal_id)

    async def place(
        self, trader: ExchangeTrader, request: OrderRequest, role: str, signal_id: int | None
    ) -> Order | None:
        """Record the intent, send, record the outcome. Returns None when refused."""
        account = trader.account
        order_id = await self.record_intent(account, request, role, signal_id)
        try:
            order = await trader.create_order(request)
        except errors.OrderOutcomeUnknown as exc:
            await self.db(
                self.store.update_order,
                order_id,
                status=OrderStatus.UNKNOWN.value,
                event="timed_out",
                detail=str(exc),
            )
            await self.event(
                "order_outcome_unknown",
                account,
                signal_id,
                order_id,
                client_order_id=request.client_order_id,
            )
            raise
        except errors.ExchangeError as exc:
            await self.db(
                self.store.update_order,
                order_id,
                status=OrderStatus.REJECTED.value,
                event="rejected",
                detail=str(exc),
            )
            await self.event("order_rejected", account, signal_id, order_id, error=exc.to_dict())
            raise
        await self.record_order(order_id, order, event="acknowledged")
        return order

    async def record_intent(
        self, account: str, request: OrderRequest, role: str, signal_id: int | None
    ) -> int:
        """Write before you act: the order as we are about to send it."""
        assert request.client_order_id is not None
        order_id: int = await self.db(
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
        return order_id

    async def record_order(self, order_id: int, order: Order, event: str) -> None:
        await self.db(
            self.store.update_order,
            order_id,
            status=order.status.value,
            exchange_order_id=order.id,
            filled_quantity=order.filled_quantity,
            average_price=order.average_price,
            event=event,
        )

    # --------------------------------------------------------------- brackets
    async def _protect(
        self,
        trader: ExchangeTrader,
        signal: Signal,
        signal_id: int,
        symbol: str,
        entry: Order,
        report: ExecutionReport,
    ) -> ExecutionReport:
        quantity = entry.filled_quantity if entry.filled_quantity > 0 else entry.quantity
        legs = brackets.bracket_legs(
            symbol,
            entry.side,
            quantity,
            stop_loss=signal.stop_loss,
            take_profit=signal.take_profit,
            client_id=lambda role: self.client_id(trader, signal.idempotency_key, role),
        )
        for leg in legs:
            try:
                order = await self.place(trader, leg.request, leg.role, signal_id)
            except errors.ExchangeError as exc:
                if leg.role == brackets.ROLE_STOP:
                    return await self._stop_failed(trader, signal_id, symbol, entry, report, exc)
                report = report.with_warning(f"take-profit not placed: {exc}")
                continue
            report = report.with_order(leg.role, order)
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
