"""Side + size is an order of that size (issue 8): against an opposite position it reduces
first and opens only the excess; ``reverse`` keeps the older close-then-open-full-size."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeexec.sim.engine import OrderKind

if TYPE_CHECKING:
    from tradeexec.testing import VenueHarness

STOP, TARGET = Decimal(66000), Decimal(69000)
SHORT_STOP = Decimal(69500)


def stops(venue: VenueHarness) -> list[Any]:
    return [o for o in venue.open_engine_orders() if o.spec.kind is OrderKind.STOP_MARKET]


async def test_sell_less_than_the_long_reduces_it_and_resizes_its_stop(
    venue: VenueHarness,
) -> None:
    opened = await venue.submit(side="buy", quantity=Decimal("0.2"), stop_loss=STOP)
    assert opened.status == "filled", opened

    sold = await venue.submit(side="sell", quantity=Decimal("0.1"), stop_loss=SHORT_STOP)

    assert sold.status == "filled", sold
    assert set(sold.orders) == {"close"} and sold.orders["close"].reduce_only
    assert venue.engine_position() == Decimal("0.1")
    (stop,) = stops(venue)
    assert (stop.spec.side.value, stop.spec.qty, stop.spec.trigger_price) == (
        "SELL",
        Decimal("0.1"),
        STOP,
    )


async def test_sell_more_than_the_long_closes_it_and_opens_the_excess(venue: VenueHarness) -> None:
    await venue.submit(side="buy", quantity=Decimal("0.2"), stop_loss=STOP, take_profit=TARGET)

    flipped = await venue.submit(side="sell", quantity=Decimal("0.3"), stop_loss=SHORT_STOP)

    assert flipped.status == "filled", flipped
    assert flipped.orders["close"].filled_quantity == Decimal("0.2")
    assert flipped.orders["entry"].filled_quantity == Decimal("0.1")
    assert venue.engine_position() == Decimal("-0.1")
    (stop,) = stops(venue)  # the long's legs are gone; the short has its own stop
    assert (stop.spec.side.value, stop.spec.qty, stop.spec.trigger_price) == (
        "BUY",
        Decimal("0.1"),
        SHORT_STOP,
    )
    assert not [
        o for o in venue.open_engine_orders() if o.spec.kind is OrderKind.TAKE_PROFIT_MARKET
    ]


async def test_sell_as_much_as_the_long_ends_flat(venue: VenueHarness) -> None:
    await venue.submit(side="buy", quantity=Decimal("0.2"), stop_loss=STOP)

    closed = await venue.submit(side="sell", quantity=Decimal("0.2"), stop_loss=SHORT_STOP)

    assert closed.status == "filled" and set(closed.orders) == {"close"}, closed
    assert venue.engine_position() == 0 and venue.open_engine_orders() == []


async def test_reverse_closes_in_full_then_opens_the_whole_size(venue: VenueHarness) -> None:
    await venue.submit(side="buy", quantity=Decimal("0.1"), stop_loss=STOP)

    reversed_ = await venue.submit(
        side="sell", quantity=Decimal("0.2"), stop_loss=SHORT_STOP, reverse=True
    )

    assert reversed_.status == "filled", reversed_
    assert venue.engine_position() == Decimal("-0.2")
    (stop,) = stops(venue)
    assert stop.spec.qty == Decimal("0.2")
