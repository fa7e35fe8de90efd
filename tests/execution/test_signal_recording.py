"""A signal executed for a waiting caller is recorded in its run's first commit, with what
was decided (`execution/recording.py`): never a commit of its own, never after anything is
sent; a key recorded before (another process) is answered as a re-delivery, nothing decided
or sent again; a crash before that commit leaves nothing recorded and nothing sent."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from tradeexec.execution.recording import RecordedThen
from tradeexec.execution.riskgate import Decision
from tradeexec.store.front import WriteBatch

if TYPE_CHECKING:
    from tradeexec.testing import VenueHarness

Q = Decimal("0.1")
STOP, TARGET = Decimal(66000), Decimal(69000)


def _names(step: Callable[[], Any]) -> list[str]:
    if isinstance(step, RecordedThen):
        return [name for ran in step.ran for name in _names(ran)]
    return [str(getattr(getattr(step, "func", step), "__name__", "?"))]


def watch(venue: VenueHarness) -> list[WriteBatch]:
    batches: list[WriteBatch] = []
    thread = venue.service.store.thread
    original = thread.submit

    def submit(fn: Callable[[], Any], **kwargs: Any) -> Any:
        if isinstance(fn, WriteBatch):
            batches.append(fn)
        return original(fn, **kwargs)

    thread.submit = submit  # type: ignore[method-assign]
    return batches


def described(batches: list[WriteBatch]) -> list[tuple[bool, list[str]]]:
    return [(b.durable, [n for step in b.steps for n in _names(step)]) for b in batches]


async def test_a_refused_signal_is_recorded_with_its_refusal_in_one_durable_commit(
    venue: VenueHarness,
) -> None:
    batches = watch(venue)
    report = await venue.submit(side="buy", quantity=Q, confidence=0.1)  # below the gate

    assert report.status == "rejected" and report.reason == "low_confidence", report
    assert described(batches) == [(True, ["record_signal", "record_decision", "set_signal_status"])]
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    assert timeline is not None and timeline.signal.status == "rejected"
    assert timeline.signal.id == report.signal_id
    assert venue.engine_orders() == []


async def test_a_signal_whose_reads_fail_is_recorded_as_failed(sim_venue: VenueHarness) -> None:
    venue = sim_venue
    venue.add_fault(f"{venue.name}.*", kind="status", status=503)
    batches = watch(venue)
    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)

    assert report.status == "failed" and not report.success, report
    ((durable, steps),) = described(batches)
    assert durable and steps == ["record_signal", "set_signal_status", "append_event"]
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    assert timeline is not None and timeline.signal.status == "failed"
    assert timeline.signal.id == report.signal_id and not timeline.orders


class Killed(BaseException):
    """The process dies (no `except Exception` catches it)."""


async def test_killed_before_the_first_commit_leaves_nothing_and_a_resend_executes_once(
    venue: VenueHarness,
) -> None:
    doomed = await venue.new_service()
    decide = doomed.gate.decide

    async def decide_then_die(*args: Any, **kwargs: Any) -> Decision:
        await decide(*args, **kwargs)  # the venue reads happen; nothing is written
        raise Killed

    doomed.gate.decide = decide_then_die  # type: ignore[method-assign]
    signal = venue.signal(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    with pytest.raises(Killed):
        await doomed.submit_signal(signal)
    assert doomed.store.get_signal_by_key(signal.idempotency_key) is None
    assert venue.engine_orders() == []

    restarted = await venue.new_service()
    report = await restarted.submit_signal(signal)  # the caller, never answered, sends again

    assert report.status == "filled", report
    assert len([o for o in venue.engine_orders() if not o.spec.kind.is_trigger]) == 1
    again = await restarted.submit_signal(signal)
    assert again.status == "duplicate" and again.signal_id == report.signal_id


async def test_a_key_another_process_recorded_is_answered_not_decided_again(
    venue: VenueHarness,
) -> None:
    signal = venue.signal(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    first = await venue.service.submit_signal(signal)
    assert first.status == "filled"
    orders = len(venue.engine_orders())

    other = await venue.new_service()  # another process: nothing of this key runs there
    batches = watch(venue)
    report = await other.submit_signal(signal)

    assert report.status == "duplicate" and report.signal_id == first.signal_id, report
    assert len(venue.engine_orders()) == orders  # nothing sent
    assert batches == []  # the other service's store object: nothing written through this one
    decisions = other.store.decisions_for_signal(first.signal_id or 0)
    assert len(decisions) == 1  # decided once, by the first delivery
