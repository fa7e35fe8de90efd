"""Binance USD-M order and account shapes, rendered from the engine's state.

Field names, types (strings for decimals, ints for times and ids, JSON numbers where Binance
sends numbers) and value formats follow fapi's answers, so that ccxt's ``binanceusdm`` parsers
read them as they read fapi.binance.com. Decimals are fixed to the symbol's pricePrecision /
quantityPrecision where Binance does so, to 8 places for money.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from tradeexec.sim.accounting import ZERO, MarginMode, Position, PositionSide
from tradeexec.sim.engine import Engine, Fill, OrderKind, OrderStatus, SimOrder, TimeInForce
from tradeexec.sim.margin import account_maintenance, liquidation_price, position_maintenance
from tradeexec.sim.markets import MarketSpec

PERCENT_UP = Decimal("1.0500")
PERCENT_DOWN = Decimal("0.9500")
MAX_NUM_ORDERS = 200
MAX_NUM_ALGO_ORDERS = 10
FUNDING_INTERVAL_MS = 8 * 3600 * 1000
ONBOARD_MS = 1569398400000
PERPETUAL_DELIVERY_MS = 4133404800000

#: engine order kind <-> Binance order type
KIND_TO_TYPE: dict[OrderKind, str] = {
    OrderKind.MARKET: "MARKET",
    OrderKind.LIMIT: "LIMIT",
    OrderKind.STOP_MARKET: "STOP_MARKET",
    OrderKind.TAKE_PROFIT_MARKET: "TAKE_PROFIT_MARKET",
    OrderKind.STOP_LIMIT: "STOP",
    OrderKind.TAKE_PROFIT_LIMIT: "TAKE_PROFIT",
}
TYPE_TO_KIND: dict[str, OrderKind] = {v: k for k, v in KIND_TO_TYPE.items()}
TIF_TO_BINANCE: dict[TimeInForce, str] = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
    TimeInForce.POST_ONLY: "GTX",
    TimeInForce.GTE_GTC: "GTE_GTC",
}
# what a LIMIT / STOP / TAKE_PROFIT may be sent with (GTE_GTC: conditionals, parsed apart)
BINANCE_TO_TIF: dict[str, TimeInForce] = {
    v: k for k, v in TIF_TO_BINANCE.items() if k is not TimeInForce.GTE_GTC
}
# "selfTradePreventionMode ... default NONE" (USD-M "New Order" / "New Algo Order", 2026 docs;
# older pages said EXPIRE_MAKER). Echoed, not enforced: the simulator has no other traders, so
# an account's orders never meet its own in a book
STP_DEFAULT = "NONE"
ORDER_TYPES = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
               "TRAILING_STOP_MARKET"]  # fmt: skip


# ------------------------------------------------------------------------ numbers
def fixed(value: Decimal, places: int) -> str:
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


def money(value: Decimal) -> str:
    return fixed(value, 8)


def price_precision(spec: MarketSpec) -> int:
    tick = spec.tick_size or Decimal("0.01")
    return max(0, -int(tick.as_tuple().exponent))


def qty_precision(spec: MarketSpec) -> int:
    return max(0, -int(spec.step_size.normalize().as_tuple().exponent))


def px(spec: MarketSpec, value: Decimal | None) -> str:
    return fixed(value if value is not None else ZERO, price_precision(spec))


def qty(spec: MarketSpec, value: Decimal) -> str:
    return fixed(value, qty_precision(spec))


def symbol_of(spec: MarketSpec) -> str:
    return spec.coin + spec.quote


def max_notional(spec: MarketSpec, leverage: int) -> str:
    """``maxNotionalValue``: the bracket cap at this leverage (1e9 where none is modelled)."""
    cap = spec.max_notional(leverage)
    return format(cap, "f") if cap is not None else "1000000000"


def percent_price_band(spec: MarketSpec, mark: Decimal) -> tuple[Decimal, Decimal]:
    """(floor for SELL limit prices, cap for BUY limit prices), on the tick grid."""
    tick = spec.tick_size or Decimal("0.01")
    cap = (mark * PERCENT_UP / tick).quantize(Decimal(1), ROUND_DOWN) * tick
    floor = (mark * PERCENT_DOWN / tick).quantize(Decimal(1), ROUND_UP) * tick
    return floor, cap


# ------------------------------------------------------------------------ orders
def order_status(order: SimOrder) -> str:
    if order.status is OrderStatus.NEW:
        return "PARTIALLY_FILLED" if order.filled_qty > 0 else "NEW"
    return order.status.value


def algo_status(order: SimOrder) -> str:
    """The algo service's status (Binance "Event: Algo Order Update"): NEW until the trigger
    is hit; REJECTED if the matching engine refused the order it would place (reduce-only with
    nothing to reduce, margin); TRIGGERED while the placed order works; FINISHED once that
    order is filled or cancelled. TRIGGERING (hit, not yet in the matching engine) passes
    within one engine step here, so it is never seen."""
    if order.triggered_ms is None:
        return {OrderStatus.NEW: "NEW", OrderStatus.CANCELED: "CANCELED"}.get(
            order.status, "EXPIRED"
        )
    if order.placed_id is None:
        return "REJECTED"
    return "TRIGGERED" if order.status is OrderStatus.NEW else "FINISHED"


def shown_order_id(o: SimOrder) -> int:
    """The id the plain endpoints and trades show: a fired algo order's placed order has its
    own (``actualOrderId``), never the ``algoId``."""
    return o.placed_id if o.placed_id is not None else o.order_id


def _shown_reduce_only(order: SimOrder) -> bool:
    # hedge-mode closing orders are reduce-only by nature; Binance does not flag them
    return order.spec.reduce_only and order.spec.position_side is PositionSide.BOTH


def order(
    spec: MarketSpec, o: SimOrder, extras: dict[str, Any], *, with_time: bool = True
) -> dict[str, Any]:
    """A plain order (``/fapi/v1/order``), or the order a triggered algo order placed (under
    its own id; its clientOrderId is the algo order's clientAlgoId)."""
    s = o.spec
    kind_type = KIND_TO_TYPE[s.kind]
    shown_type = kind_type
    if s.kind.is_trigger:  # the order the algo service placed when it fired
        shown_type = "LIMIT" if s.kind.needs_price else "MARKET"
    result: dict[str, Any] = {
        "orderId": shown_order_id(o),
        "symbol": symbol_of(spec),
        "status": order_status(o),
        "clientOrderId": s.client_id or "",
        "price": px(spec, s.price),
        "avgPrice": fixed(o.avg_price, max(5, price_precision(spec))),
        "origQty": qty(spec, s.qty),
        "executedQty": qty(spec, o.filled_qty),
        "cumQty": qty(spec, o.filled_qty),
        "cumQuote": money(o.filled_qty * o.avg_price),
        "timeInForce": TIF_TO_BINANCE[s.tif],
        "type": shown_type,
        "reduceOnly": _shown_reduce_only(o),
        "closePosition": s.close_position,
        "side": s.side.value,
        "positionSide": s.position_side.value,
        "stopPrice": px(spec, s.trigger_price),
        "workingType": extras.get("workingType", "CONTRACT_PRICE"),
        "priceProtect": extras.get("priceProtect", False),
        "origType": kind_type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": extras.get("selfTradePreventionMode", STP_DEFAULT),
        "goodTillDate": 0,
        "updateTime": o.updated_ms,
    }
    if with_time:
        result["time"] = o.created_ms
    return result


def algo_order(
    spec: MarketSpec, o: SimOrder, extras: dict[str, Any], *, query: bool = True
) -> dict[str, Any]:
    """A conditional order of the algo service (``/fapi/v1/algoOrder``)."""
    s = o.spec
    result: dict[str, Any] = {
        "algoId": o.order_id,
        "clientAlgoId": s.client_id or "",
        "algoType": "CONDITIONAL",
        "orderType": KIND_TO_TYPE[s.kind],
        "symbol": symbol_of(spec),
        "side": s.side.value,
        "positionSide": s.position_side.value,
        "timeInForce": TIF_TO_BINANCE[s.tif],
        "quantity": qty(spec, s.qty),
        "algoStatus": algo_status(o),
        "triggerPrice": px(spec, s.trigger_price),
        "price": px(spec, s.price),
        "icebergQuantity": None,
        "selfTradePreventionMode": extras.get("selfTradePreventionMode", STP_DEFAULT),
        "workingType": extras.get("workingType", "CONTRACT_PRICE"),
        "priceMatch": "NONE",
        "closePosition": s.close_position,
        "priceProtect": extras.get("priceProtect", False),
        "reduceOnly": _shown_reduce_only(o),
        "activatePrice": "",
        "callbackRate": "",
        "createTime": o.created_ms,
        "updateTime": o.updated_ms,
        "triggerTime": o.triggered_ms or 0,
        "goodTillDate": 0,
    }
    if query:  # "Query Algo Order": the placed order's id and average price, no quantity
        result["actualOrderId"] = str(o.placed_id) if o.placed_id is not None else ""
        result["actualPrice"] = fixed(o.avg_price, max(5, price_precision(spec)))
        for key in ("tpTriggerPrice", "tpPrice", "slTriggerPrice", "slPrice"):
            result[key] = px(spec, ZERO)
        result["tpOrderType"] = ""
    return result


def trade(spec: MarketSpec, f: Fill, order_id: int) -> dict[str, Any]:
    """One of ``userTrades``; ``order_id`` is the order's shown id (`shown_order_id`)."""
    return {
        "buyer": f.side.value == "BUY",
        "commission": money(f.fee),
        "commissionAsset": spec.quote,
        "id": f.trade_id,
        "maker": f.maker,
        "orderId": order_id,
        "price": px(spec, f.price),
        "qty": qty(spec, f.qty),
        "quoteQty": money(f.qty * f.price),
        "realizedPnl": money(f.realized_pnl),
        "side": f.side.value,
        "positionSide": f.position_side.value,
        "symbol": symbol_of(spec),
        "time": f.time_ms,
        "marginAsset": spec.quote,
    }


# --------------------------------------------------------------- account state
def _last_fill_ms(engine: Engine, account_id: str, coin: str, side: PositionSide) -> int:
    times = [
        f.time_ms
        for f in engine.fills
        if f.account_id == account_id and f.coin == coin and f.position_side is side
    ]
    return max(times, default=0)


def _open_order_margin(engine: Engine, account_id: str, coin: str) -> Decimal:
    lev = engine.leverage(account_id, coin)
    total = ZERO
    for o in engine.open_orders(account_id, coin):
        if o.spec.kind is OrderKind.LIMIT and not o.spec.reduce_only and not o.is_untriggered:
            total += o.remaining * (o.spec.price or engine.marks[coin]) / lev
    return total


def position_risk(
    engine: Engine, account_id: str, spec: MarketSpec, pos: Position, *, v2: bool
) -> dict[str, Any]:
    mark = engine.marks[spec.coin]
    lev = engine.leverage(account_id, spec.coin)
    isolated = engine.margin_mode(account_id, spec.coin) is MarginMode.ISOLATED
    notional = pos.qty * mark
    unrealized = pos.unrealized(mark)
    pos_margin = abs(notional) / lev
    wallet = abs(pos.qty) * pos.entry_price / lev
    result: dict[str, Any] = {
        "symbol": symbol_of(spec),
        "positionSide": pos.position_side.value,
        "positionAmt": qty(spec, pos.qty),
        "entryPrice": fixed(pos.entry_price, 8),
        "breakEvenPrice": fixed(pos.entry_price, 8),
        "markPrice": fixed(mark, 8),
        "unRealizedProfit": money(unrealized),
        # "0" where the account can carry the position to a price of zero (fapi does the same)
        "liquidationPrice": fixed(liquidation_price(engine, account_id, pos) or ZERO, 8),
        "isolatedMargin": money(wallet + unrealized if isolated and pos.qty else ZERO),
        "notional": money(notional),
        "marginAsset": spec.quote,
        "isolatedWallet": money(wallet if isolated else ZERO),
        "initialMargin": money(pos_margin + _open_order_margin(engine, account_id, spec.coin)),
        "maintMargin": money(position_maintenance(engine, pos)),
        "positionInitialMargin": money(pos_margin),
        "openOrderInitialMargin": money(_open_order_margin(engine, account_id, spec.coin)),
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": _last_fill_ms(engine, account_id, spec.coin, pos.position_side),
    }
    if v2:
        result.update(
            {
                "leverage": str(lev),
                "maxNotionalValue": max_notional(spec, lev),
                "marginType": "isolated" if isolated else "cross",
                "isAutoAddMargin": "false",
                "isolated": isolated,
                "adlQuantile": 0,
            }
        )
    return result


def positions_of(engine: Engine, account_id: str, *, all_symbols: bool) -> list[Position]:
    """Positions to list: open ones, plus flat ones where there are orders (or everywhere)."""
    acct = engine.account(account_id)
    sides = [PositionSide.LONG, PositionSide.SHORT] if acct.hedge_mode else [PositionSide.BOTH]
    wanted: list[Position] = []
    for coin in engine.markets:
        has_orders = bool(engine.open_orders(account_id, coin))
        for side in sides:
            pos = acct.positions.get((coin, side)) or Position(coin, side)
            if pos.qty != 0 or has_orders or all_symbols:
                wanted.append(pos)
    return wanted


def account(engine: Engine, account_id: str, *, v2: bool, created_ms: int) -> dict[str, Any]:
    summary = engine.summary(account_id)
    collateral = engine.collateral
    initial = summary.position_margin + summary.order_margin
    maint = account_maintenance(engine, account_id)
    available = max(summary.available, ZERO)
    fills = [f.time_ms for f in engine.fills if f.account_id == account_id]
    asset = {
        "asset": collateral,
        "walletBalance": money(summary.wallet_balance),
        "unrealizedProfit": money(summary.unrealized_pnl),
        "marginBalance": money(summary.equity),
        "maintMargin": money(maint),
        "initialMargin": money(initial),
        "positionInitialMargin": money(summary.position_margin),
        "openOrderInitialMargin": money(summary.order_margin),
        "crossWalletBalance": money(summary.wallet_balance),
        "crossUnPnl": money(summary.unrealized_pnl),
        "availableBalance": money(available),
        "maxWithdrawAmount": money(min(available, summary.wallet_balance)),
        "updateTime": max([created_ms, *fills]),
    }
    if v2:
        asset["marginAvailable"] = True
    idle = [
        {**{k: (money(ZERO) if isinstance(v, str) else v) for k, v in asset.items()},
         "asset": name, "updateTime": 0}
        for name in ("BTC", "BNB", "USDC")
        if name != collateral
    ]  # fmt: skip
    result: dict[str, Any] = {
        "totalInitialMargin": money(initial),
        "totalMaintMargin": money(maint),
        "totalWalletBalance": money(summary.wallet_balance),
        "totalUnrealizedProfit": money(summary.unrealized_pnl),
        "totalMarginBalance": money(summary.equity),
        "totalPositionInitialMargin": money(summary.position_margin),
        "totalOpenOrderInitialMargin": money(summary.order_margin),
        "totalCrossWalletBalance": money(summary.wallet_balance),
        "totalCrossUnPnl": money(summary.unrealized_pnl),
        "availableBalance": money(available),
        "maxWithdrawAmount": money(min(available, summary.wallet_balance)),
        "assets": [asset, *idle],
        "positions": [
            _account_position(position_risk(engine, account_id, engine.market(p.coin), p, v2=v2))
            for p in positions_of(engine, account_id, all_symbols=v2)
        ],
    }
    if v2:
        result.update(
            {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True,
             "updateTime": 0, "multiAssetsMargin": False, "tradeGroupId": -1}
        )  # fmt: skip
    return result


_ACCOUNT_POSITION_KEYS = (
    "symbol", "positionSide", "positionAmt", "unrealizedProfit", "isolatedMargin", "notional",
    "isolatedWallet", "initialMargin", "maintMargin", "updateTime",
)  # fmt: skip


def _account_position(risk: dict[str, Any]) -> dict[str, Any]:
    """The shorter position entry of ``/fapi/v3/account`` (note ``unrealizedProfit``)."""
    risk = {**risk, "unrealizedProfit": risk["unRealizedProfit"]}
    return {key: risk[key] for key in _ACCOUNT_POSITION_KEYS}


def balances(engine: Engine, account_id: str, created_ms: int) -> list[dict[str, Any]]:
    acct = account(engine, account_id, v2=False, created_ms=created_ms)
    return [
        {
            "accountAlias": "SgsR",
            "asset": a["asset"],
            "balance": a["walletBalance"],
            "crossWalletBalance": a["crossWalletBalance"],
            "crossUnPnl": a["crossUnPnl"],
            "availableBalance": a["availableBalance"],
            "maxWithdrawAmount": a["maxWithdrawAmount"],
            "marginAvailable": True,
            "updateTime": a["updateTime"],
        }
        for a in acct["assets"]
    ]
