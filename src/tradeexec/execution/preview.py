"""A dry run: what a signal would send, decided by the same gate, sizing and risk checks as the
real thing, with nothing recorded and nothing sent.

The answer lists the exact orders in the order they would go out - the closing part, the
entry, then the stop and the target sized to the entry - with quantities and prices after the
venue's rounding, or the refusal's reason code and detail. An agent (the MCP server's
``preview_order``) reads it before committing; a confirmation token can be bound to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from tradeexec.exchanges.factory import ExchangeManager
from tradeexec.execution.brackets import bracket_legs
from tradeexec.execution.ids import derive_client_order_id
from tradeexec.execution.planning import plan_entries
from tradeexec.execution.riskgate import RiskGate
from tradeexec.execution.signals import Signal
from tradeexec.numeric import decimal_text

__all__ = ["Preview", "preview_signal"]


@dataclass(frozen=True)
class Preview:
    account: str
    symbol: str  # the venue's symbol
    approved: bool
    reason: str | None = None  # the refusing check's stable code
    detail: str = ""
    orders: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()
    sizing: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "account": self.account,
            "symbol": self.symbol,
            "approved": self.approved,
            "orders": list(self.orders),
        }
        if not self.approved:
            out.update(reason=self.reason, detail=self.detail)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


def _order_view(role: str, request: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "role": role,
        "side": request.side.value,
        "type": request.type.value,
        "quantity": decimal_text(request.quantity),
        "reduce_only": request.reduce_only,
    }
    if request.price is not None:
        view["price"] = decimal_text(request.price)
    if request.trigger_price is not None:
        view["trigger_price"] = decimal_text(request.trigger_price)
    return view


async def preview_signal(manager: ExchangeManager, gate: RiskGate, signal: Signal) -> Preview:
    """Decide ``signal`` as the pipeline would, and list what it would send."""
    account = signal.account or manager.default_name()
    signal = replace(signal, account=account)
    trader = await manager.get(account)
    symbol = trader.resolve_symbol(signal.symbol)
    decision = await gate.decide(trader, signal, symbol)
    if not decision.approved:
        return Preview(
            account,
            symbol,
            False,
            decision.reason_code,
            decision.detail,
            warnings=decision.warnings,
            sizing=decision.sizing,
        )
    plans = plan_entries(signal, symbol, decision.quantity, decision.position, decision.closing)
    orders: list[dict[str, Any]] = []
    for plan in plans:
        request = replace(
            plan.request, quantity=trader.amount_to_precision(symbol, plan.request.quantity)
        )
        if request.price is not None:
            request = replace(request, price=trader.price_to_precision(symbol, request.price))
        orders.append(_order_view(plan.role, request))
    if plans and plans[-1].opens:
        entry = plans[-1].request
        fmt = trader.capabilities.client_id_format
        legs = bracket_legs(
            symbol,
            entry.side,
            trader.amount_to_precision(symbol, entry.quantity),
            stop_loss=decision.stop_loss,
            take_profit=decision.take_profit,
            client_id=lambda role: derive_client_order_id(signal.idempotency_key, role, fmt),
        )
        orders += [_order_view(leg.role, leg.request) for leg in legs]
    detail = decision.detail or ("nothing to do" if not orders else "")
    return Preview(
        account,
        symbol,
        True,
        detail=detail,
        orders=tuple(orders),
        warnings=decision.warnings,
        sizing=decision.sizing,
    )
