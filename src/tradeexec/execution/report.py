"""What happened to one signal, as a value: the pipeline's answer to every surface.

``to_dict()`` is the dict shape of the original plugin API (``success``, ``order_id``,
``filled_quantity``, ``average_price``, ``timestamp``) plus what a serious caller needs:
``status``, ``reason`` (a stable machine code), ``error`` (text), the stop and target order
ids, the signal id (for ``tradeexec signal show``), and exact decimal strings under
``exact``. The legacy numbers are floats because the original API promised floats.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeexec import errors
from tradeexec.domain import BRACKET_ROLES, Order, OrderRole, OrderStatus
from tradeexec.execution.journal import order_from_record
from tradeexec.numeric import decimal_text
from tradeexec.signal_state import SUCCESSFUL, SignalStatus

if TYPE_CHECKING:
    from tradeexec.execution.riskgate import Decision
    from tradeexec.execution.signals import Signal
    from tradeexec.store.records import OrderRecord, SignalRecord

#: report statuses that mean the request was carried out (a signal status, or a duplicate's
#: answer, whose success is the original's)
SUCCESS = frozenset(s.value for s in SUCCESSFUL)
#: the roles whose answer is the signal's own (what ``order_id`` and ``filled_quantity`` are)
_ENTRY_ROLES = (OrderRole.ENTRY, OrderRole.CLOSE)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class ExecutionReport:
    # a signal status (signal_state.SignalStatus: filled, accepted, partially_done, rejected,
    # failed, flattened, expired, noop), or ``in_progress`` (not ended yet: an order's outcome
    # is being resolved), or ``duplicate`` (a re-delivery: ``original_status`` says what the
    # first delivery came to)
    status: str
    idempotency_key: str
    symbol: str
    account: str | None = None
    signal_id: int | None = None
    reason: str | None = None
    error: str | None = None
    quantity: Decimal | None = None
    orders: Mapping[str, Order] = field(default_factory=dict)
    duplicate_order_id: str | None = None
    warnings: tuple[str, ...] = ()
    confidence: float | None = None
    min_confidence: float | None = None
    original_status: str | None = None  # a duplicate: what the first delivery came to
    original_reason: str | None = None  # ... and why
    timestamp: int = field(default_factory=_now_ms)

    # ------------------------------------------------------------ builders
    @classmethod
    def _base(cls, signal: Signal, signal_id: int | None, **kw: Any) -> ExecutionReport:
        return cls(
            idempotency_key=signal.idempotency_key,
            symbol=signal.symbol,
            account=signal.account,
            signal_id=signal_id,
            confidence=signal.confidence,
            **kw,
        )

    @classmethod
    def started(cls, signal: Signal, signal_id: int, decision: Decision) -> ExecutionReport:
        return cls._base(
            signal,
            signal_id,
            status="noop",
            quantity=decision.quantity,
            min_confidence=decision.min_confidence,
        )

    @classmethod
    def rejected(cls, signal: Signal, signal_id: int, decision: Decision) -> ExecutionReport:
        return cls._base(
            signal,
            signal_id,
            status="rejected",
            reason=decision.reason_code,
            error=decision.detail,
            min_confidence=decision.min_confidence,
        )

    @classmethod
    def failure(
        cls, signal: Signal, signal_id: int | None, exc: errors.TradeExecError
    ) -> ExecutionReport:
        status = "unknown" if isinstance(exc, errors.OrderOutcomeUnknown) else "failed"
        reason = getattr(exc, "reason_code", None) or exc.code
        return cls._base(signal, signal_id, status=status, reason=reason, error=str(exc))

    @classmethod
    def begun(cls, signal: Signal, signal_id: int | None) -> ExecutionReport:
        return cls._base(signal, signal_id, status="in_progress")

    @classmethod
    def ended(
        cls, signal: Signal, signal_id: int, status: SignalStatus, reason: str, detail: str
    ) -> ExecutionReport:
        return cls._base(signal, signal_id, status=status.value, reason=reason, error=detail)

    @classmethod
    def conflict(cls, signal: Signal, signal_id: int, diff: Mapping[str, Any]) -> ExecutionReport:
        fields = ", ".join(sorted(diff))
        return cls._base(
            signal,
            signal_id,
            status="rejected",
            reason="idempotency_conflict",
            error=f"this idempotency key was first used for a different signal ({fields} "
            "differ); nothing was sent. Use a new key for a new signal",
        )

    @classmethod
    def duplicate(
        cls, signal: Signal, record: SignalRecord, orders: list[OrderRecord]
    ) -> ExecutionReport:
        """A re-delivered key, answered from the store: the first delivery's true status,
        reason and orders (``in_progress`` while it has not ended)."""
        by_role: dict[str, Order] = {}
        for order in orders:  # the newest per role ("flatten" is stored as a close)
            by_role[order.role] = order_from_record(order)
        entry = next((o for o in orders if o.role in _ENTRY_ROLES), None)
        ended = SignalStatus(record.status).is_terminal or record.status == "accepted"
        what = f"first delivery came to {record.status}" if ended else "first delivery is running"
        return cls._base(
            signal,
            record.id,
            status="duplicate" if ended else "in_progress",
            reason="duplicate_signal",
            orders=by_role,
            duplicate_order_id=entry.exchange_order_id if entry else None,
            error=f"this idempotency key was already received ({what}); nothing was sent",
            original_status=record.status,
            original_reason=record.status_reason,
        )

    def as_original(self) -> ExecutionReport:
        """A duplicate-shaped answer as the original's own (a resume that found it ended)."""
        return replace(
            self,
            status=self.original_status or self.status,
            reason=self.original_reason,
            error=None,
            original_status=None,
            original_reason=None,
        )

    def with_quantity(self, quantity: Decimal) -> ExecutionReport:
        return replace(self, quantity=quantity)

    def in_progress(self, exc: errors.TradeExecError) -> ExecutionReport:
        return replace(
            self,
            status="in_progress",
            reason=exc.code,
            error=f"{exc}. The order MAY have been placed: tradeexec resolves it by client "
            "id and finishes the signal; re-send the same idempotency key for the outcome",
        )

    def failed(self, exc: errors.TradeExecError, status: SignalStatus) -> ExecutionReport:
        reason = getattr(exc, "reason_code", None) or exc.code
        return replace(self, status=status.value, reason=reason, error=str(exc))

    def ended_as(self, status: SignalStatus, reason: str, detail: str) -> ExecutionReport:
        return replace(self, status=status.value, reason=reason, error=detail)

    def partly(self, detail: str) -> ExecutionReport:
        return replace(
            self, status=SignalStatus.PARTIALLY_DONE.value, reason="partially_done", error=detail
        )

    def with_order(self, role: str, order: Order | None) -> ExecutionReport:
        if order is None:
            return self
        orders = {**self.orders, role: order}
        status, warnings = self.status, self.warnings
        if role in _ENTRY_ROLES:
            status = "filled" if order.status is OrderStatus.FILLED else "accepted"
            if order.status.is_terminal and order.status is not OrderStatus.FILLED:
                # an expired / cancelled remainder: what filled stands; nothing filled failed
                status = "filled" if order.filled_quantity > 0 else "rejected"
                if 0 < order.filled_quantity < order.quantity:  # say so: not all of it
                    warnings = (
                        *warnings,
                        f"the {role} filled {decimal_text(order.filled_quantity)} of "
                        f"{decimal_text(order.quantity)}; the rest was {order.status.value}",
                    )
        return replace(self, orders=orders, status=status, warnings=warnings)

    def with_warning(self, text: str) -> ExecutionReport:
        return replace(self, warnings=(*self.warnings, text))

    def flattened(self, exc: errors.TradeExecError) -> ExecutionReport:
        return replace(
            self,
            status="flattened",
            reason="stop_loss_failed",
            error=f"stop-loss could not be placed, position closed: {exc}",
        )

    # -------------------------------------------------------------- views
    @property
    def success(self) -> bool:
        """True only if the request was carried out; a duplicate's is the original's."""
        if self.original_status is not None:
            return self.original_status in SUCCESS
        return self.status in SUCCESS

    @property
    def entry(self) -> Order | None:
        return self.orders.get(OrderRole.ENTRY) or self.orders.get(OrderRole.CLOSE)

    @property
    def filled_quantity(self) -> Decimal | None:
        return self.entry.filled_quantity if self.entry else None

    @property
    def average_price(self) -> Decimal | None:
        return self.entry.average_price if self.entry else None

    def to_dict(self) -> dict[str, Any]:
        entry = self.entry
        out: dict[str, Any] = {
            "success": self.success,
            "status": self.status,
            "signal_id": self.signal_id,
            "idempotency_key": self.idempotency_key,
            "symbol": entry.symbol if entry else self.symbol,
            "timestamp": entry.timestamp if entry and entry.timestamp else self.timestamp,
        }
        if entry is not None:
            out.update(
                order_id=entry.id,
                client_order_id=entry.client_order_id,
                filled_quantity=float(entry.filled_quantity),
                average_price=float(entry.average_price) if entry.average_price else None,
            )
        elif self.duplicate_order_id is not None:
            out["order_id"] = self.duplicate_order_id
        if self.original_status is not None:
            out["original_status"] = self.original_status
            out["original_reason"] = self.original_reason
        for role in BRACKET_ROLES:
            if role in self.orders:
                out[f"{role}_order_id"] = self.orders[role].id
        if not self.success or self.reason:
            out.update(reason=self.reason, error=self.error)
        if self.status == "rejected" and self.reason in ("low_confidence", "missing_confidence"):
            out.update(confidence=self.confidence, min_confidence=self.min_confidence)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        out["exact"] = {
            k: decimal_text(v)
            for k, v in (
                ("quantity", self.quantity),
                ("filled_quantity", self.filled_quantity),
                ("average_price", self.average_price),
            )
            if v is not None
        }
        return out
