"""The bracket legs' intents ride on the entry's durable commit (`execution/leg_intents.py`):
sized as planned, resized durably before they are sent when the entry filled in part (also
when a restarted process finishes the signal), ended as never sent when the entry filled
nothing. Read from the jobs the store's writer thread runs, the store and the simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tradeexec import errors
from tradeexec.domain import Order, OrderRequest, OrderType
from tradeexec.execution.pipeline import Pipeline
from tradeexec.execution.recording import RecordedThen
from tradeexec.sim.engine import OrderKind
from tradeexec.store.front import WriteBatch

if TYPE_CHECKING:
    from tradeexec.testing import VenueHarness

Q = Decimal("0.1")
STOP, TARGET = Decimal(66000), Decimal(69000)
INTENTS = ["record_signal", "record_decision", "set_signal_status"] + ["record_order_intent"] * 3


async def set_depth(venue: VenueHarness, **depth: Any) -> None:
    assert venue.sim is not None
    body = {"venue": venue.name, "account": venue.engine_account, **depth}
    async with httpx.AsyncClient(base_url=venue.sim.base_url) as client:
        answer = await client.post("/_sim/depth", json=body)
    assert answer.status_code == 200, answer.text


def open_legs(venue: VenueHarness, kind: OrderKind) -> list[Any]:
    return [o for o in venue.open_engine_orders() if o.spec.kind is kind]


def _names(step: Callable[[], Any]) -> list[str]:
    """A step's store calls (a signal recorded with the commit's steps: each one)."""
    if isinstance(step, RecordedThen):
        return [name for ran in step.ran for name in _names(ran)]
    return [str(getattr(getattr(step, "func", step), "__name__", "?"))]


def _steps(batch: WriteBatch) -> list[str]:
    return [name for step in batch.steps for name in _names(step)]


@contextmanager
def watching_batches(venue: VenueHarness) -> Iterator[list[WriteBatch]]:
    """Every write batch the service's store runs."""
    thread = venue.service.store.thread
    original = thread.submit
    batches: list[WriteBatch] = []

    def submit(fn: Callable[[], Any], **kwargs: Any) -> Any:
        if isinstance(fn, WriteBatch):
            batches.append(fn)
        return original(fn, **kwargs)

    thread.submit = submit  # type: ignore[method-assign]
    try:
        yield batches
    finally:
        del thread.submit


async def test_an_entry_filled_in_part_resizes_its_legs_durably_before_sending_them(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    await set_depth(venue, size="0.03", levels=2, step_bps="1")  # 0.06 of the 0.1 fills
    with watching_batches(venue) as batches:
        report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)

    assert report.status == "filled" and report.orders["entry"].filled_quantity == Decimal("0.06")
    durable = [_steps(batch) for batch in batches if batch.durable]
    assert durable == [INTENTS, ["record_answer", "resize_intent", "resize_intent"]]
    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    (target,) = open_legs(venue, OrderKind.TAKE_PROFIT_MARKET)
    assert stop.spec.qty == target.spec.qty == Decimal("0.06")
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    stored = {o.order.role: o.order for o in timeline.orders}
    assert stored["stop_loss"].quantity == stored["take_profit"].quantity == Decimal("0.06")
    assert stored["stop_loss"].status == stored["take_profit"].status == "submitted"


async def test_legs_of_a_refused_entry_end_as_never_sent(venue: VenueHarness) -> None:
    trader = await venue.service.manager.get("acct")
    create = trader.create_order

    async def refusing(request: OrderRequest) -> Order:  # the venue refuses the entry
        if request.type is OrderType.MARKET:
            raise errors.InvalidOrder("-2019 Margin is insufficient")
        return await create(request)

    trader.create_order = refusing  # type: ignore[method-assign]
    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)

    assert not report.success and report.status == "failed", report
    await _assert_legs_never_sent(venue, report.idempotency_key, entry="rejected")


async def test_legs_of_an_entry_that_filled_nothing_end_as_never_sent(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    await set_depth(venue, size="0.0000001", levels=1)  # rounds to no liquidity at all
    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)

    # Binance expires the IOC with nothing filled; Hyperliquid refuses it
    assert not report.success and report.status in {"rejected", "failed"}, report
    stored = await _assert_legs_never_sent(venue, report.idempotency_key)
    assert stored["entry"].order.status in {"expired", "canceled", "rejected"}
    assert stored["entry"].order.filled_quantity == 0


async def _assert_legs_never_sent(
    venue: VenueHarness, key: str, *, entry: str | None = None
) -> dict[str, Any]:
    assert venue.open_engine_orders() == [] and venue.engine_position() == 0
    timeline = await venue.service.signal_timeline(key)
    assert timeline is not None
    stored = {o.order.role: o for o in timeline.orders}
    if entry is not None:
        assert stored["entry"].order.status == entry
    for role in ("stop_loss", "take_profit"):
        assert stored[role].order.status == "canceled"
        assert [h.event for h in stored[role].history] == ["intent", "never_sent"]
    # nothing left in flight for the reconciler to ask the venue about, nothing to place
    again = await venue.service.reconcile("acct")
    assert (again.resolved, again.legs_placed, again.mismatches) == ([], [], [])
    assert venue.open_engine_orders() == []
    return stored


class Killed(BaseException):
    """The process dies (no `except Exception` catches it)."""


class DiesBeforeTheEntry(Pipeline):
    """Dies after the first commit (the decision and the three intents), before the entry
    is sent."""

    async def send(self, trader: Any, request: Any, order_id: int, signal_id: Any) -> Order:
        if request.type is OrderType.MARKET:
            raise Killed
        return await super().send(trader, request, order_id, signal_id)


async def test_resumed_legs_are_sent_and_recorded_at_the_size_the_entry_filled(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    doomed = await venue.new_service()
    doomed.pipeline = DiesBeforeTheEntry(doomed.manager, doomed.store, doomed.gate)
    signal = venue.signal(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    with pytest.raises(Killed):
        await doomed.submit_signal(signal)
    assert venue.engine_orders() == []
    timeline = await doomed.signal_timeline(signal.idempotency_key)
    assert {o.order.role: o.order.quantity for o in timeline.orders} == {
        "entry": Q,
        "stop_loss": Q,
        "take_profit": Q,
    }
    await set_depth(venue, size="0.03", levels=2, step_bps="1")  # 0.06 of the 0.1 fills

    restarted = await venue.new_service()  # start() resumes the signal

    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    (target,) = open_legs(venue, OrderKind.TAKE_PROFIT_MARKET)
    assert stop.spec.qty == target.spec.qty == Decimal("0.06") == venue.engine_position()
    timeline = await restarted.signal_timeline(signal.idempotency_key)
    stored = {o.order.role: o.order for o in timeline.orders}
    assert len(timeline.orders) == 3  # the intents recorded before the crash, sent once
    assert stored["stop_loss"].quantity == stored["take_profit"].quantity == Decimal("0.06")
    assert stored["stop_loss"].client_order_id == stop.spec.client_id
    assert stored["stop_loss"].status == "submitted"
    assert timeline.signal.status == "filled"
