"""ccxt's unified dicts -> tradeexec's frozen domain values (exact Decimals via ``str``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tradeexec.domain import (
    ZERO,
    Balance,
    Fill,
    MarginMode,
    Market,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Ticker,
)

TICK_SIZE = 4  # ccxt's precisionMode constant


def dec(value: Any) -> Decimal | None:
    """A ccxt number (float, str, int or None) as an exact Decimal of its shortest repr."""
    if value is None or value == "":
        return None
    return Decimal(str(value))


def dec0(value: Any) -> Decimal:
    return dec(value) or ZERO


def market_from_ccxt(m: Mapping[str, Any], precision_mode: int) -> Market:
    precision = m.get("precision") or {}
    limits = m.get("limits") or {}

    def step(value: Any) -> Decimal | None:
        d = dec(value)
        if d is None:
            return None
        return d if precision_mode == TICK_SIZE else Decimal(1).scaleb(-int(d))

    price_step = step(precision.get("price"))
    significant_figure_prices = m.get("type") == "swap" and bool(
        (m.get("info") or {}).get("szDecimals") is not None
    )
    return Market(
        symbol=m["symbol"],
        base=m["base"],
        quote=m["quote"],
        settle=m.get("settle"),
        amount_step=step(precision.get("amount")) or Decimal("0.00000001"),
        price_step=None if significant_figure_prices else price_step,
        min_amount=dec((limits.get("amount") or {}).get("min")),
        min_notional=dec((limits.get("cost") or {}).get("min")),
        max_leverage=_int((limits.get("leverage") or {}).get("max")),
        contract_size=dec(m.get("contractSize")) or Decimal(1),
        active=m.get("active") is not False,
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


_STATUS = {
    "open": OrderStatus.SUBMITTED,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


def order_type_from_ccxt(o: Mapping[str, Any]) -> OrderType:
    raw = str(o.get("type") or "").lower()
    is_limit = "limit" in raw or (raw not in ("market", "") and o.get("price") is not None)
    if "take_profit" in raw or o.get("takeProfitPrice") is not None:
        return OrderType.TAKE_PROFIT_LIMIT if "limit" in raw else OrderType.TAKE_PROFIT_MARKET
    if "stop" in raw or o.get("stopLossPrice") is not None or o.get("triggerPrice") is not None:
        return OrderType.STOP_LIMIT if "limit" in raw else OrderType.STOP_MARKET
    return OrderType.LIMIT if is_limit else OrderType.MARKET


def order_from_ccxt(o: Mapping[str, Any], symbol: str | None = None) -> Order:
    amount = dec0(o.get("amount"))
    filled = dec0(o.get("filled"))
    status = _STATUS.get(str(o.get("status") or "open").lower(), OrderStatus.SUBMITTED)
    if o.get("status") is None and amount > 0 and filled >= amount:
        status = OrderStatus.FILLED  # an acknowledgement without a status (Hyperliquid create)
    if status is OrderStatus.SUBMITTED and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    # ccxt's "closed" is done on the venue, whatever filled: a reduce-only trigger that fired
    # for less than its size (the position was already smaller) filled what remained and is
    # over. It stays FILLED - for what remained, as filled_quantity says - never an open
    # status that would count as a resting stop forever.
    fee = o.get("fee") or {}
    order_type = order_type_from_ccxt(o)
    trigger = o.get("triggerPrice") or o.get("stopLossPrice") or o.get("takeProfitPrice")
    average = dec(o.get("average"))
    info = o.get("info")  # not always a dict: Hyperliquid's cancel answer is 'success'
    return Order(
        id=str(o.get("id")),
        client_order_id=o.get("clientOrderId"),
        symbol=o.get("symbol") or symbol or "",
        side=OrderSide(str(o.get("side") or "buy").lower()),
        type=order_type,
        status=status,
        quantity=amount if amount > 0 else filled,
        filled_quantity=filled,
        average_price=average if average else None,
        price=dec(o.get("price")) if order_type.needs_price else None,
        trigger_price=dec(trigger),
        reduce_only=bool(o.get("reduceOnly")),
        timestamp=int(o.get("timestamp") or o.get("lastUpdateTimestamp") or 0),
        fee=dec(fee.get("cost")),
        fee_currency=fee.get("currency"),
        info=info if isinstance(info, Mapping) else {},
    )


def ticker_from_ccxt(t: Mapping[str, Any]) -> Ticker:
    info = t.get("info") or {}
    mark = t.get("markPrice") or info.get("markPrice") or info.get("markPx")
    return Ticker(
        symbol=t["symbol"],
        bid=dec(t.get("bid")),
        ask=dec(t.get("ask")),
        last=dec(t.get("last") or t.get("close")),
        mark=dec(mark),
        timestamp=int(t.get("timestamp") or 0),
    )


def balances_from_ccxt(b: Mapping[str, Any], settle: str) -> dict[str, Balance]:
    totals: Mapping[str, Any] = b.get("total") or {}
    out: dict[str, Balance] = {}
    for currency, total in totals.items():
        if total is None or (dec0(total) == 0 and currency != settle):
            continue
        free = dec0((b.get("free") or {}).get(currency))
        used = dec((b.get("used") or {}).get(currency))
        out[currency] = Balance(
            currency=currency,
            total=dec0(total),
            free=free,
            used=used if used is not None else dec0(total) - free,
        )
    if settle not in out:
        out[settle] = Balance(currency=settle, total=ZERO, free=ZERO, used=ZERO)
    return out


def position_from_ccxt(p: Mapping[str, Any]) -> Position | None:
    contracts = dec0(p.get("contracts"))
    if contracts == 0:
        return None
    size = contracts * (dec(p.get("contractSize")) or Decimal(1))
    side = str(p.get("side") or "long").lower()
    mode = p.get("marginMode")
    return Position(
        symbol=p["symbol"],
        quantity=size if side == "long" else -size,
        entry_price=dec(p.get("entryPrice")),
        mark_price=dec(p.get("markPrice")),
        unrealized_pnl=dec0(p.get("unrealizedPnl")),
        leverage=_int(p.get("leverage")),
        margin_mode=MarginMode(mode) if mode else None,
        liquidation_price=dec(p.get("liquidationPrice")),
    )


def fill_from_ccxt(t: Mapping[str, Any]) -> Fill:
    info = t.get("info") or {}
    fee = t.get("fee") or {}
    pnl = info.get("realizedPnl", info.get("closedPnl"))
    return Fill(
        trade_id=str(t.get("id")),
        order_id=str(t.get("order")),
        client_order_id=t.get("clientOrderId"),
        symbol=t["symbol"],
        side=OrderSide(str(t.get("side")).lower()),
        quantity=dec0(t.get("amount")),
        price=dec0(t.get("price")),
        fee=dec(fee.get("cost")),
        fee_currency=fee.get("currency"),
        realized_pnl=dec(pnl),
        timestamp=int(t.get("timestamp") or 0),
    )
