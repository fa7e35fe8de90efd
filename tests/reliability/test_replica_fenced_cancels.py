"""Cancels and flattens are fenced like sends (DESIGN.md section 9): an owner paused past its
lease wakes up and cancels nothing - not through the kill switch, not through the reconciler,
not through an operator's cancel - so the stop the new owner relies on keeps resting. A kill
switch sent to a replica that does not hold the account halts it at once (the state is
shared) and hands the cancels to the owner, which does them when woken."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tradeexec.domain import OrderRequest, OrderSide, OrderType
from tradeexec.execution.lease import LeaseLost, ReplicaLeases
from tradeexec.testing import ACCOUNT, VenueHarness, postgres_store_url

Q = Decimal("0.01")
TTL = 1.0


@pytest.fixture
def tradeexec_store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from postgres_store_url(request)


def resting_stops(venue: VenueHarness) -> list[str]:
    return sorted(
        o.spec.client_id or "" for o in venue.open_engine_orders() if o.spec.kind.is_trigger
    )


@pytest.mark.parametrize("sim_venue", ["binance"], indirect=True)
async def test_a_paused_old_owner_cancels_nothing_and_the_owner_does_the_kill_switch(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    old, new = venue.service, await venue.new_service()
    old_leases = ReplicaLeases(old.store, "replica-a", ttl_s=TTL, margin_s=0.2)
    new_leases = ReplicaLeases(new.store, "replica-b", ttl_s=TTL, margin_s=0.2)
    old.pipeline.lease, new.pipeline.lease = old_leases, new_leases
    await old_leases.refresh([ACCOUNT])
    report = await old.submit_signal(
        venue.signal(side="buy", quantity=Q, stop_loss=Decimal(60000), take_profit=Decimal(75000))
    )
    assert report.status == "filled", report
    legs = resting_stops(venue)
    assert len(legs) == 2  # the stop and the target rest on the venue

    await asyncio.sleep(TTL + 0.1)  # the old owner is paused past its lease (SIGSTOP)
    (takeover,) = await new_leases.refresh([ACCOUNT])
    assert takeover.lease.holder == "replica-b"

    # it wakes up and tries every kind of cancel: each is refused before it reaches the venue
    trader = await venue.trader(old)
    stop = next(o for o in venue.open_engine_orders() if o.spec.kind.is_trigger)
    with pytest.raises(LeaseLost):
        await old.pipeline.cancel(trader, venue.symbol, None, stop.spec.client_id)
    with pytest.raises(LeaseLost):
        await old.cancel(venue.symbol, client_order_id=stop.spec.client_id, account=ACCOUNT)
    with pytest.raises(LeaseLost):
        await old.reconcile(ACCOUNT)
    outcome = (await old.kill_switch("flatten", ACCOUNT, reason="test"))[ACCOUNT]
    assert outcome["state"] == "halted" and outcome["owner_executes"] is True
    assert outcome["complete"] is False and outcome["cancelled"] == []
    assert resting_stops(venue) == legs  # nothing was cancelled
    assert venue.engine_position() == Q  # nor flattened
    assert (await new.state(ACCOUNT)).state.value == "halted"  # but the halt is everywhere

    # the owner's next reconcile (a wake-up, in a replica) finishes the kill switch
    await new.reconcile(ACCOUNT)
    assert resting_stops(venue) == []
    assert venue.engine_position() == 0


@pytest.mark.parametrize("sim_venue", ["binance", "hyperliquid"], indirect=True)
async def test_the_trader_checks_the_lease_again_right_before_a_request_leaves(
    sim_venue: VenueHarness,
) -> None:
    """The journal checks the lease before it calls the trader, but the trader may read a
    ticker and sign before the request leaves; a process paused there would wake up past its
    lease. The trader's send gate (set by the journal) checks again at the last moment."""
    venue = sim_venue
    service = venue.service
    leases = ReplicaLeases(service.store, "replica-a", ttl_s=TTL, margin_s=0.2)
    service.pipeline.lease = leases
    await leases.refresh([ACCOUNT])
    first = await service.submit_signal(
        venue.signal(side="buy", quantity=Q, stop_loss=Decimal(60000))
    )
    assert first.status == "filled", first
    trader = await venue.trader(service)
    assert trader.send_gate is not None  # the journal gave it one
    sent, stops = len(venue.order_requests()), resting_stops(venue)

    await asyncio.sleep(TTL + 0.1)  # paused past the lease, after the journal's own check
    request = OrderRequest(
        symbol=venue.symbol, side=OrderSide.BUY, type=OrderType.MARKET, quantity=Q,
        client_order_id=venue.new_client_id(),
    )  # fmt: skip
    with pytest.raises(LeaseLost):
        await trader.create_order(request)
    stop = next(o for o in venue.open_engine_orders() if o.spec.kind.is_trigger)
    with pytest.raises(LeaseLost):
        await trader.cancel_order(venue.symbol, client_order_id=stop.spec.client_id)
    assert len(venue.order_requests()) == sent  # nothing left the process
    assert resting_stops(venue) == stops and venue.engine_position() == Q
    assert await trader.fetch_positions()  # reads still pass: only writes are gated


@pytest.mark.parametrize("sim_venue", ["hyperliquid"], indirect=True)
async def test_a_lease_that_runs_out_during_the_ticker_read_stops_the_order(
    sim_venue: VenueHarness,
) -> None:
    """What the replica soak found: a Hyperliquid market order reads the ticker (to cap its
    price) after the journal's lease check; the lease ran out meanwhile. The send gate runs
    after that read, right before the order leaves, and withholds it."""
    venue = sim_venue
    service = venue.service
    leases = ReplicaLeases(service.store, "replica-a", ttl_s=TTL, margin_s=0.2)
    service.pipeline.lease = leases
    await leases.refresh([ACCOUNT])
    trader = await venue.trader(service)
    service.pipeline.guard(trader)  # what the journal does before a send: passes, gate set
    venue.add_fault("hyperliquid.info.*", kind="latency", seconds=TTL + 0.2, times=1)
    request = OrderRequest(
        symbol=venue.symbol, side=OrderSide.BUY, type=OrderType.MARKET, quantity=Q,
        client_order_id=venue.new_client_id(),
    )  # fmt: skip
    with pytest.raises(LeaseLost):
        await trader.create_order(request)  # the ticker read outlasts the lease
    assert venue.order_requests() == [] and venue.engine_position() == 0
