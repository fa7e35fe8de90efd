"""Pre-trade risk: small pure checks in a fixed order, and the account's trading state.

Each check is a function ``(context, config) -> Refusal | None``. ``RiskEngine`` runs them
in the order below and turns the first ``Refusal`` into a refused ``Decision`` (the rest are
not run; ``checks_run`` lists those that were). All inputs come in one frozen
``RiskContext``, so the checks do no I/O and are tested without an exchange.

``RiskEngine.gate`` runs only the first four (the signal itself: confidence, age, symbol),
before sizing; ``RiskEngine.evaluate`` runs all of them on the sized order, so a caller
cannot skip the gate by calling ``evaluate`` alone.

=====  ==============================  ========================================  ========
#      reason code                     refuses when                              reducing
=====  ==============================  ========================================  ========
1      ``missing_confidence``          an agent signal (source agent or mcp)     yes
                                       carries no confidence
2      ``low_confidence``              confidence < ``min_confidence`` (equal    yes
                                       passes); sources other than agents
                                       without one use ``default_confidence``
3      ``stale_signal``                signal older than ``max_signal_age_s``,   yes
                                       or that far in the future (clock skew)
4      ``symbol_not_allowed``          the account's allow-list has neither      yes
                                       the signal's nor the venue's symbol
5      ``halted``                      trading state HALTED, unless an           operator
                                       operator close / flatten that reduces     close
6      ``reducing_only``               state REDUCING and the order would add    no
                                       exposure
7      ``reduce_only_would_increase``  a reduce-only signal whose order would    --
                                       open, add to or flip the position
8      ``max_leverage``                leverage above ``max_leverage`` or the    no
                                       market's maximum
9      ``price_band``                  limit price further than                  yes
                                       ``price_band_pct`` from the mark
10     ``order_rate``                  orders in the last 60 s                   yes
                                       ≥ ``max_orders_per_minute``
11     ``daily_loss``                  today's realized PnL                      no
                                       ≤ −``daily_loss_limit``; **halt**
12     ``drawdown``                    equity fell ``max_drawdown_pct`` or more  no
                                       below start-of-day equity; **halt**
13     ``max_order_notional``          order notional > ``max_order_notional``   no
14     ``max_position_notional``       resulting position notional > limit       no
15     ``max_open_positions``          a new position while                      no
                                       ``max_open_positions`` are open
16     ``below_minimum``               quantity < market min amount, or          min amount
                                       notional < min notional                   only
17     ``precision``                   quantity, limit, stop-loss or take-       yes
                                       profit price changes under the venue's
                                       own rounding (``round_amount`` /
                                       ``round_price``)
18     ``stop_loss_required``          ``require_stop_loss`` and an order that   no
                                       adds exposure has no stop_loss
=====  ==============================  ========================================  ========

"reducing" says whether the check also applies to an order that only reduces the position
(no: reducing a position is never what a notional, leverage or loss limit guards against,
and refusing it would trap the trader in the risk the limit exists to cut). Notional is
valued at the order's limit price, else the mark price.

Trading states (``TradingState``): ACTIVE lets everything through; REDUCING only orders that
reduce exposure; HALTED refuses every order except explicit operator close / flatten
requests that reduce (``RiskContext.operator_close``). Cancels never come through here: they
are always allowed. ``Decision.halt`` is set by ``daily_loss`` and ``drawdown``: the caller
should move the account to HALTED and record why (the pipeline does, in the store).

``min_confidence`` resolution: the per-account ``risk:`` overrides (and a plugin's own
``min_confidence=``) are merged into the ``RiskConfig`` this engine gets, falling back to the
global ``RiskConfig.min_confidence``; a signal cannot lower it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final, TypeVar

from tradeexec.config import RiskConfig
from tradeexec.domain import (
    FrozenMap,
    Market,
    OrderSide,
    OrderType,
    Position,
    SignalSource,
    TradingState,
    to_decimal,
)
from tradeexec.errors import RiskRejected
from tradeexec.execution.signals import Signal

__all__ = [
    "AGENT_SOURCES",
    "CHECKS",
    "GATE_CHECKS",
    "Check",
    "Decision",
    "GateContext",
    "Refusal",
    "RiskContext",
    "RiskEngine",
    "effective_confidence",
    "exposure_increases",
]

ZERO: Final = Decimal(0)
#: Sources that speak for an AI agent: they must state a confidence.
AGENT_SOURCES: Final = frozenset({SignalSource.AGENT, SignalSource.MCP})


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why one check refused. ``halt``: the account should stop trading (loss limits)."""

    reason_code: str
    detail: str
    halt: bool = False
    data: Mapping[str, str] = field(default_factory=FrozenMap)


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a run of checks.

    ``data`` always holds ``min_confidence`` and ``confidence_source`` (``signal`` /
    ``default`` / ``missing``), and ``confidence`` (the value judged, maybe the configured
    default) unless it is missing, plus whatever the refusing check measured.
    """

    approved: bool
    reason_code: str | None
    detail: str
    checks_run: tuple[str, ...]
    halt: bool = False
    data: Mapping[str, str] = field(default_factory=FrozenMap)

    def raise_if_refused(self) -> None:
        """Raise ``RiskRejected`` (with this reason code and detail) when not approved."""
        if not self.approved:
            raise RiskRejected(self.reason_code or "risk_rejected", self.detail)

    def to_record(self) -> dict[str, object]:
        return {
            "approved": self.approved,
            "reason_code": self.reason_code,
            "detail": self.detail,
            "checks_run": list(self.checks_run),
            "halt": self.halt,
            "data": dict(self.data),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class GateContext:
    """What the gate (checks 1-4) looks at: the signal, the time, the account's allow-list.

    ``symbol`` is the venue symbol the signal's symbol resolved to, when known;
    ``allowed_symbols`` None means every symbol is allowed.
    """

    signal: Signal
    now: datetime
    allowed_symbols: frozenset[str] | None = None
    symbol: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskContext(GateContext):
    """Everything the pre-trade checks need about one sized order, gathered by the caller.

    ``side`` / ``quantity`` are the order's (for a target-position signal, the difference to
    the current position). ``positions`` are the account's open positions (any symbols);
    this market's is matched by ``market.symbol``. ``price`` is the order's limit price
    (default: the signal's price for a limit signal). ``leverage`` is the leverage the
    position will use (default: the signal's). ``round_price`` / ``round_amount`` are the
    venue's own precision helpers (default: the ``Market``'s). ``fee_rate`` is carried so
    one context describes the whole decision (sizing uses it; no check does).
    """

    side: OrderSide
    quantity: Decimal
    market: Market
    mark_price: Decimal
    equity: Decimal
    start_of_day_equity: Decimal | None = None
    positions: tuple[Position, ...] = ()
    orders_last_minute: int = 0
    daily_realized_pnl: Decimal = ZERO
    trading_state: TradingState = TradingState.ACTIVE
    leverage: int | None = None
    fee_rate: Decimal = ZERO
    price: Decimal | None = None
    operator_close: bool = False
    round_price: Callable[[Decimal], Decimal] | None = None
    round_amount: Callable[[Decimal], Decimal] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "positions", tuple(self.positions))
        if self.symbol is None:
            object.__setattr__(self, "symbol", self.market.symbol)
        if self.mark_price <= 0:
            raise ValueError(f"mark_price must be > 0, got {self.mark_price}")

    @property
    def position_qty(self) -> Decimal:
        """The signed position on this market now."""
        return sum(
            (p.quantity for p in self.positions if p.symbol == self.market.symbol), start=ZERO
        )

    @property
    def order_price(self) -> Decimal | None:
        """The order's limit price, if it has one."""
        if self.price is not None:
            return self.price
        return self.signal.price if self.signal.order_type is OrderType.LIMIT else None

    @property
    def reference_price(self) -> Decimal:
        """What the order is valued at: its limit price, else the mark."""
        price = self.order_price
        return price if price is not None else self.mark_price

    @property
    def increases_exposure(self) -> bool:
        return exposure_increases(self.position_qty, self.side, self.quantity)

    @property
    def position_after(self) -> Decimal:
        signed = self.quantity if self.side is OrderSide.BUY else -self.quantity
        return self.position_qty + signed


def exposure_increases(position_qty: Decimal, side: OrderSide, qty: Decimal) -> bool:
    """True if the order opens, adds to or flips the position; False if it only reduces it.

    A flip (selling more than a long) counts as increasing even when the new short is no
    bigger than the old long: it opens a position the trader did not have.
    """
    if qty <= 0:
        return False
    opposite = (position_qty > 0 and side is OrderSide.SELL) or (
        position_qty < 0 and side is OrderSide.BUY
    )
    return not (opposite and qty <= abs(position_qty))


def effective_confidence(signal: Signal, config: RiskConfig) -> tuple[float | None, str]:
    """(the confidence the gate judges, where it came from: signal / default / missing)."""
    if signal.confidence is not None:
        return signal.confidence, "signal"
    if signal.source in AGENT_SOURCES:
        return None, "missing"
    return config.default_confidence, "default"


# --------------------------------------------------------------------------- checks
# Each returns None (pass) or a Refusal. Keep them small and pure.


def _num(value: object) -> str:
    """A config or signal number as people write it (floats via str, never their binary)."""
    return str(to_decimal(value))


def check_missing_confidence(ctx: GateContext, config: RiskConfig) -> Refusal | None:
    if effective_confidence(ctx.signal, config)[1] != "missing":
        return None
    return Refusal(
        "missing_confidence",
        f"an {ctx.signal.source.value} signal must state its confidence (0..1); "
        f"min {_num(config.min_confidence)}",
    )


def check_low_confidence(ctx: GateContext, config: RiskConfig) -> Refusal | None:
    confidence, source = effective_confidence(ctx.signal, config)
    if confidence is None or to_decimal(confidence) >= to_decimal(config.min_confidence):
        return None
    which = "confidence" if source == "signal" else "default confidence"
    return Refusal(
        "low_confidence",
        f"{which} {_num(confidence)} < min {_num(config.min_confidence)}",
    )


def check_stale_signal(ctx: GateContext, config: RiskConfig) -> Refusal | None:
    limit = timedelta(seconds=config.max_signal_age_s)
    age = ctx.now - ctx.signal.created_at
    if age > limit:
        return Refusal(
            "stale_signal",
            f"signal is {age.total_seconds():.1f} s old > max {_num(config.max_signal_age_s)} s",
            data=FrozenMap({"age_s": f"{age.total_seconds():.3f}"}),
        )
    if -age > limit:
        return Refusal(
            "stale_signal",
            f"signal time is {-age.total_seconds():.1f} s in the future "
            f"(> {_num(config.max_signal_age_s)} s): a clock is wrong",
            data=FrozenMap({"age_s": f"{age.total_seconds():.3f}"}),
        )
    return None


def check_symbol_allowed(ctx: GateContext, config: RiskConfig) -> Refusal | None:
    if ctx.allowed_symbols is None:
        return None
    allowed = {s.strip().upper() for s in ctx.allowed_symbols}
    names = {ctx.signal.symbol, *((ctx.symbol,) if ctx.symbol else ())}
    if any(name.strip().upper() in allowed for name in names):
        return None
    shown = (
        ctx.signal.symbol
        if ctx.symbol in (None, ctx.signal.symbol)
        else (f"{ctx.signal.symbol} ({ctx.symbol})")
    )
    return Refusal(
        "symbol_not_allowed",
        f"{shown} is not in this account's symbols: {', '.join(sorted(ctx.allowed_symbols))}",
    )


def check_halted(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    if ctx.trading_state is not TradingState.HALTED:
        return None
    if ctx.operator_close and not ctx.increases_exposure:
        return None
    return Refusal(
        "halted",
        "trading is halted: only cancels and operator close / flatten requests pass",
    )


def check_reducing_only(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    if ctx.trading_state is not TradingState.REDUCING or not ctx.increases_exposure:
        return None
    return Refusal(
        "reducing_only",
        f"trading state is reducing: a {ctx.side.value} of {ctx.quantity} with position "
        f"{ctx.position_qty} would add exposure",
    )


def check_reduce_only(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    if not ctx.signal.reduce_only or not ctx.increases_exposure:
        return None
    return Refusal(
        "reduce_only_would_increase",
        f"reduce-only {ctx.side.value} of {ctx.quantity} with position {ctx.position_qty} "
        "would open, add to or flip it",
    )


def check_max_leverage(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    leverage = ctx.leverage if ctx.leverage is not None else ctx.signal.leverage
    if leverage is None or not ctx.increases_exposure:
        return None
    if leverage > config.max_leverage:
        return Refusal("max_leverage", f"leverage {leverage} > max {config.max_leverage}")
    venue_max = ctx.market.max_leverage
    if venue_max is not None and leverage > venue_max:
        return Refusal(
            "max_leverage", f"leverage {leverage} > {ctx.market.symbol}'s maximum {venue_max}"
        )
    return None


def check_price_band(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    price = ctx.order_price
    if price is None:
        return None
    deviation = abs(price - ctx.mark_price) / ctx.mark_price
    if deviation <= config.price_band_pct:
        return None
    return Refusal(
        "price_band",
        f"limit {price} is {_percent(deviation)} from mark {ctx.mark_price} "
        f"> band {_percent(config.price_band_pct)}",
    )


def check_order_rate(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    if ctx.orders_last_minute < config.max_orders_per_minute:
        return None
    return Refusal(
        "order_rate",
        f"{ctx.orders_last_minute} orders in the last 60 s >= max "
        f"{config.max_orders_per_minute} per minute",
    )


def check_daily_loss(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    limit = config.daily_loss_limit
    if limit is None or not ctx.increases_exposure or ctx.daily_realized_pnl > -limit:
        return None
    return Refusal(
        "daily_loss",
        f"realized PnL today {ctx.daily_realized_pnl} <= -{limit}: halt",
        halt=True,
    )


def check_drawdown(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    limit, start = config.max_drawdown_pct, ctx.start_of_day_equity
    if limit is None or start is None or start <= 0 or not ctx.increases_exposure:
        return None
    drawdown = (start - ctx.equity) / start
    if drawdown < limit:
        return None
    return Refusal(
        "drawdown",
        f"equity {ctx.equity} is {_percent(drawdown)} below start of day {start} "
        f">= max {_percent(limit)}: halt",
        halt=True,
    )


def check_max_order_notional(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    limit = config.max_order_notional
    if limit is None or not ctx.increases_exposure:
        return None
    notional = ctx.quantity * ctx.reference_price
    if notional <= limit:
        return None
    return Refusal("max_order_notional", f"order notional {notional} > max {limit}")


def check_max_position_notional(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    limit = config.max_position_notional
    if limit is None or not ctx.increases_exposure:
        return None
    notional = abs(ctx.position_after) * ctx.reference_price
    if notional <= limit:
        return None
    return Refusal(
        "max_position_notional",
        f"position notional after the order {notional} > max {limit} "
        f"(position {ctx.position_qty} -> {ctx.position_after})",
    )


def check_max_open_positions(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    limit = config.max_open_positions
    if limit is None or ctx.position_qty != 0 or not ctx.increases_exposure:
        return None  # only a position on a flat symbol adds to the count
    open_symbols = {p.symbol for p in ctx.positions if p.quantity != 0}
    if len(open_symbols) < limit:
        return None
    return Refusal(
        "max_open_positions",
        f"{len(open_symbols)} positions open ({', '.join(sorted(open_symbols))}) >= max {limit}",
    )


def check_below_minimum(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    market = ctx.market
    if market.min_amount is not None and ctx.quantity < market.min_amount:
        return Refusal(
            "below_minimum",
            f"quantity {ctx.quantity} < min amount {market.min_amount} for {market.symbol}",
        )
    # Binance exempts reduce-only orders from min notional; closes are sent reduce-only.
    notional = ctx.quantity * ctx.reference_price
    if (
        market.min_notional is not None
        and ctx.increases_exposure
        and notional < market.min_notional
    ):
        return Refusal(
            "below_minimum",
            f"notional {notional} < min notional {market.min_notional} for {market.symbol}",
        )
    return None


def check_precision(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    round_amount = ctx.round_amount or ctx.market.round_amount
    round_price = ctx.round_price or ctx.market.round_price
    if round_amount(ctx.quantity) != ctx.quantity:
        return Refusal(
            "precision",
            f"quantity {ctx.quantity} is not a valid amount on {ctx.market.symbol} "
            f"(the venue would make it {round_amount(ctx.quantity)})",
        )
    signal = ctx.signal
    for name, price in (
        ("limit price", ctx.order_price),
        ("stop_loss", signal.stop_loss),
        ("take_profit", signal.take_profit),
    ):
        if price is not None and round_price(price) != price:
            return Refusal(
                "precision",
                f"{name} {price} is not a valid price on {ctx.market.symbol} "
                f"(the venue would make it {round_price(price)})",
            )
    return None


def check_stop_loss_required(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    if not config.require_stop_loss or ctx.signal.stop_loss is not None:
        return None
    if not ctx.increases_exposure:
        return None
    return Refusal("stop_loss_required", "this account requires a stop_loss on every entry")


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).quantize(Decimal('0.01'))} %"


# --------------------------------------------------------------------------- engine

Check = Callable[[RiskContext, RiskConfig], Refusal | None]
_C = TypeVar("_C", bound=GateContext)

#: The gate: checks on the signal alone, run before sizing.
GATE_CHECKS: Final[tuple[tuple[str, Callable[[GateContext, RiskConfig], Refusal | None]], ...]] = (
    ("missing_confidence", check_missing_confidence),
    ("low_confidence", check_low_confidence),
    ("stale_signal", check_stale_signal),
    ("symbol_not_allowed", check_symbol_allowed),
)

#: Every check, in the order they run (the module docstring's table).
CHECKS: Final[tuple[tuple[str, Check], ...]] = (
    *GATE_CHECKS,
    ("halted", check_halted),
    ("reducing_only", check_reducing_only),
    ("reduce_only_would_increase", check_reduce_only),
    ("max_leverage", check_max_leverage),
    ("price_band", check_price_band),
    ("order_rate", check_order_rate),
    ("daily_loss", check_daily_loss),
    ("drawdown", check_drawdown),
    ("max_order_notional", check_max_order_notional),
    ("max_position_notional", check_max_position_notional),
    ("max_open_positions", check_max_open_positions),
    ("below_minimum", check_below_minimum),
    ("precision", check_precision),
    ("stop_loss_required", check_stop_loss_required),
)


class RiskEngine:
    """Runs the checks for one account's ``RiskConfig`` (already merged with its overrides)."""

    def __init__(self, config: RiskConfig) -> None:
        self._config = config

    @property
    def config(self) -> RiskConfig:
        return self._config

    def gate(self, ctx: GateContext) -> Decision:
        """Checks 1-4 (confidence, age, symbol): whether the signal is worth sizing at all."""
        return self._run(GATE_CHECKS, ctx)

    def evaluate(self, ctx: RiskContext) -> Decision:
        """Every check, in order, on the sized order."""
        return self._run(CHECKS, ctx)

    def _run(
        self,
        checks: Sequence[tuple[str, Callable[[_C, RiskConfig], Refusal | None]]],
        ctx: _C,
    ) -> Decision:
        confidence, source = effective_confidence(ctx.signal, self._config)
        data = {"min_confidence": _num(self._config.min_confidence), "confidence_source": source}
        if confidence is not None:
            data["confidence"] = _num(confidence)
        ran: list[str] = []
        for name, check in checks:
            ran.append(name)
            refusal = check(ctx, self._config)
            if refusal is not None:
                return Decision(
                    approved=False,
                    reason_code=refusal.reason_code,
                    detail=refusal.detail,
                    checks_run=tuple(ran),
                    halt=refusal.halt,
                    data=FrozenMap({**data, **refusal.data}),
                )
        return Decision(True, None, "", tuple(ran), data=FrozenMap(data))
