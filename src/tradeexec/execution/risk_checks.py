"""The pre-trade checks: small pure functions ``(context, config) -> Refusal | None``.

``risk.py`` holds the order they run in (its docstring's table, with every reason code) and
the engine that runs them; this module holds what they look at (``GateContext``,
``RiskContext``) and the checks themselves. Everything is importable from ``risk.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Context, Decimal
from typing import Final

from tradeexec.config import RiskConfig
from tradeexec.domain import (
    FrozenMap,
    Market,
    OrderSide,
    OrderType,
    Position,
    SignalSource,
    TradingState,
    net_position,
)
from tradeexec.execution.signals import Signal

__all__ = [
    "AGENT_SOURCES",
    "GateContext",
    "Refusal",
    "RiskContext",
    "as_written",
    "effective_confidence",
    "exposure_increases",
    "reduce_only_refusal",
]

ZERO: Final = Decimal(0)
#: Sources that speak for an AI agent: they must state a confidence.
AGENT_SOURCES: Final = frozenset({SignalSource.AGENT, SignalSource.MCP})
# Wide enough that a percentage of any two numbers in the sane range (1e-12 .. 1e15)
# quantizes without decimal.InvalidOperation.
_WIDE: Final = Context(prec=60)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why one check refused. ``halt``: the account should stop trading (loss limits)."""

    reason_code: str
    detail: str
    halt: bool = False
    data: Mapping[str, str] = field(default_factory=FrozenMap)


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
    ``stop_loss`` / ``take_profit`` are the protective prices that will be placed, already
    on the venue's grid (``leg_prices.protective_prices``); default: the signal's.
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
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "positions", tuple(self.positions))
        if self.stop_loss is None:
            object.__setattr__(self, "stop_loss", self.signal.stop_loss)
        if self.take_profit is None:
            object.__setattr__(self, "take_profit", self.signal.take_profit)
        if self.symbol is None:
            object.__setattr__(self, "symbol", self.market.symbol)
        if self.mark_price <= 0:
            raise ValueError(f"mark_price must be > 0, got {self.mark_price}")

    @property
    def position_qty(self) -> Decimal:
        """The signed position on this market now."""
        return net_position(self.positions, self.market.symbol)

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
    def entry_reference(self) -> tuple[Decimal, str]:
        """The price the entry is expected to fill at, and what it is: a buy's limit above
        the mark fills near the mark (a sell's below it likewise), so a buy is judged at the
        lower of its limit and the mark, a sell at the higher; a market order at the mark."""
        limit = self.order_price
        if limit is None:
            return self.mark_price, "mark"
        buy = self.side is OrderSide.BUY
        if (limit <= self.mark_price) if buy else (limit >= self.mark_price):
            return limit, "limit price"
        return self.mark_price, "mark (the limit is marketable)"

    @property
    def places_legs(self) -> bool:
        """A stop-loss / take-profit is placed after this order: it opens or adds exposure
        (closes and reduce-only orders ignore them)."""
        return self.increases_exposure and not self.signal.reduce_only

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


def as_written(value: object) -> str:
    """A config or signal number as people write it (floats via str, never their binary)."""
    return str(value) if isinstance(value, float) else str(Decimal(str(value)))


def check_missing_confidence(ctx: GateContext, config: RiskConfig) -> Refusal | None:
    if effective_confidence(ctx.signal, config)[1] != "missing":
        return None
    return Refusal(
        "missing_confidence",
        f"an {ctx.signal.source.value} signal must state its confidence (0..1); "
        f"min {as_written(config.min_confidence)}",
    )


def check_low_confidence(ctx: GateContext, config: RiskConfig) -> Refusal | None:
    confidence, source = effective_confidence(ctx.signal, config)
    if confidence is None or Decimal(str(confidence)) >= Decimal(str(config.min_confidence)):
        return None
    which = "confidence" if source == "signal" else "default confidence"
    return Refusal(
        "low_confidence",
        f"{which} {as_written(confidence)} < min {as_written(config.min_confidence)}",
    )


def check_stale_signal(ctx: GateContext, config: RiskConfig) -> Refusal | None:
    limit = timedelta(seconds=config.max_signal_age_s)
    age = ctx.now - ctx.signal.created_at
    if age > limit:
        return Refusal(
            "stale_signal",
            f"signal is {age.total_seconds():.1f} s old "
            f"> max {as_written(config.max_signal_age_s)} s",
            data=FrozenMap({"age_s": f"{age.total_seconds():.3f}"}),
        )
    if -age > limit:
        return Refusal(
            "stale_signal",
            f"signal time is {-age.total_seconds():.1f} s in the future "
            f"(> {as_written(config.max_signal_age_s)} s): a clock is wrong",
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


def reduce_only_refusal(
    side: OrderSide, position: Decimal, quantity: Decimal | None = None
) -> Refusal:
    """The one refusal of a reduce-only order that has nothing to reduce (the decision, sizing
    and check 7 all say it this way)."""
    order = side.value if quantity is None else f"{side.value} of {quantity}"
    return Refusal(
        "reduce_only_would_increase",
        f"reduce-only {order} with position {position}: nothing to reduce (it would open, "
        "add to or flip it)",
    )


def check_reduce_only(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    if not ctx.signal.reduce_only or not ctx.increases_exposure:
        return None
    return reduce_only_refusal(ctx.side, ctx.position_qty, ctx.quantity)


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


def check_stop_side(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    """A long's stop below the entry, a short's above: the venue refuses (or fires at once)
    a stop on the wrong side, and by then the entry has filled."""
    return _protective_side(ctx, "stop_loss", ctx.stop_loss, losing=True)


def check_take_profit_side(ctx: RiskContext, config: RiskConfig) -> Refusal | None:
    """A long's target above the entry, a short's below."""
    return _protective_side(ctx, "take_profit", ctx.take_profit, losing=False)


def _protective_side(
    ctx: RiskContext, name: str, price: Decimal | None, *, losing: bool
) -> Refusal | None:
    if price is None or not ctx.places_legs:
        return None
    entry, what = ctx.entry_reference
    long = ctx.side is OrderSide.BUY
    below = long if losing else not long  # where the price must be
    if (price < entry) if below else (price > entry):
        return None
    code = "invalid_stop" if losing else "invalid_take_profit"
    return Refusal(
        code,
        f"{name} {price} must be {'below' if below else 'above'} the entry for a "
        f"{'long' if long else 'short'}: {what} {entry}",
        data=FrozenMap({name: str(price), "entry_reference": str(entry)}),
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
    legs = ctx.places_legs
    for name, price in (
        ("limit price", ctx.order_price),
        ("stop_loss", ctx.stop_loss if legs else None),
        ("take_profit", ctx.take_profit if legs else None),
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
    return f"{_WIDE.multiply(fraction, Decimal(100)).quantize(Decimal('0.01'), context=_WIDE)} %"
