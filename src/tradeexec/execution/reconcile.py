"""Align the store with the exchange: at start-up, on request, and on an interval if set.

For each account, under the same per-account lock as the pipeline:
1. Orders in flight (pending submit, unknown, open, cancel pending) are looked up by client
   order id and moved through the order-state table to what the exchange reports. One the
   exchange has never seen is closed as not found; it is never resent. A live one it no
   longer knows (archived, a venue reset) is closed as canceled.
2. Fills of orders we hold are recorded (once per exchange trade id, with realised PnL).
3. Brackets: when a leg has filled or the position is gone, the other leg is cancelled; when
   an entry filled but its stop (or target) was never placed (a crash between the two), the
   missing leg is placed now with its deterministic client id.
4. Exchange orders we placed but did not record are adopted (recorded, role ``adopted``).
5. Positions are snapshotted; an open position without a resting stop that its signal asked
   for, or one the store knows nothing about, moves the account to REDUCING with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeexec import errors
from tradeexec.domain import Order, OrderSide, OrderStatus, Position, TradingState
from tradeexec.exchanges.interface import ExchangeTrader
from tradeexec.execution import brackets
from tradeexec.order_state import OrderEvent, apply_observation, transition
from tradeexec.store.records import OrderRecord

if TYPE_CHECKING:
    from tradeexec.execution.pipeline import Pipeline

log = logging.getLogger(__name__)

NEVER_SENT = "never_sent"
TERMINAL_UNFILLED = frozenset(
    {OrderStatus.REJECTED.value, OrderStatus.CANCELED.value, OrderStatus.EXPIRED.value}
)

IN_FLIGHT = (
    OrderStatus.PENDING_SUBMIT,
    OrderStatus.UNKNOWN,
    OrderStatus.SUBMITTED,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.CANCEL_PENDING,
)


@dataclass
class ReconcileReport:
    account: str
    resolved: list[str] = field(default_factory=list)
    fills_recorded: int = 0
    legs_cancelled: list[str] = field(default_factory=list)
    legs_placed: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Reconciler:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store

    async def run(self, account: str) -> ReconcileReport:
        report = ReconcileReport(account)
        trader = await self.pipeline.manager.get(account)
        async with self.pipeline.lock(account):
            await self._resolve_in_flight(trader, report)
            await self._record_missing_fills(trader, report)
            await self._settle_brackets(trader, report)
            await self._adopt_unknown_orders(trader, report)
            await self._check_positions(trader, report)
        if report.mismatches:
            reason = "; ".join(report.mismatches)
            state, _ = await self.pipeline.db(self.store.get_trading_state, account)
            if TradingState(state) is not TradingState.HALTED:  # never lift the kill switch
                await self.pipeline.db(
                    self.store.set_trading_state, account, TradingState.REDUCING.value, reason
                )
            await self.pipeline.event("reconcile_mismatch", account, reasons=report.mismatches)
        return report

    # ------------------------------------------------------------ 1 + 2
    async def _resolve_in_flight(self, trader: ExchangeTrader, report: ReconcileReport) -> None:
        records: list[OrderRecord] = await self.pipeline.db(
            self.store.orders_in_flight, trader.account, [s.value for s in IN_FLIGHT]
        )
        for record in records:
            try:
                order = await trader.fetch_order(
                    record.symbol, client_order_id=record.client_order_id
                )
            except errors.OrderNotFound:
                order = None
            await self.apply(trader, record, order, report)

    async def _record_missing_fills(self, trader: ExchangeTrader, report: ReconcileReport) -> None:
        """Orders filled on acknowledgement have no fills yet: fetch them here, off the order
        path (one trades request per symbol), once per exchange trade id."""
        records: list[OrderRecord] = await self.pipeline.db(
            self.store.list_orders,
            trader.account,
            [OrderStatus.FILLED.value, OrderStatus.PARTIALLY_FILLED.value],
            200,
        )
        for record in records:
            if record.exchange_order_id is None:
                continue
            if await self.pipeline.db(self.store.fills_for_order, record.id):
                continue
            report.fills_recorded += await self.record_fills(
                trader, record, record.exchange_order_id
            )

    async def apply(
        self,
        trader: ExchangeTrader,
        record: OrderRecord,
        order: Order | None,
        report: ReconcileReport,
    ) -> OrderStatus:
        """Move one stored order to what the exchange reports; record its fills."""
        current = OrderStatus(record.status)
        never_sent = order is None and current is OrderStatus.PENDING_SUBMIT
        if order is None:
            if current is OrderStatus.PENDING_SUBMIT:
                current = transition(current, OrderEvent.TIMED_OUT)
            if current.is_open:  # live for us, unknown to the venue (archived, venue reset):
                new = transition(current, OrderEvent.CANCELED)  # it cannot fill any more
            else:
                new = apply_observation(current, None)
        else:
            new = apply_observation(current, order.status, order.filled_quantity, record.quantity)
        if new.value != record.status or (
            order and order.filled_quantity != record.filled_quantity
        ):
            await self.pipeline.db(
                self.store.update_order,
                record.id,
                status=new.value,
                exchange_order_id=order.id if order else None,
                filled_quantity=order.filled_quantity if order else None,
                average_price=order.average_price if order else None,
                # an intent the venue never saw was never sent (a crash before sending):
                # say so, so a missing bracket leg can be placed again
                event=NEVER_SENT if never_sent else "reconciled",
                detail="not found on the exchange" if order is None else None,
            )
            report.resolved.append(f"{record.client_order_id}: {record.status} -> {new.value}")
        if order is not None and order.filled_quantity > 0:
            report.fills_recorded += await self.record_fills(trader, record, order.id)
        return new

    async def record_fills(self, trader: ExchangeTrader, record: OrderRecord, order_id: str) -> int:
        since = int(record.created_at.timestamp() * 1000) - 60_000
        count = 0
        for fill in await trader.fetch_my_trades(record.symbol, since):
            if fill.order_id != order_id:
                continue
            created = await self.pipeline.db(
                self.store.record_fill,
                account=trader.account,
                symbol=fill.symbol,
                exchange_trade_id=fill.trade_id,
                side=fill.side.value,
                quantity=fill.quantity,
                price=fill.price,
                fee=fill.fee,
                fee_currency=fill.fee_currency,
                realized_pnl=fill.realized_pnl,
                order_id=record.id,
            )
            count += int(bool(created))
        return count

    # ---------------------------------------------------------------- 3
    async def _settle_brackets(self, trader: ExchangeTrader, report: ReconcileReport) -> None:
        recent: list[OrderRecord] = await self.pipeline.db(
            self.store.list_orders, trader.account, None, 500
        )
        by_signal: dict[int, list[OrderRecord]] = {}
        for record in recent:
            if record.signal_id is not None:
                by_signal.setdefault(record.signal_id, []).append(record)
        positions = await trader.fetch_positions()
        for signal_id, records in by_signal.items():
            await self._settle_signal(trader, signal_id, records, positions, report)

    async def _settle_signal(
        self,
        trader: ExchangeTrader,
        signal_id: int,
        records: list[OrderRecord],
        positions: list[Position],
        report: ReconcileReport,
    ) -> None:
        entry = next((r for r in records if r.role == "entry"), None)
        legs: dict[str, OrderRecord] = {}  # the newest record per role
        for record in sorted(records, key=lambda r: r.id):
            if record.role in brackets.BRACKET_ROLES:
                legs[record.role] = record
        if entry is None or entry.status != OrderStatus.FILLED.value:
            return
        sym = entry.symbol
        position = sum((p.quantity for p in positions if p.symbol == sym), Decimal(0))
        open_legs = {role: r for role, r in legs.items() if OrderStatus(r.status).is_open}
        done_leg = next((r for r in legs.values() if r.status == OrderStatus.FILLED.value), None)
        # flat, or flipped to the other side: this entry's position is gone either way
        gone = position == 0 or (position > 0) != (entry.side == OrderSide.BUY.value)
        if done_leg is not None or gone:
            for record in open_legs.values():
                cancelled = await brackets.cancel_quietly(
                    trader, sym, record.exchange_order_id, record.client_order_id
                )
                await self._refresh_leg(trader, record, cancelled, report)
                report.legs_cancelled.append(record.client_order_id)
            return
        await self._place_missing_legs(trader, signal_id, entry, legs, records, report)

    async def _refresh_leg(
        self,
        trader: ExchangeTrader,
        record: OrderRecord,
        cancelled: Order | None,
        report: ReconcileReport,
    ) -> None:
        try:
            order = cancelled or await trader.fetch_order(
                record.symbol, record.exchange_order_id, record.client_order_id
            )
        except errors.OrderNotFound:
            order = None
        await self.apply(trader, record, order, report)

    async def _never_sent(self, record: OrderRecord) -> bool:
        if record.status not in TERMINAL_UNFILLED:
            return False
        history = await self.pipeline.db(self.store.order_history, record.id)
        return bool(history) and history[-1].event == NEVER_SENT

    async def _place_missing_legs(
        self,
        trader: ExchangeTrader,
        signal_id: int,
        entry: OrderRecord,
        legs: dict[str, OrderRecord],
        records: list[OrderRecord],
        report: ReconcileReport,
    ) -> None:
        signal = await self.pipeline.db(self.store.get_signal, signal_id)
        if signal is None:
            return
        payload = signal.payload
        wanted = {
            brackets.ROLE_STOP: payload.get("stop_loss"),
            brackets.ROLE_TAKE: payload.get("take_profit"),
        }
        # a leg never recorded, or recorded but never sent (a crash in between), is placed
        # now; a leg the venue refused is not retried blindly (the pipeline already flattened
        # or warned), and shows up as a mismatch instead
        attempts: dict[str, int] = {}
        for role in wanted:
            if role in legs and not await self._never_sent(legs[role]):
                continue
            attempts[role] = sum(1 for r in records if r.role == role)
        missing = {
            role: Decimal(str(price))
            for role, price in wanted.items()
            if price is not None and role in attempts
        }
        if not missing:
            return
        for leg in brackets.bracket_legs(
            entry.symbol,
            OrderSide(entry.side),
            entry.filled_quantity,
            stop_loss=missing.get(brackets.ROLE_STOP),
            take_profit=missing.get(brackets.ROLE_TAKE),
            # a retry needs a fresh client id: the first one is taken in the store
            client_id=lambda role: self.pipeline.client_id(
                trader,
                signal.idempotency_key,
                f"{role}-{attempts[role] + 1}" if attempts[role] else role,
            ),
        ):
            try:
                existing = await trader.fetch_order(
                    leg.request.symbol, client_order_id=leg.request.client_order_id
                )
            except errors.OrderNotFound:
                existing = None
            if existing is None:
                await self.pipeline.place(trader, leg.request, leg.role, signal_id)
            else:  # placed before the crash, never recorded: record it
                order_id = await self.pipeline.record_intent(
                    trader.account, leg.request, leg.role, signal_id
                )
                await self.pipeline.record_order(order_id, existing, event="reconciled")
            report.legs_placed.append(leg.request.client_order_id or leg.role)

    # ---------------------------------------------------------------- 4
    async def _adopt_unknown_orders(self, trader: ExchangeTrader, report: ReconcileReport) -> None:
        for order in await trader.fetch_open_orders():
            known = None
            if order.client_order_id:
                known = await self.pipeline.db(
                    self.store.get_order_by_client_id, trader.account, order.client_order_id
                )
            if known is None:
                known = await self.pipeline.db(
                    self.store.get_order_by_exchange_id, trader.account, order.id
                )
            if known is not None:
                continue
            order_id = await self.pipeline.db(
                self.store.record_order_intent,
                account=trader.account,
                symbol=order.symbol,
                client_order_id=order.client_order_id or f"exchange:{order.id}",
                role="adopted",
                side=order.side.value,
                order_type=order.type.value,
                quantity=order.quantity,
                price=order.price,
                trigger_price=order.trigger_price,
                reduce_only=order.reduce_only,
                status=order.status.value,
                exchange_order_id=order.id,
                event="adopted",
            )
            await self.pipeline.event(
                "order_adopted", trader.account, None, order_id, exchange_order_id=order.id
            )
            report.adopted.append(order.id)

    # ---------------------------------------------------------------- 5
    async def _check_positions(self, trader: ExchangeTrader, report: ReconcileReport) -> None:
        positions = await trader.fetch_positions()
        open_orders = await self.pipeline.db(
            self.store.orders_in_flight,
            trader.account,
            [OrderStatus.SUBMITTED.value, OrderStatus.PARTIALLY_FILLED.value],
        )
        recent = await self.pipeline.db(self.store.list_orders, trader.account, None, 500)
        for position in positions:
            await self.pipeline.db(
                self.store.record_position_snapshot,
                account=trader.account,
                symbol=position.symbol,
                quantity=position.quantity,
                entry_price=position.entry_price,
                mark_price=position.mark_price,
                unrealized_pnl=position.unrealized_pnl,
            )
            ours = [r for r in recent if r.symbol == position.symbol]
            if not ours:
                report.mismatches.append(
                    f"untracked position {position.symbol} {position.quantity}"
                )
                continue
            wants_stop = await self._wants_stop(ours)
            has_stop = any(
                r.symbol == position.symbol and r.role == brackets.ROLE_STOP for r in open_orders
            )
            if wants_stop and not has_stop:
                report.mismatches.append(f"position {position.symbol} has no resting stop-loss")

    async def _wants_stop(self, records: list[OrderRecord]) -> bool:
        entries = [r for r in records if r.role == "entry" and r.status == OrderStatus.FILLED.value]
        if not entries:
            return False
        latest = max(entries, key=lambda r: r.created_at)
        if latest.signal_id is None:
            return False
        signal = await self.pipeline.db(self.store.get_signal, latest.signal_id)
        return bool(signal and signal.payload.get("stop_loss") is not None)
