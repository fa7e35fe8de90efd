"""Several accounts, one of them unreachable: the kill switch halts every account first and
reports each one's cancels and flattens; start-up reconciles the others and reports the one
that failed (issues 7 and 8)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradeexec import errors
from tradeexec.config import AccountConfig, AppConfig, RiskConfig
from tradeexec.domain import SignalSource, TradingState
from tradeexec.execution.reconcile import ReconcileReport
from tradeexec.execution.signals import Signal
from tradeexec.service import TradingService
from tradeexec.sim.faults import FaultRule
from tradeexec.sim.server import SimServer

RISK = RiskConfig(max_order_notional=Decimal(30000), max_orders_per_minute=1000)
Q = Decimal("0.1")


@dataclass
class TwoVenues:
    sim: SimServer
    tmp: Path
    creds: dict[str, dict[str, str]] = field(default_factory=dict)
    services: list[TradingService] = field(default_factory=list)
    keys: int = 0

    fallback: str | None = None  # the bn account's fallback, when set

    def config(self) -> AppConfig:
        bn, hl = self.creds["bn"], self.creds["hl"]
        return AppConfig(
            accounts={
                "bn": AccountConfig(
                    type="binance",
                    api_url=self.sim.base_url,
                    api_key=bn["apiKey"],
                    api_secret=bn["secret"],
                    timeout_ms=1000,
                    fallback=self.fallback,
                ),
                "hl": AccountConfig(
                    type="hyperliquid",
                    api_url=self.sim.base_url,
                    wallet_address=hl["walletAddress"],
                    private_key=hl["privateKey"],
                    timeout_ms=1000,
                ),
            },
            store_url=f"sqlite:///{self.tmp / 'two.db'}",
            market_cache_dir=str(self.tmp / "markets"),
            risk=RISK,
        )

    async def service(self, *, start: bool = True) -> TradingService:
        service = TradingService(self.config())
        service.retry_delays = (0.01, 0.01)
        self.services.append(service)
        if start:
            await service.start()
        return service

    def signal(self, account: str, **fields: Any) -> Signal:
        self.keys += 1
        values: dict[str, Any] = {
            "symbol": "BTC",
            "source": SignalSource.AGENT,
            "idempotency_key": f"two-{self.keys}-{datetime.now(UTC).timestamp()}",
            "created_at": datetime.now(UTC),
            "account": account,
            "confidence": 0.9,
            "side": "buy",
            "quantity": Q,
            "stop_loss": Decimal(66000),
        }
        values.update(fields)
        return Signal(**values)

    def position(self, account: str) -> Decimal:
        face = self.sim.simulator.binance if account == "bn" else self.sim.simulator.hyperliquid
        engine_account = self.creds[account]["account"]
        return sum(
            (p.qty for p in face.engine.positions(engine_account) if p.coin == "BTC"), Decimal(0)
        )

    def open_orders(self, account: str) -> list[Any]:
        face = self.sim.simulator.binance if account == "bn" else self.sim.simulator.hyperliquid
        return list(face.engine.open_orders(self.creds[account]["account"]))

    def hyperliquid_down(self) -> FaultRule:
        return self.fault(FaultRule(route="hyperliquid.*", kind="status", status=503))

    def fault(self, rule: FaultRule) -> FaultRule:
        self.sim.simulator.ctx.faults.rules.append(rule)
        return rule


@pytest.fixture
async def two(sim_server: SimServer, tmp_path: Path) -> AsyncIterator[TwoVenues]:
    venues = TwoVenues(sim_server, tmp_path)
    venues.creds["bn"] = dict(sim_server.simulator.binance.create_account(Decimal(10000)))
    venues.creds["hl"] = dict(sim_server.simulator.hyperliquid.create_account(Decimal(10000)))
    sim_server.simulator.set_price("BTC", Decimal(67500))
    yield venues
    sim_server.simulator.ctx.faults.rules.clear()
    for service in reversed(venues.services):
        await service.stop()


async def test_kill_switch_halts_every_account_first_and_reports_each(two: TwoVenues) -> None:
    service = await two.service()
    for account in ("bn", "hl"):
        opened = await service.submit_signal(two.signal(account))
        assert opened.status == "filled", opened
    two.hyperliquid_down()

    result = await service.halt(reason="test", cancel_orders=True, flatten=True)

    # both HALTED, durably, whatever happened next
    for account in ("bn", "hl"):
        assert (await service.state(account)).state is TradingState.HALTED
    assert result["bn"]["complete"] is True and result["bn"]["failures"] == []
    assert two.position("bn") == 0 and two.open_orders("bn") == []
    assert result["hl"]["complete"] is False and result["hl"]["failures"]
    assert two.position("hl") == Q  # the unreachable venue still holds it ...

    # ... until the venue is back: the next reconcile finishes the kill switch
    two.sim.simulator.ctx.faults.rules.clear()
    report = await service.reconcile("hl")
    assert two.position("hl") == 0 and two.open_orders("hl") == []
    assert not any("kill switch" in f for f in report.failures), report
    events = await service.pipeline.db(service.store.events, None, "hl", kind="kill_switch")
    assert [e.data["complete"] for e in events] == [False, True]
    assert (await service.state("hl")).state is TradingState.HALTED  # still halted


async def test_start_up_with_one_venue_down_reconciles_the_others(two: TwoVenues) -> None:
    first = await two.service(start=False)
    planted = {account: two.signal(account) for account in ("bn", "hl")}
    for account, signal in planted.items():  # recorded by a process that then died
        first.store.record_signal(
            idempotency_key=signal.idempotency_key,
            account=account,
            symbol=signal.symbol,
            source=signal.source.value,
            payload=signal.to_record(),
            confidence=signal.confidence,
            created_at=signal.created_at,
        )
    two.hyperliquid_down()

    restarted = await two.service(start=False)
    results = await restarted.start()  # must not raise

    assert isinstance(results["bn"], ReconcileReport) and results["bn"].signals_resumed
    assert two.position("bn") == Q
    bn = await restarted.signal_timeline(planted["bn"].idempotency_key)
    assert bn.signal.status == "filled"
    assert isinstance(results["hl"], errors.TradeExecError | ReconcileReport)
    hl = await restarted.signal_timeline(planted["hl"].idempotency_key)
    assert hl.signal.status == "received"  # not given up: left for the next pass

    two.sim.simulator.ctx.faults.rules.clear()
    again = await restarted.reconcile("hl")
    assert again.signals_resumed, again
    hl = await restarted.signal_timeline(planted["hl"].idempotency_key)
    assert hl.signal.status == "filled" and two.position("hl") == Q


async def test_service_health_proves_each_accounts_credentials(two: TwoVenues) -> None:
    two.creds["hl"]["privateKey"] = "0x" + "11" * 32  # a valid key, but not this wallet's
    service = await two.service(start=False)

    health = await service.health()

    assert health["bn"]["ok"] is True and health["bn"]["credentials"] == "accepted"
    assert health["hl"]["ok"] is False and health["hl"]["code"] == "authentication_failed"
    assert "11" * 32 not in str(health)


# ------------------------------------------------------ failover and isolation (issue 8)


async def test_an_unreachable_venue_fails_over_to_its_fallback(two: TwoVenues) -> None:
    two.fallback = "hl"
    service = await two.service()
    two.fault(FaultRule(route="binance.*", kind="status", status=503))
    signal = two.signal("bn")

    report = await service.submit_signal(signal)

    assert report.status == "filled", report
    assert report.account == "hl" and any("unreachable" in w for w in report.warnings)
    assert two.position("hl") == Q and two.position("bn") == 0
    timeline = await service.signal_timeline(signal.idempotency_key)
    assert timeline.signal.account == "hl"
    moved = [e for e in timeline.events if e.kind == "signal_failover"]
    assert moved and moved[0].data["to"] == "hl" and moved[0].account == "bn"
    # the event says why: the error's code and the venue's own words
    assert moved[0].data["reason"] == "exchange_unavailable", moved[0].data
    assert "-1008" in moved[0].data["error"], moved[0].data  # the venue's own answer
    # the re-delivery (naming bn, as first sent) is the same signal, not a conflict
    again = await service.submit_signal(signal)
    assert (again.status, again.original_status) == ("duplicate", "filled")


async def test_a_venue_whose_reads_fail_after_it_connected_fails_over(two: TwoVenues) -> None:
    """Connected (the service started), then the pre-trade reads go unanswered: nothing was
    sent, so the signal moves to the fallback like one whose venue never answered."""
    two.fallback = "hl"
    service = await two.service()
    two.fault(FaultRule(route="binance.balance", kind="status", status=503))
    signal = two.signal("bn")

    report = await service.submit_signal(signal)

    assert report.status == "filled" and report.account == "hl", report
    assert two.position("hl") == Q and two.position("bn") == 0


async def test_an_unreachable_venue_without_a_fallback_fails_the_signal_and_says_why(
    two: TwoVenues,
) -> None:
    service = await two.service()
    two.fault(FaultRule(route="binance.*", kind="status", status=503))
    signal = two.signal("bn")

    report = await service.submit_signal(signal)

    assert report.status == "failed" and report.account == "bn", report
    assert report.signal_id is not None and report.reason == "exchange_unavailable", report
    assert two.position("bn") == 0 and two.position("hl") == 0
    timeline = await service.signal_timeline(signal.idempotency_key)
    assert timeline is not None and timeline.signal.status == "failed"
    assert [e.kind for e in timeline.events if e.kind == "signal_failed"] == ["signal_failed"]


async def test_no_failover_when_the_venue_answered(two: TwoVenues) -> None:
    """A refusal is an answer: the venue is up, the signal is refused there."""
    two.creds["bn"] = dict(two.sim.simulator.binance.create_account(Decimal(10)))
    two.fallback = "hl"
    service = await two.service()

    report = await service.submit_signal(two.signal("bn"))

    assert report.status in ("failed", "rejected") and report.account == "bn", report
    assert two.position("hl") == 0 and two.position("bn") == 0


async def test_a_slow_venue_does_not_hold_up_the_other_account(two: TwoVenues) -> None:
    service = await two.service()
    for account in ("bn", "hl"):  # both connected and warm
        assert (await service.submit_signal(two.signal(account))).status == "filled"
    slow = two.fault(FaultRule(route="binance.*", kind="latency", seconds=0.8))

    stuck = asyncio.create_task(service.submit_signal(two.signal("bn")))
    quick = [await service.submit_signal(two.signal("hl")) for _ in range(3)]

    assert [r.status for r in quick] == ["filled"] * 3
    assert not stuck.done() and slow.fired >= 1  # still waiting on its venue
    assert (await stuck).status == "filled"


@pytest.mark.parametrize("fallback", ["bn", "nowhere"])
def test_a_fallback_must_name_another_account(two: TwoVenues, fallback: str) -> None:
    two.fallback = fallback
    with pytest.raises(ValueError, match="fallback"):
        two.config()


async def test_the_kill_switch_tiers_are_one_mapping(two: TwoVenues) -> None:
    service = await two.service()
    assert (await service.submit_signal(two.signal("bn"))).status == "filled"

    paused = await service.kill_switch("pause_entries", "bn", reason="drill")
    assert paused["bn"]["state"] == "reducing"
    assert two.position("bn") == Q and two.open_orders("bn")  # resting orders stay
    closed = await service.kill_switch("close_only", "bn", reason="drill")
    assert closed["bn"]["complete"] and two.open_orders("bn") == [] and two.position("bn") == Q
    flat = await service.kill_switch("flatten", "bn", reason="drill")
    assert flat["bn"]["complete"] and two.position("bn") == 0
    assert (await service.state("bn")).state is TradingState.HALTED
    with pytest.raises(errors.InvalidSignal, match="tier"):
        await service.kill_switch("panic", "bn")


async def test_a_hung_venue_holds_a_bounded_line_of_waiting_signals(two: TwoVenues) -> None:
    """Callers waiting on a hung venue are bounded per account: one more is refused before
    it is recorded (the same key can be sent again), an exit still gets in line, and the
    other account trades meanwhile."""
    service = await two.service()
    for account in ("bn", "hl"):  # both connected and warm
        assert (await service.submit_signal(two.signal(account))).status == "filled"
    service.pipeline.max_waiting_per_account = 3
    hang = two.fault(FaultRule(route="hyperliquid.*", kind="latency", seconds=1.0))
    stuck = [asyncio.create_task(service.submit_signal(two.signal("hl"))) for _ in range(3)]
    for _ in range(500):  # until the first is waiting on the venue
        if hang.fired:
            break
        await asyncio.sleep(0.01)

    refused = two.signal("hl")
    with pytest.raises(errors.ExchangeUnavailable, match="3 signals waiting"):
        await service.submit_signal(refused)
    assert await service.records.get_signal_by_key(refused.idempotency_key) is None
    exit_ = asyncio.create_task(service.submit_signal(two.signal("hl", reduce_only=True)))
    await asyncio.sleep(0)
    assert not exit_.done()  # in line, not refused
    assert (await service.submit_signal(two.signal("bn"))).status == "filled"

    two.sim.simulator.ctx.faults.rules.clear()
    assert [(await t).status for t in stuck] == ["filled"] * 3
    await exit_
    again = await service.submit_signal(refused)  # the refused key was left free
    assert again.status == "filled" and again.idempotency_key == refused.idempotency_key
