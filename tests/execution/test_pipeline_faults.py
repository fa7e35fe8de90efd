"""Ambiguous outcomes and partial failures on the order path: a lost acknowledgement, a
process killed between sending and recording, a stop refused after the entry filled."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from tradeexec import errors
from tradeexec.domain import Order, OrderRequest, OrderType, TradingState
from tradeexec.execution.pipeline import Pipeline
from tradeexec.execution.reconcile import Reconciler
from tradeexec.sim.engine import OrderKind, OrderStatus

if TYPE_CHECKING:
    from tradeexec.service import TradingService
    from tradeexec.testing import VenueHarness

Q = Decimal("0.1")
STOP, TARGET = Decimal(66000), Decimal(69000)


# ------------------------------------------------------------- lost acknowledgement


async def test_lost_response_on_create_is_resolved_by_client_id(sim_venue: VenueHarness) -> None:
    """The venue accepts the entry but its answer never arrives (client timeout): the order is
    found by its client id, recorded with the exchange's id, and never sent twice."""
    venue = sim_venue
    venue.service = await venue.new_service(timeout_ms=400)
    rule = venue.add_fault("create", kind="lost_response", seconds=1.5, times=1)

    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)
    assert rule.fired == 1

    assert report.status == "filled", (report.status, report.error)
    cid = report.orders["entry"].client_order_id
    assert cid is not None
    (entry,) = venue.engine_orders_by_client_id(cid)
    assert entry.status is OrderStatus.FILLED and entry.filled_qty == Q
    entries = [o for o in venue.engine_orders() if not o.spec.kind.is_trigger]
    assert entries == [entry]  # no second entry
    assert len(venue.order_requests()) == 2  # the entry once, the stop once
    assert venue.engine_position() == Q

    timeline = await venue.service.signal_timeline(report.idempotency_key)
    recorded = {o.order.role: o.order for o in timeline.orders}
    assert recorded["entry"].exchange_order_id == str(entry.order_id)
    assert recorded["entry"].client_order_id == cid
    assert recorded["entry"].status == "filled"
    assert recorded["stop_loss"].status == "submitted"  # the stop followed normally

    # the caller, who never got an answer either, re-sends: nothing more is sent
    again = await venue.service.submit_signal(venue.signal(
        side="buy", quantity=Q, stop_loss=STOP, idempotency_key=report.idempotency_key
    ))  # fmt: skip
    assert again.status == "duplicate" and again.success
    assert again.to_dict()["order_id"] == str(entry.order_id)
    assert len(venue.order_requests()) == 2 and len(venue.engine_orders()) == 2


# ------------------------------------------------- killed between send and record


class ProcessKilled(BaseException):
    """The process dies. A BaseException, so no `except Exception` on the way catches it."""


class DiesAfterFirstSend(Pipeline):
    """Dies right after the first order went out and before its acknowledgement is
    recorded: the entry is on the venue, the store only holds the intents (the entry's, and
    its legs' recorded in the same commit)."""

    died = False

    async def send(self, trader: Any, request: Any, order_id: int, signal_id: Any) -> Order:
        order = await super().send(trader, request, order_id, signal_id)
        if not self.died:
            DiesAfterFirstSend.died = True
            raise ProcessKilled
        return order


def install_crashing_pipeline(service: TradingService) -> None:
    service.pipeline = DiesAfterFirstSend(service.manager, service.store, service.gate)
    service.reconciler = Reconciler(service.pipeline)


async def test_killed_between_send_and_record_recovers_on_restart(venue: VenueHarness) -> None:
    DiesAfterFirstSend.died = False
    doomed = await venue.new_service()
    install_crashing_pipeline(doomed)
    signal = venue.signal(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)

    with pytest.raises(ProcessKilled):
        await doomed.submit_signal(signal)

    # the venue has the entry; the stop was never sent; the store only has the intents
    (entry,) = venue.engine_orders()
    assert entry.status is OrderStatus.FILLED and venue.engine_position() == Q
    timeline = await doomed.signal_timeline(signal.idempotency_key)
    intents = {o.order.role: o.order for o in timeline.orders}
    assert set(intents) == {"entry", "stop_loss", "take_profit"}
    assert {o.status for o in intents.values()} == {"pending_submit"}
    assert {o.exchange_order_id for o in intents.values()} == {None}
    assert intents["entry"].client_order_id == entry.spec.client_id

    # a new process on the same store: start() reconciles the order in flight
    restarted = await venue.new_service()

    orders = venue.engine_orders()
    assert [o.spec.kind for o in orders if not o.spec.kind.is_trigger] == [entry.spec.kind]
    stops = [o for o in orders if o.spec.kind is OrderKind.STOP_MARKET]
    targets = [o for o in orders if o.spec.kind is OrderKind.TAKE_PROFIT_MARKET]
    assert len(stops) == 1 and len(targets) == 1
    (stop,), (target,) = stops, targets
    assert stop.status is OrderStatus.NEW and stop.spec.trigger_price == STOP
    assert stop.spec.qty == Q and stop.spec.reduce_only
    assert target.status is OrderStatus.NEW and target.spec.trigger_price == TARGET

    timeline = await restarted.signal_timeline(signal.idempotency_key)
    recorded = {o.order.role: o for o in timeline.orders}
    assert set(recorded) == {"entry", "stop_loss", "take_profit"}
    entry_record = recorded["entry"].order
    assert entry_record.status == "filled"
    assert entry_record.exchange_order_id == str(entry.order_id)
    assert entry_record.filled_quantity == Q
    assert recorded["entry"].fills and recorded["entry"].fills[0].quantity == Q
    assert recorded["stop_loss"].order.exchange_order_id == str(stop.order_id)
    assert recorded["take_profit"].order.exchange_order_id == str(target.order_id)
    assert (await restarted.state("acct")).state is TradingState.ACTIVE

    # reconciling again changes nothing; re-delivering the signal sends nothing
    again = await restarted.reconcile("acct")
    assert (again.resolved, again.legs_placed, again.adopted, again.mismatches) == (
        [],
        [],
        [],
        [],
    )
    assert (await restarted.submit_signal(signal)).status == "duplicate"
    assert len(venue.engine_orders()) == 3


class DiesBeforeTheStop(Pipeline):
    """Dies after the entry's acknowledgement and both legs' intents were committed (one
    transaction), before the stop was sent: the position is open and unprotected, the stop
    is only an intent the venue never saw."""

    async def send(self, trader: Any, request: Any, order_id: int, signal_id: Any) -> Order:
        if request.type is OrderType.STOP_MARKET:
            raise ProcessKilled
        return await super().send(trader, request, order_id, signal_id)


async def test_killed_between_entry_and_stop_places_the_stop_on_restart(
    venue: VenueHarness,
) -> None:
    doomed = await venue.new_service()
    doomed.pipeline = DiesBeforeTheStop(doomed.manager, doomed.store, doomed.gate)
    signal = venue.signal(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    with pytest.raises(ProcessKilled):
        await doomed.submit_signal(signal)
    entries = [o for o in venue.engine_orders() if not o.spec.kind.is_trigger]
    assert [o.status for o in entries] == [OrderStatus.FILLED]
    assert venue.engine_position() == Q
    assert not any(o.spec.kind.value == "STOP_MARKET" for o in venue.engine_orders())

    restarted = await venue.new_service()  # start() reconciles

    legs = [o for o in venue.engine_orders() if o.spec.kind.is_trigger]
    assert sorted((o.spec.kind.value, o.spec.trigger_price) for o in legs) == [
        ("STOP_MARKET", STOP),
        ("TAKE_PROFIT_MARKET", TARGET),
    ]
    assert all(o.status is OrderStatus.NEW and o.spec.qty == Q for o in legs)
    timeline = await restarted.signal_timeline(signal.idempotency_key)
    (stop,) = [o for o in timeline.orders if o.order.role == "stop_loss"]
    # the signal is resumed from the step it reached: the stop the venue never saw is sent
    # with the client id it was recorded under, and rests on the venue
    assert [h.event for h in stop.history] == ["intent", "acknowledged"]
    assert stop.order.client_order_id == legs_by_kind(venue)["STOP_MARKET"].spec.client_id
    assert stop.order.status == "submitted"
    assert timeline.signal.status == "filled"
    assert sorted({o.order.role for o in timeline.orders}) == [
        "entry",
        "stop_loss",
        "take_profit",
    ]


def legs_by_kind(venue: VenueHarness) -> dict[str, Any]:
    return {o.spec.kind.value: o for o in venue.engine_orders() if o.spec.kind.is_trigger}


# ------------------------------------------------------ stop refused after entry


def refuse_the_stop(venue: VenueHarness, times: int | None = 1) -> dict[str, Any]:
    """Make the venue refuse the stop that follows the entry; returns the signal fields."""
    if venue.sim is not None:
        # the first create passes (the entry); the stop is refused, and so is each of its
        # retries (a 429 is retried before anything is closed); the flatten then passes
        pipeline = venue.service.pipeline
        pipeline.retry_delays = (0.01, 0.01, 0.01)
        refusals = 1 + len(pipeline.retry_delays)
        venue.add_fault("any_create", kind="status", status=429, skip=1, times=refusals)
        return {"stop_loss": STOP}
    # the paper venue has no wire to fault (and a stop on the wrong side is refused before
    # anything is sent): its trader refuses the stop, as a venue would (-2021)
    trader = venue.paper_trader
    create = trader.create_order
    refused = [0]

    async def refusing(request: OrderRequest) -> Order:
        if request.type is OrderType.STOP_MARKET and (times is None or refused[0] < times):
            refused[0] += 1
            raise errors.InvalidOrder("WOULD_TRIGGER_IMMEDIATELY: the venue refused the stop")
        return await create(request)

    trader.create_order = refusing
    return {"stop_loss": STOP}


async def test_stop_refused_after_entry_flattens(venue: VenueHarness) -> None:
    report = await venue.submit(side="buy", quantity=Q, **refuse_the_stop(venue))

    assert report.status == "flattened" and not report.success, report
    if venue.sim is not None:
        assert [r.fired for r in venue.sim.simulator.ctx.faults.rules] == [4]
    assert report.reason == "stop_loss_failed"
    assert report.to_dict()["reason"] == "stop_loss_failed" and report.error
    assert set(report.orders) == {"entry", "flatten"}
    assert venue.engine_position() == 0
    assert venue.open_engine_orders() == []
    entry, flatten = (o for o in venue.engine_orders() if not o.spec.kind.is_trigger)
    assert entry.status is OrderStatus.FILLED
    assert (flatten.spec.side.value, flatten.spec.qty, flatten.spec.reduce_only) == (
        "SELL",
        Q,
        True,
    )
    assert flatten.status is OrderStatus.FILLED
    assert report.orders["flatten"].id == str(flatten.order_id)

    timeline = await venue.service.signal_timeline(report.idempotency_key)
    kinds = [e.kind for e in timeline.events]
    assert "stop_loss_failed" in kinds and "position_flattened" in kinds
    assert kinds.index("stop_loss_failed") < kinds.index("position_flattened")
    statuses = {o.order.client_order_id: o.order.status for o in timeline.orders}
    assert statuses[flatten.spec.client_id] == "filled"
    # the stop refused (and on the simulator, each passing-refusal retry refused too)
    stop_attempts = 1 if venue.sim is None else 4
    assert sorted(statuses.values()) == ["filled", "filled"] + ["rejected"] * stop_attempts
    assert timeline.signal.status == "flattened"


async def test_a_stop_refused_for_a_passing_reason_is_retried_not_flattened(
    sim_venue: VenueHarness,
) -> None:
    """A 429 on the stop is not a refusal of the stop: it is sent again (a fresh id) and the
    position stays, protected, with no flatten and no second fee."""
    venue = sim_venue
    venue.service.pipeline.retry_delays = (0.01, 0.01, 0.01)
    rule = venue.add_fault("any_create", kind="status", status=429, skip=1, times=1)

    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)

    assert rule.fired == 1
    assert report.status == "filled" and report.success, report
    assert venue.engine_position() == Q
    (stop,) = [o for o in venue.open_engine_orders() if o.spec.kind is OrderKind.STOP_MARKET]
    assert stop.spec.qty == Q and stop.spec.trigger_price == STOP
    assert [o for o in venue.engine_orders() if not o.spec.kind.is_trigger][
        -1
    ].spec.side.value == "BUY"
    assert report.orders["stop_loss"].id == str(stop.order_id)


async def test_stop_refused_with_keep_policy_keeps_and_reconcile_reduces(
    venue: VenueHarness,
) -> None:
    venue.service = await venue.new_service(
        risk=venue.risk.model_copy(update={"on_stop_failure": "keep"})
    )
    report = await venue.submit(side="buy", quantity=Q, **refuse_the_stop(venue, times=None))

    assert report.status == "filled" and report.warnings, report
    assert "stop-loss not placed" in report.warnings[0]
    assert venue.engine_position() == Q
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    kinds = [e.kind for e in timeline.events]
    assert "stop_loss_failed" in kinds and "position_flattened" not in kinds

    # the reconciler tries to put the stop back; while the venue keeps refusing it, the
    # unprotected position is a mismatch: no new exposure until it is dealt with
    if venue.sim is not None:
        rule = venue.add_fault("any_create", kind="status", status=429)
    result = await venue.service.reconcile("acct")
    assert any("no resting stop-loss" in m for m in result.mismatches), result
    assert (await venue.service.state("acct")).state is TradingState.REDUCING
    if venue.sim is not None:
        assert rule.fired >= 1
        venue.sim.simulator.ctx.faults.rules.remove(rule)
    refused = await venue.submit(side="buy", quantity=Q)
    assert refused.reason == "reducing_only"
    closed = await venue.service.close_position("BTC/USDT", account="acct")
    assert closed.status == "filled" and venue.engine_position() == 0


async def test_a_stop_refused_for_a_moment_is_put_back_by_the_reconciler(
    sim_venue: VenueHarness,
) -> None:
    """Kept without a stop (policy keep) after a passing refusal: the next reconcile places
    the stop for the whole position and the account stays ACTIVE."""
    venue = sim_venue
    venue.service = await venue.new_service(
        risk=venue.risk.model_copy(update={"on_stop_failure": "keep"})
    )
    report = await venue.submit(side="buy", quantity=Q, **refuse_the_stop(venue))
    assert report.status == "filled" and report.warnings, report

    result = await venue.service.reconcile("acct")

    assert result.mismatches == [] and len(result.legs_placed) == 1, result
    (stop,) = [o for o in venue.open_engine_orders() if o.spec.kind is OrderKind.STOP_MARKET]
    assert stop.spec.qty == Q and stop.spec.reduce_only and stop.spec.trigger_price == STOP
    assert (await venue.service.state("acct")).state is TradingState.ACTIVE


async def test_the_reconciler_puts_back_an_off_grid_stop_where_the_decision_rounded_it(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    venue.service = await venue.new_service(
        risk=venue.risk.model_copy(update={"on_stop_failure": "keep"})
    )
    refuse_the_stop(venue)
    report = await venue.submit(side="buy", quantity=Q, stop_loss=Decimal("66000.37"))
    assert report.status == "filled" and report.warnings, report
    plan = await venue.service.pipeline.stored_plan(report.signal_id or 0)
    assert plan is not None and plan.stop is not None and plan.stop >= Decimal("66000.37")

    await venue.service.reconcile("acct")

    (stop,) = [o for o in venue.open_engine_orders() if o.spec.kind is OrderKind.STOP_MARKET]
    assert stop.spec.trigger_price == plan.stop  # towards the entry, never away from it
