"""The bracket legs' intents recorded in the entry's commit, so one fsync covers all three.

A bracketed market entry's stop and target are known before the entry is sent, all but their
size: their client ids derive from the signal's key, their prices from the decision. Only the
quantity waits for the entry's answer (the legs protect what FILLED). So the pipeline records
the legs' intents in the same durable commit as the entry's, sized as planned (the entry's
requested quantity), and once the entry answers:

- filled as planned (the usual case): the legs are sent at once; their intents already say
  exactly what is sent, and the entry's answer rides on the relaxed commit with the legs'
  answers (recovery finds the entry by its client id if a crash loses it);
- filled in part: the entry's answer and the legs' true sizes are one durable commit before
  the legs are sent (`resize_intent`: a pending intent only);
- nothing filled (refused, expired): the legs' intents are ended as never sent, with the
  signal's end.

A crash anywhere leaves every sent order recorded: each leg's intent was durable before the
entry was even sent. Resuming, `Journal.ensure` finds a leg's intent by its client id; one
the venue does not know is sent with the size derived from the entry's fill, its intent
resized first if that differs (`Journal.ensure`), and an entry that filled nothing leaves its
legs' intents to the reconciler, which finds them never sent and ends them (it places legs
only for an entry that filled).

Only a single opening market order gets this: a limit entry may rest (its legs follow its
fills, placed by the reconciler), and a flip's close goes first (its fill decides the rest).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from tradeexec.domain import Order, OrderRequest, OrderRole, OrderStatus, OrderType
from tradeexec.execution.brackets import BracketLeg, bracket_legs
from tradeexec.execution.journal import NEVER_SENT, IntentStep
from tradeexec.execution.planning import EntryPlan

if TYPE_CHECKING:
    from tradeexec.execution.journal import Journal

PENDING = OrderStatus.PENDING_SUBMIT.value


def provisional_legs(
    plans: list[EntryPlan],
    entry: OrderRequest,
    *,
    stop_loss: Decimal | None,
    take_profit: Decimal | None,
    client_id: Callable[[str], str],
) -> list[BracketLeg]:
    """The legs to record with ``entry``'s intent, sized as the entry asks; none when the
    entry is not a single opening market order or nothing protects it."""
    if len(plans) != 1 or not plans[0].opens or plans[0].role != OrderRole.ENTRY:
        return []
    if entry.type is not OrderType.MARKET:
        return []
    return bracket_legs(
        entry.symbol,
        entry.side,
        entry.quantity,
        stop_loss=stop_loss,
        take_profit=take_profit,
        client_id=client_id,
    )


def filled_legs(
    entry: Order,
    stop_loss: Decimal | None,
    take_profit: Decimal | None,
    client_id: Callable[[str], str],
) -> list[BracketLeg]:
    """The legs that protect what ``entry`` filled (none for a resting entry: its legs
    follow its fills, placed by the reconciler)."""
    if entry.filled_quantity <= 0 and entry.status is not OrderStatus.FILLED:
        return []
    quantity = entry.filled_quantity if entry.filled_quantity > 0 else entry.quantity
    return bracket_legs(
        entry.symbol,
        entry.side,
        quantity,
        stop_loss=stop_loss,
        take_profit=take_profit,
        client_id=client_id,
    )


def resize_steps(
    journal: Journal, recorded: dict[str, tuple[int, Decimal]], legs: list[BracketLeg]
) -> list[Callable[[], Any]]:
    """Steps that give each recorded leg intent the size it is about to be sent with (none
    when every leg is sent as recorded)."""
    steps: list[Callable[[], Any]] = []
    for leg in legs:
        order_id, quantity = recorded[leg.role]
        if leg.request.quantity != quantity:
            # an intent step: its commit is durable, before the leg is sent
            steps.append(
                IntentStep(journal.store.resize_intent, order_id, leg.request.quantity, was=PENDING)
            )
    return steps


def unsent_steps(
    journal: Journal, recorded: dict[str, tuple[int, Decimal]], why: str
) -> list[Callable[[], Any]]:
    """Steps that end the recorded legs' intents as never sent (their entry filled nothing)."""
    return [
        partial(
            journal.store.record_answer,
            order_id,
            was=PENDING,
            status=OrderStatus.CANCELED.value,
            event=NEVER_SENT,
            detail=why,
        )
        for order_id, _quantity in recorded.values()
    ]


__all__ = ["filled_legs", "provisional_legs", "resize_steps", "unsent_steps"]
