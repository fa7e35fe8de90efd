"""Pre-trade risk: each check refuses with its code (and passes just inside), the fixed
order, the confidence gate, and the trading state."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeexec.config import RiskConfig
from tradeexec.domain import Market, OrderSide, OrderType, Position, SignalSource, TradingState
from tradeexec.errors import RiskRejected
from tradeexec.execution.risk import (
    CHECKS,
    GATE_CHECKS,
    GateContext,
    RiskContext,
    RiskEngine,
    Verdict,
    exposure_increases,
)
from tradeexec.execution.signals import Signal

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
NOW = datetime(2024, 11, 4, 16, 0, tzinfo=UTC)
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
CONFIG = RiskConfig(daily_loss_limit=D(500), max_drawdown_pct=D("0.1"))


def signal(**changes: Any) -> Signal:
    values: dict[str, Any] = {
        "symbol": "BTC/USDT",
        "source": SignalSource.AGENT,
        "idempotency_key": "k",
        "created_at": NOW,
        "side": BUY,
        "quantity": D("0.1"),
        "confidence": 0.8,
        **changes,
    }
    return Signal(**values)


def context(sig: Signal | None = None, **changes: Any) -> RiskContext:
    values: dict[str, Any] = {
        "signal": sig or signal(),
        "now": NOW,
        "side": BUY,
        "quantity": D("0.1"),
        "market": BTC,
        "mark_price": D(50000),
        "equity": D(10000),
        "start_of_day_equity": D(10000),
        **changes,
    }
    return RiskContext(**values)


def pos(quantity: str, symbol: str = "BTC/USDT:USDT") -> Position:
    return Position(symbol=symbol, quantity=D(quantity))


def others(count: int) -> tuple[Position, ...]:
    return tuple(pos("1", f"X{i}/USDT:USDT") for i in range(count))


def evaluate(ctx: RiskContext, config: RiskConfig = CONFIG) -> Verdict:
    return RiskEngine(config).evaluate(ctx)


def test_the_baseline_order_passes_every_check_in_order() -> None:
    decision = evaluate(context())
    assert decision.approved, decision.detail
    assert decision.reason_code is None
    assert decision.checks_run == tuple(name for name, _ in CHECKS)


def test_the_order_is_the_documented_one() -> None:
    assert [name for name, _ in CHECKS] == [
        "missing_confidence",
        "low_confidence",
        "stale_signal",
        "symbol_not_allowed",
        "halted",
        "reducing_only",
        "reduce_only_would_increase",
        "max_leverage",
        "price_band",
        "invalid_stop",
        "invalid_take_profit",
        "order_rate",
        "daily_loss",
        "drawdown",
        "max_order_notional",
        "max_position_notional",
        "max_open_positions",
        "below_minimum",
        "precision",
        "stop_loss_required",
    ]
    assert CHECKS[: len(GATE_CHECKS)] == GATE_CHECKS


def limit_signal(price: str) -> Signal:
    return signal(order_type=OrderType.LIMIT, price=D(price))


# (reason code, refusing context, passing context just inside the limit, detail fragment)
CASES: list[tuple[str, RiskContext, RiskContext, str]] = [
    ("missing_confidence", context(signal(confidence=None)), context(signal(confidence=0.6)),
     "agent signal must state its confidence"),
    ("low_confidence", context(signal(confidence=0.59)), context(signal(confidence=0.6)),
     "confidence 0.59 < min 0.6"),
    ("stale_signal", context(now=NOW + timedelta(seconds=60.001)),
     context(now=NOW + timedelta(seconds=60)), "old > max 60 s"),
    ("stale_signal", context(now=NOW - timedelta(seconds=61)),
     context(now=NOW - timedelta(seconds=60)), "in the future"),
    ("symbol_not_allowed", context(allowed_symbols=frozenset({"ETH/USDT:USDT"})),
     context(allowed_symbols=frozenset({"BTC/USDT:USDT"})), "is not in this account's symbols"),
    ("halted", context(trading_state=TradingState.HALTED),
     context(signal(side=SELL), side=SELL, positions=(pos("0.1"),),
             trading_state=TradingState.HALTED, operator_close=True), "trading is halted"),
    ("reducing_only", context(trading_state=TradingState.REDUCING),
     context(signal(side=SELL), side=SELL, positions=(pos("0.1"),),
             trading_state=TradingState.REDUCING), "would add exposure"),
    ("reduce_only_would_increase", context(signal(reduce_only=True)),
     context(signal(reduce_only=True), positions=(pos("-0.1"),)), "would open, add to or flip"),
    ("max_leverage", context(leverage=21), context(leverage=20), "leverage 21 > max 20"),
    ("max_leverage", context(market=replace(BTC, max_leverage=10), leverage=11),
     context(market=replace(BTC, max_leverage=10), leverage=10), "maximum 10"),
    ("price_band", context(limit_signal("52500.1")), context(limit_signal("52500")),
     "limit 52500.1 is 5.00 % from mark 50000 > band 5.00 %"),
    ("price_band", context(limit_signal("47499.9")), context(limit_signal("47500")), "from mark"),
    ("order_rate", context(orders_last_minute=30), context(orders_last_minute=29),
     "30 orders in the last 60 s >= max 30"),
    ("daily_loss", context(daily_realized_pnl=D(-500)), context(daily_realized_pnl=D("-499.99")),
     "realized PnL today -500 <= -500"),
    ("drawdown", context(equity=D(9000)), context(equity=D("9000.01")),
     "10.00 % below start of day"),
    ("max_order_notional", context(quantity=D("0.201"), signal=signal(quantity=D("0.201"))),
     context(quantity=D("0.2")), "order notional 10050.000 > max 10000"),
    ("max_position_notional", context(positions=(pos("0.801"),), quantity=D("0.2")),
     context(positions=(pos("0.8"),), quantity=D("0.2")), "> max 50000"),
    ("max_open_positions", context(positions=others(5)), context(positions=others(4)),
     "5 positions open"),
    ("below_minimum", context(quantity=D("0.001"), mark_price=D("4999.9")),
     context(quantity=D("0.001"), mark_price=D(5000)), "notional 4.9999 < min notional 5"),
    ("below_minimum", context(market=replace(BTC, min_amount=D("0.2"))),
     context(market=replace(BTC, min_amount=D("0.1"))), "quantity 0.1 < min amount 0.2"),
    ("precision", context(quantity=D("0.1005")), context(quantity=D("0.100")),
     "quantity 0.1005 is not a valid amount"),
    ("precision", context(signal(stop_loss=D("45000.05"))), context(signal(stop_loss=D("45000.1"))),
     "stop_loss 45000.05 is not a valid price"),
    ("precision", context(limit_signal("50000.05")), context(limit_signal("50000.1")),
     "limit price 50000.05"),
    # stop and target against the entry: the mark for a market order ...
    ("invalid_stop", context(signal(stop_loss=D(50000))), context(signal(stop_loss=D("49999.9"))),
     "stop_loss 50000 must be below the entry for a long: mark 50000"),
    ("invalid_stop", context(signal(side=SELL, stop_loss=D(50000)), side=SELL),
     context(signal(side=SELL, stop_loss=D("50000.1")), side=SELL),
     "stop_loss 50000 must be above the entry for a short: mark 50000"),
    ("invalid_take_profit", context(signal(take_profit=D(50000))),
     context(signal(take_profit=D("50000.1"))), "must be above the entry for a long: mark 50000"),
    ("invalid_take_profit", context(signal(side=SELL, take_profit=D(50000)), side=SELL),
     context(signal(side=SELL, take_profit=D("49999.9")), side=SELL),
     "must be below the entry for a short"),
    # ... the limit price of a resting limit, the mark for a marketable one
    ("invalid_stop", context(limit_signal("49000"), stop_loss=D(49000)),
     context(limit_signal("49000"), stop_loss=D("48999.9")), "limit price 49000"),
    ("invalid_stop", context(replace(limit_signal("51000"), stop_loss=D(50500))),
     context(replace(limit_signal("51000"), stop_loss=D("49999.9"))),
     "mark (the limit is marketable) 50000"),
    # the prices the gate will place win over the signal's
    ("invalid_stop", context(signal(stop_loss=D("49999.95")), stop_loss=D(50000)),
     context(signal(stop_loss=D("49999.95")), stop_loss=D("49999.9")), "stop_loss 50000"),
]  # fmt: skip


@pytest.mark.parametrize(("reason", "refused", "passed", "detail"), CASES)
def test_each_check_refuses_with_its_code_and_passes_just_inside(
    reason: str, refused: RiskContext, passed: RiskContext, detail: str
) -> None:
    decision = evaluate(refused)
    assert not decision.approved
    assert decision.reason_code == reason
    assert detail in decision.detail
    assert decision.checks_run[-1] == reason
    ok = evaluate(passed)
    assert ok.approved, (ok.reason_code, ok.detail)


@pytest.mark.parametrize(
    "ctx",
    [
        # a close or a reduce-only order places no legs: its stop is not judged
        context(signal(side=SELL, stop_loss=D(60000)), side=SELL, positions=(pos("0.1"),)),
        context(signal(side=SELL, reduce_only=True, stop_loss=D("1.05")), side=SELL,
                positions=(pos("0.2"),)),
    ],
)  # fmt: skip
def test_stop_and_target_of_an_order_that_places_no_legs_are_not_judged(ctx: RiskContext) -> None:
    decision = evaluate(ctx)
    assert decision.approved, (decision.reason_code, decision.detail)


def test_a_wrong_side_stop_reports_what_it_was_judged_against() -> None:
    decision = evaluate(context(signal(stop_loss=D(50001))))
    assert decision.data["stop_loss"] == "50001"
    assert decision.data["entry_reference"] == "50000"


def test_percentages_of_extreme_prices_are_computed_not_raised() -> None:
    # a limit 1e15 against a 1e-12 mark is 1e29 %: no decimal.InvalidOperation on the way
    far = context(limit_signal("1e15"), mark_price=D("1e-12"))
    assert evaluate(far).reason_code == "price_band"


def test_stop_loss_required() -> None:
    config = CONFIG.model_copy(update={"require_stop_loss": True})
    decision = evaluate(context(), config)
    assert decision.reason_code == "stop_loss_required"
    assert evaluate(context(signal(stop_loss=D(45000))), config).approved
    closing = context(signal(side=SELL), side=SELL, positions=(pos("0.1"),))
    assert evaluate(closing, config).approved


def test_the_first_failing_check_wins() -> None:
    everything_wrong = context(
        signal(confidence=0.1),
        now=NOW + timedelta(hours=1),
        trading_state=TradingState.HALTED,
        quantity=D(10),
        orders_last_minute=100,
    )
    seen = []
    ctx = everything_wrong
    for fix in (
        lambda c: replace(c, signal=replace(c.signal, confidence=0.9)),
        lambda c: replace(c, now=NOW),
        lambda c: replace(c, trading_state=TradingState.ACTIVE),
        lambda c: replace(c, orders_last_minute=0),
        lambda c: replace(c, quantity=D("0.1")),
    ):
        seen.append(evaluate(ctx).reason_code)
        ctx = fix(ctx)
    assert seen == ["low_confidence", "stale_signal", "halted", "order_rate", "max_order_notional"]
    assert evaluate(ctx).approved


def test_daily_loss_and_drawdown_ask_the_caller_to_halt() -> None:
    assert evaluate(context(daily_realized_pnl=D(-600))).halt
    assert evaluate(context(equity=D(8000))).halt
    assert not evaluate(context(orders_last_minute=99)).halt


@pytest.mark.parametrize(
    "changes",
    [
        {"daily_realized_pnl": D(-600)},
        {"equity": D(8000)},
        {"quantity": D(1)},  # 50 000 notional > max order notional
        {"leverage": 50},
        {"positions": (pos("2"), *others(5))},  # position and count over their limits
        {"trading_state": TradingState.REDUCING},
    ],
)
def test_exposure_limits_never_trap_a_closing_order(changes: dict[str, Any]) -> None:
    closing = context(signal(side=SELL, quantity=D(1)), side=SELL, quantity=D(1),
                      positions=(pos("2"),))  # fmt: skip
    decision = evaluate(replace(closing, **changes))
    assert decision.approved, (decision.reason_code, decision.detail)


def test_a_flip_counts_as_new_exposure() -> None:
    flip = context(side=SELL, quantity=D("0.2"), positions=(pos("0.1"),),
                   trading_state=TradingState.REDUCING)  # fmt: skip
    assert evaluate(flip).reason_code == "reducing_only"


def test_operator_close_may_not_open_anything_while_halted() -> None:
    ctx = context(trading_state=TradingState.HALTED, operator_close=True)
    assert evaluate(ctx).reason_code == "halted"


def test_reduce_only_closing_dust_skips_min_notional() -> None:
    dust = context(signal(side=SELL, reduce_only=True), side=SELL, quantity=D("0.001"),
                   mark_price=D(1000), positions=(pos("0.001"),))  # fmt: skip
    assert evaluate(dust).approved


def test_custom_venue_rounding_is_used_for_precision() -> None:
    # A venue with 5 significant figures (Hyperliquid-style) refuses 50000.5.
    sig_figs = replace(BTC, price_step=None, price_sig_figs=5)
    ctx = context(limit_signal("50000.5"), market=sig_figs)
    assert evaluate(ctx).reason_code == "precision"
    assert evaluate(replace(ctx, round_price=lambda p: p)).approved


def test_the_symbol_allow_list_accepts_either_spelling_in_any_case() -> None:
    assert evaluate(context(allowed_symbols=frozenset({"btc/usdt"}))).approved
    assert evaluate(context(allowed_symbols=frozenset({"BTC/USDT:USDT"}))).approved


# ------------------------------------------------------------------ the confidence gate


def gate(sig: Signal, config: RiskConfig = CONFIG) -> Verdict:
    return RiskEngine(config).gate(GateContext(signal=sig, now=NOW))


@pytest.mark.parametrize(
    ("confidence", "approved"),
    [(0.59, False), (0.6, True), (0.61, True), (1.0, True), (0.0, False)],
)
def test_confidence_below_at_and_above_the_threshold(confidence: float, approved: bool) -> None:
    decision = gate(signal(confidence=confidence))
    assert decision.approved is approved
    if not approved:
        assert decision.reason_code == "low_confidence"
        assert decision.checks_run[-1] == "low_confidence"
    assert decision.data["confidence"] == str(D(str(confidence)))
    assert decision.data["min_confidence"] == "0.6"


def test_a_refused_confidence_reports_both_values() -> None:
    decision = gate(signal(confidence=0.55))
    assert (decision.reason_code, decision.detail) == (
        "low_confidence",
        "confidence 0.55 < min 0.6",
    )
    assert decision.data["confidence"] == "0.55"
    assert decision.data["confidence_source"] == "signal"
    with pytest.raises(RiskRejected) as info:
        decision.raise_if_refused()
    assert info.value.reason_code == "low_confidence"


@pytest.mark.parametrize("source", [SignalSource.AGENT, SignalSource.MCP])
def test_agents_must_state_a_confidence(source: SignalSource) -> None:
    decision = gate(signal(source=source, confidence=None))
    assert decision.reason_code == "missing_confidence"
    assert decision.data["confidence_source"] == "missing"
    assert "confidence" not in decision.data


@pytest.mark.parametrize("source", [SignalSource.TRADINGVIEW, SignalSource.CLI, SignalSource.API])
def test_other_sources_without_a_confidence_use_the_default(source: SignalSource) -> None:
    decision = gate(signal(source=source, confidence=None))
    assert decision.approved
    assert decision.data["confidence"] == "1.0"
    assert decision.data["confidence_source"] == "default"
    low_default = CONFIG.model_copy(update={"default_confidence": 0.5})
    refused = gate(signal(source=source, confidence=None), low_default)
    assert (refused.reason_code, refused.detail) == (
        "low_confidence",
        "default confidence 0.5 < min 0.6",
    )


def test_a_tradingview_signal_with_its_own_confidence_is_judged_on_it() -> None:
    decision = gate(signal(source=SignalSource.TRADINGVIEW, confidence=0.4))
    assert decision.reason_code == "low_confidence"


def test_the_account_threshold_comes_from_its_merged_config() -> None:
    strict = CONFIG.model_copy(update={"min_confidence": 0.9})
    assert gate(signal(confidence=0.85), strict).detail == "confidence 0.85 < min 0.9"


def test_the_gate_runs_only_the_signal_checks() -> None:
    decision = gate(signal())
    assert decision.approved
    assert decision.checks_run == tuple(name for name, _ in GATE_CHECKS)
    stale = RiskEngine(CONFIG).gate(GateContext(signal=signal(), now=NOW + timedelta(minutes=5)))
    assert stale.reason_code == "stale_signal"


def test_decision_record() -> None:
    record = evaluate(context(orders_last_minute=30)).to_record()
    assert record["approved"] is False
    assert record["reason_code"] == "order_rate"
    assert record["checks_run"][-1] == "order_rate"  # type: ignore[index]


# ------------------------------------------------------------------ trading state


@pytest.mark.parametrize(
    ("position", "side", "qty", "increases"),
    [
        ("0", BUY, "1", True),
        ("0", SELL, "1", True),
        ("1", BUY, "1", True),
        ("1", SELL, "0.5", False),
        ("1", SELL, "1", False),
        ("1", SELL, "1.5", True),  # a flip opens a short
        ("-2", BUY, "2", False),
        ("-2", SELL, "1", True),
        ("1", SELL, "0", False),
    ],
)
def test_exposure_increases(position: str, side: OrderSide, qty: str, increases: bool) -> None:
    assert exposure_increases(D(position), side, D(qty)) is increases


@given(
    st.decimals(-100, 100, places=2), st.sampled_from([BUY, SELL]), st.decimals(0, 100, places=2)
)
def test_a_reducing_order_never_grows_or_flips_the_position(
    position: Decimal, side: OrderSide, qty: Decimal
) -> None:
    after = position + (qty if side is BUY else -qty)
    if not exposure_increases(position, side, qty):
        assert abs(after) <= abs(position)
        assert after == 0 or (after > 0) == (position > 0)
