"""Keeping every position protected: what happens when a stop cannot be placed, and how the
resting stops and targets follow a position that shrinks.

- **Stop refused** (`stop_failed`): what *this signal added* is closed with a reduce-only
  market order (an earlier, already protected part of the position keeps its own stop). A
  flatten refused or unanswered is looked up by its client id and retried with backoff, a
  bounded number of times; if the position still cannot be closed, the account is HALTED with
  the reason and an event an operator sees. The take-profit beside the stop is cancelled.
- **Position shrinks** (`fit_resting_legs`): after a close fills, the resting legs of earlier
  signals are fitted to what remains, per role: the oldest keep their size, the newest are
  shrunk (a new leg under a fresh derived client id is placed first, then the old one is
  cancelled, so protection never lapses) or cancelled when nothing remains. Best-effort: a
  failure is recorded as an event and left to the reconciler; it never aborts the signal
  whose close already filled.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

from tradeexec import errors
from tradeexec.domain import (
    BRACKET_ROLES,
    Order,
    OrderRequest,
    OrderRole,
    OrderSide,
    OrderStatus,
    OrderType,
    TradingState,
    net_position,
)
from tradeexec.exchanges.interface import ExchangeTrader
from tradeexec.execution.account_state import AccountStates, Mover
from tradeexec.execution.journal import Journal
from tradeexec.execution.report import ExecutionReport
from tradeexec.store.records import OrderRecord

__all__ = ["fit_resting_legs", "next_role", "retry_stop", "stop_failed"]

_OPEN = (OrderStatus.SUBMITTED.value, OrderStatus.PARTIALLY_FILLED.value)


def next_role(role: str, records: list[OrderRecord]) -> str:
    """The client-id role of the next attempt at ``role`` for one signal (the first id is
    taken in the store): ``stop_loss``, then ``stop_loss-2``, ``stop_loss-3``..."""
    attempts = sum(1 for r in records if r.role == role)
    return f"{role}-{attempts + 1}" if attempts else role


# ------------------------------------------------------------------ stop refused
async def retry_stop(
    journal: Journal,
    trader: ExchangeTrader,
    signal_id: int,
    idempotency_key: str,
    request: OrderRequest,
    exc: errors.ExchangeError,
    retry_delays: tuple[float, ...],
) -> Order | errors.ExchangeError:
    """A stop the venue did not take for a passing reason (a 429, a 5xx answered, the venue
    unreachable) is sent again after a pause, under a fresh derived id, a bounded number of
    times - closing the position for a rate limit would cost two fees and the spread. A real
    refusal, or an outcome that is unknown (the stop may rest), is not retried; the last
    error is returned for `stop_failed`."""
    for delay in retry_delays:
        transient = isinstance(exc, errors.NetworkError)
        if not transient or isinstance(exc, errors.OrderOutcomeUnknown):
            break
        await asyncio.sleep(delay)
        siblings = await journal.db(journal.store.orders_for_signal, signal_id)
        role = next_role(OrderRole.STOP_LOSS, siblings)
        again = replace(request, client_order_id=journal.client_id(trader, idempotency_key, role))
        try:
            return await journal.place(trader, again, OrderRole.STOP_LOSS, signal_id)
        except errors.ExchangeError as failed:
            exc = failed
    return exc


async def stop_failed(
    journal: Journal,
    trader: ExchangeTrader,
    signal_id: int,
    symbol: str,
    entry: Order,
    report: ExecutionReport,
    exc: errors.ExchangeError,
    *,
    policy: str,
    retry_delays: tuple[float, ...],
) -> ExecutionReport:
    """The entry is on, its stop is not: flatten what it added (``policy`` "flatten", the
    default), else keep and say so."""
    await journal.event(
        "stop_loss_failed", trader.account, signal_id, error=exc.to_dict(), policy=policy
    )
    if policy != "flatten":
        return report.with_warning(f"stop-loss not placed ({exc}); position kept as configured")
    flattened, why = await _flatten_added(journal, trader, signal_id, report, entry, retry_delays)
    target = report.orders.get(OrderRole.TAKE_PROFIT)
    if target is not None:  # placed alongside the failed stop: nothing left to take profit on
        await _retire_by_order(journal, trader, signal_id, target)
    if flattened is not None:
        await journal.event(
            "position_flattened",
            trader.account,
            signal_id,
            reason="stop_loss_failed",
            entry_order_id=entry.id,
            quantity=str(flattened.filled_quantity),
        )
        return report.with_order("flatten", flattened).flattened(exc)
    reason = (
        f"{symbol}: stop-loss refused ({exc.code}) and the flatten failed ({why}); "
        "the position is unprotected"
    )
    await halt_account(journal, trader.account, reason, signal_id)
    return report.partly(reason)


async def halt_account(journal: Journal, account: str, reason: str, signal_id: int | None) -> None:
    """HALTED with the reason, durably, and an event an operator sees."""
    await AccountStates(journal).move(
        account, TradingState.HALTED, Mover.PROTECTION, reason, signal_id
    )
    await journal.event("protection_failed", account, signal_id, reason=reason)


async def _flatten_added(
    journal: Journal,
    trader: ExchangeTrader,
    signal_id: int,
    report: ExecutionReport,
    entry: Order,
    retry_delays: tuple[float, ...],
) -> tuple[Order | None, str]:
    """Close what ``entry`` added; (the closing order, or None and why not)."""
    symbol = entry.symbol
    left = entry.filled_quantity if entry.filled_quantity > 0 else entry.quantity
    last: Order | None = None
    why = ""
    for attempt, delay in enumerate((0.0, *retry_delays)):
        if delay:
            await asyncio.sleep(delay)
        role = "flatten" if attempt == 0 else f"flatten-{attempt + 1}"
        request = OrderRequest(
            symbol=symbol,
            side=entry.side.opposite,
            type=OrderType.MARKET,
            quantity=left,
            reduce_only=True,
            client_order_id=journal.client_id(trader, report.idempotency_key, role),
        )
        try:
            # stored as a close (the store's roles); its client id says "flatten"
            sent = await journal.ensure(trader, request, OrderRole.CLOSE, signal_id)
            assert sent is not None
            order, order_id, fresh = sent
            if fresh:
                await journal.record_order(order_id, order, "acknowledged")
        except errors.OrderOutcomeUnknown as exc:
            # it may have filled: ask again after the pause; never send another blindly
            why = str(exc)
            found = await _settle_unknown(journal, trader, request, retry_delays[:1])
            if found is None:
                return None, f"flatten outcome unknown: {why}"
            order = found
        except errors.NetworkError as exc:  # not sent (connect refused, 5xx, 429): try again
            why = str(exc)
            continue
        except errors.ExchangeError as exc:  # refused: do not send the same again
            why = f"{exc.code}: {exc}"
            if await _flat_already(trader, symbol, entry.side):
                return last, why
            return None, why
        last = order
        left -= order.filled_quantity
        if left <= 0:
            return order, ""
        why = f"only {order.filled_quantity} of {request.quantity} filled"
    return None, why or "attempts exhausted"


async def _settle_unknown(
    journal: Journal, trader: ExchangeTrader, request: OrderRequest, pause: tuple[float, ...]
) -> Order | None:
    """Look an unanswered flatten up by its client id after a pause (None: still unknown or
    never placed, which the caller treats alike: it does not send another)."""
    await asyncio.sleep(pause[0] if pause else 0)
    assert request.client_order_id is not None
    record = await journal.db(
        journal.store.get_order_by_client_id, trader.account, request.client_order_id
    )
    if record is None:
        return None
    try:
        found = await journal.lookup(trader, record)
    except errors.TradeExecError:
        return None
    if found is None:
        return None
    await journal.observe(record, found)
    return found if found.filled_quantity > 0 else None


async def _flat_already(trader: ExchangeTrader, symbol: str, entry_side: OrderSide) -> bool:
    """A reduce-only flatten refused because nothing is left on the entry's side."""
    try:
        positions = await trader.fetch_positions([symbol])
    except errors.TradeExecError:
        return False
    held = net_position(positions, symbol)
    return held == 0 or (held > 0) != (entry_side is OrderSide.BUY)


async def _retire_by_order(
    journal: Journal, trader: ExchangeTrader, signal_id: int, order: Order
) -> None:
    if order.client_order_id is None:
        return
    record = await journal.db(
        journal.store.get_order_by_client_id, trader.account, order.client_order_id
    )
    if record is not None:
        await _retire(journal, trader, record, signal_id)


# ------------------------------------------------------------- position shrinks
def left_after_close(before: Decimal, close: Order) -> Decimal:
    """The signed position a filled close leaves of ``before`` (0: closed, or it flipped)."""
    moved = close.filled_quantity if close.side is OrderSide.BUY else -close.filled_quantity
    remaining = before + moved
    if before != 0 and (remaining == 0 or (remaining > 0) != (before > 0)):
        return Decimal(0)
    return remaining


async def fit_resting_legs(
    journal: Journal,
    trader: ExchangeTrader,
    symbol: str,
    signal_id: int,
    remaining: Decimal,
) -> None:
    """Fit the resting legs of earlier signals on ``symbol`` to the signed ``remaining``
    position (0: retire them all). Each failure is an event; the reconciler retries."""
    records = await journal.db(journal.store.list_orders, trader.account, _OPEN, 500)
    legs = [
        r
        for r in records
        if r.symbol == symbol and r.role in BRACKET_ROLES and r.signal_id != signal_id
    ]
    if not legs:
        return
    try:
        legs = await _really_resting(journal, trader, symbol, legs)
    except errors.TradeExecError as exc:
        await journal.event(
            "leg_not_fitted", trader.account, signal_id, error=exc.to_dict(), symbol=symbol
        )
        return
    for role in BRACKET_ROLES:
        budget = abs(remaining)
        for record in sorted((r for r in legs if r.role == role), key=lambda r: r.id):
            protects_long = record.side == OrderSide.SELL.value
            size = record.quantity - record.filled_quantity
            same_side = remaining != 0 and (remaining > 0) == protects_long
            keep = min(size, budget) if same_side else Decimal(0)
            budget -= keep
            if keep == size:
                continue
            try:
                if keep > 0:
                    await _resize(journal, trader, record, keep, signal_id)
                else:
                    await _retire(journal, trader, record, signal_id)
            except errors.TradeExecError as exc:
                await journal.event(
                    "leg_not_fitted",
                    trader.account,
                    signal_id,
                    record.id,
                    client_order_id=record.client_order_id,
                    wanted=str(keep),
                    error=exc.to_dict(),
                )


async def _really_resting(
    journal: Journal, trader: ExchangeTrader, symbol: str, legs: list[OrderRecord]
) -> list[OrderRecord]:
    """The legs the venue really holds. One the store still thinks open but the venue does
    not (a cancel whose answer was lost, a leg that fired) is settled from the venue's
    answer and left out: counting it would shrink a leg that really protects."""
    resting = await trader.fetch_open_orders(symbol)
    live = {o.id for o in resting} | {o.client_order_id for o in resting if o.client_order_id}
    kept = []
    for record in legs:
        if record.client_order_id in live or record.exchange_order_id in live:
            kept.append(record)
            continue
        await journal.observe(record, await journal.lookup(trader, record))
    return kept


async def _retire(
    journal: Journal, trader: ExchangeTrader, record: OrderRecord, signal_id: int | None
) -> None:
    """Cancel a leg; one already gone (fired, cancelled around us) is settled from the
    venue's answer, once, so no later close tries to cancel it again."""
    cancelled = await journal.cancel(
        trader, record.symbol, record.exchange_order_id, record.client_order_id
    )
    if cancelled is None:
        await journal.observe(record, await journal.lookup(trader, record))
        return
    await journal.observe(record, cancelled)
    await journal.event(
        "stale_leg_cancelled",
        trader.account,
        signal_id,
        record.id,
        client_order_id=record.client_order_id,
    )


async def _resize(
    journal: Journal,
    trader: ExchangeTrader,
    record: OrderRecord,
    quantity: Decimal,
    signal_id: int,
) -> None:
    """Replace a leg by one of ``quantity``: the new one first, then the old one cancelled."""
    owner, siblings = None, []
    if record.signal_id is not None:
        owner = await journal.db(journal.store.get_signal, record.signal_id)
        siblings = await journal.db(journal.store.orders_for_signal, record.signal_id)
    key = owner.idempotency_key if owner is not None else f"order-{record.id}"
    request = OrderRequest(
        symbol=record.symbol,
        side=OrderSide(record.side),
        type=OrderType(record.order_type),
        quantity=quantity,
        price=record.price,
        trigger_price=record.trigger_price,
        reduce_only=True,
        client_order_id=journal.client_id(trader, key, next_role(record.role, siblings)),
    )
    placed = await journal.place(trader, request, record.role, record.signal_id)
    await _retire(journal, trader, record, signal_id)
    await journal.event(
        "leg_resized",
        trader.account,
        signal_id,
        record.id,
        role=record.role,
        old_quantity=str(record.quantity),
        new_quantity=str(quantity),
        client_order_id=placed.client_order_id,
    )
