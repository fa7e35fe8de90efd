"""The change feed (``GET /events``) on PostgreSQL: a row whose transaction commits after a
row with a higher id was already read is still published, once. Two writers (two replicas,
here two stores on one database) commit out of id order; the feed polls between the two
commits."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from tradeexec.api.feed import Feed
from tradeexec.store.repository import Store
from tradeexec.telemetry import Telemetry
from tradeexec.testing import ACCOUNT, VenueHarness, postgres_store_url


@pytest.fixture
def tradeexec_store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from postgres_store_url(request)


def published(feed: Feed) -> list[str]:
    return [item.data["kind"] for item in feed._items if item.type == "event"]


@pytest.mark.parametrize("sim_venue", ["binance"], indirect=True)
async def test_a_row_committed_after_a_higher_id_is_still_published_once(
    sim_venue: VenueHarness, tradeexec_store_url: str
) -> None:
    service = sim_venue.service
    feed = Feed(service, Telemetry(), poll_interval_s=3600, gauge_interval_s=3600)
    await feed.start()
    await feed.stop()  # polled by hand below
    slow_writer = Store.from_url(tradeexec_store_url, migrate=False)
    inserted, release = threading.Event(), threading.Event()

    def slow() -> None:  # takes its id first, commits last
        with slow_writer.batch():
            slow_writer.append_event("committed_last", ACCOUNT, {})
            inserted.set()
            release.wait(30)

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        assert await asyncio.to_thread(inserted.wait, 30)
        await service.record_event("committed_first", ACCOUNT)
        await feed.poll()
        assert published(feed) == ["committed_first"]
    finally:
        release.set()
        await asyncio.to_thread(thread.join, 30)
        slow_writer.close()
    await feed.poll()
    await feed.poll()
    assert published(feed) == ["committed_first", "committed_last"]  # each once
