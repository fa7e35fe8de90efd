"""The order state machine: every row, impossible pairs, observations."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeexec.domain import OrderStatus as S
from tradeexec.errors import InvalidTransitionError
from tradeexec.order_state import (
    TRANSITIONS,
    OrderEvent,
    apply_observation,
    can_transition,
    event_from_observation,
    normalize_observed_status,
    transition,
)
from tradeexec.order_state import OrderEvent as E

# The table written out again, independently: a change to the state machine must be made
# in both places, on purpose.
EXPECTED = {
    (S.PENDING_SUBMIT, E.ACCEPTED): S.SUBMITTED,
    (S.PENDING_SUBMIT, E.REJECTED): S.REJECTED,
    (S.PENDING_SUBMIT, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PENDING_SUBMIT, E.FILLED): S.FILLED,
    (S.PENDING_SUBMIT, E.CANCELED): S.CANCELED,
    (S.PENDING_SUBMIT, E.EXPIRED): S.EXPIRED,
    (S.PENDING_SUBMIT, E.TIMED_OUT): S.UNKNOWN,
    (S.PENDING_SUBMIT, E.CANCEL_REQUESTED): S.CANCEL_PENDING,
    (S.SUBMITTED, E.ACCEPTED): S.SUBMITTED,
    (S.SUBMITTED, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.SUBMITTED, E.FILLED): S.FILLED,
    (S.SUBMITTED, E.CANCEL_REQUESTED): S.CANCEL_PENDING,
    (S.SUBMITTED, E.CANCELED): S.CANCELED,
    (S.SUBMITTED, E.EXPIRED): S.EXPIRED,
    (S.SUBMITTED, E.REJECTED): S.REJECTED,
    (S.PARTIALLY_FILLED, E.ACCEPTED): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.FILLED): S.FILLED,
    (S.PARTIALLY_FILLED, E.CANCEL_REQUESTED): S.CANCEL_PENDING,
    (S.PARTIALLY_FILLED, E.CANCELED): S.CANCELED,
    (S.PARTIALLY_FILLED, E.EXPIRED): S.EXPIRED,
    (S.CANCEL_PENDING, E.CANCELED): S.CANCELED,
    (S.CANCEL_PENDING, E.FILLED): S.FILLED,
    (S.CANCEL_PENDING, E.PARTIAL_FILL): S.CANCEL_PENDING,
    (S.CANCEL_PENDING, E.EXPIRED): S.EXPIRED,
    (S.CANCEL_PENDING, E.REJECTED): S.REJECTED,
    (S.CANCEL_PENDING, E.ACCEPTED): S.CANCEL_PENDING,
    (S.CANCEL_PENDING, E.CANCEL_REQUESTED): S.CANCEL_PENDING,
    (S.CANCEL_PENDING, E.TIMED_OUT): S.CANCEL_PENDING,
    (S.CANCEL_PENDING, E.CANCEL_REJECTED): S.SUBMITTED,
    (S.UNKNOWN, E.RESOLVED_OPEN): S.SUBMITTED,
    (S.UNKNOWN, E.RESOLVED_PARTIALLY_FILLED): S.PARTIALLY_FILLED,
    (S.UNKNOWN, E.RESOLVED_FILLED): S.FILLED,
    (S.UNKNOWN, E.RESOLVED_CANCELED): S.CANCELED,
    (S.UNKNOWN, E.RESOLVED_REJECTED): S.REJECTED,
    (S.UNKNOWN, E.RESOLVED_EXPIRED): S.EXPIRED,
    (S.UNKNOWN, E.RESOLVED_NOT_FOUND): S.REJECTED,
    (S.UNKNOWN, E.TIMED_OUT): S.UNKNOWN,
    (S.UNKNOWN, E.ACCEPTED): S.SUBMITTED,
    (S.UNKNOWN, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.UNKNOWN, E.FILLED): S.FILLED,
    (S.UNKNOWN, E.CANCELED): S.CANCELED,
    (S.UNKNOWN, E.REJECTED): S.REJECTED,
    (S.UNKNOWN, E.EXPIRED): S.EXPIRED,
}


PLAIN_EVENT = {
    S.SUBMITTED: E.ACCEPTED,
    S.PARTIALLY_FILLED: E.PARTIAL_FILL,
    S.FILLED: E.FILLED,
    S.CANCELED: E.CANCELED,
    S.REJECTED: E.REJECTED,
    S.EXPIRED: E.EXPIRED,
}


def test_table_is_exactly_the_expected_rows() -> None:
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize(("key", "after"), EXPECTED.items(), ids=lambda v: str(v))
def test_every_row(key: tuple[S, OrderEvent], after: S) -> None:
    current, event = key
    assert can_transition(current, event)
    assert transition(current, event) is after


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[(S.FILLED, E.ACCEPTED)] = S.SUBMITTED  # type: ignore[index]


@given(st.sampled_from(list(S)), st.sampled_from(list(E)))
def test_every_pair_is_in_the_table_or_raises(current: S, event: OrderEvent) -> None:
    if (current, event) in TRANSITIONS:
        assert transition(current, event) is TRANSITIONS[(current, event)]
    else:
        with pytest.raises(InvalidTransitionError, match=event.value):
            transition(current, event)


@pytest.mark.parametrize("status", [s for s in S if s.is_terminal])
@pytest.mark.parametrize("event", list(E))
def test_terminal_states_accept_nothing(status: S, event: OrderEvent) -> None:
    assert not can_transition(status, event)
    with pytest.raises(InvalidTransitionError, match="terminal"):
        transition(status, event)


def test_every_non_terminal_status_can_reach_a_terminal_one() -> None:
    for start in S:
        seen, frontier = {start}, [start]
        while frontier:
            status = frontier.pop()
            for (src, _), dst in TRANSITIONS.items():
                if src is status and dst not in seen:
                    seen.add(dst)
                    frontier.append(dst)
        assert any(s.is_terminal for s in seen), start


def test_resolved_events_only_apply_to_unknown() -> None:
    for src, event in TRANSITIONS:
        if event.value.startswith("resolved_"):
            assert src is S.UNKNOWN


def test_error_message_lists_the_allowed_events() -> None:
    with pytest.raises(InvalidTransitionError, match="accepted") as info:
        transition(S.PENDING_SUBMIT, E.RESOLVED_FILLED)
    assert info.value.code == "invalid_transition"


@pytest.mark.parametrize(
    ("observed", "filled", "quantity", "expected"),
    [
        ("open", "0", None, S.SUBMITTED),
        ("NEW", "0", None, S.SUBMITTED),
        ("open", "0.5", "1", S.PARTIALLY_FILLED),
        ("PARTIALLY_FILLED", "0.5", None, S.PARTIALLY_FILLED),
        ("partially_filled", "0", None, S.SUBMITTED),
        ("open", "1", "1", S.FILLED),
        ("closed", "1", None, S.FILLED),
        ("FILLED", "1", None, S.FILLED),
        ("canceled", "0", None, S.CANCELED),
        ("CANCELLED", "0.2", None, S.CANCELED),
        ("expired", "0", None, S.EXPIRED),
        ("rejected", "0", None, S.REJECTED),
        (S.SUBMITTED, "0", None, S.SUBMITTED),
    ],
)
def test_normalize_observed_status(
    observed: str, filled: str, quantity: str | None, expected: S
) -> None:
    q = Decimal(quantity) if quantity is not None else None
    assert normalize_observed_status(observed, Decimal(filled), q) is expected


@pytest.mark.parametrize("word", ["pending_submit", "unknown", "cancel_pending", "weird"])
def test_normalize_refuses_statuses_an_exchange_cannot_report(word: str) -> None:
    with pytest.raises(ValueError):
        normalize_observed_status(word)


@pytest.mark.parametrize(
    ("current", "observed", "filled", "expected"),
    [
        (S.PENDING_SUBMIT, "open", "0", E.ACCEPTED),
        (S.PENDING_SUBMIT, "closed", "1", E.FILLED),
        (S.PENDING_SUBMIT, "expired", "0", E.EXPIRED),
        (S.SUBMITTED, "open", "0", None),
        (S.SUBMITTED, "open", "0.3", E.PARTIAL_FILL),
        (S.PARTIALLY_FILLED, "open", "0.3", None),
        (S.PARTIALLY_FILLED, "open", "0", None),  # stale report: fills never vanish
        (S.PARTIALLY_FILLED, "canceled", "0.3", E.CANCELED),
        (S.CANCEL_PENDING, "open", "0", None),  # cancel still in flight
        (S.CANCEL_PENDING, "open", "0.3", None),
        (S.CANCEL_PENDING, "closed", "1", E.FILLED),
        (S.CANCEL_PENDING, "canceled", "0", E.CANCELED),
        (S.UNKNOWN, "open", "0", E.RESOLVED_OPEN),
        (S.UNKNOWN, "open", "0.1", E.RESOLVED_PARTIALLY_FILLED),
        (S.UNKNOWN, "closed", "1", E.RESOLVED_FILLED),
        (S.UNKNOWN, "canceled", "0", E.RESOLVED_CANCELED),
        (S.UNKNOWN, "rejected", "0", E.RESOLVED_REJECTED),
        (S.UNKNOWN, "expired", "0", E.RESOLVED_EXPIRED),
        (S.UNKNOWN, None, "0", E.RESOLVED_NOT_FOUND),
        (S.FILLED, "closed", "1", None),
        (S.CANCELED, None, "0", None),  # old orders age out of the venue's history
    ],
)
def test_event_from_observation(
    current: S, observed: str | None, filled: str, expected: OrderEvent | None
) -> None:
    event = event_from_observation(current, observed, Decimal(filled), Decimal(1))
    assert event is expected
    if event is not None:
        transition(current, event)  # always a legal event


@pytest.mark.parametrize(
    ("current", "observed"),
    [
        (S.FILLED, "canceled"),
        (S.CANCELED, "open"),
        (S.SUBMITTED, None),
        (S.PENDING_SUBMIT, None),
    ],
)
def test_event_from_observation_refuses_contradictions(current: S, observed: str | None) -> None:
    with pytest.raises(InvalidTransitionError):
        event_from_observation(current, observed)


def test_cancel_rejected_then_observed_partial_fill() -> None:
    status = transition(S.PARTIALLY_FILLED, E.CANCEL_REQUESTED)
    status = transition(status, E.PARTIAL_FILL)
    assert status is S.CANCEL_PENDING
    status = transition(status, E.CANCEL_REJECTED)
    assert status is S.SUBMITTED
    assert apply_observation(status, "open", Decimal("0.4"), Decimal(1)) is S.PARTIALLY_FILLED


def test_apply_observation_unknown_to_filled() -> None:
    assert apply_observation(S.UNKNOWN, "closed", Decimal(1)) is S.FILLED
    assert apply_observation(S.SUBMITTED, "open") is S.SUBMITTED


@given(
    st.sampled_from([s for s in S if not s.is_terminal]),
    st.sampled_from(["open", "closed", "canceled", "expired", "rejected", None]),
    st.decimals(min_value=0, max_value=2, places=2),
)
def test_observation_never_yields_an_illegal_event(
    current: S, observed: str | None, filled: Decimal
) -> None:
    try:
        event = event_from_observation(current, observed, filled, Decimal(1))
    except InvalidTransitionError:
        # Only a genuine contradiction: not found while we hold it live, or a report the
        # table has no row for (a partly filled order cannot later be "rejected").
        if observed is None:
            assert current is not S.UNKNOWN
        else:
            target = normalize_observed_status(observed, filled, Decimal(1))
            assert (current, PLAIN_EVENT[target]) not in TRANSITIONS
        return
    if event is not None:
        assert can_transition(current, event)
