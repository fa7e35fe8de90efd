"""Hyperliquid ``/info`` answers about margin and funding: ``meta`` with its margin tables,
``marginTable``, ``userFunding``, ``fundingHistory``, and the ``liquidation`` object of a
liquidation fill.

Shapes: the Hyperliquid docs, "Info endpoint" / "Perpetuals" (``meta``: ``universe`` entries
carry ``marginTableId``, ``marginTables`` lists ``[id, {"description", "marginTiers":
[{"lowerBound", "maxLeverage"}]}]``; "Retrieve a user's funding history": ``{"time", "hash",
"delta": {"type": "funding", "coin", "usdc", "szi", "fundingRate", "nSamples"}}``;
"Retrieve historical funding rates": ``{"coin", "fundingRate", "premium", "time"}``). A
liquidated user's own fill carries ``"liquidation": {"liquidatedUser", "markPx", "method":
"market"}`` (recorded userFills quoted in ccxt 4.5's ``fetch_my_liquidations`` and in public
client tests).
"""

from __future__ import annotations

from typing import Any

from tradeexec.sim.engine import Engine, Fill
from tradeexec.sim.hyperliquid_wire import WireError, fmt

MAX_ROWS = 500  # userFunding and fundingHistory answer at most 500 rows per request
ZERO_HASH = "0x" + "0" * 64  # funding deltas carry no transaction hash


def table_id(engine: Engine, coin: str) -> int:
    """A market's ``marginTableId``: its tiered table, else the flat table numbered as its
    max leverage (ids under 50 are a single tier at that leverage)."""
    market = engine.market(coin)
    return market.margin_table[0] if market.margin_table else market.max_leverage


def margin_tables(engine: Engine) -> list[Any]:
    tables: dict[int, Any] = {}
    for market in engine.markets.values():
        name = market.margin_table[1] if market.margin_table else ""
        tiers = [
            {"lowerBound": fmt(t.floor), "maxLeverage": t.max_leverage} for t in market.brackets
        ]
        tables[table_id(engine, market.coin)] = {"description": name, "marginTiers": tiers}
    return [[table, tables[table]] for table in sorted(tables)]


def meta(engine: Engine) -> dict[str, Any]:
    universe = [
        {"szDecimals": m.sz_decimals, "name": m.coin, "maxLeverage": m.max_leverage,
         "marginTableId": table_id(engine, m.coin)}
        for m in engine.markets.values()
    ]  # fmt: skip
    return {"universe": universe, "marginTables": margin_tables(engine), "collateralToken": 0}


def margin_table(engine: Engine, body: dict[str, Any]) -> Any:
    wanted = body.get("id")
    if not isinstance(wanted, int) or isinstance(wanted, bool):
        raise WireError("id must be an integer")
    return next((t for table, t in margin_tables(engine) if table == wanted), None)


def current_funding(engine: Engine, coin: str) -> str:
    """The asset context's ``funding``: the rate the next funding time pays."""
    return fmt(engine.funding.rate(coin)) if engine.funding is not None else "0.0"


def _window(body: dict[str, Any]) -> tuple[int, int | None]:
    start, end = body.get("startTime", 0), body.get("endTime")
    if not isinstance(start, int) or (end is not None and not isinstance(end, int)):
        raise WireError("startTime / endTime must be integers")
    return start, end


def user_funding(engine: Engine, user: str, body: dict[str, Any]) -> list[Any]:
    start, end = _window(body)
    if engine.funding is None:
        return []
    return [
        {"time": p.time_ms, "hash": ZERO_HASH,
         "delta": {"type": "funding", "coin": p.coin, "usdc": fmt(p.amount, 6),
                   "szi": fmt(p.qty), "fundingRate": fmt(p.rate), "nSamples": None}}
        for p in engine.funding.account_payments(user)
        if p.time_ms >= start and (end is None or p.time_ms <= end)
    ][:MAX_ROWS]  # fmt: skip


def funding_history(engine: Engine, body: dict[str, Any]) -> list[Any]:
    coin = body.get("coin")
    if not isinstance(coin, str):
        raise WireError("missing 'coin'")
    start, end = _window(body)
    if engine.funding is None:
        return []
    return [
        {"coin": r.coin, "fundingRate": fmt(r.rate), "premium": "0.0", "time": r.time_ms}
        for r in engine.funding.history
        if r.coin == coin and r.time_ms >= start and (end is None or r.time_ms <= end)
    ][:MAX_ROWS]


def liquidation_of(engine: Engine, fill: Fill) -> dict[str, Any] | None:
    """The ``liquidation`` object of a fill that closed a liquidated position, else None."""
    liq = engine.liquidations.get(fill.order_id)
    if liq is None:
        return None
    return {"liquidatedUser": liq.account_id, "markPx": fmt(liq.mark), "method": "market"}
