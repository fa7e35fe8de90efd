"""Stale legs after closes and flips, and sizes the caller named versus sizes the rule chose."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from tradeexec.config import SizingConfig
from tradeexec.sim.engine import OrderStatus

if TYPE_CHECKING:
    from tradeexec.testing import VenueHarness

Q = Decimal("0.1")
STOP, TARGET = Decimal(66000), Decimal(69000)


def open_legs(venue: VenueHarness) -> list[tuple[str, Decimal | None]]:
    return sorted(
        (o.spec.kind.value, o.spec.trigger_price)
        for o in venue.open_engine_orders()
        if o.spec.kind.is_trigger
    )


async def test_closing_a_position_cancels_its_legs_at_once(venue: VenueHarness) -> None:
    opened = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    assert opened.status == "filled" and len(open_legs(venue)) == 2

    account = venue.service.manager.default_name()
    closed = await venue.service.close_position(venue.symbol, account=account)

    assert closed.success and venue.engine_position() == 0
    assert open_legs(venue) == []  # no reconcile needed
    legs = [o for o in venue.engine_orders() if o.spec.kind.is_trigger]
    assert {o.status for o in legs} == {OrderStatus.CANCELED}
    timeline = await venue.service.signal_timeline(opened.idempotency_key)
    assert {o.order.role: o.order.status for o in timeline.orders} == {
        "entry": "filled",
        "stop_loss": "canceled",
        "take_profit": "canceled",
    }


async def test_a_flip_replaces_the_old_legs_with_the_new_positions(venue: VenueHarness) -> None:
    await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)

    flip = await venue.submit(
        target_position=Decimal("-0.2"), stop_loss=Decimal(69500), take_profit=Decimal(65000)
    )

    assert flip.status == "filled", flip
    assert venue.engine_position() == Decimal("-0.2")
    # only the short's legs rest: a buy stop above, a buy target below
    assert open_legs(venue) == [
        ("STOP_MARKET", Decimal(69500)),
        ("TAKE_PROFIT_MARKET", Decimal(65000)),
    ]
    assert all(
        o.spec.side.value == "BUY" for o in venue.open_engine_orders() if o.spec.kind.is_trigger
    )


async def test_an_explicit_quantity_over_the_limit_is_refused_not_shrunk(
    venue: VenueHarness,
) -> None:
    before = len(venue.engine_orders())
    report = await venue.submit(side="buy", quantity=Decimal(1))  # 67 500 > 30 000 limit

    assert report.status == "rejected" and report.reason == "max_order_notional", report
    assert len(venue.engine_orders()) == before


async def test_a_rule_sized_order_over_the_limit_is_capped_and_says_so(
    venue: VenueHarness,
) -> None:
    risk = venue.service.config.risk.model_copy(
        update={"sizing": SizingConfig(mode="fixed_quantity", value=Decimal(1))}
    )
    service = await venue.new_service(risk=risk)
    signal = venue.signal(side="buy")

    report = await service.submit_signal(signal)

    assert report.success, report
    assert report.quantity is not None and report.quantity * Decimal(67500) <= Decimal(30000)
    assert any("capped by max_order_notional" in w for w in report.warnings), report.warnings


async def test_legs_gone_around_us_are_settled_once_not_retried(venue: VenueHarness) -> None:
    """Legs cancelled on the venue behind tradeexec's back are still 'open' in the store;
    the next close settles them from the venue's answer, so no later close retries them."""
    opened = await venue.submit(side="buy", quantity=Q, stop_loss=STOP, take_profit=TARGET)
    trader = await venue.trader()
    for leg in ("stop_loss", "take_profit"):  # cancelled directly on the venue
        order = opened.orders[leg]
        await trader.cancel_order(order.symbol, order.id, order.client_order_id)
    account = venue.service.manager.default_name()

    await venue.service.close_position(venue.symbol, account=account)

    timeline = await venue.service.signal_timeline(opened.idempotency_key)
    legs = {o.order.role: o.order.status for o in timeline.orders if o.order.role != "entry"}
    assert legs == {"stop_loss": "canceled", "take_profit": "canceled"}
    open_statuses = ["submitted", "partially_filled"]
    still_open = await venue.service.pipeline.db(
        venue.service.store.list_orders, account, open_statuses, 200
    )
    assert still_open == []  # nothing left for a later close to try again
