"""Order sizing: the modes, confidence, caps, venue rounding, minimums, and their invariants."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, localcontext
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tradeexec.config import RiskConfig, SizingConfig
from tradeexec.domain import Market, OrderSide, SignalSource
from tradeexec.errors import RiskRejected
from tradeexec.execution.signals import Signal
from tradeexec.execution.sizing import Refusal, SizingResult, size_order, size_signal

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
BTC = Market(
    symbol="BTC/USDT:USDT",
    base="BTC",
    quote="USDT",
    settle="USDT",
    amount_step=D("0.001"),
    price_step=D("0.1"),
    min_amount=D("0.001"),
    min_notional=D(5),
    max_leverage=125,
)


def config(mode: str = "risk", value: str | None = None, **limits: Any) -> RiskConfig:
    sizing = SizingConfig(
        mode=mode,  # type: ignore[arg-type]
        value=None if value is None else D(value),
        risk_pct=D(limits.pop("risk_pct", "0.01")),
        scale_by_confidence=limits.pop("scale_by_confidence", False),
    )
    limits.setdefault("max_order_notional", None)
    limits.setdefault("max_position_notional", None)
    return RiskConfig(sizing=sizing, **limits)


def size(cfg: RiskConfig, **kwargs: Any) -> SizingResult:
    """``size_order`` with defaults; a returned refusal is raised as ``RiskRejected`` here, so
    the tests below read ``pytest.raises(RiskRejected)`` (sizing itself never raises one)."""
    args: dict[str, Any] = {
        "side": BUY,
        "equity": D(10000),
        "entry_price": D(100),
        "market": BTC,
        "round_amount": BTC.round_amount,
        **kwargs,
    }
    result = size_order(cfg, **args)
    if isinstance(result, Refusal):
        raise RiskRejected(result.reason_code, result.detail)
    return result


def test_a_refusal_is_returned_not_raised() -> None:
    """Sizing answers like a risk check: a `Refusal` value, with its reason and detail."""
    result = size_order(config(), side=BUY, equity=D(10000), entry_price=D(100), market=BTC,
                        round_amount=BTC.round_amount)  # fmt: skip
    assert isinstance(result, Refusal)
    assert result.reason_code == "stop_required_for_risk_sizing"
    assert "needs a stop_loss" in result.detail
    nothing = size_order(config(), side=BUY, equity=D(10000), entry_price=D(100), market=BTC,
                         round_amount=BTC.round_amount, position_qty=D(1),
                         reduce_only=True)  # fmt: skip
    assert isinstance(nothing, Refusal) and nothing.reason_code == "reduce_only_would_increase"
    assert "nothing to reduce" in nothing.detail


# ------------------------------------------------------------------ modes


def test_fixed_quantity() -> None:
    result = size(config("fixed_quantity", "0.5"))
    assert (result.quantity, result.notional, result.mode) == (
        D("0.500"),
        D("50.000"),
        "fixed_quantity",
    )
    assert result.capped_by == ()


def test_fixed_notional_rounds_down_on_the_grid() -> None:
    result = size(config("fixed_notional", "1000"), entry_price=D(67500))
    assert result.quantity == D("0.014")  # 0.01481... down to the 0.001 step


def test_percent_equity_is_a_fraction() -> None:
    result = size(config("percent_equity", "0.1"), entry_price=D(50000))
    assert result.quantity == D("0.020")  # 10 % of 10 000 = 1 000 of notional


def test_risk_mode_without_fees() -> None:
    result = size(config(), stop_price=D(95))
    assert result.quantity == D(20)  # 1 % of 10 000 = 100; 100 / (100 - 95)
    assert result.mode == "risk"


def test_risk_mode_includes_both_taker_fees() -> None:
    result = size(config(), stop_price=D(95), fee_rate=D("0.0005"))
    # 100 / (5 + 0.0005 * (100 + 95)) = 19.6174...
    assert result.quantity == D("19.617")
    assert result.quantity * (D(5) + D("0.0005") * D(195)) <= D(100)


def test_risk_mode_for_a_short() -> None:
    assert size(config(), side=SELL, stop_price=D(104)).quantity == D(25)


def test_risk_mode_needs_a_stop() -> None:
    with pytest.raises(RiskRejected) as info:
        size(config())
    assert info.value.reason_code == "stop_required_for_risk_sizing"


@pytest.mark.parametrize(("side", "stop"), [(BUY, D(105)), (BUY, D(100)), (SELL, D(95))])
def test_risk_mode_refuses_a_stop_on_the_wrong_side(side: OrderSide, stop: Decimal) -> None:
    with pytest.raises(RiskRejected) as info:
        size(config(), side=side, stop_price=stop)
    assert info.value.reason_code == "invalid_stop"


def test_the_signal_mode_override_wins() -> None:
    result = size(config("fixed_quantity", "3"), mode="risk", stop_price=D(95))
    assert (result.mode, result.quantity) == ("risk", D(20))


def test_explicit_sizes_override_the_mode() -> None:
    assert size(config(), quantity=D("0.25")).quantity == D("0.250")
    result = size(config(), notional=D(1234))
    assert (result.mode, result.quantity) == ("signal_notional", D("12.340"))


def test_confidence_scales_mode_sizes_but_not_explicit_ones() -> None:
    cfg = config("fixed_quantity", "2", scale_by_confidence=True)
    assert size(cfg, confidence=0.75).quantity == D("1.5")
    assert size(cfg, confidence=None).quantity == D(2)
    assert size(cfg, quantity=D(2), confidence=0.75).quantity == D(2)
    assert size(config("fixed_quantity", "2"), confidence=0.75).quantity == D(2)  # off


# ------------------------------------------------------------------ caps


def test_capped_by_max_order_notional() -> None:
    result = size(config("fixed_quantity", "1", max_order_notional=10000), entry_price=D(67500))
    assert result.quantity == D("0.148")
    assert result.notional <= 10000
    assert result.capped_by == ("max_order_notional",)
    assert result.detail["base_quantity"] == "1"


def test_capped_by_position_headroom() -> None:
    cfg = config("fixed_quantity", "1", max_position_notional=50000)
    result = size(cfg, entry_price=D(67500), position_qty=D("0.5"))
    # 50 000 - 33 750 held = 16 250 of room -> 0.2407...
    assert result.quantity == D("0.240")
    assert result.capped_by == ("max_position_notional",)


def test_a_flip_may_close_the_position_and_open_up_to_the_limit() -> None:
    cfg = config("fixed_quantity", "9", max_position_notional=50000)
    result = size(cfg, entry_price=D(10000), position_qty=D(-2))
    assert result.quantity == D(7)  # 2 to close the short + 5 (= 50 000) long
    assert result.capped_by == ("max_position_notional",)


def test_capped_by_leverage() -> None:
    cfg = config("fixed_quantity", "100", max_leverage=20)
    result = size(cfg, equity=D(1000), leverage=2)
    assert result.quantity == D(20)  # 1 000 x 2 / 100
    assert result.capped_by == ("max_leverage",)
    # The configured maximum applies when the signal asks for more (or says nothing).
    assert size(cfg, equity=D(1000), leverage=50).quantity == D(100)
    assert size(config("fixed_quantity", "1000", max_leverage=20), equity=D(1000)).quantity == D(
        200
    )


def test_several_caps_are_all_reported() -> None:
    cfg = config("fixed_quantity", "1000", max_order_notional=5000, max_leverage=2)
    result = size(cfg, equity=D(1000))
    assert result.capped_by == ("max_order_notional", "max_leverage")
    assert result.quantity == D(20)


@pytest.mark.parametrize(
    ("limits", "kwargs", "reason"),
    [
        ({"max_position_notional": 50000}, {"position_qty": D(500)}, "max_position_notional"),
        ({}, {"equity": D(0)}, "max_leverage"),
    ],
)
def test_no_room_at_all_names_the_cap(
    limits: dict[str, Any], kwargs: dict[str, Any], reason: str
) -> None:
    with pytest.raises(RiskRejected) as info:
        size(config("fixed_quantity", "1", **limits), **kwargs)
    assert info.value.reason_code == reason


# ------------------------------------------------------------------ rounding and minimums


def test_below_min_amount_after_rounding() -> None:
    with pytest.raises(RiskRejected) as info:
        size(config(), equity=D(1), stop_price=D(50), entry_price=D(100))
    assert info.value.reason_code == "below_minimum"
    assert "sizes to 0" in info.value.detail
    assert "equity=1" in info.value.detail


def test_below_min_notional() -> None:
    with pytest.raises(RiskRejected) as info:
        size(config("fixed_quantity", "0.001"), entry_price=D(4000))
    assert info.value.reason_code == "below_minimum"
    assert "notional 4.000 < min notional 5" in info.value.detail


def test_below_min_amount_names_the_cap_that_shrank_it() -> None:
    market = Market("X", "X", "USDT", "USDT", amount_step=D(1), price_step=D(1), min_amount=D(10))
    with pytest.raises(RiskRejected) as info:
        size(config("fixed_quantity", "100", max_order_notional=500), market=market,
             round_amount=market.round_amount)  # fmt: skip
    assert "quantity 5 < min amount 10" in info.value.detail
    assert "capped by max_order_notional" in info.value.detail


def test_round_amount_must_round_down() -> None:
    with pytest.raises(ValueError, match="must round down"):
        size(
            config("fixed_quantity", "0.0015"),
            round_amount=lambda q: q.quantize(D("0.001"), "ROUND_UP"),
        )


def _never_called(quantity: Decimal) -> Decimal:
    raise AssertionError(f"round_amount({quantity}) was called")


@pytest.mark.parametrize("explicit", [{"quantity": D("1e15")}, {"notional": D("1e15")}])
def test_an_explicit_size_over_the_order_limit_is_refused_before_any_rounding(
    explicit: dict[str, Decimal],
) -> None:
    """1e15 BTC parses (finite, in range); it is refused on its notional, not quantized."""
    with pytest.raises(RiskRejected) as info:
        size(config(max_order_notional=10000), round_amount=_never_called, **explicit)
    assert info.value.reason_code == "max_order_notional"


def test_the_early_order_limit_spares_a_reducing_order() -> None:
    # selling 200 against a long 300 reduces it: no order limit applies, as in risk check 15
    result = size(config(max_order_notional=10000), side=SELL, position_qty=D(300),
                  quantity=D(200))  # fmt: skip
    assert result.quantity == D(200)


def test_a_quantity_the_grid_cannot_hold_is_out_of_range_not_invalid_operation() -> None:
    tiny = Market("X", "X", "USDT", "USDT", amount_step=D("1e-20"), price_step=D(1))
    with pytest.raises(RiskRejected) as info:  # 1e15 / 1e-20 has 36 digits: quantize raises
        size(config(), quantity=D("1e15"), market=tiny, round_amount=tiny.round_amount)
    assert info.value.reason_code == "out_of_range"


@pytest.mark.parametrize("mode", ["fixed_quantity", "fixed_notional", "percent_equity"])
def test_a_signal_mode_without_a_configured_value_is_refused(mode: str) -> None:
    with pytest.raises(RiskRejected) as info:
        size(config(), mode=mode)  # the account sizes by risk and has no sizing.value
    assert info.value.reason_code == "sizing_not_configured"


def test_an_invalid_risk_stop_names_the_position_side() -> None:
    with pytest.raises(RiskRejected, match="stop_loss 101 must be below the entry for a long"):
        size(config(), stop_price=D(101))


# ------------------------------------------------------------------ reduce-only


def test_reduce_only_without_a_size_closes_the_whole_position() -> None:
    result = size(config(), side=SELL, position_qty=D("0.7"), reduce_only=True)
    assert (result.quantity, result.mode) == (D("0.700"), "close_position")


def test_reduce_only_is_capped_at_the_position_and_ignores_notional_caps() -> None:
    cfg = config(max_order_notional=100, max_position_notional=100)
    result = size(cfg, side=BUY, position_qty=D(-3), quantity=D(5), reduce_only=True)
    assert result.quantity == D(3)
    assert result.capped_by == ()


def test_reduce_only_dust_skips_min_notional_but_not_min_amount() -> None:
    assert size(config(), side=SELL, position_qty=D("0.002"), reduce_only=True).quantity == D(
        "0.002"
    )
    with pytest.raises(RiskRejected, match="below_minimum"):
        size(config(), side=SELL, position_qty=D("0.0004"), reduce_only=True)


@pytest.mark.parametrize("position", [D(0), D(1)])
def test_reduce_only_with_nothing_to_reduce(position: Decimal) -> None:
    with pytest.raises(RiskRejected) as info:
        size(config(), side=BUY, position_qty=position, reduce_only=True)
    assert info.value.reason_code == "reduce_only_would_increase"


# ------------------------------------------------------------------ from a signal


def signal(**fields: Any) -> Signal:
    values: dict[str, Any] = {
        "symbol": "BTC/USDT",
        "source": SignalSource.AGENT,
        "idempotency_key": "k",
        "created_at": datetime(2024, 1, 1, tzinfo=UTC),
        "side": BUY,
        **fields,
    }
    return Signal(**values)


def test_size_signal_uses_the_signal_stop_and_mode() -> None:
    result = size_signal(config(), signal(stop_loss=D(95)), side=BUY, equity=D(10000),
                         entry_price=D(100), market=BTC, round_amount=BTC.round_amount)  # fmt: skip
    assert result.quantity == D(20)


def test_size_signal_for_a_target_position() -> None:
    result = size_signal(config(), signal(side=None, target_position=D(-1)), side=SELL,
                         equity=D(10000), entry_price=D(100), market=BTC,
                         round_amount=BTC.round_amount, position_qty=D(2))  # fmt: skip
    assert (result.quantity, result.mode) == (D(3), "signal_quantity")


def test_result_record_is_json_safe() -> None:
    record = size(config("fixed_quantity", "1")).to_record()
    assert record["quantity"] == "1.000"
    assert record["capped_by"] == []
    assert record["detail"]["mode"] == "fixed_quantity"  # type: ignore[index]


# ------------------------------------------------------------------ properties


def money(low: str, high: str, places: int) -> st.SearchStrategy[Decimal]:
    """Decimals with ``places`` decimals in [low, high] (integers scaled: fast to generate)."""
    scale = 10**places
    return st.integers(int(D(low) * scale), int(D(high) * scale)).map(
        lambda n: D(n).scaleb(-places)
    )


ALL_MODES = ("risk", "fixed_quantity", "fixed_notional", "percent_equity")


@st.composite
def scenarios(draw: st.DrawFn, modes: tuple[str, ...] = ALL_MODES) -> dict[str, Any]:
    step = draw(st.sampled_from([D("0.00001"), D("0.001"), D("0.1"), D(1)]))
    market = Market(
        symbol="T",
        base="T",
        quote="USDT",
        settle="USDT",
        amount_step=step,
        price_step=None,
        min_amount=draw(st.sampled_from([None, step, step * 10])),
        min_notional=draw(st.sampled_from([None, D(5), D(10)])),
    )
    mode = draw(st.sampled_from(modes))
    value = {"fixed_quantity": "3", "fixed_notional": "2500", "percent_equity": "0.3"}.get(mode)
    cfg = config(
        mode,
        value,
        risk_pct=str(draw(money("0.001", "0.05", 3))),
        scale_by_confidence=draw(st.booleans()),
        max_order_notional=draw(st.sampled_from([None, D(1000), D(10000)])),
        max_position_notional=draw(st.sampled_from([None, D(20000), D(50000)])),
        max_leverage=draw(st.integers(1, 50)),
    )
    side = draw(st.sampled_from([BUY, SELL]))
    entry = draw(money("0.01", "150000", 2))
    distance = draw(money("0.001", "0.5", 3))
    stop = (entry * (1 - distance) if side is BUY else entry * (1 + distance)).quantize(D("0.01"))
    assume(stop > 0 and stop != entry)
    return {
        "config": cfg,
        "side": side,
        "equity": draw(money("0", "1000000", 2)),
        "entry_price": entry,
        "stop_price": stop,
        "market": market,
        "round_amount": market.round_amount,
        # Positions worth up to 30 000 either way, so most scenarios have room to trade.
        "position_qty": market.round_amount(draw(money("-30000", "30000", 2)) / entry),
        "fee_rate": draw(money("0", "0.001", 5)),
        "confidence": draw(st.none() | st.floats(0, 1)),
        "leverage": draw(st.none() | st.integers(1, 100)),
    }


def attempt(scenario: dict[str, Any], **changes: Any) -> SizingResult | None:
    args = {**scenario, **changes}
    cfg = args.pop("config")
    result = size_order(cfg, **args)
    return None if isinstance(result, Refusal) else result


def new_position(scenario: dict[str, Any], result: SizingResult) -> Decimal:
    signed = result.quantity if scenario["side"] is BUY else -result.quantity
    return scenario["position_qty"] + signed


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_never_above_the_caps(scenario: dict[str, Any]) -> None:
    result = attempt(scenario)
    assume(result is not None)
    assert result is not None
    cfg: RiskConfig = scenario["config"]
    entry, held = scenario["entry_price"], scenario["position_qty"]
    after = new_position(scenario, result)
    grew = abs(after) > abs(held) or (after * held < 0)
    if cfg.max_order_notional is not None:
        assert result.notional <= cfg.max_order_notional
    leverage = min(scenario["leverage"] or cfg.max_leverage, cfg.max_leverage)
    for limit in (cfg.max_position_notional, scenario["equity"] * leverage):
        if limit is not None and grew:
            assert abs(after) * entry <= limit


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_on_the_grid_and_above_the_minimums_or_refused(scenario: dict[str, Any]) -> None:
    result = attempt(scenario)
    assume(result is not None)
    assert result is not None
    market: Market = scenario["market"]
    assert result.quantity > 0
    assert result.quantity % market.amount_step == 0
    assert market.min_amount is None or result.quantity >= market.min_amount
    assert market.min_notional is None or result.notional >= market.min_notional
    assert result.notional == result.quantity * scenario["entry_price"]


@settings(max_examples=200, deadline=None)
@given(scenarios(modes=("risk",)))
def test_risk_sizing_loses_at_most_the_budget_at_the_stop_fees_included(
    scenario: dict[str, Any],
) -> None:
    cfg: RiskConfig = scenario["config"]
    result = attempt(scenario)
    assume(result is not None)
    assert result is not None
    entry, stop, fee = scenario["entry_price"], scenario["stop_price"], scenario["fee_rate"]
    with localcontext() as ctx:
        ctx.prec = 200  # exact
        price_loss = result.quantity * abs(entry - stop)
        fees = result.quantity * entry * fee + result.quantity * stop * fee
        assert price_loss + fees <= scenario["equity"] * cfg.sizing.risk_pct


@settings(max_examples=200, deadline=None)
@given(scenarios(), money("0", "1000000", 2))
def test_monotone_in_equity(scenario: dict[str, Any], other: Decimal) -> None:
    low, high = sorted((scenario["equity"], other))
    small, large = attempt(scenario, equity=low), attempt(scenario, equity=high)
    assert (small.quantity if small else 0) <= (large.quantity if large else 0)
