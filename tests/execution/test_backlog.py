"""Accepted signals wait in their account's queue (`Backlog`): one worker per account runs
them in order, a hung account holds up only its own queue, a failure does not stop the
queue, and closing releases what is still queued for start-up recovery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tradeexec.domain import SignalSource
from tradeexec.execution.backlog import Backlog
from tradeexec.execution.redelivery import Claim
from tradeexec.execution.report import ExecutionReport
from tradeexec.execution.signals import Signal


def _signal(account: str, key: str) -> Signal:
    return Signal.from_request(
        {"symbol": "BTC/USDT", "side": "buy", "quantity": "0.01", "account": account,
         "idempotency_key": key, "confidence": 0.9},
        source=SignalSource.AGENT, now=datetime.now(UTC),
    )  # fmt: skip


class Venue:
    """A run function: records what ran when, and hangs an account on request."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.active: dict[str, int] = {}
        self.most_at_once: dict[str, int] = {}
        self.hang: dict[str, asyncio.Event] = {}
        self.fail: set[str] = set()

    async def run(self, signal: Signal, signal_id: int) -> ExecutionReport:
        account = signal.account or ""
        self.active[account] = self.active.get(account, 0) + 1
        self.most_at_once[account] = max(self.most_at_once.get(account, 0), self.active[account])
        try:
            if account in self.hang:
                await self.hang[account].wait()
            await asyncio.sleep(0)
            if signal.idempotency_key in self.fail:
                raise RuntimeError("boom")
            self.ran.append(signal.idempotency_key)
            return ExecutionReport(
                status="filled", idempotency_key=signal.idempotency_key,
                symbol=signal.symbol, account=account, signal_id=signal_id,
            )  # fmt: skip
        finally:
            self.active[account] -= 1


Running = dict[str, asyncio.Future[None]]


def _add(
    backlog: Backlog, running: Running, account: str, key: str
) -> asyncio.Future[ExecutionReport]:
    claim = Claim(running, key)
    claim.__enter__()
    return backlog.add(account, _signal(account, key), len(running), claim)


async def test_each_account_runs_in_order_one_at_a_time_and_a_hung_one_holds_up_only_itself() -> (
    None
):
    venue, running = Venue(), Running()
    venue.hang["hl"] = asyncio.Event()
    backlog = Backlog(venue.run)
    hl = [_add(backlog, running, "hl", f"hl-{i}") for i in range(50)]
    bn = [_add(backlog, running, "bn", f"bn-{i}") for i in range(5)]
    reports = await asyncio.wait_for(asyncio.gather(*bn), timeout=30)
    assert [r.idempotency_key for r in reports] == [f"bn-{i}" for i in range(5)]
    assert venue.ran == [f"bn-{i}" for i in range(5)]
    assert backlog.waiting("hl") == 50 and backlog.waiting("bn") == 0
    assert not any(f.done() for f in hl)
    venue.hang["hl"].set()
    await asyncio.wait_for(asyncio.gather(*hl), timeout=30)
    assert venue.ran[5:] == [f"hl-{i}" for i in range(50)]
    assert venue.most_at_once == {"hl": 1, "bn": 1}
    assert running == {}  # every key released


async def test_a_failed_execution_is_its_callers_error_and_the_queue_goes_on() -> None:
    venue, running = Venue(), Running()
    venue.fail.add("a-1")
    backlog = Backlog(venue.run)
    futures = [_add(backlog, running, "a", f"a-{i}") for i in range(3)]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert isinstance(outcomes[1], RuntimeError)
    assert venue.ran == ["a-0", "a-2"]
    assert running == {}


async def test_closing_releases_what_is_queued_and_stops_the_one_running() -> None:
    venue, running = Venue(), Running()
    venue.hang["hl"] = asyncio.Event()
    backlog = Backlog(venue.run)
    futures = [_add(backlog, running, "hl", f"hl-{i}") for i in range(3)]
    await asyncio.sleep(0)
    await backlog.close(grace_s=0.05)
    assert all(f.cancelled() for f in futures)
    assert running == {} and backlog.waiting("hl") == 0  # recovery at start-up finishes them
    with pytest.raises(asyncio.CancelledError):
        await futures[0]
