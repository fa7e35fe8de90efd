"""Partial fills through the real pipeline on the simulator, with book depth turned on for
the test's account (``POST /_sim/depth``, `tradeexec.sim.book`): a market entry that the
book fills only in part gets its stop and target sized to what filled, and says so; a
partial close keeps the rest of the position protected."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from tradeexec.sim.engine import OrderKind, OrderStatus

if TYPE_CHECKING:
    from tradeexec.testing import VenueHarness

Q = Decimal("0.1")
STOP, TARGET = Decimal(66000), Decimal(69000)


async def set_depth(venue: VenueHarness, **depth: Any) -> None:
    assert venue.sim is not None
    body = {"venue": venue.name, "account": venue.engine_account, **depth}
    async with httpx.AsyncClient(base_url=venue.sim.base_url) as client:
        answer = await client.post("/_sim/depth", json=body)
    assert answer.status_code == 200, answer.text


def open_legs(venue: VenueHarness, kind: OrderKind) -> list[Any]:
    return [o for o in venue.open_engine_orders() if o.spec.kind is kind]


def entries(venue: VenueHarness) -> list[Any]:
    return [o for o in venue.engine_orders() if not o.spec.kind.is_trigger]


async def test_an_entry_filled_in_part_is_protected_for_what_filled(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    await set_depth(venue, size="0.03", levels=2, step_bps="1")  # 0.06 of the 0.1 fills

    report = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)

    (entry,) = entries(venue)
    assert entry.status is OrderStatus.EXPIRED and entry.filled_qty == Decimal("0.06")
    assert venue.engine_position() == Decimal("0.06")
    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    (target,) = open_legs(venue, OrderKind.TAKE_PROFIT_MARKET)
    assert stop.spec.qty == target.spec.qty == Decimal("0.06")  # sized to what filled
    assert stop.spec.trigger_price == STOP and target.spec.trigger_price == TARGET
    # the report and the store: what filled stands (the signal is "filled"), and the entry
    # says how much of what was asked filled: 0.06 of 0.1
    assert report.status == "filled" and report.success, report
    assert report.quantity == Q
    reported = report.orders["entry"]
    assert reported.filled_quantity == Decimal("0.06")
    assert report.orders["stop_loss"].quantity == Decimal("0.06")
    timeline = await venue.service.signal_timeline(report.idempotency_key)
    assert timeline.signal.status == "filled"
    stored = {o.order.role: o.order for o in timeline.orders}
    assert Decimal(stored["entry"].quantity) == Q
    assert Decimal(stored["entry"].filled_quantity) == Decimal("0.06")
    assert Decimal(stored["stop_loss"].quantity) == Decimal("0.06")
    # both venues: the entry is over with part filled (Binance says EXPIRED with executedQty
    # 0.06; Hyperliquid answers `filled` with totalSz 0.06, which the trader reads as an IOC
    # whose rest was cancelled), and the answer says how much of it filled
    assert reported.status.value == stored["entry"].status == "expired"
    assert reported.quantity == Q
    assert any("filled 0.06 of 0.1" in w for w in report.warnings), report.warnings


async def test_a_partial_close_keeps_the_rest_protected(sim_venue: VenueHarness) -> None:
    venue = sim_venue
    opened = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    assert opened.status == "filled" and venue.engine_position() == Q  # no depth yet: whole
    await set_depth(venue, size="0.03", levels=2, step_bps="1")  # 0.06 of a 0.1 close fills

    close = await venue.submit(target_position=Decimal(0))

    assert venue.engine_position() == Decimal("0.04")  # 0.06 of the 0.1 closed
    (stop,) = open_legs(venue, OrderKind.STOP_MARKET)
    (target,) = open_legs(venue, OrderKind.TAKE_PROFIT_MARKET)
    assert stop.spec.qty == target.spec.qty == Decimal("0.04")  # fitted to what is left
    assert close.status == "filled", close
    assert close.orders["close"].filled_quantity == Decimal("0.06")
    assert any("filled 0.06 of 0.1" in w for w in close.warnings), close.warnings
    timeline = await venue.service.signal_timeline(close.idempotency_key)
    ((role, stored),) = [(o.order.role, o.order) for o in timeline.orders]
    assert role == "close" and Decimal(stored.filled_quantity) == Decimal("0.06")
    assert Decimal(stored.quantity) == Q
