"""Account leases and their fencing epoch, on SQLite and PostgreSQL (see store/leases.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal

import pytest

from tradeexec.store import Store
from tradeexec.store.leases import Fence, LeaseRecord, StaleLease

TTL = 30.0


def intent(store: Store, cid: str, fence: Fence | None) -> int:
    return store.record_order_intent(
        account="main",
        symbol="BTC/USDT:USDT",
        client_order_id=cid,
        role="entry",
        side="buy",
        order_type="market",
        quantity=Decimal("0.01"),
        fence=fence,
    )


def test_the_first_holder_gets_epoch_one_and_others_wait(store: Store) -> None:
    lease = store.acquire_lease("main", "r1", TTL)

    assert lease is not None and (lease.holder, lease.epoch) == ("r1", 1)
    assert lease.expires_at > lease.acquired_at
    assert store.acquire_lease("main", "r2", TTL) is None
    assert store.acquire_lease("other", "r2", TTL) is not None  # leases are per account


def test_renewing_keeps_the_epoch_and_extends_the_lease(store: Store) -> None:
    first = store.acquire_lease("main", "r1", TTL)
    assert first is not None

    renewed = store.renew_lease(first.fence, TTL)
    again = store.acquire_lease("main", "r1", TTL)

    assert renewed is not None and renewed.epoch == 1
    assert renewed.expires_at >= first.expires_at
    assert again is not None and again.epoch == 1


def test_a_lapsed_lease_is_taken_over_with_a_new_epoch_and_the_old_holder_is_fenced(
    store: Store,
) -> None:
    old = store.acquire_lease("main", "r1", 0.2)
    assert old is not None
    intent(store, "before", old.fence)  # while it runs, the holder's intents are written
    time.sleep(0.3)

    new = store.acquire_lease("main", "r2", TTL)

    assert new is not None and (new.holder, new.epoch) == ("r2", 2)
    with pytest.raises(StaleLease, match="stale"):
        intent(store, "after", old.fence)
    assert store.get_order_by_client_id("main", "after") is None
    assert store.renew_lease(old.fence, TTL) is None
    assert store.release_lease(old.fence) is False  # cannot give away what it lost
    intent(store, "new-owner", new.fence)


def test_an_intent_under_a_lease_that_ran_out_is_refused_even_before_a_takeover(
    store: Store,
) -> None:
    lease = store.acquire_lease("main", "r1", 0.1)
    assert lease is not None
    time.sleep(0.2)

    with pytest.raises(StaleLease, match="ran out"):
        intent(store, "late", lease.fence)
    retaken = store.acquire_lease("main", "r1", TTL)  # taking it again is a new epoch
    assert retaken is not None and retaken.epoch == 2


def test_a_released_lease_is_free_at_once_for_the_next_replica(store: Store) -> None:
    lease = store.acquire_lease("main", "r1", TTL)
    assert lease is not None

    assert store.release_lease(lease.fence) is True
    taken = store.acquire_lease("main", "r2", TTL)

    assert taken is not None and taken.holder == "r2"
    assert [(x.account, x.holder) for x in store.leases()] == [("main", "r2")]


def test_an_intent_without_a_fence_is_written_as_before(store: Store) -> None:
    assert intent(store, "plain", None) > 0


def test_replicas_racing_for_a_free_account_leave_exactly_one_holder(
    store: Store, db_url: str
) -> None:
    stores = [Store.from_url(db_url, migrate=False) for _ in range(4)]
    won: list[LeaseRecord] = []
    start = threading.Barrier(len(stores))

    def race(replica: str, mine: Store) -> Callable[[], None]:
        def run() -> None:
            start.wait(timeout=30)
            lease = mine.acquire_lease("main", replica, TTL)
            if lease is not None:
                won.append(lease)

        return run

    threads = [threading.Thread(target=race(f"r{i}", s)) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for other in stores:
        other.close()

    assert len(won) == 1 and won[0].epoch == 1
    (current,) = store.leases()
    assert current.holder == won[0].holder
