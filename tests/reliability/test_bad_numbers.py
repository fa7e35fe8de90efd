"""The bad-number corpus: extreme and malformed numbers through every parser.

Whatever the number (huge, tiny, negative, NaN, Infinity, exponent forms, thousands
separators, booleans, empty strings, non-ASCII digits), each door either accepts a finite
value inside the sane range or refuses with the project's own error (``InvalidSignal``,
``RiskRejected``: a ``TradeExecError``); the simulator's control API answers 200 or 400,
never 500. No ``decimal.InvalidOperation``, ``OverflowError`` or ``ValueError`` escapes.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeexec.config import RiskConfig, SizingConfig
from tradeexec.domain import Market, OrderSide, SignalSource, to_decimal
from tradeexec.errors import InvalidSignal, RiskRejected, TradeExecError
from tradeexec.execution.leg_prices import protective_prices
from tradeexec.execution.risk import RiskContext, RiskEngine
from tradeexec.execution.signals import Signal
from tradeexec.execution.sizing import Refusal, size_order
from tradeexec.execution.tradingview import signal_from_tradingview
from tradeexec.numeric import MAX_NUMBER, MIN_NUMBER
from tradeexec.sim.app import Simulator

NOW = datetime(2024, 11, 4, 16, 0, tzinfo=UTC)
NUMBER_FIELDS = ("quantity", "price", "stop_loss", "take_profit", "notional", "leverage",
                 "confidence", "target_position", "timestamp")  # fmt: skip

# --------------------------------------------------------------------------- the corpus

CORPUS = [
    "1e30", "1E-30", "1e400", "-1e400", "1e-400", "1e999999", "NaN", "nan", "-NaN", "sNaN",
    "Infinity", "-Infinity", "inf", "1,000", "1.000,5", "1_000", "", " ", "0x10", "1e", "e5",
    "--1", "+-1", "1.2.3", "١٢٣", "１２", "0", "-0", "-1", "0.1", "1e3", "1E+3", "67500.5",
    "1" * 40, "0." + "0" * 40 + "1", "1." + "1" * 40, "\u00a0 5", "5\n", "true", "null",
]  # fmt: skip
numbers_as_text = st.one_of(
    st.sampled_from(CORPUS),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-(10**6), 10**6), st.integers(-500, 500)),
    st.text(alphabet="0123456789.,eE+-_ ", max_size=12),
)
bad_or_good_numbers: st.SearchStrategy[object] = st.one_of(
    numbers_as_text,
    st.floats(),  # NaN, +-Infinity, 1e308, 5e-324 ...
    st.integers(min_value=-(10**40), max_value=10**40),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.just([]),
    st.just({}),
)
# JSON number literals as TradingView renders them, unquoted
json_literals = st.one_of(
    st.sampled_from(["1e400", "-1e400", "1e-400", "NaN", "Infinity", "-Infinity", "1" * 50,
                     "1E30", "0.000000000000000000001", "67500.5", "-0", "1e3"]),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-(10**6), 10**6), st.integers(-500, 500)),
)  # fmt: skip


def sane(value: Decimal) -> bool:
    return value.is_finite() and (value == 0 or MIN_NUMBER <= abs(value) <= MAX_NUMBER)


def assert_sane_signal(signal: Signal) -> None:
    for name in ("quantity", "price", "stop_loss", "take_profit", "notional", "target_position"):
        value = getattr(signal, name)
        assert value is None or sane(value), (name, value)
        assert value is None or "E+" not in str(value), (name, value)


# --------------------------------------------------------------------------- parsers


@given(value=bad_or_good_numbers)
def test_to_decimal_accepts_only_sane_numbers(value: object) -> None:
    try:
        result = to_decimal(value)
    except InvalidSignal:
        return
    assert isinstance(result, Decimal) and sane(result)


@given(field=st.sampled_from(NUMBER_FIELDS), value=bad_or_good_numbers)
def test_signal_from_request_refuses_or_accepts_sanely(field: str, value: object) -> None:
    data: dict[str, Any] = {"symbol": "BTC/USDT", "side": "buy", "confidence": 0.8,
                            field: value}  # fmt: skip
    if field == "target_position":
        data.pop("side")
    try:
        signal = Signal.from_request(data, SignalSource.AGENT, NOW)
    except InvalidSignal:
        return
    assert_sane_signal(signal)


@given(
    values=st.fixed_dictionaries(
        {}, optional={name: bad_or_good_numbers for name in ("quantity", "stop_loss", "price")}
    )
)
def test_signal_built_directly_refuses_or_accepts_sanely(values: dict[str, Any]) -> None:
    try:
        signal = Signal(symbol="BTC/USDT", source=SignalSource.API, idempotency_key="k",
                        created_at=NOW, side=OrderSide.BUY, **values)  # fmt: skip
    except InvalidSignal:
        return
    assert_sane_signal(signal)


@given(
    field=st.sampled_from(["contracts", "price", "stop_loss", "take_profit", "position_size",
                           "leverage", "confidence", "time", "notional"]),
    value=bad_or_good_numbers,
)  # fmt: skip
def test_the_tradingview_mapping_refuses_or_accepts_sanely(field: str, value: object) -> None:
    payload = {"ticker": "BTCUSDT.P", "action": "buy", "contracts": "0.1",
               "time": "2024-11-04T16:00:00Z", field: value}  # fmt: skip
    try:
        signal = signal_from_tradingview(payload, received_at=NOW)
    except InvalidSignal:
        return
    assert_sane_signal(signal)


@given(field=st.sampled_from(["contracts", "price", "stop_loss", "position_size"]),
       literal=json_literals)  # fmt: skip
def test_tradingview_bodies_with_bare_extreme_numbers(field: str, literal: str) -> None:
    body = json.dumps({"ticker": "BTCUSDT.P", "action": "buy", "contracts": "0.1",
                       field: "__N__"}).replace('"__N__"', literal)  # fmt: skip
    try:
        signal = signal_from_tradingview(body, received_at=NOW)
    except InvalidSignal:
        return
    assert_sane_signal(signal)


# --------------------------------------------------------------------------- the simulator

SIM = Simulator()


def post(path: str, body: dict[str, Any]) -> int:
    async def go() -> int:
        transport = httpx.ASGITransport(app=SIM.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
            answer = await http.post(path, content=json.dumps(body, default=str))
            return answer.status_code

    return asyncio.run(go())


jsonable_numbers = st.one_of(
    numbers_as_text,
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.booleans(),
    st.none(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    route=st.sampled_from([
        ("/_sim/prices", "price", {"coin": "BTC"}),
        ("/_sim/accounts", "balance", {"venue": "binance"}),
        ("/_sim/tick", "steps", {}),
        ("/_sim/faults", "seconds", {"route": "nothing.*", "kind": "latency"}),
        ("/_sim/faults", "probability", {"route": "nothing.*", "kind": "status"}),
        ("/_sim/faults", "status", {"route": "nothing.*", "kind": "status"}),
    ]),
    value=jsonable_numbers,
)  # fmt: skip
def test_the_simulator_control_api_never_answers_500(
    route: tuple[str, str, dict[str, Any]], value: object
) -> None:
    path, name, body = route
    if name == "steps" and isinstance(value, int) and 0 < value <= 10_000:
        value = 1  # a valid number of steps only costs time
    status = post(path, {**body, name: value})
    assert status in (200, 400), (path, name, value, status)
    SIM.ctx.faults.clear()


# --------------------------------------------------------------------------- sizing and risk

MARKET = Market(symbol="BTC/USDT:USDT", base="BTC", quote="USDT", settle="USDT",
                amount_step=Decimal("0.001"), price_step=Decimal("0.1"),
                min_amount=Decimal("0.001"), min_notional=Decimal(5))  # fmt: skip
TINY_STEPS = Market(symbol="X/USDT:USDT", base="X", quote="USDT", settle="USDT",
                    amount_step=Decimal("1e-12"), price_step=Decimal("1e-12"))  # fmt: skip
extreme = st.one_of(
    st.sampled_from([MAX_NUMBER, MIN_NUMBER, Decimal("999999999999999.999"), Decimal(1)]),
    st.decimals(min_value=MIN_NUMBER, max_value=MAX_NUMBER, allow_nan=False, places=12),
)
CONFIGS = [
    RiskConfig(),
    RiskConfig(max_order_notional=None, max_position_notional=None),
    RiskConfig(max_order_notional=None, max_position_notional=None,
               sizing=SizingConfig(mode="percent_equity", value=Decimal(1))),
]  # fmt: skip


@settings(max_examples=300)
@given(
    config=st.sampled_from(CONFIGS),
    market=st.sampled_from([MARKET, TINY_STEPS]),
    side=st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
    equity=extreme,
    entry=extreme,
    size=st.one_of(st.none(), st.tuples(st.sampled_from(["quantity", "notional"]), extreme)),
    stop=st.one_of(st.none(), extreme),
)
def test_sizing_and_risk_on_huge_but_finite_values_refuse_never_raise(
    config: RiskConfig,
    market: Market,
    side: OrderSide,
    equity: Decimal,
    entry: Decimal,
    size: tuple[str, Decimal] | None,
    stop: Decimal | None,
) -> None:
    explicit = {size[0]: size[1]} if size else {}
    try:
        sized = size_order(
            config,
            side=side,
            equity=equity,
            entry_price=entry,
            market=market,
            round_amount=market.round_amount,
            stop_price=stop,
            **explicit,
        )
        if isinstance(sized, Refusal):
            raise RiskRejected(sized.reason_code, sized.detail)
        quantity = sized.quantity
    except TradeExecError:
        quantity = size[1] if size and size[0] == "quantity" else Decimal(1)
    signal = Signal(symbol=market.symbol, source=SignalSource.CLI, idempotency_key="k",
                    created_at=NOW, side=side)  # fmt: skip
    ctx = RiskContext(signal=signal, now=NOW, side=side, quantity=quantity, market=market,
                      mark_price=entry, equity=equity, start_of_day_equity=equity,
                      price=entry * 3, stop_loss=stop, take_profit=stop)  # fmt: skip
    decision = RiskEngine(config).evaluate(ctx)  # a Decision, approved or not: never raises
    assert decision.approved or decision.reason_code
    if stop is not None:
        try:
            legs = protective_prices(side, stop, None, market=market,
                                     round_price=market.round_price)  # fmt: skip
        except TradeExecError as refused:
            assert refused.code == "risk_rejected"
        else:
            assert legs.stop_loss is not None
            assert market.round_price(legs.stop_loss) == legs.stop_loss
