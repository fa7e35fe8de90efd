"""Which commits of the order path are synced to the disk: every one that records an order's
intent before it is sent, and none of the others (README, "Performance": what a power cut
can cost). Read from the jobs the store's writer thread runs for one bracketed signal."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeexec.store.front import WriteBatch

if TYPE_CHECKING:
    from tradeexec.testing import VenueHarness

Q = Decimal("0.1")
STOP, TARGET = Decimal(66000), Decimal(69000)


def _name(step: Callable[[], Any]) -> str:
    return str(getattr(getattr(step, "func", step), "__name__", "?"))


async def test_only_the_commits_recording_intents_are_synced(venue: VenueHarness) -> None:
    thread = venue.service.store.thread
    original = thread.submit
    batches: list[tuple[bool, list[str]]] = []

    def submit(fn: Callable[[], Any], **kwargs: Any) -> Any:
        if isinstance(fn, WriteBatch):
            batches.append((fn.durable, [_name(s) for s in fn.steps]))
        return original(fn, **kwargs)

    thread.submit = submit  # type: ignore[method-assign]
    try:
        report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    finally:
        del thread.submit
    assert report.status == "filled" and set(report.orders) >= {"stop_loss", "take_profit"}

    durable = [steps for synced, steps in batches if synced]
    relaxed = [steps for synced, steps in batches if not synced]
    # the entry's intent (with the decision), then the legs' intents (with the entry's answer)
    assert durable == [
        ["record_decision", "set_signal_status", "record_order_intent"],
        ["record_answer", "record_order_intent", "record_order_intent"],
    ]
    assert all("record_order_intent" not in steps for steps in relaxed)
    # the signal's record rides on the first durable commit; the legs' answers and the end
    assert relaxed == [
        ["record_signal"],
        ["record_answer", "record_answer", "set_signal_status"],
    ]
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    assert timeline is not None and timeline.signal.status == "filled"
    assert {o.order.status for o in timeline.orders} <= {"filled", "submitted"}
