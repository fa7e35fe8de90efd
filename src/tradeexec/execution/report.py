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
from tradeexec.domain import Order, OrderStatus

if TYPE_CHECKING:
    from tradeexec.execution.riskgate import Decision
    from tradeexec.execution.signals import Signal
    from tradeexec.store.records import OrderRecord

SUCCESS = frozenset({"filled", "accepted", "duplicate", "noop"})
FAILED = frozenset({"rejected", "failed", "unknown", "flattened"})


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class ExecutionReport:
    status: str  # filled | accepted | noop | duplicate | rejected | failed | unknown | flattened
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
    def duplicate(
        cls,
        signal: Signal,
        signal_id: int,
        entry: OrderRecord | None,
        original_status: str | None = None,
    ) -> ExecutionReport:
        return cls._base(
            signal,
            signal_id,
            status="duplicate",
            reason="duplicate_signal",
            duplicate_order_id=entry.exchange_order_id if entry else None,
            error="this idempotency key was already executed; nothing was sent",
            original_status=original_status,
        )

    def with_order(self, role: str, order: Order | None) -> ExecutionReport:
        if order is None:
            return self
        orders = {**self.orders, role: order}
        status = self.status
        if role in ("entry", "close"):
            status = "filled" if order.status is OrderStatus.FILLED else "accepted"
            if order.status.is_terminal and order.status is not OrderStatus.FILLED:
                # an expired / cancelled remainder: what filled stands; nothing filled failed
                status = "filled" if order.filled_quantity > 0 else "rejected"
        return replace(self, orders=orders, status=status)

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
        """A duplicate of a refused or failed signal is no success either."""
        return self.status in SUCCESS and self.original_status not in FAILED

    @property
    def entry(self) -> Order | None:
        return self.orders.get("entry") or self.orders.get("close")

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
        for role in ("stop_loss", "take_profit"):
            if role in self.orders:
                out[f"{role}_order_id"] = self.orders[role].id
        if not self.success or self.reason:
            out.update(reason=self.reason, error=self.error)
        if self.status == "rejected" and self.reason in ("low_confidence", "missing_confidence"):
            out.update(confidence=self.confidence, min_confidence=self.min_confidence)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        out["exact"] = {
            k: str(v)
            for k, v in (
                ("quantity", self.quantity),
                ("filled_quantity", self.filled_quantity),
                ("average_price", self.average_price),
            )
            if v is not None
        }
        return out
