"""A liquidated account: the venue closed the position and cancelled its legs (Binance
cancels the account's orders before liquidating; Hyperliquid ``liquidatedCanceled``).

Reconcile must take the venue's word for it: both legs end ``canceled``, nothing is
re-placed for a position that is gone, nothing is called a mismatch, and the account stays
usable. The simulator's liquidation is modelled on both faces (see ``sim/clearing.py``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from tradeexec.domain import TradingState

if TYPE_CHECKING:
    from tradeexec.testing import VenueHarness


async def test_a_liquidated_position_leaves_cancelled_legs_and_no_mismatch(
    sim_venue: VenueHarness,
) -> None:
    venue = sim_venue
    venue.new_venue_account(Decimal(2000))  # a thin account: 0.4 BTC short is ~13x
    venue.service = await venue.new_service()
    entry = await venue.submit(
        side="sell", quantity=Decimal("0.4"), stop_loss=Decimal(75000),
        take_profit=Decimal(60000),
    )  # fmt: skip
    assert entry.status == "filled", entry

    venue.set_mark(73000)  # past the liquidation price (~72 000), short of the stop

    assert venue.engine_position() == 0
    first = await venue.service.reconcile("acct")
    assert first.mismatches == [] and first.failures == [] and first.legs_placed == []
    assert sorted(r.split(" ")[-1] for r in first.resolved) == ["canceled", "canceled"]
    timeline = await venue.service.signal_timeline(entry.idempotency_key)
    legs = {o.order.role: o.order.status for o in timeline.orders}
    assert legs == {"entry": "filled", "stop_loss": "canceled", "take_profit": "canceled"}
    assert await venue.service.positions("acct") == []
    assert (await venue.service.state("acct")).state is TradingState.ACTIVE
    again = await venue.service.reconcile("acct")
    assert again.resolved == [] and again.legs_placed == [] and again.mismatches == []
