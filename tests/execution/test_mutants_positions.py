"""Positions that move, as the venue sees them (issue 12: mutants that survived the suite).

What reached the venue is read from the simulator (its engine and request log); what a user
sees afterwards from the store (the signal's timeline, its decision and events):

- whole units (1 ETH): a flip to exactly +1 opens; a close from 2 to 1 keeps the oldest
  leg at its size and retires the newest (the budget is spent, not grown);
- a short that shrinks: its buy-side stop and target follow it, the resized legs stay with
  the signal that set them, the events name the account and the closing signal;
- a ``side`` signal against a short reduces it with a reduce-only buy of its own size;
- a limit signal rests on the venue as a limit at its price;
- a signal that needs nothing records its decision (with the sizing) beside its ``noop``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import pytest

from tradeexec.domain import OrderType
from tradeexec.sim.engine import OrderKind, OrderStatus

if TYPE_CHECKING:
    from tradeexec.testing import VenueHarness

D = Decimal
ETH = "ETH/USDT"

Wire = tuple[str, Decimal, bool]  # (side, size, reduce-only) as sent


def wire_orders(venue: VenueHarness) -> list[Wire]:
    """Every order placement in the simulator's request log, in the venue's own format."""
    sent: list[Wire] = []
    for entry in venue.order_requests():
        if venue.name == "binance":
            params = dict(parse_qsl(entry["query"] or entry["body"] or ""))
            reduce = params.get("reduceOnly", "false").lower() == "true"
            sent.append((params["side"].lower(), D(params["quantity"]), reduce))
        else:
            for order in entry["body"]["action"]["orders"]:
                sent.append(("buy" if order["b"] else "sell", D(order["s"]), bool(order["r"])))
    return sent


def clear_log(venue: VenueHarness) -> None:
    assert venue.sim is not None
    venue.sim.simulator.log.entries.clear()


def open_legs(venue: VenueHarness, kind: OrderKind, coin: str = "BTC") -> list[Any]:
    return [o for o in venue.open_engine_orders() if o.spec.kind is kind and o.spec.coin == coin]


async def test_whole_units_flip_to_one_and_shrink_from_two_to_one(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    venue.set_mark(ETH, 3000)
    short = await venue.submit(symbol=ETH, target_position=D(-1))
    assert short.status == "filled" and venue.engine_position("ETH") == -1, short
    clear_log(venue)

    flip = await venue.submit(
        symbol=ETH, target_position=D(1), stop_loss=D(2800), take_profit=D(3300)
    )

    assert flip.status == "filled", flip
    # the close, then the opening order; the legs follow (reduce-only sells)
    assert wire_orders(venue)[:2] == [("buy", D(1), True), ("buy", D(1), False)]
    assert venue.engine_position("ETH") == 1
    added = await venue.submit(symbol=ETH, target_position=D(2), stop_loss=D(2750))
    assert added.status == "filled" and venue.engine_position("ETH") == 2, added

    shrink = await venue.submit(symbol=ETH, target_position=D(1))

    assert shrink.status == "filled" and venue.engine_position("ETH") == 1, shrink
    # 1 is left: the oldest stop keeps its size, the newer one goes; one stop, not two
    stops = open_legs(venue, OrderKind.STOP_MARKET, "ETH")
    assert [(s.spec.qty, s.spec.trigger_price) for s in stops] == [(D(1), D(2800))]
    (target,) = open_legs(venue, OrderKind.TAKE_PROFIT_MARKET, "ETH")
    assert (target.spec.qty, target.spec.trigger_price) == (D(1), D(3300))


async def test_a_shrinking_short_keeps_its_legs_fitted_and_says_so(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    big = await venue.submit(
        side="sell", quantity=D("0.3"), stop_loss=D(69000), take_profit=D(66000)
    )
    assert big.status == "filled" and venue.engine_position() == D("-0.3"), big

    shrink = await venue.submit(target_position=D("-0.1"))

    assert shrink.status == "filled" and venue.engine_position() == D("-0.1"), shrink
    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    (target,) = open_legs(venue, OrderKind.TAKE_PROFIT_MARKET)
    for leg, trigger in ((stop, D(69000)), (target, D(66000))):
        assert (leg.spec.side.value, leg.spec.qty, leg.spec.trigger_price) == (
            "BUY",
            D("0.1"),
            trigger,
        )
        assert leg.spec.reduce_only
    # the resized legs still belong to the signal that set them (its timeline lists them)
    first = await venue.service.signal_timeline(big.idempotency_key)
    resting = {
        o.order.role: o.order
        for o in first.orders
        if o.order.status == "submitted" and o.order.quantity == D("0.1")
    }
    assert set(resting) == {"stop_loss", "take_profit"}
    assert resting["stop_loss"].client_order_id == stop.spec.client_id
    # the closing signal's timeline says what it did to them, for this account
    closing = await venue.service.signal_timeline(shrink.idempotency_key)
    resized = [e for e in closing.events if e.kind == "leg_resized"]
    assert sorted(e.data["role"] for e in resized) == ["stop_loss", "take_profit"]
    assert {(e.account, D(e.data["old_quantity"]), D(e.data["new_quantity"])) for e in resized} == {
        ("acct", D("0.3"), D("0.1"))
    }
    assert {e.data["client_order_id"] for e in resized} == {
        stop.spec.client_id,
        target.spec.client_id,
    }
    cancelled = [e for e in closing.events if e.kind == "stale_leg_cancelled"]
    assert len(cancelled) == 2 and {e.account for e in cancelled} == {"acct"}
    # and the signal that set the old legs shows what became of them
    first = await venue.service.signal_timeline(big.idempotency_key)
    assert [e.kind for e in first.events].count("stale_leg_cancelled") == 2

    closed = await venue.submit(target_position=D(0))

    assert closed.status == "filled" and venue.engine_position() == 0, closed
    assert venue.open_engine_orders() == []
    timeline = await venue.service.signal_timeline(closed.idempotency_key)
    retired = [e for e in timeline.events if e.kind == "stale_leg_cancelled"]
    assert len(retired) == 2 and {e.account for e in retired} == {"acct"}


async def test_a_side_signal_against_a_short_reduces_it_with_a_buy(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    assert (await venue.submit(side="sell", quantity=D("0.2"))).status == "filled"
    clear_log(venue)

    report = await venue.submit(side="buy", quantity=D("0.1"))

    assert report.status == "filled", report
    assert wire_orders(venue) == [("buy", D("0.1"), True)]  # reduces first; nothing opens
    assert venue.engine_position() == D("-0.1")


async def test_a_limit_signal_rests_as_a_limit_at_its_price(sim_venue: VenueHarness) -> None:
    venue = sim_venue

    report = await venue.submit(
        side="buy",
        quantity=D("0.1"),
        order_type=OrderType.LIMIT,
        price=D(66500),
        stop_loss=D(65000),
    )

    assert report.status == "accepted", report
    (entry,) = venue.engine_orders()  # no stop yet: it follows the entry's fills
    assert entry.spec.kind is OrderKind.LIMIT and entry.spec.price == D(66500)
    assert entry.status is OrderStatus.NEW and venue.engine_position() == 0


async def test_a_signal_with_nothing_to_do_records_its_decision(venue: VenueHarness) -> None:
    opened = await venue.submit(side="buy", quantity=D("0.1"))
    assert opened.status == "filled", opened
    timeline = await venue.service.signal_timeline(opened.idempotency_key)
    (decision,) = timeline.decisions
    assert decision.approved and decision.sizing  # how the size was reached, for the user
    (entry,) = timeline.orders
    assert [h.event for h in entry.history] == ["intent", "acknowledged"]

    report = await venue.submit(target_position=D("0.1"))

    assert report.status == "noop", report
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    assert timeline.signal.status == "noop"
    (decision,) = timeline.decisions
    assert decision.approved and decision.reason_code is None
    assert len(venue.engine_orders()) == 1  # nothing more was sent


def open_orders_requests(venue: VenueHarness) -> list[dict[str, str]]:
    assert venue.sim is not None
    return [
        dict(parse_qsl(e["query"] or ""))
        for e in venue.sim.simulator.log.recent(10_000)
        if e["method"] == "GET" and e["path"] == "/fapi/v1/openOrders"
    ]


@pytest.mark.parametrize("sim_venue", ["binance"], indirect=True)
async def test_legs_that_cannot_be_fitted_are_events_with_their_cause(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    big = await venue.submit(side="buy", quantity=D("0.3"), stop_loss=D(66000))
    assert big.status == "filled", big
    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    clear_log(venue)
    # the venue will not say which orders rest: nothing is resized blindly
    unlisted = venue.add_fault("binance.order.open", kind="status", status=503)

    first = await venue.submit(target_position=D("0.2"))

    assert first.status == "filled" and venue.engine_position() == D("0.2"), first
    assert unlisted.fired >= 1
    timeline = await venue.service.signal_timeline(first.idempotency_key)
    (blind,) = [e for e in timeline.events if e.kind == "leg_not_fitted"]
    assert (blind.account, blind.data["symbol"]) == ("acct", "BTC/USDT:USDT")
    assert blind.data["error"]["reason"] == "exchange_unavailable"
    assert open_legs(venue, OrderKind.STOP_MARKET) == [stop]  # left for the reconciler
    venue.sim.simulator.ctx.faults.rules.remove(unlisted)  # type: ignore[union-attr]
    # the venue will not cancel the old stop: its replacement rests, the old one is named
    venue.add_fault("binance.algo.cancel", kind="status", status=429, times=2)

    second = await venue.submit(target_position=D("0.1"))

    assert second.status == "filled" and venue.engine_position() == D("0.1"), second
    timeline = await venue.service.signal_timeline(second.idempotency_key)
    (stuck,) = [e for e in timeline.events if e.kind == "leg_not_fitted"]
    assert (stuck.account, stuck.data["client_order_id"]) == ("acct", stop.spec.client_id)
    assert D(stuck.data["wanted"]) == D("0.1")
    assert stuck.data["error"]["reason"] == "rate_limited"
    # one symbol's legs are listed with its symbol (Binance weighs a listing of every
    # symbol's open orders 40 times as much)
    listed = open_orders_requests(venue)
    assert listed and all(q.get("symbol") == "BTCUSDT" for q in listed), listed


@pytest.mark.parametrize("sim_venue", ["binance"], indirect=True)
async def test_closing_one_symbol_leaves_another_symbols_legs_alone(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    venue.set_mark(ETH, 3000)
    eth = await venue.submit(symbol=ETH, side="buy", quantity=D(1), stop_loss=D(2800))
    finished = []  # BTC stops cancelled by closes: they stay in the store
    for target in (D("0.1"), D(0)):
        moved = await venue.submit(target_position=target, stop_loss=D(66000))
        assert moved.status == "filled", moved
        finished += open_legs(venue, OrderKind.STOP_MARKET)
    assert len(finished) == 1
    assert open_legs(venue, OrderKind.STOP_MARKET) == []  # a close places no legs
    btc = await venue.submit(side="buy", quantity=D("0.1"), stop_loss=D(66000))
    assert eth.status == btc.status == "filled", (eth, btc)
    clear_log(venue)

    closed = await venue.submit(target_position=D(0))

    assert closed.status == "filled" and venue.engine_position() == 0, closed
    assert open_legs(venue, OrderKind.STOP_MARKET) == []
    (eth_stop,) = open_legs(venue, OrderKind.STOP_MARKET, "ETH")
    assert eth_stop.spec.qty == 1
    assert venue.sim is not None
    about_eth = [
        e for e in venue.sim.simulator.log.recent(10_000) if "ETHUSDT" in (e["query"] or "")
    ]
    assert about_eth == []  # not even a lookup: ETH's legs are none of this close's business
    (old,) = finished
    asked = [
        e
        for e in venue.sim.simulator.log.recent(10_000)
        if str(old.order_id) in (e["query"] or "") or str(old.spec.client_id) in (e["query"] or "")
    ]
    assert asked == []  # a leg already cancelled is not asked about again


async def test_the_accounts_configured_leverage_is_set_when_the_signal_names_none(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    venue.service = await venue.new_service(leverage=3, margin_mode="cross")
    clear_log(venue)

    report = await venue.submit(side="buy", quantity=D("0.01"))

    assert report.status == "filled", report
    assert venue.sim is not None
    log = venue.sim.simulator.log.recent(10_000)
    if venue.name == "binance":
        calls = [e for e in log if e["method"] == "POST" and e["path"] == "/fapi/v1/leverage"]
        assert [dict(parse_qsl(c["query"] or c["body"] or ""))["leverage"] for c in calls] == ["3"]
        modes = [e for e in log if e["method"] == "POST" and e["path"] == "/fapi/v1/marginType"]
        assert [dict(parse_qsl(m["query"] or m["body"] or ""))["marginType"] for m in modes] == [
            "CROSSED"
        ]
    else:
        actions = [
            e["body"]["action"]
            for e in log
            if e["method"] == "POST"
            and e["path"] == "/exchange"
            and isinstance(e.get("body"), dict)
            and e["body"]["action"]["type"] == "updateLeverage"
        ]
        assert [(a["leverage"], a["isCross"]) for a in actions] == [(3, True)]


def _leverage_sent(venue: VenueHarness) -> list[int]:
    """Every leverage the venue was asked to set, in order, as the venue read it."""
    assert venue.sim is not None
    log = venue.sim.simulator.log.recent(10_000)
    if venue.name == "binance":
        return [
            int(dict(parse_qsl(e["query"] or e["body"] or ""))["leverage"])
            for e in log
            if e["method"] == "POST" and e["path"] == "/fapi/v1/leverage"
        ]
    return [
        int(e["body"]["action"]["leverage"])
        for e in log
        if e["method"] == "POST"
        and e["path"] == "/exchange"
        and isinstance(e.get("body"), dict)
        and e["body"]["action"]["type"] == "updateLeverage"
    ]


async def test_a_new_leverage_for_the_symbol_is_set_and_a_repeated_one_is_not(
    sim_venue: VenueHarness,
) -> None:
    """The venue keeps a symbol's leverage, so it is sent once per value: a later signal
    asking another leverage for the same symbol sets it, one asking the same does not."""
    venue = sim_venue
    clear_log(venue)
    for leverage, side in ((5, "buy"), (3, "sell"), (3, "buy")):
        report = await venue.submit(side=side, quantity=D("0.01"), leverage=leverage)
        assert report.status == "filled", report
    assert _leverage_sent(venue) == [5, 3]


async def test_a_fresh_signal_never_looks_up_the_orders_it_is_about_to_send(
    sim_venue: VenueHarness,
) -> None:
    """Looking an order up by its client id is for recovery: on the fresh path each order's
    intent is known to be unsent, so a flip's opening order, a stop and a target go out
    without a round trip."""
    venue = sim_venue
    assert (await venue.submit(side="buy", quantity=D("0.1"))).status == "filled"
    clear_log(venue)

    flip = await venue.submit(target_position=D("-0.1"))  # a close, then an opening order
    report = await venue.submit(
        side="sell", quantity=D("0.1"), stop_loss=D(69000), take_profit=D(66000)
    )

    assert flip.status == report.status == "filled", (flip, report)
    assert venue.engine_position() == D("-0.2")
    assert venue.sim is not None
    lookups = [
        e
        for e in venue.sim.simulator.log.recent(10_000)
        if (e["method"] == "GET" and e["path"] in ("/fapi/v1/order", "/fapi/v1/algoOrder"))
        or (isinstance(e.get("body"), dict) and e["body"].get("type") == "orderStatus")
    ]
    assert lookups == []


async def test_a_side_signal_that_only_reduces_places_no_legs(sim_venue: VenueHarness) -> None:
    """Sell 0.1 with a stop while long 0.2: it reduces the long and opens nothing, so there
    is no short for its stop to protect - none is previewed, none is placed."""
    venue = sim_venue
    assert (await venue.submit(side="buy", quantity=D("0.2"))).status == "filled"
    asked = {"side": "sell", "quantity": D("0.1"), "stop_loss": D(69500)}

    preview = await venue.service.preview_signal(venue.signal(**asked))
    report = await venue.submit(**asked)

    assert [o["role"] for o in preview.orders] == ["close"], preview
    assert report.status == "filled" and venue.engine_position() == D("0.1"), report
    assert [o for o in venue.engine_orders() if o.spec.kind.is_trigger] == []


async def test_a_reduce_only_signal_from_exactly_one_unit_reduces(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    venue.set_mark(ETH, 3000)
    assert (await venue.submit(symbol=ETH, side="buy", quantity=D(1))).status == "filled"
    clear_log(venue)

    report = await venue.submit(symbol=ETH, side="sell", quantity=D("0.5"), reduce_only=True)

    assert report.status == "filled", report
    assert wire_orders(venue) == [("sell", D("0.5"), True)]
    assert venue.engine_position("ETH") == D("0.5")


async def test_a_leg_known_only_by_its_client_id_is_cancelled_by_it(
    sim_venue: VenueHarness,
) -> None:
    """Recovery may hold a leg whose exchange id was never recorded (its answer was lost):
    the cancel asks the venue by the client id alone, and a second cancel of the gone order
    is fine (None)."""
    from tradeexec.domain import OrderRequest, OrderSide
    from tradeexec.testing import START_MARK

    venue = sim_venue
    trader = await venue.trader()
    # a client id in the venue's own form (Hyperliquid's is 128-bit hex)
    client_id = venue.service.pipeline.client_id(trader, "cancel-by-client-id", "stop_loss")
    resting = await trader.create_order(
        OrderRequest(
            symbol=venue.symbol,
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            quantity=D("0.01"),
            price=(D(START_MARK) * D("0.8")).quantize(D(1)),
            client_order_id=client_id,
        )
    )
    assert [o.status for o in venue.engine_orders()] == [OrderStatus.NEW], resting

    cancelled = await venue.service.pipeline.cancel(trader, venue.symbol, None, client_id)

    assert cancelled is not None
    assert [o.status for o in venue.engine_orders()] == [OrderStatus.CANCELED]
    assert await venue.service.pipeline.cancel(trader, venue.symbol, None, client_id) is None
