"""Who may move an account between ACTIVE, REDUCING and HALTED: one owner, one table.

An account's trading state is written from several places - the operator's kill switch and
resume, the risk limits (daily loss, drawdown), protection that could not be restored, the
reconciler - each with its own rule. The rules are rows here, and every move goes through
`AccountStates.move` (or `step` for one commit with other writes): it reads the current state
and applies a row in the same transaction, and records the event ``account_halted``,
``account_reducing`` or ``account_resumed`` with who moved it, from where, and why.

============  ==========  ===========================================================
from          to          who may
============  ==========  ===========================================================
any           HALTED      operator (kill switch), risk (loss limits), protection
ACTIVE        REDUCING    operator (pause entries), reconciler (a mismatch)
REDUCING      REDUCING    operator, reconciler (a new reason)
REDUCING      ACTIVE      operator (resume); reconciler only when it set the REDUCING
HALTED        ACTIVE      operator only: nothing automatic ever lifts the kill switch
HALTED        REDUCING    operator only
============  ==========  ===========================================================

A move the table does not allow is not an error: it is simply not made (``move`` answers
False), e.g. a reconciler mismatch on a HALTED account leaves it HALTED.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import partial
from typing import Any

from tradeexec.domain import TradingState
from tradeexec.execution.journal import Journal

__all__ = ["RECONCILER_PREFIX", "AccountStates", "Mover", "allowed"]

A, R, H = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED


class Mover(StrEnum):
    OPERATOR = "operator"
    RISK = "risk"  # daily loss / drawdown limits
    PROTECTION = "protection"  # a stop and its flatten both failed
    RECONCILER = "reconciler"


#: trading-state reasons the reconciler writes start so (and only those it lifts again)
RECONCILER_PREFIX = "reconcile: "

_TO_HALTED = frozenset({Mover.OPERATOR, Mover.RISK, Mover.PROTECTION})
_ROWS: dict[tuple[TradingState, TradingState], frozenset[Mover]] = {
    (A, H): _TO_HALTED,
    (R, H): _TO_HALTED,
    (H, H): _TO_HALTED,
    (A, R): frozenset({Mover.OPERATOR, Mover.RECONCILER}),
    (R, R): frozenset({Mover.OPERATOR, Mover.RECONCILER}),
    (R, A): frozenset({Mover.OPERATOR, Mover.RECONCILER}),
    (A, A): frozenset({Mover.OPERATOR}),
    (H, A): frozenset({Mover.OPERATOR}),
    (H, R): frozenset({Mover.OPERATOR}),
}


_EVENTS = {H: "account_halted", R: "account_reducing", A: "account_resumed"}


def allowed(
    current: TradingState, new: TradingState, by: Mover, current_reason: str | None = None
) -> bool:
    """May ``by`` move an account from ``current`` to ``new``?"""
    if by not in _ROWS.get((current, new), frozenset()):
        return False
    if (current, new, by) == (R, A, Mover.RECONCILER):
        # the reconciler lifts only a REDUCING it set itself, never an operator's pause
        return (current_reason or "").startswith(RECONCILER_PREFIX)
    return True


class AccountStates:
    """Moves accounts through the table, durably, each move with an event."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def step(
        self,
        account: str,
        new: TradingState,
        by: Mover,
        reason: str,
        signal_id: int | None = None,
        **data: Any,
    ) -> Callable[[], bool]:
        """The move as a store step, for one commit with other writes; True if made.
        ``data`` goes into the event beside from / to / by / reason."""
        return partial(self._apply, account, new, by, reason, signal_id, data)

    async def move(
        self,
        account: str,
        new: TradingState,
        by: Mover,
        reason: str,
        signal_id: int | None = None,
        **data: Any,
    ) -> bool:
        (moved,) = await self.journal.write(self.step(account, new, by, reason, signal_id, **data))
        return bool(moved)

    def _apply(
        self,
        account: str,
        new: TradingState,
        by: Mover,
        reason: str,
        signal_id: int | None,
        data: dict[str, Any],
    ) -> bool:
        store = self.journal.store
        state, current_reason = store.get_trading_state(account)
        current = TradingState(state)
        if not allowed(current, new, by, current_reason):
            return False
        if (current, current_reason) == (new, reason):
            return True  # nothing changes: no write, no event
        store.set_trading_state(account, new.value, reason)
        moved = {"from": current.value, "to": new.value, "by": by.value, "reason": reason}
        store.append_event(_EVENTS[new], account, {**data, **moved}, signal_id=signal_id)
        return True
