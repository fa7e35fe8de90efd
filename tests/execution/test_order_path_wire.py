"""The order path as the venue sees it (issue 12: mutants that survived the suite).

Each test reads what reached the simulator - its request log (the wire) and its engine -
never tradeexec's own view, so a wrong side, size or reduce-only flag, a limit that never
halts, leverage never set, or a target left resting fails here:

- a ``target_position`` table (open from flat, add, partial exit, close, reverse): side,
  size and reduce-only flag of every order on the wire;
- a loss beyond ``daily_loss_limit``: HALTED, an ``account_halted`` event, later signals
  refused and nothing more sent;
- a signal with leverage 5: set on the venue exactly once for two signals;
- a stop refused while an older position stays open: the take-profit beside it cancelled
  (the venue would not expire it: the position is not flat);
- an entry that fills less than it asked: stop and target sized to the filled quantity.
  The simulator has no book depth (an IOC limit fills whole or not at all), so the partial
  fill is made at our seam: the venue is asked for less than the intent says.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import pytest

from tradeexec import errors
from tradeexec.domain import Order, OrderRequest, OrderStatus, OrderType, TradingState
from tradeexec.execution.pipeline import Pipeline
from tradeexec.sim.engine import OrderKind
from tradeexec.testing import RISK

if TYPE_CHECKING:
    from tradeexec.testing import VenueHarness

D = Decimal
STOP, TARGET = D(66000), D(69000)

Wire = tuple[str, Decimal, bool]  # (side, size, reduce-only) as sent


def binance_params(entry: dict[str, Any]) -> dict[str, str]:
    """A Binance request's parameters (in the query string or the form body)."""
    return dict(parse_qsl(entry["query"] or entry["body"] or ""))


def wire_orders(venue: VenueHarness) -> list[Wire]:
    """Every order placement in the simulator's request log, decoded from the venue's own
    wire format (Binance query parameters; Hyperliquid's signed action)."""
    sent: list[Wire] = []
    for entry in venue.order_requests():
        if venue.name == "binance":
            params = binance_params(entry)
            reduce = params.get("reduceOnly", "false").lower() == "true"
            sent.append((params["side"].lower(), D(params["quantity"]), reduce))
        else:
            for order in entry["body"]["action"]["orders"]:
                sent.append(("buy" if order["b"] else "sell", D(order["s"]), bool(order["r"])))
    return sent


def clear_log(venue: VenueHarness) -> None:
    assert venue.sim is not None
    venue.sim.simulator.log.entries.clear()


def requests_to(venue: VenueHarness, path: str, action: str | None = None) -> list[Any]:
    assert venue.sim is not None
    found = []
    for entry in venue.sim.simulator.log.recent(10_000):
        if entry["method"] != "POST" or entry["path"] != path:
            continue
        body = entry.get("body")
        if action is None or (isinstance(body, dict) and body["action"]["type"] == action):
            found.append(entry)
    return found


# ------------------------------------------------ target_position, on the wire

# (target position, the orders that must go out for it, the position after it)
TARGET_TABLE: list[tuple[str, Decimal, list[Wire], Decimal]] = [
    ("open from flat", D("0.1"), [("buy", D("0.1"), False)], D("0.1")),
    ("add", D("0.3"), [("buy", D("0.2"), False)], D("0.3")),
    ("partial exit", D("0.1"), [("sell", D("0.2"), True)], D("0.1")),
    ("close", D(0), [("sell", D("0.1"), True)], D(0)),
    ("open short", D("-0.1"), [("sell", D("0.1"), False)], D("-0.1")),
    ("reverse", D("0.2"), [("buy", D("0.1"), True), ("buy", D("0.2"), False)], D("0.2")),
    ("already there", D("0.2"), [], D("0.2")),
]


async def test_target_positions_send_the_right_side_size_and_reduce_only_flag(
    sim_venue: VenueHarness,
) -> None:
    for step, target, expected, after in TARGET_TABLE:
        clear_log(sim_venue)
        report = await sim_venue.submit(target_position=target)
        assert report.status in ("filled", "noop"), (step, report)
        assert wire_orders(sim_venue) == expected, step
        assert sim_venue.engine_position() == after, step


async def test_a_reduce_only_signal_carries_the_flag_and_never_opens(
    sim_venue: VenueHarness,
) -> None:
    opened = await sim_venue.submit(side="buy", quantity=D("0.1"))
    assert opened.status == "filled", opened
    clear_log(sim_venue)

    report = await sim_venue.submit(side="sell", quantity=D("0.3"), reduce_only=True)

    assert report.status == "filled", report
    assert wire_orders(sim_venue) == [("sell", D("0.1"), True)]  # capped at the position
    assert sim_venue.engine_position() == 0


# ------------------------------------------------------- the daily loss limit


async def test_a_loss_beyond_the_daily_limit_halts_the_account(venue: VenueHarness) -> None:
    limited = RISK.model_copy(update={"daily_loss_limit": D(50)})
    venue.service = await venue.new_service(risk=limited)
    opened = await venue.submit(side="buy", quantity=D("0.1"))
    assert opened.status == "filled", opened
    venue.set_mark(66000)  # about -150 on 0.1 BTC
    closed = await venue.submit(target_position=D(0))  # reduces: allowed, realizes the loss
    assert closed.status == "filled", closed
    assert venue.engine_position() == 0
    await venue.service.reconcile("acct")  # the reconcile loop records the fills and PnL
    orders_before = len(venue.engine_orders())

    refused = await venue.submit(side="buy", quantity=D("0.1"))

    assert refused.status == "rejected" and refused.reason == "daily_loss", refused
    state = await venue.service.state("acct")
    assert state.state is TradingState.HALTED, state
    timeline = await venue.service.signal_timeline(refused.idempotency_key)
    assert timeline is not None
    assert "account_halted" in [e.kind for e in timeline.events]
    later = await venue.submit(side="sell", quantity=D("0.1"))
    assert later.status == "rejected" and later.reason == "halted", later
    assert len(venue.engine_orders()) == orders_before  # nothing reached the venue
    assert venue.engine_position() == 0


# ------------------------------------------------------------------ leverage


async def test_a_signals_leverage_is_set_on_the_venue_exactly_once(
    sim_venue: VenueHarness,
) -> None:
    clear_log(sim_venue)
    for _ in range(2):
        report = await sim_venue.submit(side="buy", quantity=D("0.01"), leverage=5)
        assert report.status == "filled", report

    if sim_venue.name == "binance":
        calls = requests_to(sim_venue, "/fapi/v1/leverage")
        assert [binance_params(c)["leverage"] for c in calls] == ["5"]
    else:
        calls = requests_to(sim_venue, "/exchange", "updateLeverage")
        assert [c["body"]["action"]["leverage"] for c in calls] == [5]


# ---------------------------------------------- a refused stop: the target goes


class RefusesStops(Pipeline):
    """The venue refuses every stop-loss order (at our seam: the simulator cannot refuse the
    stop alone, as both legs share one route and are sent concurrently)."""

    async def send(
        self, trader: Any, request: OrderRequest, order_id: int, signal_id: Any
    ) -> Order:
        if request.type is OrderType.STOP_MARKET:
            exc = errors.InvalidOrder("stop refused by the venue")
            await self._record_failure(
                trader.account,
                order_id,
                signal_id,
                OrderStatus.REJECTED,
                exc,
                event="rejected",
                kind="order_rejected",
                data={"error": exc.to_dict()},
            )
            raise exc
        return await super().send(trader, request, order_id, signal_id)


def open_legs(venue: VenueHarness, kind: OrderKind) -> list[Any]:
    return [o for o in venue.open_engine_orders() if o.spec.kind is kind]


async def test_a_refused_stop_cancels_the_target_beside_it(venue: VenueHarness) -> None:
    """The older 0.1 stays open (so the venue does not expire reduce-only orders itself);
    the added 0.2 is flattened and its take-profit must be cancelled by tradeexec."""
    first = await venue.submit(side="buy", quantity=D("0.1"), stop_loss=STOP)
    assert first.status == "filled", first
    service = venue.service
    service.pipeline = RefusesStops(service.manager, service.store, service.gate)

    added = await venue.submit(
        side="buy", quantity=D("0.2"), stop_loss=D(65000), take_profit=TARGET
    )

    assert added.status == "flattened", added
    assert venue.engine_position() == D("0.1")
    assert open_legs(venue, OrderKind.TAKE_PROFIT_MARKET) == []  # cancelled, not resting
    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    assert (stop.spec.qty, stop.spec.trigger_price) == (D("0.1"), STOP)
    target = [o for o in venue.engine_orders() if o.spec.kind is OrderKind.TAKE_PROFIT_MARKET]
    assert len(target) == 1 and target[0].spec.qty == D("0.2")  # it was placed, then cancelled


# ------------------------------------------- legs sized to the filled quantity


class FillsPartly(Pipeline):
    """An entry that fills 40 % of what it asked: the venue is sent 40 % of the intent and
    the answer reports the intent's size with that much filled (what an IOC limit against
    a thin book answers; the simulator has no depth to produce it)."""

    async def send(
        self, trader: Any, request: OrderRequest, order_id: int, signal_id: Any
    ) -> Order:
        if request.reduce_only or request.type is not OrderType.MARKET:
            return await super().send(trader, request, order_id, signal_id)
        part = replace(request, quantity=request.quantity * D("0.4"))
        order = await super().send(trader, part, order_id, signal_id)
        assert order.filled_quantity == part.quantity
        return replace(order, quantity=request.quantity, status=OrderStatus.EXPIRED)


@pytest.mark.parametrize("venue", ["binance", "hyperliquid"], indirect=True)
async def test_stop_and_target_are_sized_to_what_the_entry_filled(venue: VenueHarness) -> None:
    service = venue.service
    service.pipeline = FillsPartly(service.manager, service.store, service.gate)

    report = await venue.submit(side="buy", quantity=D("0.1"), stop_loss=STOP, take_profit=TARGET)

    assert report.orders["entry"].filled_quantity == D("0.04"), report
    assert venue.engine_position() == D("0.04")
    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    (target,) = open_legs(venue, OrderKind.TAKE_PROFIT_MARKET)
    assert stop.spec.qty == target.spec.qty == D("0.04")
    legs = [w for w in wire_orders(venue) if w[2]]
    assert legs == [("sell", D("0.04"), True)] * 2


async def test_a_target_without_a_stop_is_placed(sim_venue: VenueHarness) -> None:
    report = await sim_venue.submit(side="buy", quantity=D("0.1"), take_profit=TARGET)

    assert report.status == "filled", report
    assert open_legs(sim_venue, OrderKind.STOP_MARKET) == []
    (target,) = open_legs(sim_venue, OrderKind.TAKE_PROFIT_MARKET)
    assert (target.spec.qty, target.spec.trigger_price) == (D("0.1"), TARGET)
