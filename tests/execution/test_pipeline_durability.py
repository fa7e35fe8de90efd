"""Which commits of the order path are synced to the disk: every one that records an order's
intent before it is sent, and none of the others (README, "Performance": what a power cut
can cost). Read from the jobs the store's writer thread runs for one bracketed signal."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeexec.execution.recording import RecordedThen
from tradeexec.store.front import WriteBatch

if TYPE_CHECKING:
    from tradeexec.testing import VenueHarness

Q = Decimal("0.1")
STOP, TARGET = Decimal(66000), Decimal(69000)


def _names(step: Callable[[], Any]) -> list[str]:
    """A step's store calls (a signal recorded with the commit's steps: each one)."""
    if isinstance(step, RecordedThen):
        return [name for ran in step.ran for name in _names(ran)]
    return [str(getattr(getattr(step, "func", step), "__name__", "?"))]


async def test_only_the_commits_recording_intents_are_synced(venue: VenueHarness) -> None:
    thread = venue.service.store.thread
    original = thread.submit
    batches: list[WriteBatch] = []

    def submit(fn: Callable[[], Any], **kwargs: Any) -> Any:
        if isinstance(fn, WriteBatch):
            batches.append(fn)
        return original(fn, **kwargs)

    thread.submit = submit  # type: ignore[method-assign]
    try:
        report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    finally:
        del thread.submit
    assert report.status == "filled" and set(report.orders) >= {"stop_loss", "take_profit"}

    steps = [(b.durable, [n for step in b.steps for n in _names(step)]) for b in batches]
    durable = [names for synced, names in steps if synced]
    relaxed = [names for synced, names in steps if not synced]
    # one: the signal's record (`recording`), the decision with the entry's intent and its
    # legs' (sized as planned; the entry filled whole, so they are sent as recorded:
    # `leg_intents`)
    assert durable == [
        ["record_signal", "record_decision", "set_signal_status"] + ["record_order_intent"] * 3,
    ]
    # then one relaxed commit: the entry's and the legs' answers with the signal's end
    assert relaxed == [["record_answer"] * 3 + ["set_signal_status"]]
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    assert timeline is not None and timeline.signal.status == "filled"
    assert {o.order.status for o in timeline.orders} <= {"filled", "submitted"}
