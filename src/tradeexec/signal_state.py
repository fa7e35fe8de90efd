"""Signal lifecycle: one table of allowed ``(status -> status)`` moves, each with its reason.

A signal is recorded (``received``) before anything is decided, moves to ``executing`` in
the same commit as its approved decision and first order intent, and ends in a terminal
status with a recorded reason. After a crash, start-up and the reconcile loop find every
signal that is not terminal and resume it from the step it reached (see
``execution.recovery``), so no signal stays in flight and none is reported as done when it
is not.

=================  ==========================================================================
status             meaning
=================  ==========================================================================
``received``       recorded; not decided yet (a crash here: nothing was sent)
``deciding``       being decided (risk checks, sizing); not persisted on the fast path
``executing``      approved; orders are being sent, or one's outcome is not known yet
``accepted``       the entry rests on the exchange (a limit order); its fills are followed by
                   the reconciler, which places the stop and target as it fills
``filled``         done: what was asked executed and the position is protected as asked
``partially_done`` some of it happened and some could not: a flip whose opening half was
                   refused after its close filled, an entry whose protection could not be
                   restored (account halted). The reason says which
``rejected``       refused before anything filled (risk check, or the venue refused the order)
``failed``         an error before anything filled (venue unreachable, ...)
``flattened``      the entry filled, its stop could not be placed, and what it added was closed
``expired``        not executed: interrupted (a crash) and older than ``max_signal_age_s`` by
                   the time it could be resumed, or a resting entry cancelled unfilled
``noop``           nothing to do (already at the target)
=================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from tradeexec.errors import InvalidTransitionError

__all__ = [
    "NON_TERMINAL",
    "SUCCESSFUL",
    "TERMINAL",
    "TRANSITIONS",
    "SignalStatus",
    "can_move",
    "predecessors",
    "transition",
]


class SignalStatus(StrEnum):
    RECEIVED = "received"
    DECIDING = "deciding"
    EXECUTING = "executing"
    ACCEPTED = "accepted"
    FILLED = "filled"
    PARTIALLY_DONE = "partially_done"
    REJECTED = "rejected"
    FAILED = "failed"
    FLATTENED = "flattened"
    EXPIRED = "expired"
    NOOP = "noop"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


S = SignalStatus

_ROWS: dict[SignalStatus, dict[SignalStatus, str]] = {
    S.RECEIVED: {
        S.DECIDING: "risk checks and sizing started",
        S.EXECUTING: "approved; the decision and the first intent committed together",
        S.REJECTED: "a risk check or the gate refused it",
        S.NOOP: "approved, nothing to send (already at the target)",
        S.FAILED: "the facts could not be read (venue unreachable) before anything was sent",
        S.EXPIRED: "interrupted before it was decided, and too old to decide now",
    },
    S.DECIDING: {
        S.EXECUTING: "approved",
        S.REJECTED: "refused",
        S.NOOP: "nothing to send",
        S.FAILED: "an error before anything was sent",
        S.EXPIRED: "interrupted while deciding, too old to decide now",
    },
    S.EXECUTING: {
        S.ACCEPTED: "the entry rests on the exchange (limit)",
        S.FILLED: "done, protected as asked",
        S.PARTIALLY_DONE: "part done; the reason says what is missing",
        S.REJECTED: "the venue refused the first order; nothing filled",
        S.FAILED: "an error before anything filled",
        S.FLATTENED: "stop refused; what the entry added was closed",
        S.EXPIRED: "interrupted before anything was sent, too old to send now",
        S.NOOP: "after a resume: nothing left to send",
    },
    S.ACCEPTED: {
        S.FILLED: "the resting entry filled and its legs were placed",
        S.PARTIALLY_DONE: "the resting entry ended partly filled, or could not be protected",
        S.EXPIRED: "the resting entry ended with nothing filled (cancelled, expired)",
        S.FLATTENED: "the resting entry filled, its stop was refused, the fill was closed",
    },
}

TRANSITIONS: Mapping[SignalStatus, Mapping[SignalStatus, str]] = MappingProxyType(
    {k: MappingProxyType(v) for k, v in _ROWS.items()}
)
TERMINAL: frozenset[SignalStatus] = frozenset(S) - frozenset(_ROWS)
NON_TERMINAL: frozenset[SignalStatus] = frozenset(_ROWS)
#: statuses that mean the caller's request was carried out (``accepted``: it rests as asked)
SUCCESSFUL: frozenset[SignalStatus] = frozenset({S.FILLED, S.NOOP, S.ACCEPTED})

del S


def can_move(current: SignalStatus | str, new: SignalStatus | str) -> bool:
    return SignalStatus(new) in TRANSITIONS.get(SignalStatus(current), {})


def predecessors(new: SignalStatus | str) -> frozenset[SignalStatus]:
    """Every status a signal may be in right before ``new``."""
    target = SignalStatus(new)
    return frozenset(s for s, moves in TRANSITIONS.items() if target in moves)


def transition(current: SignalStatus | str, new: SignalStatus | str) -> SignalStatus:
    """``new`` if the move is allowed; ``InvalidTransitionError`` naming the allowed ones."""
    here, there = SignalStatus(current), SignalStatus(new)
    if there in TRANSITIONS.get(here, {}):
        return there
    if here.is_terminal:
        why = f"{here.value} is terminal"
    else:
        why = f"from {here.value} only {', '.join(sorted(TRANSITIONS[here]))} may follow"
    raise InvalidTransitionError(f"signal {here.value} -> {there.value} is impossible: {why}")
