"""Two replicas of the service (``create_app`` with a `ReplicaCoordinator`, as
``tradeexec serve --replica-id`` runs it) on one PostgreSQL database, the simulator behind
them: a webhook sent to the replica that does not hold the account is answered 202 there and
executed once, by the owner; a halt sent to one replica stops the other's orders; ``GET
/cluster`` says who holds what."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.harness import Live, LiveServer, funded, service_config
from tradeexec.api import create_app
from tradeexec.replica import ReplicaCoordinator
from tradeexec.service import TradingService
from tradeexec.sim.server import SimServer
from tradeexec.testing import postgres_store_url
from tradeexec.testing.venue_under_test import orders_of

HOOK = "/webhooks/tradingview"


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from postgres_store_url(request)


class ReplicaServer(LiveServer):
    """`LiveServer` as one replica, ``replica_id``."""

    def __init__(self, config: Any, replica_id: str) -> None:
        super().__init__(config)
        self.replica_id = replica_id

    def _run(self) -> None:
        async def main() -> None:
            service = TradingService(self.config)
            service.retry_delays = (0.01, 0.01)
            replica = ReplicaCoordinator(
                service, self.replica_id, ttl_s=5.0, reconcile_interval_s=600
            )
            app = create_app(
                service, self.settings, poll_interval_s=0.05, gauge_interval_s=0.5, replica=replica
            )
            config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
            self.server = uvicorn.Server(config)
            await self.server.serve(sockets=[self.sock])

        asyncio.run(main())


def entries(live: Live) -> list[Any]:
    engine = live.sim.simulator.binance.engine
    placed = orders_of(engine, live.creds["bn"]["account"])
    return [o for o in placed if not o.spec.kind.is_trigger]


def test_the_non_owner_hands_a_webhook_to_the_owner_and_a_halt_reaches_every_replica(
    sim_server: SimServer, tmp_path: Path, pg_url: str
) -> None:
    creds = funded(sim_server)
    config = service_config(sim_server, tmp_path, creds).model_copy(update={"store_url": pg_url})
    owner = ReplicaServer(config, "replica-a").start()  # first up: it takes both accounts
    other = ReplicaServer(config, "replica-b").start()
    try:
        a = Live(sim_server, owner, tmp_path, creds)
        b = Live(sim_server, other, tmp_path, creds)
        with a.client() as api_a, b.client() as api_b:
            cluster = api_b.get("/cluster").json()
            assert cluster["replica_id"] == "replica-b" and cluster["held_here"] == []
            assert cluster["replicas"] == ["replica-a"]
            assert {row["account"]: row["holder"] for row in cluster["leases"]} == {
                "bn": "replica-a",
                "hl": "replica-a",
            }
            assert api_a.get("/cluster").json()["held_here"] == ["bn", "hl"]
            before = len(entries(a))

            alert = b.alert()
            started = time.monotonic()
            answer = api_b.post(HOOK, json=alert)
            assert answer.status_code == 202, answer.text
            story = b.wait_for_signal(api_a, answer.json()["signal_id"])
            took = time.monotonic() - started
            assert story["signal"]["status"] == "filled", story
            print(f"\nwebhook on the non-owner -> filled by the owner in {took:.2f} s")
            # re-delivered to both: answered from the store, nothing more sent
            assert api_b.post(HOOK, json=alert).status_code == 200
            assert api_a.post(HOOK, json=alert).status_code == 200
            assert len(entries(a)) == before + 1
            assert a.position() == Decimal("0.01")

            # REST on the non-owner, waiting: accepted (202), the owner executes it
            body = {
                "symbol": "BTC", "side": "buy", "quantity": "0.01", "confidence": 0.9,
                "stop_loss": "66000", "take_profit": "69000", "idempotency_key": "rest-on-b",
            }  # fmt: skip
            rest = api_b.post("/signals", json=body)
            assert rest.status_code == 202, rest.text
            assert rest.json()["reason"] == "owner_executes"
            assert rest.json()["status"] == "received"  # the store's word: not decided yet
            rest_story = b.wait_for_signal(api_a, rest.json()["signal_id"])
            assert rest_story["signal"]["status"] == "filled", rest_story
            assert len(entries(a)) == before + 2

            halted = api_b.post("/halt", json={"tier": "halt", "account": "bn", "reason": "t"})
            assert halted.status_code == 200, halted.text
            refused = api_a.post(HOOK, json=a.alert())  # to the owner itself
            if refused.status_code == 202:
                outcome = a.wait_for_signal(api_a, refused.json()["signal_id"])["signal"]
            else:
                outcome = refused.json()
            assert outcome["status"] == "rejected", outcome
            assert len(entries(a)) == before + 2  # no order after the halt
            states = {s["account"]: s["state"] for s in api_a.get("/accounts").json()["accounts"]}
            assert states["bn"] == "halted"
    finally:
        other.stop()
        owner.stop()
