"""A resting reduce-only order outlives its position: the venue ends it (Binance expires it,
Hyperliquid cancels it with ``reduceOnlyCanceled``; paper expires it like Binance), and
reconcile records that outcome without cancelling anything itself or calling it a mismatch.

tradeexec itself never rests a reduce-only order in the book (its legs are untriggered
triggers, and a reduce-only signal closes at market), so the order here is placed on the
venue directly, as a user or another bot would: reconcile adopts it, then follows it."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from tradeexec.domain import OrderRequest, OrderType, TradingState
from tradeexec.sim.engine import OrderStatus

if TYPE_CHECKING:
    from tradeexec.testing import VenueHarness

Q = Decimal("0.1")


async def test_a_resting_reduce_only_order_ended_by_the_venue_is_recorded_as_ended(
    venue: VenueHarness,
) -> None:
    entry = await venue.submit(side="buy", quantity=Q, stop_loss=Decimal(66000))
    assert entry.status == "filled", entry
    trader = await venue.trader()
    cid = venue.new_client_id()
    await trader.create_order(
        OrderRequest(trader.resolve_symbol("BTC"), "sell", OrderType.LIMIT, Q,
                     price=Decimal(69500), reduce_only=True, client_order_id=cid)
    )  # fmt: skip
    first = await venue.service.reconcile("acct")
    assert len(first.adopted) == 1, first
    resting = next(o for o in venue.open_engine_orders() if not o.spec.kind.is_trigger)

    venue.set_mark(65900)  # the stop fires: flat, and the venue ends the reduce-only limit

    assert venue.engine_position() == 0
    assert resting.status is OrderStatus.EXPIRED  # each face names it (EXPIRED, reduceOnlyCanceled)
    result = await venue.service.reconcile("acct")
    assert result.mismatches == [] and result.legs_cancelled == []
    record = await venue.service.pipeline.db(
        venue.service.store.get_order_by_client_id, "acct", cid
    )
    assert record is not None and record.role == "adopted"
    assert record.status in ("expired", "canceled")  # Binance and paper; Hyperliquid
    assert record.filled_quantity == 0
    timeline = await venue.service.signal_timeline(entry.idempotency_key)
    stop = next(o for o in timeline.orders if o.order.role == "stop_loss")
    assert stop.order.status == "filled" and len(stop.fills) == 1
    assert (await venue.service.state("acct")).state is TradingState.ACTIVE
