"""Pre-trade risk: small pure checks in a fixed order, and the account's trading state.

Each check is a function ``(context, config) -> Refusal | None``. ``RiskEngine`` runs them
in the order below and turns the first ``Refusal`` into a refused ``Verdict`` (the rest are
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
10     ``invalid_stop``                the stop-loss is not below the entry for  --
                                       a long (above for a short); the entry is
                                       the limit price, else the mark (a
                                       marketable limit: the mark)
11     ``invalid_take_profit``         the take-profit is not above the entry    --
                                       for a long (below for a short)
12     ``order_rate``                  orders in the last 60 s                   yes
                                       ≥ ``max_orders_per_minute``
13     ``daily_loss``                  today's realized PnL                      no
                                       ≤ −``daily_loss_limit``; **halt**
14     ``drawdown``                    equity fell ``max_drawdown_pct`` or more  no
                                       below start-of-day equity; **halt**
15     ``max_order_notional``          order notional > ``max_order_notional``   no
16     ``max_position_notional``       resulting position notional > limit       no
17     ``max_open_positions``          a new position while                      no
                                       ``max_open_positions`` are open
18     ``below_minimum``               quantity < market min amount, or          min amount
                                       notional < min notional                   only
19     ``precision``                   quantity, limit, stop-loss or take-       yes
                                       profit price changes under the venue's
                                       own rounding (``round_amount`` /
                                       ``round_price``)
20     ``stop_loss_required``          ``require_stop_loss`` and an order that   no
                                       adds exposure has no stop_loss
=====  ==============================  ========================================  ========

A check that cannot compute (``decimal.InvalidOperation`` from the venue's rounding of a
number far too large for its grid) refuses as ``out_of_range`` instead of raising.

"reducing" says whether the check also applies to an order that only reduces the position
(no: reducing a position is never what a notional, leverage or loss limit guards against,
and refusing it would trap the trader in the risk the limit exists to cut). Notional is
valued at the order's limit price, else the mark price. The stop-loss and take-profit
checks (10, 11, and their part of 19) apply only to an order that opens or adds exposure
and is not reduce-only: only then are the legs placed.

These checks see the prices that will be *placed*: ``RiskGate`` first moves an off-grid
stop or target onto the venue's grid towards the entry (``leg_prices.py``: a stop never
further from the entry than asked) and reports the rounding, so ``precision`` refuses only
a quantity or limit price off the grid. Everything here runs before anything is sent, on
every sizing path (explicit quantity or notional, the sizing modes, ``target_position``):
a stop on the wrong side costs no entry, no fees and no flatten.

Trading states (``TradingState``): ACTIVE lets everything through; REDUCING only orders that
reduce exposure; HALTED refuses every order except explicit operator close / flatten
requests that reduce (``RiskContext.operator_close``). Cancels never come through here: they
are always allowed. ``Verdict.halt`` is set by ``daily_loss`` and ``drawdown``: the caller
should move the account to HALTED and record why (the pipeline does, in the store).

``min_confidence`` resolution: the per-account ``risk:`` overrides (and a plugin's own
``min_confidence=``) are merged into the ``RiskConfig`` this engine gets, falling back to the
global ``RiskConfig.min_confidence``; a signal cannot lower it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

from tradeexec.config import RiskConfig
from tradeexec.domain import FrozenMap
from tradeexec.errors import RiskRejected
from tradeexec.execution.risk_checks import (
    AGENT_SOURCES,
    GateContext,
    Refusal,
    RiskContext,
    as_written,
    check_below_minimum,
    check_daily_loss,
    check_drawdown,
    check_halted,
    check_low_confidence,
    check_max_leverage,
    check_max_open_positions,
    check_max_order_notional,
    check_max_position_notional,
    check_missing_confidence,
    check_order_rate,
    check_precision,
    check_price_band,
    check_reduce_only,
    check_reducing_only,
    check_stale_signal,
    check_stop_loss_required,
    check_stop_side,
    check_symbol_allowed,
    check_take_profit_side,
    effective_confidence,
    exposure_increases,
)

__all__ = [
    "AGENT_SOURCES",
    "CHECKS",
    "GATE_CHECKS",
    "Check",
    "GateContext",
    "Refusal",
    "RiskContext",
    "RiskEngine",
    "Verdict",
    "effective_confidence",
    "exposure_increases",
]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a run of checks (the pre-trade `riskgate.Decision` is built from it).

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
    ("invalid_stop", check_stop_side),
    ("invalid_take_profit", check_take_profit_side),
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

    def gate(self, ctx: GateContext) -> Verdict:
        """Checks 1-4 (confidence, age, symbol): whether the signal is worth sizing at all."""
        return self._run(GATE_CHECKS, ctx)

    def evaluate(self, ctx: RiskContext) -> Verdict:
        """Every check, in order, on the sized order."""
        return self._run(CHECKS, ctx)

    def _run(
        self,
        checks: Sequence[tuple[str, Callable[[_C, RiskConfig], Refusal | None]]],
        ctx: _C,
    ) -> Verdict:
        confidence, source = effective_confidence(ctx.signal, self._config)
        data = {
            "min_confidence": as_written(self._config.min_confidence),
            "confidence_source": source,
        }
        if confidence is not None:
            data["confidence"] = as_written(confidence)
        ran: list[str] = []
        for name, check in checks:
            ran.append(name)
            try:
                refusal = check(ctx, self._config)
            except ArithmeticError as exc:  # a quantize on a number far too large for the grid
                refusal = Refusal(
                    "out_of_range", f"{name}: a number is out of range to compute with ({exc!r})"
                )
            if refusal is not None:
                return Verdict(
                    approved=False,
                    reason_code=refusal.reason_code,
                    detail=refusal.detail,
                    checks_run=tuple(ran),
                    halt=refusal.halt,
                    data=FrozenMap({**data, **refusal.data}),
                )
        return Verdict(True, None, "", tuple(ran), data=FrozenMap(data))
