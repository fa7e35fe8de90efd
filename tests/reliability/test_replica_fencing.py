"""One fenced writer per account (DESIGN.md section 9), through the real pipeline on a real
PostgreSQL store and the simulator: two services share one database as two replicas would;
the account's lease moves from the first to the second, and the first can then neither
record an intent nor send an order for it, whether it notices the loss itself (its local
deadline passed) or not (a process paused past its lease: only the store's epoch check
stands between it and the venue). The new owner finishes what was left, once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tradeexec.execution.lease import LeaseLost, ReplicaLeases
from tradeexec.store.leases import StaleLease
from tradeexec.testing import ACCOUNT, VenueHarness, postgres_store_url

Q = Decimal("0.01")
TTL = 1.0


@pytest.fixture
def tradeexec_store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from postgres_store_url(request)


def entries(venue: VenueHarness) -> list[Any]:
    return [o for o in venue.engine_orders() if not o.spec.kind.is_trigger]


@pytest.mark.parametrize("sim_venue", ["binance"], indirect=True)
async def test_the_old_owner_is_fenced_and_the_new_owner_finishes_its_signal(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    old, new = venue.service, await venue.new_service()
    old_leases = ReplicaLeases(old.store, "replica-a", ttl_s=TTL, margin_s=0.2)
    new_leases = ReplicaLeases(new.store, "replica-b", ttl_s=TTL, margin_s=0.2)
    old.pipeline.lease, new.pipeline.lease = old_leases, new_leases

    (taken,) = await old_leases.refresh([ACCOUNT])
    assert taken.lease.epoch == 1 and await new_leases.refresh([ACCOUNT]) == []
    first = await old.submit_signal(venue.signal(side="buy", quantity=Q))
    assert first.status == "filled" and len(entries(venue)) == 1

    await asyncio.sleep(TTL + 0.1)  # the old owner stops renewing (it died, or it hangs)
    (takeover,) = await new_leases.refresh([ACCOUNT])
    assert takeover.lease.epoch == 2 and takeover.lease.holder == "replica-b"
    assert takeover.waited_s is not None and 0 <= takeover.waited_s < 5

    noticed = venue.signal(side="buy", quantity=Q)
    # it knows its lease ran out: the signal is recorded and handed to the owner, no intent
    handed = await old.submit_signal(noticed)
    assert (handed.status, handed.reason) == ("received", "owner_executes")
    with pytest.raises(LeaseLost):  # and the journal would refuse to send for it
        old_leases.check(ACCOUNT)
    assert len(entries(venue)) == 1

    # A paused process does not know: it trusts its lease far too long. The store refuses
    # the intent by its stale epoch, so nothing is recorded and nothing is sent.
    old_leases._held[ACCOUNT] = (taken.lease, float("inf"))
    paused = venue.signal(side="buy", quantity=Q)
    with pytest.raises(StaleLease):
        await old.submit_signal(paused)
    assert len(entries(venue)) == 1

    # the two signals the old owner recorded but could not act on are the new owner's now
    await new.reconcile(ACCOUNT)
    statuses = {s.idempotency_key: s.status for s in await new.list_signals(account=ACCOUNT)}
    assert statuses == {
        first.idempotency_key: "filled",
        noticed.idempotency_key: "filled",
        paused.idempotency_key: "filled",
    }
    client_ids = [o.spec.client_id for o in entries(venue)]
    assert len(client_ids) == 3 == len(set(client_ids))  # one entry per signal, no more
