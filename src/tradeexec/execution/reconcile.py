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
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeexec import errors
from tradeexec.domain import (
    BRACKET_ROLES,
    Order,
    OrderRole,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    TradingState,
    net_position,
    opposes,
)
from tradeexec.exchanges.interface import ExchangeTrader
from tradeexec.execution import brackets
from tradeexec.execution.account_state import RECONCILER_PREFIX, Mover
from tradeexec.execution.journal import NEVER_SENT
from tradeexec.execution.protection import next_role
from tradeexec.signal_state import NON_TERMINAL
from tradeexec.store.records import OrderRecord

if TYPE_CHECKING:
    from tradeexec.execution.pipeline import Pipeline

log = logging.getLogger(__name__)


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
    signals_resumed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # what could not be done
    incomplete: bool = False  # a step failed on a transient error: worth another pass soon

    def failed(self, what: str, exc: errors.TradeExecError) -> None:
        self.failures.append(f"{what}: {exc.code}: {exc}")
        self.incomplete = self.incomplete or errors.is_retryable_read(exc)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Reconciler:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store

    async def run(self, account: str) -> ReconcileReport:
        """One pass over one account. A step that fails (the venue down for a read) is
        reported in ``errors`` and the other steps still run; nothing gives up half way.
        Only the account's owner reconciles it (it cancels and places orders): another
        replica gets `LeaseLost`, as does an owner whose lease ran out during the pass."""
        self.pipeline.lease.check(account)
        report = ReconcileReport(account)
        trader = await self.pipeline.manager.get(account)
        await self._recover_signals(account, report)
        async with self.pipeline.lock(account):
            for name, step in (
                ("resolve_in_flight", self._resolve_in_flight),
                ("record_fills", self._record_missing_fills),
                ("settle_brackets", self._settle_brackets),
                ("adopt_unknown_orders", self._adopt_unknown_orders),
                ("check_positions", self._check_positions),
            ):
                try:
                    await step(trader, report)
                except errors.TradeExecError as exc:
                    report.failed(name, exc)
        await self._update_state(account, report)
        return report

    async def _update_state(self, account: str, report: ReconcileReport) -> None:
        """Mismatches move an ACTIVE account to REDUCING (never lowering HALTED); once a
        clean pass finds the cause gone, a REDUCING this reconciler set is lifted again
        (the rules are `account_state`'s)."""
        states = self.pipeline.states
        if report.mismatches:
            text = RECONCILER_PREFIX + "; ".join(report.mismatches)
            await states.move(account, TradingState.REDUCING, Mover.RECONCILER, text)
            await self.pipeline.event("reconcile_mismatch", account, reasons=report.mismatches)
        elif not report.failures:
            await states.move(
                account,
                TradingState.ACTIVE,
                Mover.RECONCILER,
                RECONCILER_PREFIX + "the cause is gone",
            )

    async def _recover_signals(self, account: str, report: ReconcileReport) -> None:
        """Resume every signal an earlier process left unfinished (and follow resting entries)."""
        unfinished = await self.pipeline.db(
            self.store.unfinished_signals, [s.value for s in NON_TERMINAL], account
        )
        for record in unfinished:
            try:
                result = await self.pipeline.resume(record)
            except errors.TradeExecError as exc:
                report.failed(f"resume {record.idempotency_key}", exc)
                continue
            if result is not None and result.status != record.status:
                report.signals_resumed.append(
                    f"{record.idempotency_key}: {record.status} -> {result.status}"
                )

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
            except errors.TradeExecError as exc:  # this one later; the others now
                report.failed(f"lookup {record.client_order_id}", exc)
                continue
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
        new = await self.pipeline.observe(record, order)
        if new.value != record.status:
            report.resolved.append(f"{record.client_order_id}: {record.status} -> {new.value}")
        if order is not None and order.filled_quantity > 0:
            report.fills_recorded += await self.record_fills(trader, record, order.id)
            if order.average_price is None:  # a fired trigger (Hyperliquid): from its fills
                await self._average_from_fills(record)
        return new

    async def _average_from_fills(self, record: OrderRecord) -> None:
        fills = await self.pipeline.db(self.store.fills_for_order, record.id)
        filled = sum((f.quantity for f in fills), Decimal(0))
        if filled > 0:
            average = sum((f.quantity * f.price for f in fills), Decimal(0)) / filled
            await self.pipeline.db(self.store.update_order, record.id, average_price=average)

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
                # the venue's trade time (daily PnL is counted by it), else when we saw it
                at=datetime.fromtimestamp(fill.timestamp / 1000, UTC) if fill.timestamp else None,
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
        entry = next((r for r in records if r.role == OrderRole.ENTRY), None)
        legs: dict[str, OrderRecord] = {}  # the newest record per role
        for record in sorted(records, key=lambda r: r.id):
            if record.role in BRACKET_ROLES:
                legs[record.role] = record
        if entry is None or entry.filled_quantity <= 0:  # filled, or expired with a fill
            return
        sym = entry.symbol
        position = net_position(positions, sym)
        open_legs = {role: r for role, r in legs.items() if OrderStatus(r.status).is_open}
        done_leg = next((r for r in legs.values() if r.status == OrderStatus.FILLED.value), None)
        # flat, or flipped to the other side: this entry's position is gone either way
        gone = position == 0 or opposes(entry.side, position)
        if done_leg is not None or gone:
            for record in open_legs.values():
                cancelled = await self.pipeline.cancel(
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
        stop, target = await self._leg_prices(signal_id)
        wanted = {OrderRole.STOP_LOSS: stop, OrderRole.TAKE_PROFIT: target}
        # a leg never recorded, or recorded but never sent (a crash in between), is placed
        # now; a leg the venue refused is not retried blindly (the pipeline already flattened
        # or warned), and shows up as a mismatch instead
        attempts: dict[str, int] = {}
        for role in wanted:
            if role in legs and not await self._never_sent(legs[role]):
                continue
            attempts[role] = sum(1 for r in records if r.role == role)
        missing = {
            role: price for role, price in wanted.items() if price is not None and role in attempts
        }
        if not missing:
            return
        for leg in brackets.bracket_legs(
            entry.symbol,
            OrderSide(entry.side),
            entry.filled_quantity,
            stop_loss=missing.get(OrderRole.STOP_LOSS),
            take_profit=missing.get(OrderRole.TAKE_PROFIT),
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
                role=OrderRole.ADOPTED,
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
        """Snapshot positions; judge protection by what really rests on the venue: a stop
        that covers less than the position is a mismatch (after one try to top it up)."""
        positions = await trader.fetch_positions()
        resting = await trader.fetch_open_orders()
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
            stop_price = await self._wanted_stop(ours)
            if stop_price is None:
                continue
            uncovered = abs(position.quantity) - _stop_cover(resting, position)
            if uncovered > 0:
                uncovered = await self._top_up_stop(trader, position, ours, uncovered, report)
            if uncovered > 0:
                covered = abs(position.quantity) - uncovered
                report.mismatches.append(
                    f"position {position.symbol} {position.quantity} has no resting stop-loss"
                    if covered == 0
                    else f"position {position.symbol} {position.quantity} is covered by resting "
                    f"stop-losses for only {covered}"
                )

    async def _top_up_stop(
        self,
        trader: ExchangeTrader,
        position: Position,
        ours: list[OrderRecord],
        uncovered: Decimal,
        report: ReconcileReport,
    ) -> Decimal:
        """Place a stop for the uncovered part under the latest entry's signal (its stop
        price, a fresh derived id); returns what is still uncovered."""
        state, _ = await self.pipeline.db(self.store.get_trading_state, trader.account)
        latest = _latest_entry(ours)
        if TradingState(state) is TradingState.HALTED or latest is None:
            return uncovered
        assert latest.signal_id is not None  # _latest_entry keeps entries of signals only
        signal = await self.pipeline.db(self.store.get_signal, latest.signal_id)
        stop, _ = await self._leg_prices(latest.signal_id)
        if signal is None or stop is None:
            return uncovered
        records = [r for r in ours if r.signal_id == latest.signal_id]
        leg = brackets.bracket_legs(
            position.symbol,
            OrderSide.BUY if position.quantity > 0 else OrderSide.SELL,
            uncovered,
            stop_loss=Decimal(str(stop)),
            take_profit=None,
            client_id=lambda role: self.pipeline.client_id(
                trader, signal.idempotency_key, next_role(role, records)
            ),
        )[0]
        try:
            await self.pipeline.place(trader, leg.request, leg.role, signal.id)
        except errors.TradeExecError as exc:
            report.failed(f"top-up stop {position.symbol}", exc)
            return uncovered
        report.legs_placed.append(leg.request.client_order_id or leg.role)
        return Decimal(0)

    async def _wanted_stop(self, records: list[OrderRecord]) -> Decimal | None:
        """The stop price the latest filled entry's signal asked for (None: none asked)."""
        latest = _latest_entry(records)
        if latest is None:
            return None
        stop, _ = await self._leg_prices(latest.signal_id)
        return stop

    async def _leg_prices(self, signal_id: int | None) -> tuple[Decimal | None, Decimal | None]:
        """The stop and target the signal's decision placed (on the venue's grid)."""
        if signal_id is None:
            return None, None
        plan = await self.pipeline.stored_plan(signal_id, legs_only=True)
        return (plan.stop, plan.target) if plan is not None else (None, None)


def _latest_entry(records: list[OrderRecord]) -> OrderRecord | None:
    entries = [
        r
        for r in records
        if r.role == OrderRole.ENTRY and r.filled_quantity > 0 and r.signal_id is not None
    ]
    return max(entries, key=lambda r: r.id) if entries else None


def _stop_cover(resting: list[Order], position: Position) -> Decimal:
    """How much of ``position`` the stops resting on the venue would close."""
    closing = OrderSide.SELL if position.quantity > 0 else OrderSide.BUY
    return sum(
        (
            o.quantity - o.filled_quantity
            for o in resting
            if o.symbol == position.symbol
            and o.side is closing
            and o.type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
        ),
        Decimal(0),
    )
