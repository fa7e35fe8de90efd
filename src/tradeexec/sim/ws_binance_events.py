"""Binance USD-M websocket payloads, rendered from the engine: user data and market streams.

Shapes (field names, strings for decimals, ints for times and ids) follow Binance's USD-M docs:
- "Event: Order Update" (``ORDER_TRADE_UPDATE``), developers.binance.com/docs/derivatives/
  usds-margined-futures/user-data-streams/Event-Order-Update; a liquidation's order (client
  id ``autoclose-...``) has order type LIQUIDATION and its fills execution type CALCULATED
- "Event: Balance and Position Update" (``ACCOUNT_UPDATE``), .../Event-Balance-and-Position-Update
- "Event: Algo Order Update" (``ALGO_UPDATE``), .../Event-Algo-Order-Update; the algo status
  path NEW -> TRIGGERING -> TRIGGERED -> FINISHED (or CANCELED / REJECTED / EXPIRED)
- "Event: User Data Stream Expired" (``listenKeyExpired``), .../Event-User-Data-Stream-Expired
- market streams "Mark Price Stream", "Individual Symbol Book Ticker Streams", "Individual
  Symbol Mini Ticker Stream", "Individual Symbol Ticker Streams" (websocket-market-streams/)

Values come from the REST renderers (`binance_render`, `binance_market`), so a pushed order,
position or ticker says what the REST endpoints say at the same moment.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeexec.sim import binance_market as mkt
from tradeexec.sim import binance_render as render
from tradeexec.sim.accounting import ZERO, Position, PositionSide
from tradeexec.sim.engine import Engine, Fill, OrderStatus, Reject, SimOrder
from tradeexec.sim.markets import MarketSpec
from tradeexec.sim.ws_hub import OrderChange

Event = dict[str, Any]
# ALGO_UPDATE's "rm" (failed reason): the doc's example text, and fapi's -2019 message
_REJECT_TEXT = {
    Reject.REDUCE_ONLY: "Reduce Only reject",
    Reject.INSUFFICIENT_MARGIN: "Margin is insufficient.",
}


def is_liquidation(order: SimOrder) -> bool:
    """The venue's closing order of a liquidation (`sim.clearing`: client id autoclose-...)."""
    return (order.spec.client_id or "").startswith("autoclose-")


def _shown_type(order: SimOrder) -> str:
    """The matching engine's type: a fired algo order's placed order is LIMIT or MARKET."""
    kind = order.spec.kind
    if kind.is_trigger:
        return "LIMIT" if kind.needs_price else "MARKET"
    return render.KIND_TO_TYPE[kind]


def _avg(spec: MarketSpec, value: Decimal) -> str:
    return render.fixed(value, max(5, render.price_precision(spec)))


def order_update(
    spec: MarketSpec,
    o: SimOrder,
    extras: dict[str, Any],
    now: int,
    *,
    x: str,
    status: str,
    filled: Decimal,
    avg: Decimal,
    fill: Fill | None = None,
) -> Event:
    """``ORDER_TRADE_UPDATE``: execution type ``x``, order status ``status`` after it."""
    s = o.spec
    event_ms = fill.time_ms if fill is not None else o.updated_ms
    body: dict[str, Any] = {
        "s": render.symbol_of(spec),
        "c": s.client_id or "",
        "S": s.side.value,
        "o": _shown_type(o),
        "f": render.TIF_TO_BINANCE[s.tif],
        "q": render.qty(spec, s.qty),
        "p": render.px(spec, s.price),
        "ap": _avg(spec, avg),
        "sp": render.px(spec, s.trigger_price),
        "x": x,
        "X": status,
        "i": render.shown_order_id(o),
        "l": render.qty(spec, fill.qty if fill else ZERO),
        "z": render.qty(spec, filled),
        "L": render.px(spec, fill.price if fill else ZERO),
        "T": event_ms,
        "t": fill.trade_id if fill else 0,
        "b": "0",
        "a": "0",
        "m": fill.maker if fill else False,
        "R": s.reduce_only and s.position_side is PositionSide.BOTH,
        "wt": extras.get("workingType", "CONTRACT_PRICE"),
        "ot": render.KIND_TO_TYPE[s.kind],
        "ps": s.position_side.value,
        "cp": s.close_position,
        "rp": render.money(fill.realized_pnl if fill else ZERO),
        "pP": extras.get("priceProtect", False),
        "si": 0,
        "ss": 0,
        "V": extras.get("selfTradePreventionMode", "EXPIRE_MAKER"),
        "pm": "NONE",
        "gtd": 0,
    }
    if fill is not None:  # "Commission Asset, will not push if no commission"
        body["N"] = spec.quote
        body["n"] = render.money(fill.fee)
    if is_liquidation(o):  # order type LIQUIDATION; its fills are "CALCULATED" executions
        body["o"] = body["ot"] = "LIQUIDATION"
        body["x"] = "CALCULATED" if x == "TRADE" else x
    return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": event_ms, "o": body}


def algo_update(
    spec: MarketSpec, o: SimOrder, extras: dict[str, Any], now: int, status: str
) -> Event:
    """``ALGO_UPDATE`` of a conditional order in algo status ``status``."""
    s = o.spec
    placed = o.placed_id is not None and status in ("TRIGGERED", "FINISHED")
    body: dict[str, Any] = {
        "caid": s.client_id or "",
        "aid": o.order_id,
        "at": "CONDITIONAL",
        "o": render.KIND_TO_TYPE[s.kind],
        "s": render.symbol_of(spec),
        "S": s.side.value,
        "ps": s.position_side.value,
        "f": render.TIF_TO_BINANCE[s.tif],
        "q": render.qty(spec, s.qty),
        "X": status,
        "ai": str(o.placed_id) if placed else "",
        "ap": _avg(spec, o.avg_price if placed else ZERO),
        "aq": render.qty(spec, o.filled_qty if placed else ZERO),
        "act": _shown_type(o) if placed else "0",
        "tp": render.px(spec, s.trigger_price),
        "p": render.px(spec, s.price),
        "V": extras.get("selfTradePreventionMode", "EXPIRE_MAKER"),
        "wt": extras.get("workingType", "CONTRACT_PRICE"),
        "pm": "NONE",
        "cp": s.close_position,
        "pP": extras.get("priceProtect", False),
        "R": s.reduce_only and s.position_side is PositionSide.BOTH,
        "tt": o.triggered_ms or 0,
        "gtd": 0,
    }
    if status == "REJECTED" and o.expire_reason is not None:
        body["rm"] = _REJECT_TEXT.get(o.expire_reason, o.expire_reason.value)
    return {"e": "ALGO_UPDATE", "T": now, "E": now, "o": body}


def order_events(
    spec: MarketSpec, change: OrderChange, extras: dict[str, Any], now: int
) -> list[Event]:
    """What Binance pushes for one order's change, in the order it happens: an algo order's
    NEW / TRIGGERING / TRIGGERED, the placed (or plain) order's NEW, one TRADE per fill
    (PARTIALLY_FILLED until the last), CANCELED / EXPIRED, and the algo order's final status."""
    o, before = change.order, change.before
    algo = o.spec.kind.is_trigger
    events: list[Event] = []
    fired_now = o.triggered_ms is not None and (before is None or not before.triggered)
    if algo and before is None:
        events.append(algo_update(spec, o, extras, now, "NEW"))
    if algo and fired_now:
        events.append(algo_update(spec, o, extras, now, "TRIGGERING"))
        if o.placed_id is not None:
            events.append(algo_update(spec, o, extras, now, "TRIGGERED"))
    if (not algo and before is None) or (algo and fired_now and o.placed_id is not None):
        events.append(
            order_update(spec, o, extras, now, x="NEW", status="NEW", filled=ZERO, avg=ZERO)
        )
    filled = before.filled if before is not None else ZERO
    # what the fills before this sync cost: the order's average now, less this sync's fills
    cost = o.avg_price * o.filled_qty - sum((f.qty * f.price for f in change.fills), ZERO)
    for i, fill in enumerate(change.fills):
        filled += fill.qty
        cost += fill.qty * fill.price
        last = i == len(change.fills) - 1
        done = filled >= o.spec.qty or (last and o.status is OrderStatus.FILLED)
        events.append(order_update(spec, o, extras, now, x="TRADE",
                                   status="FILLED" if done else "PARTIALLY_FILLED",
                                   filled=filled, avg=o.avg_price if last else cost / filled,
                                   fill=fill))  # fmt: skip
    ended = not o.status.is_open and (before is None or before.status.is_open)
    if ended and o.status is not OrderStatus.FILLED and (not algo or o.placed_id is not None):
        events.append(order_update(spec, o, extras, now, x=o.status.value, status=o.status.value,
                                   filled=o.filled_qty, avg=o.avg_price))  # fmt: skip
    if algo and ended:
        events.append(algo_update(spec, o, extras, now, render.algo_status(o)))
    return events


def account_update(
    engine: Engine, account_id: str, coins: set[str], now: int, *, reason: str
) -> Event:
    """``ACCOUNT_UPDATE``: the collateral's balances and the positions in ``coins`` (both
    sides in hedge mode; a closed position shows as zero)."""
    acct = engine.account(account_id)
    assets = render.balances(engine, account_id, 0)
    balances = [
        {"a": a["asset"], "wb": a["balance"], "cw": a["crossWalletBalance"], "bc": "0"}
        for a in assets
    ]
    sides = [PositionSide.LONG, PositionSide.SHORT] if acct.hedge_mode else [PositionSide.BOTH]
    positions = []
    for coin in sorted(coins):
        spec = engine.markets[coin]
        for side in sides:
            pos = acct.positions.get((coin, side)) or Position(coin, side)
            risk = render.position_risk(engine, account_id, spec, pos, v2=True)
            positions.append({
                "s": risk["symbol"], "pa": risk["positionAmt"], "ep": risk["entryPrice"],
                "bep": risk["breakEvenPrice"], "cr": render.money(acct.realized_pnl),
                "up": risk["unRealizedProfit"], "mt": risk["marginType"],
                "iw": risk["isolatedWallet"], "ps": risk["positionSide"],
            })  # fmt: skip
    return {"e": "ACCOUNT_UPDATE", "E": now, "T": now,
            "a": {"m": reason, "B": balances, "P": positions}}  # fmt: skip


def listen_key_expired(listen_key: str, now: int) -> Event:
    return {"e": "listenKeyExpired", "E": str(now), "listenKey": listen_key}


# ------------------------------------------------------------------ market streams
def mark_price(engine: Engine, spec: MarketSpec, now: int) -> Event:
    p = mkt.premium_index(engine, spec, now)
    return {"e": "markPriceUpdate", "E": now, "s": p["symbol"], "p": p["markPrice"],
            "ap": p["markPrice"], "P": p["estimatedSettlePrice"], "i": p["indexPrice"],
            "r": p["lastFundingRate"], "T": p["nextFundingTime"]}  # fmt: skip


def book_ticker(engine: Engine, spec: MarketSpec, now: int) -> Event:
    b = mkt.book_ticker(engine, spec, now)
    return {"e": "bookTicker", "u": b["lastUpdateId"], "E": now, "T": now, "s": b["symbol"],
            "b": b["bidPrice"], "B": b["bidQty"], "a": b["askPrice"], "A": b["askQty"]}  # fmt: skip


def mini_ticker(engine: Engine, spec: MarketSpec, now: int) -> Event:
    t = mkt.ticker_24hr(engine, spec, now)
    return {"e": "24hrMiniTicker", "E": now, "s": t["symbol"], "c": t["lastPrice"],
            "o": t["openPrice"], "h": t["highPrice"], "l": t["lowPrice"], "v": t["volume"],
            "q": t["quoteVolume"]}  # fmt: skip


def ticker(engine: Engine, spec: MarketSpec, now: int) -> Event:
    t = mkt.ticker_24hr(engine, spec, now)
    return {"e": "24hrTicker", "E": now, "s": t["symbol"], "p": t["priceChange"],
            "P": t["priceChangePercent"], "w": t["weightedAvgPrice"], "c": t["lastPrice"],
            "Q": t["lastQty"], "o": t["openPrice"], "h": t["highPrice"], "l": t["lowPrice"],
            "v": t["volume"], "q": t["quoteVolume"], "O": t["openTime"], "C": t["closeTime"],
            "F": t["firstId"], "L": t["lastId"], "n": t["count"]}  # fmt: skip
