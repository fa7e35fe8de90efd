"""Order status transitions: one table of ``(status, event) -> status``.

Anything not in the table is impossible and raises ``InvalidTransitionError`` instead of
silently overwriting what we know. Terminal statuses (filled, canceled, rejected, expired)
accept no event at all: callers that may see duplicate or late messages check
``status.is_terminal`` first.

The real world's oddities are explicit rows, each with the reason next to it:
an order that fills while its cancel is in flight, a late acknowledgement after a fill,
an IOC order that is "canceled" or "expired" in the very answer to its creation, and an
order whose creation timed out (``UNKNOWN``) that is resolved by looking it up by client
order id (``RESOLVED_*``), never by sending it again.

``event_from_observation`` turns what an exchange reports (a status and a filled quantity)
into the event to apply, so polling and reconciliation use the same table.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from tradeexec.domain import OrderStatus
from tradeexec.errors import InvalidTransitionError

__all__ = [
    "TRANSITIONS",
    "OrderEvent",
    "apply_observation",
    "can_transition",
    "event_from_observation",
    "normalize_observed_status",
    "transition",
]


class OrderEvent(StrEnum):
    ACCEPTED = "accepted"  # the exchange acknowledged the order (it is live)
    REJECTED = "rejected"  # the exchange refused it (on creation, or when a trigger fired)
    PARTIAL_FILL = "partial_fill"  # some, not all, of the quantity executed
    FILLED = "filled"  # the whole quantity executed
    CANCEL_REQUESTED = "cancel_requested"  # we sent a cancel
    CANCEL_REJECTED = "cancel_rejected"  # the exchange refused our cancel; order still live
    CANCELED = "canceled"  # the order is gone, by our cancel or the venue's
    EXPIRED = "expired"  # time-in-force ran out (IOC/FOK remainder, reduce-only trigger)
    TIMED_OUT = "timed_out"  # a create (or cancel) was sent and the answer was lost
    # Reconciliation of an UNKNOWN order by looking it up by client order id:
    RESOLVED_OPEN = "resolved_open"
    RESOLVED_PARTIALLY_FILLED = "resolved_partially_filled"
    RESOLVED_FILLED = "resolved_filled"
    RESOLVED_CANCELED = "resolved_canceled"
    RESOLVED_REJECTED = "resolved_rejected"
    RESOLVED_EXPIRED = "resolved_expired"
    # Not found by client id: the create never reached the exchange. Apply only once the
    # lookup is conclusive (after the venue's visibility delay), never on the first miss.
    RESOLVED_NOT_FOUND = "resolved_not_found"


S = OrderStatus
E = OrderEvent

_ROWS: dict[tuple[OrderStatus, OrderEvent], OrderStatus] = {
    # -- recorded, being sent
    (S.PENDING_SUBMIT, E.ACCEPTED): S.SUBMITTED,
    (S.PENDING_SUBMIT, E.REJECTED): S.REJECTED,
    (S.PENDING_SUBMIT, E.PARTIAL_FILL): S.PARTIALLY_FILLED,  # fill seen before the ack
    (S.PENDING_SUBMIT, E.FILLED): S.FILLED,  # market order: the answer says filled
    (S.PENDING_SUBMIT, E.CANCELED): S.CANCELED,  # IOC with nothing filled (some venues)
    (S.PENDING_SUBMIT, E.EXPIRED): S.EXPIRED,  # IOC/FOK with nothing filled (Binance)
    (S.PENDING_SUBMIT, E.TIMED_OUT): S.UNKNOWN,  # answer lost: may or may not exist
    (S.PENDING_SUBMIT, E.CANCEL_REQUESTED): S.CANCEL_PENDING,  # cancel by client id pre-ack
    # -- live, nothing filled
    (S.SUBMITTED, E.ACCEPTED): S.SUBMITTED,  # duplicate acknowledgement
    (S.SUBMITTED, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.SUBMITTED, E.FILLED): S.FILLED,
    (S.SUBMITTED, E.CANCEL_REQUESTED): S.CANCEL_PENDING,
    (S.SUBMITTED, E.CANCELED): S.CANCELED,  # canceled by the venue or another client
    (S.SUBMITTED, E.EXPIRED): S.EXPIRED,  # e.g. reduce-only trigger with nothing to reduce
    (S.SUBMITTED, E.REJECTED): S.REJECTED,  # a trigger fired and its order was refused
    # -- live, partly filled
    (S.PARTIALLY_FILLED, E.ACCEPTED): S.PARTIALLY_FILLED,  # late ack after the first fill
    (S.PARTIALLY_FILLED, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.FILLED): S.FILLED,
    (S.PARTIALLY_FILLED, E.CANCEL_REQUESTED): S.CANCEL_PENDING,
    (S.PARTIALLY_FILLED, E.CANCELED): S.CANCELED,  # the rest canceled; fills stand
    (S.PARTIALLY_FILLED, E.EXPIRED): S.EXPIRED,  # IOC remainder
    # -- cancel sent, not confirmed
    (S.CANCEL_PENDING, E.CANCELED): S.CANCELED,
    (S.CANCEL_PENDING, E.FILLED): S.FILLED,  # filled before the cancel arrived
    (S.CANCEL_PENDING, E.PARTIAL_FILL): S.CANCEL_PENDING,  # a fill after our cancel request
    (S.CANCEL_PENDING, E.EXPIRED): S.EXPIRED,
    (S.CANCEL_PENDING, E.REJECTED): S.REJECTED,  # its trigger fired and was refused
    (S.CANCEL_PENDING, E.ACCEPTED): S.CANCEL_PENDING,  # late ack of the create
    (S.CANCEL_PENDING, E.CANCEL_REQUESTED): S.CANCEL_PENDING,  # cancel sent again
    (S.CANCEL_PENDING, E.TIMED_OUT): S.CANCEL_PENDING,  # cancel answer lost: ask again
    # Cancel refused while still live: back to open. If part of it filled meanwhile,
    # the next observation applies PARTIAL_FILL (see apply_observation).
    (S.CANCEL_PENDING, E.CANCEL_REJECTED): S.SUBMITTED,
    # -- outcome unknown (create timed out): resolve by client order id
    (S.UNKNOWN, E.RESOLVED_OPEN): S.SUBMITTED,
    (S.UNKNOWN, E.RESOLVED_PARTIALLY_FILLED): S.PARTIALLY_FILLED,
    (S.UNKNOWN, E.RESOLVED_FILLED): S.FILLED,
    (S.UNKNOWN, E.RESOLVED_CANCELED): S.CANCELED,
    (S.UNKNOWN, E.RESOLVED_REJECTED): S.REJECTED,
    (S.UNKNOWN, E.RESOLVED_EXPIRED): S.EXPIRED,
    (S.UNKNOWN, E.RESOLVED_NOT_FOUND): S.REJECTED,  # never placed: safe to call it failed
    (S.UNKNOWN, E.TIMED_OUT): S.UNKNOWN,  # the lookup timed out too
    # A late message (stream or delayed answer) settles the question as well.
    (S.UNKNOWN, E.ACCEPTED): S.SUBMITTED,
    (S.UNKNOWN, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.UNKNOWN, E.FILLED): S.FILLED,
    (S.UNKNOWN, E.CANCELED): S.CANCELED,
    (S.UNKNOWN, E.REJECTED): S.REJECTED,
    (S.UNKNOWN, E.EXPIRED): S.EXPIRED,
}

TRANSITIONS: Mapping[tuple[OrderStatus, OrderEvent], OrderStatus] = MappingProxyType(_ROWS)

del S, E


def can_transition(current: OrderStatus, event: OrderEvent) -> bool:
    return (current, event) in TRANSITIONS


def transition(current: OrderStatus, event: OrderEvent) -> OrderStatus:
    """The status after ``event``; ``InvalidTransitionError`` if impossible from ``current``."""
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        if current.is_terminal:
            why = f"{current.value} is terminal"
        else:
            allowed = sorted(e.value for (s, e) in TRANSITIONS if s is current)
            why = f"from {current.value} only {', '.join(allowed)} may happen"
        raise InvalidTransitionError(f"order event {event.value!r} is impossible: {why}") from None


# ccxt's unified statuses, plus the venues' own words, onto ours.
_OBSERVED_WORDS: Mapping[str, OrderStatus] = MappingProxyType(
    {
        "open": OrderStatus.SUBMITTED,
        "new": OrderStatus.SUBMITTED,
        "submitted": OrderStatus.SUBMITTED,
        "triggered": OrderStatus.SUBMITTED,
        "partially_filled": OrderStatus.PARTIALLY_FILLED,
        "closed": OrderStatus.FILLED,
        "filled": OrderStatus.FILLED,
        "canceled": OrderStatus.CANCELED,
        "cancelled": OrderStatus.CANCELED,
        "rejected": OrderStatus.REJECTED,
        "expired": OrderStatus.EXPIRED,
    }
)

_RESOLVED: Mapping[OrderStatus, OrderEvent] = MappingProxyType(
    {
        OrderStatus.SUBMITTED: OrderEvent.RESOLVED_OPEN,
        OrderStatus.PARTIALLY_FILLED: OrderEvent.RESOLVED_PARTIALLY_FILLED,
        OrderStatus.FILLED: OrderEvent.RESOLVED_FILLED,
        OrderStatus.CANCELED: OrderEvent.RESOLVED_CANCELED,
        OrderStatus.REJECTED: OrderEvent.RESOLVED_REJECTED,
        OrderStatus.EXPIRED: OrderEvent.RESOLVED_EXPIRED,
    }
)

_PLAIN: Mapping[OrderStatus, OrderEvent] = MappingProxyType(
    {
        OrderStatus.SUBMITTED: OrderEvent.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED: OrderEvent.PARTIAL_FILL,
        OrderStatus.FILLED: OrderEvent.FILLED,
        OrderStatus.CANCELED: OrderEvent.CANCELED,
        OrderStatus.REJECTED: OrderEvent.REJECTED,
        OrderStatus.EXPIRED: OrderEvent.EXPIRED,
    }
)


def normalize_observed_status(
    observed: OrderStatus | str,
    filled_quantity: Decimal = Decimal(0),
    quantity: Decimal | None = None,
) -> OrderStatus:
    """What an exchange report means in our terms.

    ``observed`` is one of our statuses or a ccxt / venue word (``open``, ``closed``,
    ``canceled``, ``NEW``, ``PARTIALLY_FILLED``, ...). An open order with something filled
    is PARTIALLY_FILLED; one whose filled quantity reaches ``quantity`` is FILLED.
    """
    word = observed.value if isinstance(observed, OrderStatus) else observed.strip().lower()
    status = _OBSERVED_WORDS.get(word)
    if status is None:
        raise ValueError(f"an exchange cannot report order status {observed!r}")
    if status in (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED):
        if quantity is not None and quantity > 0 and filled_quantity >= quantity:
            return OrderStatus.FILLED
        return OrderStatus.PARTIALLY_FILLED if filled_quantity > 0 else OrderStatus.SUBMITTED
    return status


def event_from_observation(
    current: OrderStatus,
    observed: OrderStatus | str | None,
    filled_quantity: Decimal = Decimal(0),
    quantity: Decimal | None = None,
) -> OrderEvent | None:
    """The event that brings ``current`` in line with what the exchange reports.

    ``observed=None`` means the exchange does not know the order (looked up by client id).
    Returns None when the report changes nothing (including stale reports, e.g. "open"
    for an order we know is partly filled, or "open" while our cancel is in flight).
    Raises ``InvalidTransitionError`` when the report contradicts a terminal status we hold.
    """
    if observed is None:
        if current is OrderStatus.UNKNOWN:
            return OrderEvent.RESOLVED_NOT_FOUND
        if current.is_terminal:
            return None
        raise InvalidTransitionError(
            f"the exchange does not know an order we hold as {current.value}; "
            "reconcile it by client order id"
        )
    target = normalize_observed_status(observed, filled_quantity, quantity)
    if current is OrderStatus.UNKNOWN:
        return _RESOLVED[target]
    if current.is_terminal:
        if target is current:
            return None
        raise InvalidTransitionError(
            f"the exchange reports {target.value} for an order already {current.value}"
        )
    event = _PLAIN[target]
    after = TRANSITIONS.get((current, event))
    if after is None:
        raise InvalidTransitionError(
            f"the exchange reports {target.value} for an order in {current.value}"
        )
    return None if after is current else event


def apply_observation(
    current: OrderStatus,
    observed: OrderStatus | str | None,
    filled_quantity: Decimal = Decimal(0),
    quantity: Decimal | None = None,
) -> OrderStatus:
    """The status after applying what the exchange reports (unchanged if it says nothing new)."""
    event = event_from_observation(current, observed, filled_quantity, quantity)
    return current if event is None else transition(current, event)
