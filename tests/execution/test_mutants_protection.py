"""When the venue does not do what was asked (issue 12: mutants that survived the suite).

The venue's answers are shaped at the trader, the edge tradeexec owns (never inside ccxt):
a refused stop is what the real trader raises for a refusal, a lost flatten answer what it
raises once its own lookups by client id came back empty (`OrderOutcomeUnknown`). What
reached the venue is read from the simulator; what the user is told, from the report, the
signal's timeline and the account's state:

- a stop refused, the flatten's answer lost but the flatten filled: found by its client id,
  the position is flattened once (never a second flatten), the events say so;
- a stop refused, the flatten's outcome unknown and not found: nothing is resent, the account
  is HALTED with the reason, cause included;
- an entry filled in part (the simulator's book depth) whose stop is refused: the flatten
  closes what filled, not what was asked;
- a flip whose close filled and whose opening order ended with nothing filled: half done,
  and the answer says which half;
- the venue refusing the entry: the signal fails with the venue's reason, and an event;
- an entry whose outcome is unknown: in progress, and an event for the account.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tradeexec import errors
from tradeexec.domain import Order, OrderRequest, OrderSide, OrderType, TradingState
from tradeexec.sim.engine import OrderKind

if TYPE_CHECKING:
    from tradeexec.testing import VenueHarness

D = Decimal
Q = D("0.1")
STOP, TARGET = D(66000), D(69000)

Create = Callable[[OrderRequest], Awaitable[Order]]

binance_only = pytest.mark.parametrize("sim_venue", ["binance"], indirect=True)


def is_flatten(request: OrderRequest) -> bool:
    return request.reduce_only and request.type is OrderType.MARKET


async def shape_answers(
    venue: VenueHarness, answer: Callable[[Create, OrderRequest], Awaitable[Order]]
) -> None:
    """Every order the service sends goes through ``answer(create, request)``; ``create``
    sends it to the venue."""
    trader = await venue.trader()
    create = trader.create_order

    async def shaped(request: OrderRequest) -> Order:
        return await answer(create, request)

    trader.create_order = shaped  # type: ignore[method-assign]


def refuse_stops(request: OrderRequest) -> None:
    """The venue's refusal of a stop (as the trader raises it: nothing rests)."""
    if request.type is OrderType.STOP_MARKET:
        raise errors.InvalidOrder("the venue refused the stop", client_order_id="stop")
    return None


def flattens(venue: VenueHarness) -> list[Any]:
    return [o for o in venue.engine_orders() if o.spec.reduce_only and not o.spec.kind.is_trigger]


@binance_only
async def test_a_flatten_whose_answer_was_lost_is_found_not_resent(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue

    async def answer(create: Create, request: OrderRequest) -> Order:
        refuse_stops(request)
        if is_flatten(request):
            await create(request)  # it reaches the venue and fills; the answer is lost
            raise errors.OrderOutcomeUnknown(
                "no answer to the flatten", client_order_id=request.client_order_id
            )
        return await create(request)

    await shape_answers(venue, answer)

    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)

    assert report.status == "flattened", report
    assert venue.engine_position() == 0
    (flatten,) = flattens(venue)  # once: looked up by its client id, never sent again
    assert (flatten.spec.side.value, flatten.spec.qty) == ("SELL", Q)
    assert report.orders["flatten"].filled_quantity == Q
    assert venue.open_engine_orders() == []  # the target beside the refused stop is gone
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    events = {e.kind: e for e in timeline.events}
    failed, flattened = events["stop_loss_failed"], events["position_flattened"]
    assert (failed.account, failed.data["policy"]) == ("acct", "flatten")
    assert failed.data["error"]["reason"] == "invalid_order"
    assert (flattened.account, D(flattened.data["quantity"])) == ("acct", Q)
    assert flattened.data["reason"] == "stop_loss_failed"
    assert (await venue.service.state("acct")).state is TradingState.ACTIVE
    assert (timeline.signal.status, timeline.signal.status_reason) == (
        "flattened",
        "stop_loss_failed",
    )


@binance_only
async def test_a_flatten_never_found_is_not_resent_and_halts_with_the_cause(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue

    async def answer(create: Create, request: OrderRequest) -> Order:
        refuse_stops(request)
        if is_flatten(request):  # never reached the venue, and nobody can tell
            raise errors.OrderOutcomeUnknown(
                "no answer to the flatten", client_order_id=request.client_order_id
            )
        return await create(request)

    await shape_answers(venue, answer)

    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)

    assert report.status == "partially_done" and not report.success, report
    assert flattens(venue) == [] and venue.engine_position() == Q
    state = await venue.service.state("acct")
    assert state.state is TradingState.HALTED
    assert "flatten outcome unknown: no answer to the flatten" in (state.reason or "")
    assert (state.reason or "").startswith("BTC/USDT:USDT: ")  # which position is bare
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    (alarm,) = [e for e in timeline.events if e.kind == "protection_failed"]
    assert alarm.data["reason"] == state.reason


async def set_depth(venue: VenueHarness, **depth: Any) -> None:
    assert venue.sim is not None
    body = {"venue": venue.name, "account": venue.engine_account, **depth}
    async with httpx.AsyncClient(base_url=venue.sim.base_url) as client:
        answer = await client.post("/_sim/depth", json=body)
    assert answer.status_code == 200, answer.text


@binance_only
async def test_an_entry_filled_in_part_is_flattened_for_what_filled(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    await set_depth(venue, size="0.03", levels=2, step_bps="1")  # 0.06 of the 0.1 fills

    async def answer(create: Create, request: OrderRequest) -> Order:
        refuse_stops(request)
        return await create(request)

    await shape_answers(venue, answer)

    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)

    assert report.orders["entry"].filled_quantity == D("0.06"), report
    assert report.status == "flattened", report
    (flatten,) = flattens(venue)
    assert (flatten.spec.side.value, flatten.spec.qty) == ("SELL", D("0.06"))
    assert venue.engine_position() == 0


@binance_only
async def test_a_flip_whose_opening_order_fills_nothing_is_half_done(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    assert (await venue.submit(side="buy", quantity=Q)).status == "filled"
    trader = await venue.trader()

    async def answer(create: Create, request: OrderRequest) -> Order:
        if request.reduce_only or request.side is not OrderSide.SELL:
            return await create(request)
        # the opening order meets no liquidity: placed where nothing fills, then gone with
        # nothing filled (what an IOC order answers against an empty book)
        away = replace(request, type=OrderType.LIMIT, price=D(69500))
        placed = await create(away)
        gone = await trader.cancel_order(request.symbol, order_id=placed.id)
        assert gone is not None and gone.filled_quantity == 0
        return gone

    await shape_answers(venue, answer)

    report = await venue.submit(target_position=-Q, stop_loss=D(69800))

    assert venue.engine_position() == 0  # the close filled; nothing opened
    assert (report.status, report.success) == ("partially_done", False), report
    assert "opening order ended with nothing filled" in (report.error or "")
    assert [o for o in venue.open_engine_orders() if o.spec.kind is OrderKind.STOP_MARKET] == []
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    assert timeline.signal.status == "partially_done"


@binance_only
async def test_an_entry_the_venue_refuses_fails_the_signal_and_says_why(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue

    async def answer(create: Create, request: OrderRequest) -> Order:
        raise errors.InsufficientFunds("Margin is insufficient.", exchange="binance")

    await shape_answers(venue, answer)

    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)

    assert venue.engine_orders() == []
    assert (report.status, report.success) == ("failed", False), report
    assert report.reason == "insufficient_funds" and "Margin is insufficient" in (
        report.error or ""
    )
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    assert timeline.signal.status == "failed"
    assert (timeline.signal.status_reason or "").startswith(f"{report.reason}: ")
    (failed,) = [e for e in timeline.events if e.kind == "signal_failed"]
    assert failed.account == "acct"
    assert (failed.data["status"], failed.data["error"]["reason"]) == ("failed", report.reason)


@binance_only
async def test_an_entry_whose_outcome_is_unknown_is_in_progress_with_an_event(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    venue.service = await venue.new_service(timeout_ms=300)
    venue.service.pipeline.follow_up_delays = ()  # left in progress: nothing resumes it
    rule = venue.add_fault("create", kind="timeout", seconds=1.0, times=1)

    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)

    assert rule.fired == 1
    assert (report.status, report.reason) == ("in_progress", "order_outcome_unknown"), report
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    (entry,) = [o for o in timeline.orders if o.order.role == "entry"]
    assert timeline.signal.status == "executing"
    assert timeline.signal.status_reason == f"order_outcome_unknown: {entry.order.client_order_id}"
    (unknown,) = [e for e in timeline.events if e.kind == "signal_in_progress"]
    assert (unknown.account, unknown.data["error"]["reason"]) == ("acct", "order_outcome_unknown")


@binance_only
async def test_an_entry_answered_filled_without_its_amount_counts_as_its_size(
    sim_venue: VenueHarness,
) -> None:
    """Some answers say "filled" and leave the amount out (0): the order's size stands for
    it, for the legs and for a flatten alike."""
    venue = sim_venue

    async def answer(create: Create, request: OrderRequest) -> Order:
        refuse_stops(request)
        order = await create(request)
        if request.reduce_only or request.type.is_trigger:
            return order
        return replace(order, filled_quantity=D(0))

    await shape_answers(venue, answer)

    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)

    assert report.status == "flattened", report
    targets = [o for o in venue.engine_orders() if o.spec.kind is OrderKind.TAKE_PROFIT_MARKET]
    assert [t.spec.qty for t in targets] == [Q]  # placed for the order's size (then retired)
    (flatten,) = flattens(venue)
    assert (flatten.spec.side.value, flatten.spec.qty) == ("SELL", Q)
    assert venue.engine_position() == 0


@binance_only
async def test_a_refused_flatten_halts_with_the_venues_refusal(sim_venue: VenueHarness) -> None:
    venue = sim_venue

    async def answer(create: Create, request: OrderRequest) -> Order:
        refuse_stops(request)
        if is_flatten(request):
            raise errors.InvalidOrder("the venue refused the flatten")
        return await create(request)

    await shape_answers(venue, answer)

    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)

    assert report.status == "partially_done" and venue.engine_position() == Q, report
    state = await venue.service.state("acct")
    assert state.state is TradingState.HALTED
    assert "invalid_order: the venue refused the flatten" in (state.reason or "")


@binance_only
@pytest.mark.parametrize("closed_around_us", [False, True])
async def test_a_flatten_refused_after_a_part_filled(
    sim_venue: VenueHarness, closed_around_us: bool
) -> None:
    """The first flatten meets a thin book (0.04 of 0.1 fills); the second is refused as
    reduce-only. Still long: the account halts. Flat by then (closed around us): what the
    flatten did stands, and the position is flattened."""
    venue = sim_venue
    venue.service.pipeline.retry_delays = (0.01, 0.01)
    flattens_sent: list[OrderRequest] = []

    async def answer(create: Create, request: OrderRequest) -> Order:
        refuse_stops(request)
        if not is_flatten(request):
            return await create(request)
        flattens_sent.append(request)
        if len(flattens_sent) == 1:
            await set_depth(venue, size="0.02", levels=2, step_bps="1")
            return await create(request)
        await set_depth(venue, size="5", levels=1, step_bps="1")
        if closed_around_us:
            rest = OrderRequest(
                symbol=request.symbol,
                side=OrderSide.SELL,
                type=OrderType.MARKET,
                quantity=request.quantity,
                reduce_only=True,
                client_order_id=venue.new_client_id(),
            )
            await create(rest)
        raise errors.ReduceOnlyRejected("ReduceOnly Order is rejected.")

    await shape_answers(venue, answer)

    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP)

    assert [r.quantity for r in flattens_sent] == [Q, D("0.06")], flattens_sent
    state = await venue.service.state("acct")
    if closed_around_us:
        assert report.status == "flattened", report
        assert report.orders["flatten"].filled_quantity == D("0.04")
        assert venue.engine_position() == 0 and state.state is TradingState.ACTIVE
    else:
        assert report.status == "partially_done", report
        assert venue.engine_position() == D("0.06") and state.state is TradingState.HALTED
        assert "reduce_only_rejected" in (state.reason or "")
