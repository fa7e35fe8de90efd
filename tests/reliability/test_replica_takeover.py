"""Two replicas on one PostgreSQL database (`ReplicaCoordinator`), the simulator behind them:
the owner of the account is woken at once (LISTEN/NOTIFY) for a signal recorded elsewhere;
when it dies without giving its lease up, the other replica takes the account within the
lease's length, recovers what was left and finishes it. The takeover time is printed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tradeexec.replica import ReplicaCoordinator
from tradeexec.service import TradingService
from tradeexec.testing import ACCOUNT, VenueHarness, postgres_store_url

Q = Decimal("0.01")
TTL = 1.5


@pytest.fixture
def tradeexec_store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from postgres_store_url(request)


def record_elsewhere(service: TradingService, venue: VenueHarness, **fields: Any) -> str:
    """A signal recorded by another replica (which does not own the account): recorded, and
    its account's owner woken, in one transaction."""
    signal = venue.signal(**fields)
    store = service.store
    with store.batch():
        store.record_signal(
            idempotency_key=signal.idempotency_key,
            account=ACCOUNT,
            symbol=signal.symbol,
            source=signal.source.value,
            payload=signal.to_record(),
            confidence=signal.confidence,
            created_at=signal.created_at,
        )
        store.wake_owner(ACCOUNT)
    return signal.idempotency_key


async def status_of(service: TradingService, key: str, *, within_s: float = 20.0) -> str:
    """The signal's status once it has ended (or what it is after ``within_s``)."""
    deadline = time.monotonic() + within_s
    while True:
        record = await asyncio.to_thread(service.store.get_signal_by_key, key)
        assert record is not None
        if record.status not in {"received", "accepted", "executing"}:
            return record.status
        if time.monotonic() > deadline:
            return record.status
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("sim_venue", ["binance"], indirect=True)
async def test_the_owner_is_woken_at_once_and_a_dead_owner_is_replaced(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    a, b = venue.service, await venue.new_service()
    # reconcile passes far apart: only a wake-up or a takeover can finish a signal in time
    first = ReplicaCoordinator(a, "replica-a", ttl_s=TTL, reconcile_interval_s=600)
    second = ReplicaCoordinator(b, "replica-b", ttl_s=TTL, reconcile_interval_s=600)
    await first.start()
    await second.start()
    try:
        assert first.leases.owns(ACCOUNT) and not second.leases.owns(ACCOUNT)

        woken = record_elsewhere(b, venue, side="buy", quantity=Q)
        assert await status_of(a, woken) == "filled"

        await first.stop(release=False)  # dies: no renewal, the lease is not given up
        died = time.monotonic()
        orphan = record_elsewhere(b, venue, side="buy", quantity=Q)
        assert await status_of(b, orphan, within_s=TTL * 4 + 20) == "filled"
        (takeover,) = second.takeovers
        took_s = time.monotonic() - died
        print(
            f"takeover: epoch {takeover.lease.epoch}, {took_s:.2f}s after the owner died "
            f"(lease {TTL}s), {takeover.waited_s:.2f}s without an owner"
        )
        assert takeover.lease.holder == "replica-b" and takeover.lease.epoch == 2
        assert takeover.waited_s is not None and takeover.waited_s < TTL + 5
        assert second.leases.owns(ACCOUNT)
        entries = [o for o in venue.engine_orders() if not o.spec.kind.is_trigger]
        assert len(entries) == 2  # one per signal
    finally:
        await second.stop()
        await first.stop()
    assert await asyncio.to_thread(b.store.leases) == []  # a clean stop gives the lease up
