"""Two replicas on one PostgreSQL database (`ReplicaCoordinator`), the simulator behind them:
the owner of the account is woken at once (LISTEN/NOTIFY) for a signal recorded elsewhere;
when it dies without giving its lease up, the other replica takes the account within the
lease's length, recovers what was left and finishes it. The takeover time is printed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tradeexec.execution.lease import ReplicaLeases
from tradeexec.replica import ReplicaCoordinator
from tradeexec.service import TradingService
from tradeexec.store.leases import bound_idle_transactions
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


@pytest.mark.parametrize("sim_venue", ["binance"], indirect=True)
async def test_an_owner_paused_inside_a_write_does_not_block_the_takeover(
    sim_venue: VenueHarness,
) -> None:
    """The replica soak found it: an owner SIGSTOPped while writing an intent holds the lease
    row (``FOR SHARE``) in an open transaction, and the next owner's ``FOR UPDATE`` waited for
    as long as the pause lasted. PostgreSQL now ends a session idle in a transaction for
    longer than the lease (`bound_idle_transactions`), which frees the row."""
    venue = sim_venue
    a, b = venue.service, await venue.new_service()
    bound_idle_transactions(a.store.engine, TTL)
    old = ReplicaLeases(a.store, "replica-a", ttl_s=TTL, margin_s=0.3)
    new = ReplicaLeases(b.store, "replica-b", ttl_s=TTL, margin_s=0.3)
    (taken,) = await old.refresh([ACCOUNT])
    paused, written = threading.Event(), threading.Event()
    outcome: list[BaseException] = []

    def write_then_pause() -> None:
        try:
            with a.store.batch():
                a.store.record_order_intent(
                    account=ACCOUNT, symbol=venue.symbol, client_order_id="paused-intent",
                    role="entry", side="buy", order_type="market", quantity=Q,
                    fence=taken.lease.fence,
                )  # fmt: skip
                written.set()
                paused.wait(60)  # frozen with the transaction open
        except Exception as exc:  # its session was ended under it
            outcome.append(exc)

    thread = threading.Thread(target=write_then_pause)
    thread.start()
    try:
        assert await asyncio.to_thread(written.wait, 30)
        await asyncio.sleep(TTL + 0.2)  # its lease runs out while it is frozen
        # the call that hung before the fix: bounded, not timed
        (takeover,) = await asyncio.wait_for(new.refresh([ACCOUNT]), timeout=30)
        assert takeover.lease.holder == "replica-b" and takeover.reason == "taken_over"
    finally:
        paused.set()
        await asyncio.to_thread(thread.join, 30)
    assert outcome, "the frozen transaction committed after the lease moved on"
    assert await asyncio.to_thread(b.store.get_order_by_client_id, ACCOUNT, "paused-intent") is None
