"""Every signal ends true (issue 7): crash recovery, flips whose leg cancels fail, refused
protection, shrinking positions, fired stops, start-up with a venue down, answers that match
the store. Each scenario runs on every venue that can produce it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from tradeexec import errors
from tradeexec.domain import Order, OrderRequest, OrderType, TradingState
from tradeexec.domain import OrderStatus as StoreStatus
from tradeexec.exchanges.ccxt_parse import order_from_ccxt
from tradeexec.execution.pipeline import Pipeline
from tradeexec.execution.reconcile import Reconciler
from tradeexec.sim.engine import OrderKind, OrderStatus

if TYPE_CHECKING:
    from tradeexec.service import TradingService
    from tradeexec.testing import VenueHarness

Q = Decimal("0.1")
STOP, TARGET = Decimal(66000), Decimal(69000)


def open_legs(venue: VenueHarness, kind: OrderKind) -> list[Any]:
    return [o for o in venue.open_engine_orders() if o.spec.kind is kind]


def entries(venue: VenueHarness) -> list[Any]:
    return [o for o in venue.engine_orders() if not o.spec.kind.is_trigger]


def record_as_a_crash_would(service: TradingService, venue: VenueHarness, **fields: Any) -> Any:
    """The signal recorded (`received`) by a process that died before deciding it."""
    signal = venue.signal(**fields)
    service.store.record_signal(
        idempotency_key=signal.idempotency_key,
        account=signal.account or "acct",
        symbol=signal.symbol,
        source=signal.source.value,
        payload=signal.to_record(),
        confidence=signal.confidence,
        created_at=signal.created_at,
    )
    return signal


# ------------------------------------------------------------- 1: stuck at received


async def test_a_signal_killed_before_its_decision_is_resumed_on_restart(
    venue: VenueHarness,
) -> None:
    signal = record_as_a_crash_would(
        venue.service, venue, side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET
    )
    assert entries(venue) == []

    restarted = await venue.new_service()  # start() finds it and finishes it

    (entry,) = entries(venue)
    assert entry.status is OrderStatus.FILLED and venue.engine_position() == Q
    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    assert stop.spec.qty == Q and stop.spec.trigger_price == STOP
    stored = await restarted.signal_timeline(signal.idempotency_key)
    assert stored.signal.status == "filled"
    # the re-delivery answers with what the store holds, and sends nothing
    again = await restarted.submit_signal(signal)
    assert (again.status, again.original_status, again.success) == ("duplicate", "filled", True)
    assert again.to_dict()["order_id"] == str(entry.order_id)
    assert len(entries(venue)) == 1


async def test_a_signal_killed_before_its_decision_and_too_old_now_expires(
    venue: VenueHarness,
) -> None:
    old = datetime.now(UTC) - timedelta(seconds=venue.risk.max_signal_age_s + 5)
    signal = record_as_a_crash_would(
        venue.service, venue, side="buy", quantity=Q, stop_loss=STOP, created_at=old
    )

    restarted = await venue.new_service()

    assert venue.engine_orders() == []  # nothing was sent for a signal past its age
    stored = await restarted.signal_timeline(signal.idempotency_key)
    assert (stored.signal.status, stored.signal.status_reason) == ("expired", "interrupted")
    (expired,) = [e for e in stored.events if e.kind == "signal_expired"]
    assert (expired.account, expired.data["reason"]) == ("acct", "interrupted")
    again = (await restarted.submit_signal(signal)).to_dict()
    assert (again["status"], again["original_status"], again["success"]) == (
        "duplicate",
        "expired",
        False,
    )
    assert again["original_reason"] == "interrupted"


async def test_a_redelivery_of_an_unfinished_signal_finishes_it(venue: VenueHarness) -> None:
    """No restart in between: the re-delivery itself finds the signal unfinished."""
    signal = record_as_a_crash_would(venue.service, venue, side="buy", quantity=Q, stop_loss=STOP)

    again = await venue.service.submit_signal(signal)

    assert (again.status, again.original_status, again.success) == ("duplicate", "filled", True)
    assert len(entries(venue)) == 1 and venue.engine_position() == Q
    assert len(open_legs(venue, OrderKind.STOP_MARKET)) == 1


# -------------------------------------------- 2: a flip whose stale-leg cancel fails


async def test_a_429_on_a_stale_leg_cancel_does_not_abort_the_flip(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    long = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    assert long.status == "filled", long
    cancel_route = {"binance": "binance.algo.cancel", "hyperliquid": "hyperliquid.exchange.*"}
    rule = venue.add_fault(cancel_route[venue.name], kind="status", status=429, times=2)
    if venue.name == "hyperliquid":  # only the cancels: the flip's orders pass
        rule.skip = 1

    flip = await venue.submit(target_position=Decimal("-0.2"), stop_loss=Decimal(69500))

    assert rule.fired >= 1
    assert flip.status == "filled", (flip.status, flip.error)
    assert venue.engine_position() == Decimal("-0.2")
    timeline = await venue.service.signal_timeline(flip.idempotency_key)
    assert timeline.signal.status == "filled"
    assert {o.order.role: o.order.status for o in timeline.orders}["close"] == "filled"
    # what could not be cancelled is recorded, and the reconciler finishes the job
    venue.sim.simulator.ctx.faults.rules.clear()  # type: ignore[union-attr]
    await venue.service.reconcile("acct")
    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    assert stop.spec.side.value == "BUY" and stop.spec.qty == Decimal("0.2")
    assert open_legs(venue, OrderKind.TAKE_PROFIT_MARKET) == []


# ----------------------------------------------- 3: stop refused, flatten refused too


class RefusesStopAndFlatten(Pipeline):
    """The venue refuses every stop and every reduce-only market order (our seam, not
    ccxt's: the take-profit and the entry go through to the real venue)."""

    refused: list[str]

    async def send(
        self, trader: Any, request: OrderRequest, order_id: int, signal_id: Any
    ) -> Order:
        flatten = request.reduce_only and request.type is OrderType.MARKET
        if request.type is OrderType.STOP_MARKET or flatten:
            self.refused.append(request.client_order_id or "")
            exc = errors.RateLimited("too many requests")
            await self._record_failure(
                trader.account,
                order_id,
                signal_id,
                StoreStatus.REJECTED,
                exc,
                event="rejected",
                kind="order_rejected",
                data={"error": exc.to_dict()},
            )
            raise exc
        return await super().send(trader, request, order_id, signal_id)


async def test_stop_and_flatten_both_refused_halts_the_account(venue: VenueHarness) -> None:
    service = venue.service
    pipeline = RefusesStopAndFlatten(service.manager, service.store, service.gate)
    pipeline.refused = []
    pipeline.retry_delays = (0.01, 0.01)
    service.pipeline = pipeline
    service.reconciler = Reconciler(pipeline)

    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)

    assert report.status == "partially_done" and not report.success, report
    assert "unprotected" in (report.error or "")
    # the stop and its two passing-refusal retries, then the flatten and its two retries
    assert len(pipeline.refused) == 6
    state = await service.state("acct")
    assert state.state is TradingState.HALTED and "flatten failed" in (state.reason or "")
    assert open_legs(venue, OrderKind.TAKE_PROFIT_MARKET) == []  # the target was cancelled
    timeline = await service.signal_timeline(report.idempotency_key)
    kinds = [e.kind for e in timeline.events]
    assert {"stop_loss_failed", "account_halted", "protection_failed"} <= set(kinds)
    assert timeline.signal.status == "partially_done"
    refused = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)
    assert refused.reason == "halted"


async def test_a_refused_stop_flattens_only_what_the_signal_added(venue: VenueHarness) -> None:
    """An earlier, protected part of the position keeps its stop; only the new part closes."""
    first = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)
    assert first.status == "filled"
    service = venue.service
    pipeline = RefusesStopAndFlatten(service.manager, service.store, service.gate)
    pipeline.refused = []
    service.pipeline = pipeline
    original_send = Pipeline.send

    async def refuse_stops_only(
        self: Pipeline, trader: Any, request: OrderRequest, order_id: int, signal_id: Any
    ) -> Order:
        if request.type is OrderType.STOP_MARKET:
            return await RefusesStopAndFlatten.send(pipeline, trader, request, order_id, signal_id)
        return await original_send(self, trader, request, order_id, signal_id)

    pipeline.send = refuse_stops_only.__get__(pipeline)  # type: ignore[method-assign]

    added = await venue.submit(side="buy", quantity=Decimal("0.2"), stop_loss=Decimal(65000))

    assert added.status == "flattened", added
    assert venue.engine_position() == Q  # the first 0.1 stays, with its own stop
    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    assert stop.spec.qty == Q and stop.spec.trigger_price == STOP
    assert added.orders["flatten"].filled_quantity == Decimal("0.2")


# ------------------------------------------------------ 4: a position that shrinks


async def test_shrinking_a_protected_position_resizes_its_stop_and_target(
    venue: VenueHarness,
) -> None:
    big = await venue.submit(
        side="buy", quantity=Decimal("0.3"), stop_loss=STOP, take_profit=TARGET
    )
    assert big.status == "filled", big

    shrink = await venue.submit(target_position=Q)

    assert shrink.status == "filled", shrink
    assert venue.engine_position() == Q
    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    (target,) = open_legs(venue, OrderKind.TAKE_PROFIT_MARKET)
    assert (stop.spec.qty, stop.spec.trigger_price) == (Q, STOP)
    assert (target.spec.qty, target.spec.trigger_price) == (Q, TARGET)
    assert (await venue.service.state("acct")).state is TradingState.ACTIVE
    result = await venue.service.reconcile("acct")
    assert result.mismatches == [], result

    # a reduce-only partial close does the same
    part = await venue.submit(side="sell", quantity=Decimal("0.04"), reduce_only=True)
    assert part.status == "filled", part
    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    assert stop.spec.qty == Decimal("0.06") == venue.engine_position()


# ------------------------------------------- 5: a stop that fires for less than its size


def test_closed_with_less_filled_than_asked_is_terminal() -> None:
    raw = {
        "id": "7",
        "clientOrderId": "tes1",
        "symbol": "BTC/USDT:USDT",
        "side": "sell",
        "type": "stop_market",
        "status": "closed",
        "amount": 0.3,
        "filled": 0.1,
        "remaining": 0.2,
        "reduceOnly": True,
        "triggerPrice": 66000,
    }
    order = order_from_ccxt(raw)
    assert order.status.is_terminal
    assert (order.quantity, order.filled_quantity) == (Decimal("0.3"), Decimal("0.1"))


async def test_a_stop_firing_for_less_than_its_size_ends_in_the_store(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    report = await venue.submit(side="buy", quantity=Decimal("0.3"), stop_loss=STOP)
    assert report.status == "filled"
    trader = await venue.trader()
    # the position shrinks around tradeexec: the stop now rests for more than is held
    await trader.create_order(
        OrderRequest(
            symbol="BTC/USDT",
            side="sell",  # type: ignore[arg-type]
            type=OrderType.MARKET,
            quantity=Decimal("0.2"),
            reduce_only=True,
            client_order_id=venue.new_client_id(),
        )
    )
    venue.set_mark(65900)  # the stop fires for the 0.1 that is left
    assert venue.engine_position() == 0

    await venue.service.reconcile("acct")

    timeline = await venue.service.signal_timeline(report.idempotency_key)
    (stop,) = [o.order for o in timeline.orders if o.order.role == "stop_loss"]
    assert stop.status == "filled" and stop.filled_quantity == Q
    open_in_store = await venue.service.pipeline.db(
        venue.service.store.list_orders, "acct", ["submitted", "partially_filled"], 50
    )
    assert open_in_store == []  # no ghost counted as a resting stop


# ------------------------------------------------- 7: answers that match the store


async def test_an_unknown_outcome_is_in_progress_in_the_answer_and_the_store(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    venue.service = await venue.new_service(timeout_ms=300)
    # the entry never reaches the venue and no answer comes: its outcome is unknown
    rule = venue.add_fault("create", kind="timeout", seconds=1.0, times=1)

    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)

    assert rule.fired == 1
    assert (report.status, report.reason, report.success) == (
        "in_progress",
        "order_outcome_unknown",
        False,
    )
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    assert timeline.signal.status == "executing"
    again = await venue.service.submit_signal(
        venue.signal(side="buy", quantity=Q, stop_loss=STOP, idempotency_key=report.idempotency_key)
    )
    # the re-delivery resumes it: never placed, so it ends refused - and says so, as stored
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    assert timeline.signal.status == again.original_status
    assert again.original_status in ("rejected", "failed") and not again.success
    assert entries(venue) == []


async def test_the_same_key_with_other_content_is_a_conflict(venue: VenueHarness) -> None:
    first = await venue.submit(side="buy", quantity=Q)
    assert first.status == "filled"

    other = await venue.service.submit_signal(
        venue.signal(side="sell", quantity=Q, idempotency_key=first.idempotency_key)
    )

    assert (other.status, other.reason, other.success) == (
        "rejected",
        "idempotency_conflict",
        False,
    )
    assert "side" in (other.error or "")
    assert len(entries(venue)) == 1


@pytest.mark.parametrize("status", ["closed", "canceled"])
def test_parse_keeps_terminal_words_terminal(status: str) -> None:
    raw = {"id": "1", "symbol": "BTC/USDT:USDT", "side": "buy", "type": "market"}
    order = order_from_ccxt({**raw, "status": status, "amount": 1, "filled": 0.5, "remaining": 0.5})
    assert order.status.is_terminal


async def test_an_entry_whose_outcome_was_unknown_is_protected_without_a_redelivery(
    sim_venue: VenueHarness,
) -> None:
    """The entry reached the venue but neither its answer nor the lookups came back: the
    signal is in progress; a follow-up finds the fill by client id and places the stop."""
    venue = sim_venue
    venue.service = await venue.new_service(timeout_ms=300)
    venue.service.pipeline.follow_up_delays = (0.3, 0.6, 1.2)
    venue.add_fault("create", kind="lost_response", seconds=1.0, times=1)
    lookups = {"binance": "binance.*.get", "hyperliquid": "hyperliquid.info.orderStatus"}
    blind = venue.add_fault(lookups[venue.name], kind="status", status=503)

    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)

    assert report.status == "in_progress", (report.status, report.error)
    assert blind.fired >= 1 and venue.engine_position() == Q  # filled, and not yet protected
    venue.sim.simulator.ctx.faults.rules.remove(blind)  # type: ignore[union-attr]
    for _ in range(100):  # bounded: the follow-ups run within ~2 s
        timeline = await venue.service.signal_timeline(report.idempotency_key)
        if timeline.signal.status != "executing":
            break
        await asyncio.sleep(0.05)
    assert timeline.signal.status == "filled"
    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    assert stop.spec.qty == Q and len(entries(venue)) == 1


async def test_resuming_a_flip_later_leaves_newer_positions_protected(
    sim_venue: VenueHarness,
) -> None:
    """A flip's close filled and its opening order's outcome was unknown; a newer signal
    then opened a short with its own stop. Resuming the flip must not retire that stop."""
    venue = sim_venue
    venue.service = await venue.new_service(timeout_ms=300)
    venue.service.pipeline.follow_up_delays = ()  # resumed below, by a re-delivery
    assert (await venue.submit(side="buy", quantity=Q, stop_loss=STOP)).status == "filled"
    venue.add_fault("create", kind="timeout", seconds=1.0, skip=1, times=1)
    lookups = {"binance": "binance.*.get", "hyperliquid": "hyperliquid.info.orderStatus"}
    blind = venue.add_fault(lookups[venue.name], kind="status", status=503)
    flip = venue.signal(target_position=-Q, stop_loss=Decimal(69500))
    first = await venue.service.submit_signal(flip)
    assert first.status == "in_progress" and venue.engine_position() == 0, first
    venue.sim.simulator.ctx.faults.rules.remove(blind)  # type: ignore[union-attr]

    newer = await venue.submit(side="sell", quantity=Q, stop_loss=Decimal(69600))
    assert newer.status == "filled" and venue.engine_position() == -Q, newer

    again = await venue.service.submit_signal(flip)

    assert again.original_status == "partially_done", again
    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    assert stop.spec.trigger_price == Decimal(69600) and stop.spec.qty == Q
    assert venue.engine_position() == -Q


async def test_accept_records_first_and_executes_in_the_background(
    sim_venue: VenueHarness,
) -> None:
    """A webhook's door: the signal is durable when accept returns, the venue still busy."""
    venue = sim_venue
    slow = venue.add_fault("create", kind="latency", seconds=0.5, times=1)
    signal = venue.signal(side="buy", quantity=Q, stop_loss=STOP)

    accepted = await venue.service.accept_signal(signal)

    assert accepted.created and accepted.running is not None and accepted.answer is None
    assert not accepted.running.done()  # answered before the venue did
    stored = await venue.service.signal_timeline(signal.idempotency_key)
    assert stored.signal.status in ("received", "executing")
    again = await venue.service.accept_signal(signal)  # a re-delivery meanwhile
    assert not again.created and again.answer is not None
    assert again.answer.status == "in_progress" and not again.answer.success

    report = await accepted.running
    assert report.status == "filled" and slow.fired == 1
    assert len(entries(venue)) == 1 and len(open_legs(venue, OrderKind.STOP_MARKET)) == 1
    late = await venue.service.accept_signal(signal)
    assert late.answer is not None and (late.answer.status, late.answer.success) == (
        "duplicate",
        True,
    )


async def test_bad_input_is_recorded_as_a_rejected_signal(venue: VenueHarness) -> None:
    from tradeexec.domain import SignalSource

    bad = {"symbol": "BTC", "side": "buy", "quantity": "1e30", "idempotency_key": "bad-1",
           "confidence": 0.9, "api_secret": "hunter2hunter2"}  # fmt: skip
    report = await venue.service.submit(bad, SignalSource.AGENT)

    assert (report.status, report.reason, report.success) == ("rejected", "invalid_signal", False)
    timeline = await venue.service.signal_timeline("bad-1")
    assert (timeline.signal.status, timeline.signal.status_reason) == ("rejected", "invalid_signal")
    assert "hunter2hunter2" not in str(timeline.signal.payload)
    assert [e.kind for e in timeline.events] == ["signal_invalid"]
    not_a_dict = await venue.service.submit([1, 2], SignalSource.AGENT)  # type: ignore[arg-type]
    assert not_a_dict.status == "rejected" and not_a_dict.signal_id is not None
    assert venue.engine_orders() == []


async def test_a_preview_lists_what_would_be_sent_and_sends_nothing(venue: VenueHarness) -> None:
    await venue.submit(side="buy", quantity=Q, stop_loss=STOP)
    before = len(venue.engine_orders())

    asked = venue.signal(side="sell", quantity=Decimal("0.3"), stop_loss=Decimal("69500.37"))
    flip = await venue.service.preview_signal(asked)

    assert flip.approved, flip
    roles = [(o["role"], o["side"], Decimal(o["quantity"])) for o in flip.orders]
    assert roles == [("close", "sell", Q), ("entry", "sell", Decimal("0.2")),
                     ("stop_loss", "buy", Decimal("0.2"))]  # fmt: skip
    stop = Decimal(flip.orders[-1]["trigger_price"])
    assert stop <= Decimal("69500.37")  # rounded towards the entry, onto the grid
    refused = await venue.service.preview_signal(venue.signal(side="buy", quantity=Decimal(1)))
    assert not refused.approved and refused.reason == "max_order_notional"
    assert len(venue.engine_orders()) == before  # a preview sends nothing
    assert await venue.service.signal_timeline(asked.idempotency_key) is None  # nor records
