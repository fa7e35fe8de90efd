"""Binance USD-M's money records: income history, funding rate history, forced orders.

- ``GET /fapi/v1/income`` ("Get Income History"): REALIZED_PNL and COMMISSION per trade,
  FUNDING_FEE per funding payment, oldest first; ``symbol``, ``incomeType``, ``startTime``,
  ``endTime``, ``limit`` (default 100, at most 1000). Without a time window, the last 7 days.
  ccxt's ``fetch_funding_history`` reads it (incomeType FUNDING_FEE).
- ``GET /fapi/v1/fundingRate`` ("Get Funding Rate History"): the rates applied at past
  funding times with the mark (ccxt ``fetch_funding_rate_history``).
- ``GET /fapi/v1/forceOrders`` ("User's Force Orders"): the account's liquidation orders
  (client id ``autoclose-...``, LIMIT IOC at the bankruptcy price, ``avgPrice`` the fill);
  ``autoCloseType`` LIQUIDATION (ADL is never produced here), ``startTime`` / ``endTime``
  (default: the 7 days before), ``limit`` (default 50, at most 100). ccxt
  ``fetch_my_liquidations``.
"""

from __future__ import annotations

from typing import Any

from tradeexec.sim import binance_render as render
from tradeexec.sim.binance_orders import Call
from tradeexec.sim.engine import Engine
from tradeexec.sim.markets import MarketSpec

WEEK_MS = 7 * 86_400_000

# the keys of one "User's Force Orders" entry, in the documented order
_FORCE_ORDER_KEYS = (
    "orderId", "symbol", "status", "clientOrderId", "price", "avgPrice", "origQty",
    "executedQty", "cumQuote", "timeInForce", "type", "reduceOnly", "closePosition", "side",
    "positionSide", "stopPrice", "workingType", "origType", "time", "updateTime",
)  # fmt: skip


def _window(call: Call, now: int) -> tuple[int, int]:
    start, end = call.params.integer("startTime"), call.params.integer("endTime")
    if start is None and end is None:
        return now - WEEK_MS, now
    if start is None:
        assert end is not None
        return end - WEEK_MS, end
    return start, end if end is not None else now


def _limit(call: Call, default: int, most: int) -> int:
    return max(1, min(call.params.integer("limit") or default, most))


def income(engine: Engine, call: Call, market: MarketSpec | None, now: int) -> list[Any]:
    kind = call.params.get("incomeType")
    start, end = _window(call, now)
    rows: list[tuple[int, int, dict[str, Any]]] = []
    for f in engine.account_fills(call.account):
        if market is not None and f.coin != market.coin:
            continue
        spec = engine.market(f.coin)
        if f.realized_pnl:
            rows.append((f.time_ms, f.trade_id * 10 + 1,
                         _income(spec, "REALIZED_PNL", f.realized_pnl, f.time_ms,
                                 f.trade_id * 10 + 1, str(f.trade_id))))  # fmt: skip
        if f.fee:
            rows.append((f.time_ms, f.trade_id * 10 + 2,
                         _income(spec, "COMMISSION", -f.fee, f.time_ms, f.trade_id * 10 + 2,
                                 str(f.trade_id))))  # fmt: skip
    if engine.funding is not None:
        for p in engine.funding.account_payments(call.account):
            if market is None or p.coin == market.coin:
                rows.append((p.time_ms, p.payment_id,
                             _income(engine.market(p.coin), "FUNDING_FEE", p.amount, p.time_ms,
                                     p.payment_id, "")))  # fmt: skip
    rows.sort(key=lambda r: (r[0], r[1]))
    picked = [
        row for t, _, row in rows
        if start <= t <= end and (kind is None or row["incomeType"] == kind)
    ]  # fmt: skip
    return picked[: _limit(call, 100, 1000)]


def _income(
    spec: MarketSpec, kind: str, amount: Any, time_ms: int, tran_id: int, trade_id: str
) -> dict[str, Any]:
    return {
        "symbol": render.symbol_of(spec),
        "incomeType": kind,
        "income": render.money(amount),
        "asset": spec.quote,
        "info": kind if kind == "FUNDING_FEE" else "",
        "time": time_ms,
        "tranId": tran_id,
        "tradeId": trade_id,
    }


def funding_rates(engine: Engine, call: Call, market: MarketSpec | None) -> list[Any]:
    if engine.funding is None:
        return []
    start, end = call.params.integer("startTime"), call.params.integer("endTime")
    rows = [
        {"symbol": render.symbol_of(engine.market(r.coin)), "fundingRate": render.fixed(r.rate, 8),
         "fundingTime": r.time_ms, "markPrice": render.fixed(r.mark, 8)}
        for r in engine.funding.history
        if (market is None or r.coin == market.coin)
        and (start is None or r.time_ms >= start) and (end is None or r.time_ms <= end)
    ]  # fmt: skip
    limit = _limit(call, 100, 1000)
    return rows[:limit] if start is not None else rows[-limit:]


def force_orders(engine: Engine, call: Call, market: MarketSpec | None, now: int) -> list[Any]:
    if call.params.get("autoCloseType") == "ADL":
        return []  # the simulator never auto-deleverages
    start, end = _window(call, now)
    rows = []
    for liq in engine.liquidations.values():
        order = engine.orders[liq.order_id]
        if liq.account_id != call.account or not start <= liq.time_ms <= end:
            continue
        if market is not None and liq.coin != market.coin:
            continue
        full = render.order(engine.market(liq.coin), order, {})
        rows.append({key: full[key] for key in _FORCE_ORDER_KEYS})
    return rows[-_limit(call, 50, 100) :]
