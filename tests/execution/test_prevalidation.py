"""Everything that can be checked before sending is checked before sending, on every venue.

Issue 8, item 3: an explicit quantity with a stop on the wrong side of the entry sent the
entry, had its stop refused and was flattened (two fees and the spread lost). Item 7: 1e30
died in a quantize (a traceback, a signal stuck in ``received``, ``internal_error`` from the
plugin). Each test here proves what reached the venue: nothing, or legs on the grid.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from tradeexec.config import RiskConfig, SizingConfig
from tradeexec.domain import SignalSource

if TYPE_CHECKING:
    from tradeexec.testing import PluginHarness, VenueHarness

MARK = Decimal(67500)

# every way a signal says how big it is
SIZING_PATHS: dict[str, dict[str, Any]] = {
    "explicit quantity": {"side": "buy", "quantity": Decimal("0.01")},
    "explicit notional": {"side": "buy", "notional": Decimal(1000)},
    "target position": {"target_position": Decimal("0.01")},
    "risk sizing (the default mode)": {"side": "buy"},
    "percent of equity": {"side": "buy", "sizing_mode": "percent_equity"},
    "fixed notional": {"side": "buy", "sizing_mode": "fixed_notional"},
}
# an account whose configured value serves both percent_equity (5 %) and fixed_notional (500)
PERCENT = RiskConfig(
    max_order_notional=Decimal(30000),
    max_position_notional=Decimal(60000),
    max_orders_per_minute=1000,
    sizing=SizingConfig(mode="percent_equity", value=Decimal("0.05")),
)


def nothing_sent(venue: VenueHarness, orders_before: int) -> bool:
    return len(venue.engine_orders()) == orders_before and venue.order_requests() == []


async def signal_status(venue: VenueHarness, key: str) -> str:
    timeline = await venue.service.signal_timeline(key)
    assert timeline is not None
    return str(timeline.signal.status)


@pytest.mark.parametrize("path", SIZING_PATHS)
async def test_a_stop_above_a_long_entry_sends_nothing_on_any_sizing_path(
    venue: VenueHarness, path: str
) -> None:
    venue.service = await venue.new_service(risk=PERCENT) if "equity" in path else venue.service
    if "fixed" in path:
        venue.service = await venue.new_service(
            risk=PERCENT.model_copy(update={"sizing": SizingConfig(mode="percent_equity",
                                                                   value=Decimal(500))})
        )  # fmt: skip
    if venue.sim is not None:
        venue.sim.simulator.log.entries.clear()
    before = len(venue.engine_orders())

    report = await venue.submit(**SIZING_PATHS[path], stop_loss=Decimal(68000))

    assert report.status == "rejected", report
    assert report.reason == "invalid_stop", report
    assert "stop_loss 68000 must be below the entry for a long" in (report.error or "")
    assert nothing_sent(venue, before)
    assert await signal_status(venue, report.idempotency_key) == "rejected"


async def test_a_target_below_a_long_entry_sends_nothing(venue: VenueHarness) -> None:
    before = len(venue.engine_orders())
    report = await venue.submit(side="buy", quantity=Decimal("0.01"), take_profit=Decimal(67000))
    assert (report.status, report.reason) == ("rejected", "invalid_take_profit"), report
    assert nothing_sent(venue, before)


async def test_a_short_is_judged_the_other_way_round(venue: VenueHarness) -> None:
    before = len(venue.engine_orders())
    report = await venue.submit(side="sell", quantity=Decimal("0.01"), stop_loss=Decimal(67000))
    assert (report.status, report.reason) == ("rejected", "invalid_stop"), report
    assert "above the entry for a short" in (report.error or "")
    assert nothing_sent(venue, before)


async def test_a_marketable_limit_is_judged_at_the_mark(venue: VenueHarness) -> None:
    """A buy limit above the mark fills near the mark: a stop between the two would be
    above the fill, so the venue would refuse (or fire) it after the entry."""
    before = len(venue.engine_orders())
    report = await venue.submit(
        side="buy",
        quantity=Decimal("0.01"),
        order_type="limit",
        price=Decimal(68000),
        stop_loss=Decimal(67800),
    )
    assert (report.status, report.reason) == ("rejected", "invalid_stop"), report
    assert "mark (the limit is marketable)" in (report.error or "")
    assert nothing_sent(venue, before)


async def test_off_grid_legs_are_rounded_towards_the_entry_and_reported(
    venue: VenueHarness,
) -> None:
    """TradingView's {{close}}*0.98 is never on the tick grid: a long's stop rounds up and
    its target down (never further from the entry than asked), instead of a refusal."""
    stop, target = Decimal("66150.123456"), Decimal("69001.987654")

    report = await venue.submit(side="buy", quantity=Decimal("0.01"), stop_loss=stop,
                                take_profit=target)  # fmt: skip

    assert report.status == "filled", report
    legs = {o.spec.kind.value: o.spec.trigger_price for o in venue.open_engine_orders()}
    placed_stop, placed_target = legs["STOP_MARKET"], legs["TAKE_PROFIT_MARKET"]
    assert placed_stop is not None and placed_target is not None
    assert stop < placed_stop < stop + 1  # up, by less than one tick (1 on Hyperliquid)
    assert target - 1 < placed_target < target  # down
    trader = await venue.trader()
    for price in (placed_stop, placed_target):  # on the venue's own grid
        assert trader.price_to_precision(venue.symbol, price) == price
    warnings = " ".join(report.warnings)
    assert f"stop_loss {stop} rounded up to" in warnings
    assert f"take_profit {target} rounded down to" in warnings


async def test_off_grid_legs_of_a_short_round_the_other_way(venue: VenueHarness) -> None:
    stop, target = Decimal("68850.55555"), Decimal("66150.44444")
    report = await venue.submit(side="sell", quantity=Decimal("0.01"), stop_loss=stop,
                                take_profit=target)  # fmt: skip
    assert report.status == "filled", report
    legs = {o.spec.kind.value: o.spec.trigger_price for o in venue.open_engine_orders()}
    assert legs["STOP_MARKET"] is not None and stop - 1 < legs["STOP_MARKET"] < stop
    assert legs["TAKE_PROFIT_MARKET"] is not None
    assert target < legs["TAKE_PROFIT_MARKET"] < target + 1


async def test_a_stop_that_rounds_onto_the_entry_is_refused(venue: VenueHarness) -> None:
    """Rounding towards the entry may reach it: judged after rounding, so nothing is sent."""
    before = len(venue.engine_orders())
    report = await venue.submit(side="buy", quantity=Decimal("0.01"),
                                stop_loss=Decimal("67499.99"))  # fmt: skip
    assert (report.status, report.reason) == ("rejected", "invalid_stop"), report
    assert nothing_sent(venue, before)


async def test_a_huge_explicit_quantity_is_refused_before_sending(venue: VenueHarness) -> None:
    """1e15 parses (it is finite and in range) and is refused by the order limit, before any
    rounding: no decimal.InvalidOperation anywhere on the way."""
    before = len(venue.engine_orders())
    report = await venue.submit(side="buy", quantity=Decimal("1e15"))
    assert (report.status, report.reason) == ("rejected", "max_order_notional"), report
    assert nothing_sent(venue, before)
    assert await signal_status(venue, report.idempotency_key) == "rejected"


@pytest.mark.parametrize("quantity", ["1e30", 1e30, "NaN", "Infinity", "1,000", "", True])
async def test_a_bad_number_is_a_recorded_refusal_not_a_traceback(
    venue: VenueHarness, quantity: object
) -> None:
    before = len(venue.engine_orders())
    report = await venue.service.submit(
        {"symbol": venue.symbol, "side": "buy", "quantity": quantity, "account": "acct",
         "confidence": 0.9},
        SignalSource.AGENT,
    )  # fmt: skip
    assert (report.status, report.reason) == ("rejected", "invalid_signal"), report
    assert "quantity" in (report.error or "")
    assert nothing_sent(venue, before)


async def test_a_sizing_mode_the_account_cannot_serve_is_a_refusal(venue: VenueHarness) -> None:
    """The default account sizes by risk and has no sizing.value: a signal asking for
    fixed_quantity used to raise ValueError out of the pipeline."""
    report = await venue.submit(side="buy", sizing_mode="fixed_quantity")
    assert (report.status, report.reason) == ("rejected", "sizing_not_configured"), report
    assert await signal_status(venue, report.idempotency_key) == "rejected"


@pytest.mark.parametrize("quantity", [1e30, "1e400", float("nan"), "1,000"])
async def test_the_plugin_refuses_bad_numbers_with_a_reason(
    plugin_venue: PluginHarness, quantity: object
) -> None:
    plugin = await plugin_venue.start()
    result = await plugin.execute_order(
        {"symbol": "BTC/USDT", "side": "buy", "order_type": "market", "quantity": quantity,
         "confidence": 0.85}
    )  # fmt: skip
    assert result["success"] is False
    assert result["reason"] == "invalid_signal", result
    assert "quantity" in result["error"]
