"""A signal whose process died after its decision was committed and before its first order
went out (issue 12: mutants that survived the suite). The decision stored the plan; the
resume rebuilds the same orders from it, so what reaches the venue is read here:

- young enough: the stored plan is sent - the stop and the target at the prices the decision
  rounded, a side signal's reducing part and no more; a resume that comes late (its record
  read before another finished the signal) answers with what was done, orders included;
- too old by now: nothing new is sent, the signal expires as ``interrupted`` and an event
  says which order was never sent; a stop for what already filled is sent all the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from tradeexec.domain import Order, OrderRequest, OrderType
from tradeexec.execution.pipeline import Pipeline
from tradeexec.sim.engine import OrderKind, OrderStatus

if TYPE_CHECKING:
    from tradeexec.execution.signals import Signal
    from tradeexec.store.records import SignalRecord
    from tradeexec.testing import VenueHarness

D = Decimal
Q = D("0.1")
STOP, TARGET = D(66000), D(69000)

pytestmark = pytest.mark.parametrize("venue", ["binance"], indirect=True)


class ProcessKilled(BaseException):
    """The process dies. A BaseException, so no `except Exception` on the way catches it."""


class DiesBeforeSending(Pipeline):
    """Dies when it is about to send an order of ``kinds`` (any, when empty): the decision
    and the order's intent are committed, the venue never saw the order."""

    kinds: tuple[OrderType, ...] = ()

    async def send(
        self, trader: Any, request: OrderRequest, order_id: int, signal_id: Any
    ) -> Order:
        if not self.kinds or request.type in self.kinds:
            raise ProcessKilled
        return await super().send(trader, request, order_id, signal_id)


async def killed_before_sending(
    venue: VenueHarness, signal: Signal, *kinds: OrderType
) -> SignalRecord:
    """Run ``signal`` in a process that dies before sending; its stored record after."""
    doomed = await venue.new_service()
    doomed.pipeline = DiesBeforeSending(doomed.manager, doomed.store, doomed.gate)
    doomed.pipeline.kinds = kinds
    with pytest.raises(ProcessKilled):
        await doomed.submit_signal(signal)
    timeline = await venue.service.signal_timeline(signal.idempotency_key)
    assert timeline is not None
    record: SignalRecord = timeline.signal
    return record


def too_old_from_now(venue: VenueHarness) -> None:
    """The resuming process's clock: past the signal's age limit."""
    late = timedelta(seconds=venue.risk.max_signal_age_s + 5)
    venue.service.pipeline.now = lambda: datetime.now(UTC) + late


def engine_legs(venue: VenueHarness) -> dict[OrderKind, Any]:
    return {o.spec.kind: o for o in venue.engine_orders() if o.spec.kind.is_trigger}


async def test_a_young_signal_sends_its_stored_plan_on_resume(venue: VenueHarness) -> None:
    signal = venue.signal(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    stored = await killed_before_sending(venue, signal)
    # what an operator sees meanwhile: executing, the orders being sent
    assert (stored.status, stored.status_reason) == ("executing", "sending")
    assert venue.engine_orders() == []

    report = await venue.service.pipeline.resume(stored)

    assert report is not None and report.status == "filled", report
    assert venue.engine_position() == Q
    legs = engine_legs(venue)
    assert set(legs) == {OrderKind.STOP_MARKET, OrderKind.TAKE_PROFIT_MARKET}
    assert (
        legs[OrderKind.STOP_MARKET].spec.trigger_price,
        legs[OrderKind.STOP_MARKET].spec.qty,
    ) == (
        STOP,
        Q,
    )
    assert (
        legs[OrderKind.TAKE_PROFIT_MARKET].spec.trigger_price,
        legs[OrderKind.TAKE_PROFIT_MARKET].spec.qty,
    ) == (TARGET, Q)

    # a resume of the same record that comes late answers with what was done; sends nothing
    late = await venue.service.pipeline.resume(stored)

    assert late is not None and late.status == "filled", late
    assert set(late.orders) == {"entry", "stop_loss", "take_profit"}
    assert late.orders["entry"].filled_quantity == Q
    assert len(venue.engine_orders()) == 3


async def test_a_side_signal_resumed_reduces_by_its_own_size(venue: VenueHarness) -> None:
    assert (await venue.submit(side="buy", quantity=D("0.2"))).status == "filled"
    signal = venue.signal(side="sell", quantity=Q)  # reduces the long by 0.1: no more
    stored = await killed_before_sending(venue, signal)

    report = await venue.service.pipeline.resume(stored)

    assert report is not None and report.status == "filled", report
    close = venue.engine_orders()[-1]
    assert (close.spec.side.value, close.spec.qty, close.spec.reduce_only) == ("SELL", Q, True)
    assert venue.engine_position() == Q


async def test_a_signal_too_old_by_its_resume_sends_nothing_and_expires(
    venue: VenueHarness,
) -> None:
    signal = venue.signal(side="buy", quantity=Q, stop_loss=STOP)
    stored = await killed_before_sending(venue, signal)
    too_old_from_now(venue)

    report = await venue.service.pipeline.resume(stored)

    assert report is not None and (report.status, report.reason) == ("expired", "interrupted")
    assert venue.engine_orders() == []
    timeline = await venue.service.signal_timeline(signal.idempotency_key)
    assert (timeline.signal.status, timeline.signal.status_reason) == ("expired", "interrupted")
    (unsent,) = [e for e in timeline.events if e.kind == "signal_ended_unsent"]
    assert (unsent.account, unsent.data["role"]) == ("acct", "entry")


async def test_a_stop_for_what_filled_is_sent_however_old_the_signal(
    venue: VenueHarness,
) -> None:
    signal = venue.signal(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    stored = await killed_before_sending(venue, signal, OrderType.STOP_MARKET)
    assert venue.engine_position() == Q  # open, and no stop protects it
    assert OrderKind.STOP_MARKET not in engine_legs(venue)
    too_old_from_now(venue)

    report = await venue.service.pipeline.resume(stored)

    assert report is not None and report.status == "filled", report
    legs = engine_legs(venue)
    assert set(legs) == {OrderKind.STOP_MARKET, OrderKind.TAKE_PROFIT_MARKET}
    assert all(o.status is OrderStatus.NEW and o.spec.qty == Q for o in legs.values())
    assert legs[OrderKind.STOP_MARKET].spec.trigger_price == STOP


async def test_a_signal_exactly_at_its_age_limit_is_still_young_on_resume(
    venue: VenueHarness,
) -> None:
    """`max_signal_age_s` is how old a signal may be: at exactly that age it still goes out
    (past it, it expires: the test above)."""
    signal = venue.signal(side="buy", quantity=Q)
    stored = await killed_before_sending(venue, signal)
    at_limit = signal.created_at + timedelta(seconds=venue.risk.max_signal_age_s)
    venue.service.pipeline.now = lambda: at_limit

    report = await venue.service.pipeline.resume(stored)

    assert report is not None and report.status == "filled", report
    assert venue.engine_position() == Q
