"""Compact JSON views for tool outputs (a model's context is small): no venue payloads, no
nulls, exact decimal strings, long text cut; and what would pass a refusal, where it can be
computed from the account's limits and the venue's price."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from tradeexec.config.models import RiskConfig
from tradeexec.domain import Order
from tradeexec.execution.signals import Signal
from tradeexec.mcp_server.guards import max_quantity
from tradeexec.numeric import decimal_text
from tradeexec.store.records import SignalTimeline

__all__ = ["clip", "order_view", "plain", "plain_dict", "story", "would_pass"]

_NOISE = frozenset({"info", "raw"})  # the venue's raw answer; the request as received
_MAX_TEXT = 300
_MAX_ITEMS = 50
_LAST_EVENTS = 15


def clip(text: str, limit: int = _MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(value: Any, drop: Iterable[str] = ()) -> Any:
    """JSON-ready: dataclasses and mappings as dicts without nulls, noise or ``drop``,
    Decimals as exact strings, enums as values, times ISO 8601, text cut to a few hundred
    characters, lists to fifty items."""
    dropped = _NOISE | set(drop)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return clip(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {
            str(k): plain(v)
            for k, v in value.items()
            if v is not None and str(k) not in dropped and v != {}
        }
    if isinstance(value, Iterable):
        items = [plain(v) for v in value]
        if len(items) > _MAX_ITEMS:
            return [*items[:_MAX_ITEMS], f"... {len(items) - _MAX_ITEMS} more"]
        return items
    return clip(str(value))


def plain_dict(value: Any, drop: Iterable[str] = ()) -> dict[str, Any]:
    """`plain` for a mapping or a dataclass."""
    out = plain(value, drop)
    assert isinstance(out, dict)
    return out


def order_view(order: Order) -> dict[str, Any]:
    view = plain_dict(order, drop=("fee_currency",))
    if not order.filled_quantity:
        view.pop("filled_quantity", None)
    if not order.reduce_only:
        view.pop("reduce_only", None)
    return view


def story(timeline: SignalTimeline) -> dict[str, Any]:
    """One signal's story, short: the request, each decision, each order with its state
    path and fills, and the last events."""
    s = timeline.signal
    request = {k: v for k, v in s.payload.items() if k not in ("raw", "source", "account")}
    out: dict[str, Any] = {
        "signal": plain(
            {
                "id": s.id,
                "idempotency_key": s.idempotency_key,
                "account": s.account,
                "symbol": s.symbol,
                "source": s.source,
                "status": s.status,
                "reason": s.status_reason,
                "recorded_at": s.created_at,
                "request": request,
            }
        ),
        "decisions": [
            plain({"approved": d.approved, "reason": d.reason_code, "detail": d.detail or None})
            for d in timeline.decisions
        ],
        "orders": [
            plain(
                {
                    "role": o.order.role,
                    "side": o.order.side,
                    "type": o.order.order_type,
                    "quantity": o.order.quantity,
                    "price": o.order.price,
                    "trigger_price": o.order.trigger_price,
                    "status": o.order.status,
                    "filled": o.order.filled_quantity or None,
                    "average_price": o.order.average_price,
                    "order_id": o.order.exchange_order_id,
                    "client_order_id": o.order.client_order_id,
                    "path": " > ".join(h.to_status for h in o.history) or None,
                    "fills": [
                        {"quantity": f.quantity, "price": f.price, "fee": f.fee} for f in o.fills
                    ]
                    or None,
                }
            )
            for o in timeline.orders
        ],
    }
    events = timeline.events[-_LAST_EVENTS:]
    out["events"] = [f"{e.at.isoformat(timespec='seconds')} {e.kind}" for e in events]
    if len(timeline.events) > _LAST_EVENTS:
        out["events_before"] = len(timeline.events) - _LAST_EVENTS
    return out


def would_pass(
    reason: str | None,
    risk: RiskConfig,
    signal: Signal,
    price: Decimal | None,
    step: Callable[[Decimal], Decimal],
    symbols: list[str] | None,
) -> str | None:
    """What would pass a refusal with ``reason``, when it can be computed (else None)."""
    if reason == "missing_confidence":
        return "a confidence between 0 and 1 (how sure you are)"
    if reason == "low_confidence":
        return f"confidence ≥ {risk.min_confidence}"
    if reason == "max_order_notional" and risk.max_order_notional and price:
        most = max_quantity(risk.max_order_notional, max(price, signal.price or price), step)
        return f"quantity ≤ {decimal_text(most)}"
    if reason == "price_band" and price:
        low, high = price * (1 - risk.price_band_pct), price * (1 + risk.price_band_pct)
        return f"a limit price between {decimal_text(low)} and {decimal_text(high)}"
    if reason == "symbol_not_allowed" and symbols:
        return f"one of {clip(', '.join(symbols), 200)}"
    if reason in ("order_rate", "mcp_order_rate"):
        return "retry in a minute"
    if reason in ("halted", "reducing_only"):
        return "orders that only reduce a position (an operator resumes trading)"
    if reason == "stop_loss_required":
        return "a stop_loss"
    return None
