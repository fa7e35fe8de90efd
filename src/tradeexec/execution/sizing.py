"""How big an order is: the configured sizing mode, capped by the limits, on the venue's grid.

Steps, in order:

1. **Base quantity.** An explicit ``quantity`` or ``notional`` from the signal wins (mode
   ``signal_quantity`` / ``signal_notional``); otherwise the mode (the signal's
   ``sizing_mode`` override, else ``RiskConfig.sizing.mode``):

   ===================  ======================================================================
   ``fixed_quantity``   ``value`` contracts
   ``fixed_notional``   ``value / entry``
   ``percent_equity``   ``equity × value / entry`` (``value`` is a fraction: 0.1 = 10 %)
   ``risk``             ``equity × risk_pct / (|entry − stop| + fee_rate × (entry + stop))``:
                        the loss at the stop, entry and exit taker fees included, is at most
                        ``equity × risk_pct``. Needs a stop on the losing side of the entry.
   ===================  ======================================================================

2. **Confidence** (``sizing.scale_by_confidence``): a mode-derived quantity is multiplied by
   the confidence. Explicit sizes from the signal are taken as given.
3. **Caps**, for mode-derived sizes only (an explicit ``quantity`` / ``notional`` is never
   shrunk: it goes as asked or the risk checks refuse it). Each is recorded in ``capped_by``
   when it binds: ``max_order_notional``; the
   headroom left under ``max_position_notional`` for the position this symbol ends with;
   the leverage limit (that position's notional ≤ ``equity × leverage``). Reducing an
   opposite position first counts as headroom, so a flip can be as large as the position
   plus the limit.
4. **Rounding** down with the caller's ``round_amount`` (the venue's own precision helper);
   nothing here rounds a quantity any other way. Intermediate arithmetic rounds towards the
   smaller order, so the caps and the risk budget hold exactly.
5. **Minimums**: below the market's ``min_amount`` or ``min_notional`` is refused.

Reduce-only orders are sized to at most the opposite position (the whole of it without an
explicit size), ignore the caps (they only shrink exposure) and skip the min-notional check
(Binance exempts reduce-only orders from it; a venue that does not will refuse a dust close).

A refusal is returned, not raised: ``size_order`` answers a `SizingResult` or a `Refusal`
(the same value the risk checks return), with these reason codes:

=================================  ===========================================================
``stop_required_for_risk_sizing``  risk mode without a stop price
``invalid_stop``                   the stop is not on the losing side of the entry
``max_order_notional``             a cap leaves no room at all (the code names the cap), or
                                   an explicit size is over ``max_order_notional`` (checked
                                   before rounding, as risk check 15 would)
``max_position_notional``
``max_leverage``
``reduce_only_would_increase``     a reduce-only order with no opposite position to reduce
``below_minimum``                  rounded quantity below ``min_amount`` / ``min_notional``
``sizing_not_configured``          the signal's ``sizing_mode`` needs a ``sizing.value`` the
                                   account does not set
``out_of_range``                   the quantity has too many digits to round on the grid
=================================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from typing import Final

from tradeexec.config import RiskConfig
from tradeexec.domain import FrozenMap, Market, OrderSide
from tradeexec.execution.risk_checks import Refusal, exposure_increases, reduce_only_refusal
from tradeexec.execution.signals import Signal

__all__ = ["EXPLICIT_MODES", "Refusal", "SizingResult", "size_order", "size_signal"]

EXPLICIT_MODES: Final = frozenset({"signal_quantity", "signal_notional"})

ZERO: Final = Decimal(0)
# Directed rounding: every intermediate step errs towards the smaller order.
_DOWN: Final = Context(prec=50, rounding=ROUND_FLOOR)
_UP: Final = Context(prec=50, rounding=ROUND_CEILING)
_VENUE_DIGITS: Final = Context(prec=28, rounding=ROUND_FLOOR)


@dataclass(frozen=True, slots=True)
class SizingResult:
    """The order size. ``detail`` holds the inputs and intermediate values, as strings."""

    quantity: Decimal
    notional: Decimal
    mode: str
    capped_by: tuple[str, ...] = ()
    detail: Mapping[str, str] = field(default_factory=FrozenMap, compare=False)

    def to_record(self) -> dict[str, object]:
        return {
            "quantity": str(self.quantity),
            "notional": str(self.notional),
            "mode": self.mode,
            "capped_by": list(self.capped_by),
            "detail": dict(self.detail),
        }


def size_order(
    config: RiskConfig,
    *,
    side: OrderSide,
    equity: Decimal,
    entry_price: Decimal,
    market: Market,
    round_amount: Callable[[Decimal], Decimal],
    stop_price: Decimal | None = None,
    position_qty: Decimal = ZERO,
    quantity: Decimal | None = None,
    notional: Decimal | None = None,
    mode: str | None = None,
    fee_rate: Decimal = ZERO,
    confidence: float | None = None,
    leverage: int | None = None,
    reduce_only: bool = False,
) -> SizingResult | Refusal:
    """Size one order (see the module docstring for the steps and refusals).

    ``position_qty`` is the current signed position on this market, ``entry_price`` the
    expected fill price (limit price, or the mark for a market order), ``fee_rate`` the taker
    fee as a fraction, ``leverage`` the leverage the position will use (default: the
    configured maximum; never more than it). ``round_amount`` must round *down*.
    A refusal is returned; only a caller's mistake (a bad argument) raises ``ValueError``.
    """
    try:
        return _size_order(
            config, side, equity, entry_price, market, round_amount, stop_price, position_qty,
            quantity, notional, mode, fee_rate, confidence, leverage, reduce_only,
        )  # fmt: skip
    except _Refused as refused:
        return refused.refusal


class _Refused(Exception):
    """Carries a `Refusal` out of the sizing steps to `size_order`, which returns it."""

    def __init__(self, reason_code: str, detail: str) -> None:
        super().__init__(detail)
        self.refusal = Refusal(reason_code, detail)


def _size_order(
    config: RiskConfig,
    side: OrderSide,
    equity: Decimal,
    entry_price: Decimal,
    market: Market,
    round_amount: Callable[[Decimal], Decimal],
    stop_price: Decimal | None,
    position_qty: Decimal,
    quantity: Decimal | None,
    notional: Decimal | None,
    mode: str | None,
    fee_rate: Decimal,
    confidence: float | None,
    leverage: int | None,
    reduce_only: bool,
) -> SizingResult:
    if entry_price <= 0:
        raise ValueError(f"entry_price must be > 0, got {entry_price}")
    if quantity is not None and notional is not None:
        raise ValueError("quantity and notional are alternatives; give one")
    detail: dict[str, str] = {
        "side": side.value,
        "equity": str(equity),
        "entry_price": str(entry_price),
        "position_qty": str(position_qty),
    }
    sizing = config.sizing
    if quantity is not None:
        used_mode, base = "signal_quantity", quantity
    elif notional is not None:
        used_mode, base = "signal_notional", _DOWN.divide(notional, entry_price)
    elif reduce_only:
        used_mode, base = "close_position", abs(position_qty)
    else:
        used_mode = mode or sizing.mode
        base = _mode_quantity(config, used_mode, side, equity, entry_price, stop_price, fee_rate)
        detail["stop_price"] = str(stop_price)
        detail["fee_rate"] = str(fee_rate)
        if sizing.scale_by_confidence and confidence is not None:
            detail["confidence"] = str(confidence)
            # as written (str), never the float's binary; a probability needs no range check
            base = _DOWN.multiply(base, Decimal(str(confidence)))
    detail["mode"] = used_mode
    detail["base_quantity"] = str(base)

    capped_by: tuple[str, ...] = ()
    if reduce_only:
        wanted = _reduce_only_quantity(base, side, position_qty)
    elif used_mode in EXPLICIT_MODES:
        # an amount the caller named is sent as named or refused by the risk checks
        # (max_order_notional ...), never quietly shrunk into an order nobody asked for
        wanted = base
    else:
        wanted, capped_by = _apply_caps(
            config, base, side, equity, entry_price, position_qty, leverage, detail
        )

    if used_mode in EXPLICIT_MODES and exposure_increases(position_qty, side, wanted):
        _check_explicit_notional(config, wanted, entry_price)
    # at most 28 significant digits, cut down: the venue's helper divides in the default
    # 28-digit context, which would round a longer quantity to nearest (maybe up) first
    wanted = _VENUE_DIGITS.plus(wanted)
    try:
        rounded = round_amount(wanted)
    except ArithmeticError:  # decimal.InvalidOperation: too many digits for the grid
        raise _Refused(
            "out_of_range", f"quantity {wanted} is out of range for {market.symbol}'s grid"
        ) from None
    if rounded > wanted:
        raise ValueError(f"round_amount rounded {wanted} up to {rounded}; it must round down")
    rounded = max(rounded, ZERO)
    detail["quantity"] = str(rounded)
    result_notional = rounded * entry_price
    _check_minimums(market, rounded, result_notional, reduce_only, capped_by, detail)
    return SizingResult(rounded, result_notional, used_mode, capped_by, FrozenMap(detail))


def size_signal(
    config: RiskConfig,
    signal: Signal,
    *,
    side: OrderSide,
    equity: Decimal,
    entry_price: Decimal,
    market: Market,
    round_amount: Callable[[Decimal], Decimal],
    position_qty: Decimal = ZERO,
    fee_rate: Decimal = ZERO,
    leverage: int | None = None,
) -> SizingResult | Refusal:
    """``size_order`` with the signal's explicit size, mode, stop and confidence.

    A ``target_position`` signal is sized as ``|target − position|`` (its ``side`` is the
    caller's, derived from the same difference).
    """
    quantity = signal.quantity
    if signal.target_position is not None:
        quantity = abs(signal.target_position - position_qty)
    return size_order(
        config,
        side=side,
        equity=equity,
        entry_price=entry_price,
        market=market,
        round_amount=round_amount,
        stop_price=signal.stop_loss,
        position_qty=position_qty,
        quantity=quantity,
        notional=signal.notional,
        mode=signal.sizing_mode,
        fee_rate=fee_rate,
        confidence=signal.confidence,
        leverage=leverage if leverage is not None else signal.leverage,
        reduce_only=signal.reduce_only,
    )


# --------------------------------------------------------------------------- steps


def _mode_quantity(
    config: RiskConfig,
    mode: str,
    side: OrderSide,
    equity: Decimal,
    entry: Decimal,
    stop: Decimal | None,
    fee_rate: Decimal,
) -> Decimal:
    sizing = config.sizing
    if mode == "risk":
        if stop is None:
            raise _Refused(
                "stop_required_for_risk_sizing",
                "risk-based sizing needs a stop_loss (or give a quantity or notional)",
            )
        losing_side = stop < entry if side is OrderSide.BUY else stop > entry
        if not losing_side:
            where = "below" if side is OrderSide.BUY else "above"
            raise _Refused(
                "invalid_stop",
                f"stop_loss {stop} must be {where} the entry for a "
                f"{'long' if side is OrderSide.BUY else 'short'}: {entry}",
            )
        budget = _DOWN.multiply(max(equity, ZERO), sizing.risk_pct)
        # Loss per unit at the stop: the price move plus the taker fee on both fills.
        per_unit = _UP.add(abs(entry - stop), _UP.multiply(fee_rate, _UP.add(entry, stop)))
        return _DOWN.divide(budget, per_unit)
    value = sizing.value
    if value is None:
        # a signal may pick a mode (sizing_mode) the account has no value for: a refusal,
        # not an exception escaping the pipeline
        raise _Refused(
            "sizing_not_configured",
            f"sizing mode {mode!r} needs risk.sizing.value, which this account does not set "
            "(give a quantity or notional, or configure the mode)",
        )
    if mode == "fixed_quantity":
        return value
    if mode == "fixed_notional":
        return _DOWN.divide(value, entry)
    if mode == "percent_equity":
        return _DOWN.divide(_DOWN.multiply(max(equity, ZERO), value), entry)
    raise ValueError(f"unknown sizing mode {mode!r}")


def _apply_caps(
    config: RiskConfig,
    base: Decimal,
    side: OrderSide,
    equity: Decimal,
    entry: Decimal,
    position_qty: Decimal,
    leverage: int | None,
    detail: dict[str, str],
) -> tuple[Decimal, tuple[str, ...]]:
    caps: list[tuple[str, Decimal]] = []  # (name, the most notional the order may have)
    if config.max_order_notional is not None:
        caps.append(("max_order_notional", config.max_order_notional))
    if config.max_position_notional is not None:
        caps.append(
            (
                "max_position_notional",
                _order_room(config.max_position_notional, side, position_qty, entry),
            )
        )
    used_leverage = min(leverage or config.max_leverage, config.max_leverage)
    detail["leverage"] = str(used_leverage)
    leverage_limit = _DOWN.multiply(max(equity, ZERO), Decimal(used_leverage))
    caps.append(("max_leverage", _order_room(leverage_limit, side, position_qty, entry)))

    quantity, capped_by = base, []
    for name, room in caps:
        detail[f"{name}_room"] = str(room)
        if room <= 0:
            raise _Refused(name, f"no room left under {name} (room {room}, {_context(detail)})")
        cap = _DOWN.divide(room, entry)
        if quantity > cap:
            quantity = cap
            capped_by.append(name)
    return quantity, tuple(capped_by)


def _check_explicit_notional(config: RiskConfig, quantity: Decimal, entry: Decimal) -> None:
    """An explicit size that adds exposure over ``max_order_notional`` is refused here, before
    any rounding: the risk check would refuse it anyway, and a huge one is not worth a
    quantize."""
    limit = config.max_order_notional
    if limit is None:
        return
    notional = _UP.multiply(quantity, entry)
    if notional > limit:
        raise _Refused(
            "max_order_notional", f"order notional {notional} > max {limit} (quantity {quantity})"
        )


def _order_room(limit: Decimal, side: OrderSide, position_qty: Decimal, entry: Decimal) -> Decimal:
    """The largest order notional after which the position's notional is ≤ ``limit``."""
    held = _UP.multiply(abs(position_qty), entry)
    same_direction = position_qty == 0 or (position_qty > 0) == (side is OrderSide.BUY)
    if same_direction:
        return _DOWN.subtract(limit, held)
    # Closing the opposite position first frees its notional, then ``limit`` more.
    return _DOWN.add(_DOWN.multiply(abs(position_qty), entry), limit)


def _reduce_only_quantity(base: Decimal, side: OrderSide, position_qty: Decimal) -> Decimal:
    opposite = (position_qty > 0 and side is OrderSide.SELL) or (
        position_qty < 0 and side is OrderSide.BUY
    )
    if not opposite:
        refusal = reduce_only_refusal(side, position_qty)
        raise _Refused(refusal.reason_code, refusal.detail)
    return min(base, abs(position_qty))


def _check_minimums(
    market: Market,
    quantity: Decimal,
    notional: Decimal,
    reduce_only: bool,
    capped_by: tuple[str, ...],
    detail: Mapping[str, str],
) -> None:
    capped = f" (capped by {', '.join(capped_by)})" if capped_by else ""
    if quantity <= 0:
        raise _Refused("below_minimum", f"the order sizes to 0{capped}; {_context(detail)}")
    if market.min_amount is not None and quantity < market.min_amount:
        raise _Refused(
            "below_minimum",
            f"quantity {quantity} < min amount {market.min_amount} for {market.symbol}"
            f"{capped}; {_context(detail)}",
        )
    if not reduce_only and market.min_notional is not None and notional < market.min_notional:
        raise _Refused(
            "below_minimum",
            f"notional {notional} < min notional {market.min_notional} for {market.symbol}"
            f"{capped}; {_context(detail)}",
        )


def _context(detail: Mapping[str, str]) -> str:
    keys = ("mode", "equity", "entry_price", "stop_price", "base_quantity")
    return ", ".join(f"{k}={detail[k]}" for k in keys if k in detail)
