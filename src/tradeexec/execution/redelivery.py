"""Re-deliveries: one key worked on once per process, and a key re-used for other content.

A re-delivered key waits for the delivery being worked on (`Claim`), then is answered from
the store; the same key with different content (`content_conflict`) is refused as
``idempotency_conflict`` rather than answered as a duplicate of something else.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tradeexec.execution.signals import Signal
from tradeexec.store.records import SignalRecord

#: what makes two deliveries of one key the same signal
WATCHED_FIELDS = (
    "symbol",
    "side",
    "target_position",
    "quantity",
    "notional",
    "order_type",
    "price",
    "stop_loss",
    "take_profit",
    "reduce_only",
    "leverage",
)


class Claim:
    """Marks an idempotency key as being worked on in this process (a context manager)."""

    def __init__(self, running: dict[str, asyncio.Future[None]], key: str) -> None:
        self.running, self.key = running, key

    def __enter__(self) -> None:
        self.running[self.key] = asyncio.get_running_loop().create_future()

    def __exit__(self, *_exc: object) -> None:
        future = self.running.pop(self.key)
        future.set_result(None)


def content_conflict(signal: Signal, record: SignalRecord) -> dict[str, Any] | None:
    """Fields that differ between a re-delivery and the first delivery of its key."""
    first = record.payload
    again = signal.to_record()
    watched = WATCHED_FIELDS
    diff = {
        name: {"first": first.get(name), "again": again.get(name)}
        for name in watched
        if name in first and first.get(name) != again.get(name)
    }
    # the account as first delivered (a failover may have moved the record since)
    first_account = first.get("account", record.account)
    if first_account != signal.account:
        diff["account"] = {"first": first_account, "again": signal.account}
    return diff or None
