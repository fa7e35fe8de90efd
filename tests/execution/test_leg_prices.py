"""Stop and target rounding: on the venue's grid, on the protective side, never further
from the entry than asked, and by less than one step."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeexec.domain import Market, OrderSide
from tradeexec.errors import RiskRejected
from tradeexec.execution.leg_prices import protective_prices, round_towards

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
TICKED = Market(
    symbol="BTC/USDT:USDT",
    base="BTC",
    quote="USDT",
    settle="USDT",
    amount_step=D("0.001"),
    price_step=D("0.1"),
)
# Hyperliquid-style: 5 significant figures, at most 1 decimal (szDecimals 5), no tick
SIG_FIGS = replace(TICKED, price_step=None, price_sig_figs=5, price_max_decimals=1)

# prices as they arrive: up to 8 decimals, anywhere from 0.0001 to 10 million
prices = st.decimals(min_value=D("0.0001"), max_value=D(10_000_000), places=8)
ticks = st.sampled_from([D("0.1"), D("0.01"), D("0.5"), D("0.25"), D(1), D(5), D("0.0001")])


@given(price=prices, tick=ticks, up=st.booleans())
def test_on_a_tick_grid_the_result_is_the_next_tick_on_the_asked_side(
    price: Decimal, tick: Decimal, up: bool
) -> None:
    market = replace(TICKED, price_step=tick)
    result = round_towards(price, up=up, market=market, round_price=market.round_price)
    if result is None:  # only rounding down below the first tick
        assert not up and price < tick
        return
    assert market.round_price(result) == result  # on the grid
    assert result % tick == 0
    if up:
        assert price <= result < price + tick
    else:
        assert price - tick < result <= price


@given(price=prices, up=st.booleans())
def test_on_a_significant_figure_grid_the_result_is_the_nearest_valid_price_on_the_side(
    price: Decimal, up: bool
) -> None:
    result = round_towards(price, up=up, market=SIG_FIGS, round_price=SIG_FIGS.round_price)
    if result is None:
        assert not up
        return
    assert SIG_FIGS.round_price(result) == result
    assert result >= price if up else result <= price
    # no valid price lies strictly between the asked price and the result
    step = max(D(1).scaleb(result.adjusted() - 4), D("0.1"))
    assert abs(result - price) < step


@given(
    entry=st.decimals(min_value=D(100), max_value=D(100_000), places=1),
    stop_gap=st.decimals(min_value=D("0.01"), max_value=D(50), places=6),
    target_gap=st.decimals(min_value=D("0.01"), max_value=D(50), places=6),
    direction=st.sampled_from([BUY, SELL]),
    market=st.sampled_from([TICKED, SIG_FIGS]),
)
def test_legs_are_never_further_from_the_entry_than_asked(
    entry: Decimal,
    stop_gap: Decimal,
    target_gap: Decimal,
    direction: OrderSide,
    market: Market,
) -> None:
    long = direction is BUY
    stop = entry - stop_gap if long else entry + stop_gap
    target = entry + target_gap if long else entry - target_gap
    placed = protective_prices(
        direction, stop, target, market=market, round_price=market.round_price
    )
    assert placed.stop_loss is not None and placed.take_profit is not None
    sign = 1 if long else -1  # distances measured in the position's favour
    # the loss at the stop is never larger, the way to the target never longer (rounding may
    # even cross the entry: the invalid_stop / invalid_take_profit checks refuse that)
    assert sign * (entry - placed.stop_loss) <= sign * (entry - stop)
    assert sign * (placed.take_profit - entry) <= sign * (target - entry)
    for leg in (placed.stop_loss, placed.take_profit):
        assert market.round_price(leg) == leg
    # each change is reported, with both prices
    changed = {r.name: (r.asked, r.placed) for r in placed.rounded}
    if placed.stop_loss != stop:
        assert changed["stop_loss"] == (stop, placed.stop_loss)
    else:
        assert "stop_loss" not in changed


def test_prices_on_the_grid_are_kept_and_nothing_is_reported() -> None:
    placed = protective_prices(BUY, D(66000), D("69000.5"), market=TICKED,
                               round_price=TICKED.round_price)  # fmt: skip
    assert (placed.stop_loss, placed.take_profit, placed.rounded) == (D(66000), D("69000.5"), ())
    assert placed.warnings == ()


@pytest.mark.parametrize(
    ("direction", "stop", "target", "placed_stop", "placed_target"),
    [
        # nearest rounding would move a long's stop down (further away): it goes up instead
        (BUY, D("66150.12"), D("69000.98"), D("66150.2"), D("69000.9")),
        (SELL, D("68850.18"), D("66150.12"), D("68850.1"), D("66150.2")),
    ],
)
def test_the_protective_direction_beats_the_nearest_price(
    direction: OrderSide,
    stop: Decimal,
    target: Decimal,
    placed_stop: Decimal,
    placed_target: Decimal,
) -> None:
    placed = protective_prices(
        direction, stop, target, market=TICKED, round_price=TICKED.round_price
    )
    assert (placed.stop_loss, placed.take_profit) == (placed_stop, placed_target)
    assert placed.warnings == (
        f"stop_loss {stop} rounded {'up' if direction is BUY else 'down'} to {placed_stop} "
        "(the venue's price grid, towards the entry)",
        f"take_profit {target} rounded {'down' if direction is BUY else 'up'} to "
        f"{placed_target} (the venue's price grid, towards the entry)",
    )
    assert placed.to_record()["stop_loss"] == str(placed_stop)


def test_a_price_below_the_first_tick_has_no_protective_value() -> None:
    with pytest.raises(RiskRejected) as refused:
        protective_prices(BUY, None, D("0.05"), market=TICKED, round_price=TICKED.round_price)
    assert refused.value.reason_code == "precision"
