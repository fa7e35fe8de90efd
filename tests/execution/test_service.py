"""TradingService, the facade: the kill switch, operator actions, views, the timeline and
the reconcile loop, on every venue."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeexec.domain import OrderType, SignalSource, TradingState
from tradeexec.execution.reconcile import Reconciler, ReconcileReport
from tradeexec.service import TradingService
from tradeexec.sim.engine import OrderStatus

if TYPE_CHECKING:
    from tradeexec.testing import VenueHarness

Q = Decimal("0.1")
STOP, TARGET = Decimal(66000), Decimal(69000)


async def test_kill_switch_refuses_entries_but_lets_cancels_and_closes_pass(
    venue: VenueHarness,
) -> None:
    service = venue.service
    held = await venue.submit(side="buy", quantity=Q)
    resting = await venue.submit(
        side="buy", quantity=Q, order_type=OrderType.LIMIT, price=Decimal(66000)
    )
    assert (held.status, resting.status) == ("filled", "accepted")

    result = await service.halt("acct", reason="operator says stop")
    assert result["acct"]["cancelled"] == [] and result["acct"]["flattened"] == []
    state = await service.state("acct")
    assert (state.state, state.reason) == (TradingState.HALTED, "operator says stop")
    assert state.to_dict() == {"account": "acct", "state": "halted", "reason": state.reason}

    sent = len(venue.engine_orders())
    for source in (SignalSource.AGENT, SignalSource.TRADINGVIEW):
        refused = await venue.submit(side="buy", quantity=Q, source=source)
        assert (refused.status, refused.reason) == ("rejected", "halted"), source
    reduce = await venue.submit(side="sell", quantity=Q, reduce_only=True)
    assert reduce.reason == "halted"  # only an operator's close passes
    assert len(venue.engine_orders()) == sent  # nothing reached the venue

    cancelled = await service.cancel("BTC/USDT", order_id=resting.orders["entry"].id)
    assert cancelled is not None and cancelled.status.value == "canceled"
    limit = next(o for o in venue.engine_orders() if str(o.order_id) == cancelled.id)
    assert limit.status is OrderStatus.CANCELED

    closed = await service.close_position("BTC/USDT", account="acct")
    assert closed.status == "filled", (closed.reason, closed.error)
    assert closed.orders["close"].reduce_only
    assert venue.engine_position() == 0
    assert (await service.state("acct")).state is TradingState.HALTED  # still halted

    await service.resume("acct")
    assert (await service.state("acct")).state is TradingState.ACTIVE
    again = await venue.submit(side="buy", quantity=Q)
    assert again.status == "filled", again
    assert venue.engine_position() == Q

    events = await service.pipeline.db(service.store.events, None, "acct", limit=500)
    kinds = [e.kind for e in events]
    assert "account_halted" in kinds and "account_resumed" in kinds
    assert "order_cancel_requested" in kinds


async def test_halt_cancel_and_flatten_leaves_nothing_open(venue: VenueHarness) -> None:
    service = venue.service
    long = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    short = await venue.submit(symbol="ETH/USDT", side="sell", quantity=Decimal("0.5"))
    rest = await venue.submit(
        side="buy", quantity=Q, order_type=OrderType.LIMIT, price=Decimal(66000)
    )
    assert [r.status for r in (long, short, rest)] == ["filled", "filled", "accepted"]
    assert len(venue.open_engine_orders()) == 3

    result = await service.halt("acct", cancel_orders=True, flatten=True)

    assert venue.open_engine_orders() == []
    assert venue.engine_position("BTC") == 0 and venue.engine_position("ETH") == 0
    assert await service.positions("acct") == []
    assert await service.orders("acct") == []
    done = result["acct"]
    assert len(done["cancelled"]) == 3
    assert len(done["flattened"]) == 2 and all(r["success"] for r in done["flattened"])
    assert (await service.state("acct")).state is TradingState.HALTED

    # the store catches up with what the halt did on the venue
    report = await service.reconcile("acct")
    assert report.mismatches == []
    in_flight = await service.pipeline.db(service.store.orders_in_flight, "acct", None)
    assert in_flight == []
    assert (await service.state("acct")).state is TradingState.HALTED


async def test_views_timeline_and_bad_input(venue: VenueHarness) -> None:
    service = venue.service
    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)
    (position,) = await service.positions("acct")
    assert position.quantity == Q and position.symbol == report.orders["entry"].symbol
    (stop,) = await service.orders("acct")
    assert stop.id == report.orders["stop_loss"].id and stop.reduce_only

    by_key = await service.signal_timeline(report.idempotency_key)
    by_id = await service.signal_timeline(report.signal_id)
    assert by_key == by_id and by_key.signal.id == report.signal_id
    assert by_key.signal.payload["quantity"] == "0.1"
    assert await service.signal_timeline("no-such-key") is None

    bad = await service.submit(
        {"symbol": "BTC/USDT", "side": "sideways", "quantity": 1, "confidence": 0.9},
        SignalSource.AGENT,
    )
    assert (bad.status, bad.reason) == ("rejected", "invalid_signal")
    assert "side" in (bad.error or "")
    events = await service.pipeline.db(service.store.events, None, None, kind="signal_invalid")
    assert len(events) == 1 and events[0].data["error"]["reason"] == "invalid_signal"
    good = await service.submit(
        {"symbol": "BTC/USDT", "side": "sell", "quantity": 0.1, "confidence": 0.9,
         "account": "acct", "reduce_only": True},
        SignalSource.AGENT,
    )  # fmt: skip
    assert good.status == "filled" and venue.engine_position() == 0


async def test_reconcile_loop_cancels_the_sibling_by_itself(venue: VenueHarness) -> None:
    looping = TradingService(venue.app_config(), reconcile_interval_s=0.05)
    if venue.paper_trader is not None:
        looping.manager.add(venue.paper_trader)
    venue.services.append(looping)
    await looping.start()
    report = await looping.submit_signal(
        venue.signal(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    )
    assert report.status == "filled", report
    _, _, target = venue.engine_orders()
    venue.set_mark(65900)  # the stop fires
    for _ in range(100):
        if target.status is OrderStatus.CANCELED:
            break
        await asyncio.sleep(0.05)
    assert target.status is OrderStatus.CANCELED
    await looping.stop()
    assert looping._loop_task is None


class FlakyReconciler(Reconciler):
    """Fails once with an error nobody planned for (a parser bug, a driver error)."""

    failures = 0

    async def run(self, account: str) -> ReconcileReport:
        if FlakyReconciler.failures == 0:
            FlakyReconciler.failures += 1
            raise RuntimeError("unexpected")
        return await super().run(account)


async def test_reconcile_loop_survives_an_unexpected_error(venue: VenueHarness) -> None:
    FlakyReconciler.failures = 0
    looping = TradingService(venue.app_config(), reconcile_interval_s=0.05)
    looping.reconciler = FlakyReconciler(looping.pipeline)
    if venue.paper_trader is not None:
        looping.manager.add(venue.paper_trader)
    venue.services.append(looping)
    await looping.start()  # nothing recorded yet: the loop makes the first pass
    report = await looping.submit_signal(
        venue.signal(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    )
    assert report.status == "filled", report
    _, _, target = venue.engine_orders()
    venue.set_mark(65900)  # the stop fires
    for _ in range(100):
        if target.status is OrderStatus.CANCELED:
            break
        await asyncio.sleep(0.05)
    assert FlakyReconciler.failures == 1
    assert target.status is OrderStatus.CANCELED  # the loop kept going after the error
