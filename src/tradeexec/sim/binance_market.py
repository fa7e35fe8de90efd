"""Binance USD-M market-data and sapi shapes: exchangeInfo, tickers, depth, brackets, coins.

The order- and account-side shapes, and the number formatting both use, are in
`binance_render`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeexec.sim import binance_errors as err
from tradeexec.sim.accounting import ZERO
from tradeexec.sim.binance_render import (
    FUNDING_INTERVAL_MS,
    MAX_NUM_ALGO_ORDERS,
    MAX_NUM_ORDERS,
    ONBOARD_MS,
    ORDER_TYPES,
    PERCENT_DOWN,
    PERCENT_UP,
    PERPETUAL_DELIVERY_MS,
    fixed,
    price_precision,
    px,
    qty,
    qty_precision,
    symbol_of,
)
from tradeexec.sim.engine import Engine
from tradeexec.sim.markets import MarketSpec

#: the ``limit`` values ``/fapi/v1/depth`` takes ("Order Book": default 500)
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


# ------------------------------------------------------------------- market data
def _filters(spec: MarketSpec) -> list[dict[str, Any]]:
    tick = spec.tick_size or Decimal("0.01")
    max_price = spec.initial_price * 100
    return [
        {"filterType": "PRICE_FILTER", "minPrice": px(spec, tick),
         "maxPrice": px(spec, max_price), "tickSize": format(tick, "f")},
        {"filterType": "LOT_SIZE", "minQty": qty(spec, spec.min_qty),
         "maxQty": qty(spec, spec.max_qty), "stepSize": qty(spec, spec.step_size)},
        {"filterType": "MARKET_LOT_SIZE", "minQty": qty(spec, spec.min_qty),
         "maxQty": qty(spec, spec.max_qty), "stepSize": qty(spec, spec.step_size)},
        {"filterType": "MAX_NUM_ORDERS", "limit": MAX_NUM_ORDERS},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": MAX_NUM_ALGO_ORDERS},
        {"filterType": "MIN_NOTIONAL", "notional": format(spec.min_notional.normalize(), "f")},
        {"filterType": "PERCENT_PRICE", "multiplierUp": format(PERCENT_UP, "f"),
         "multiplierDown": format(PERCENT_DOWN, "f"), "multiplierDecimal": "4"},
    ]  # fmt: skip


def symbol_info(spec: MarketSpec) -> dict[str, Any]:
    return {
        "symbol": symbol_of(spec),
        "pair": symbol_of(spec),
        "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY_MS,
        "onboardDate": ONBOARD_MS,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": spec.coin,
        "quoteAsset": spec.quote,
        "marginAsset": spec.quote,
        "pricePrecision": price_precision(spec),
        "quantityPrecision": qty_precision(spec),
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": _filters(spec),
        "orderTypes": list(ORDER_TYPES),
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSets": ["GRID", "COPY"],
    }


def exchange_info(engine: Engine, now: int) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "serverTime": now,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 2400,
            },
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        ],
        "exchangeFilters": [],
        "assets": [
            {"asset": engine.collateral, "marginAvailable": True, "autoAssetExchange": "-10000"}
        ],
        "symbols": [symbol_info(spec) for spec in engine.markets.values()],
    }


def ticker_24hr(engine: Engine, spec: MarketSpec, now: int) -> dict[str, Any]:
    mark = engine.marks[spec.coin]
    day = [f for f in engine.fills if f.coin == spec.coin and f.time_ms > now - 86_400_000]
    prices = [f.price for f in day] or [mark]
    volume = sum((f.qty for f in day), ZERO)
    quote_volume = sum((f.qty * f.price for f in day), ZERO)
    last = day[-1] if day else None
    return {
        "symbol": symbol_of(spec),
        "priceChange": px(spec, ZERO),
        "priceChangePercent": "0.000",
        "weightedAvgPrice": px(spec, quote_volume / volume if volume else mark),
        "lastPrice": px(spec, engine.lasts[spec.coin]),
        "lastQty": qty(spec, last.qty if last else ZERO),
        "openPrice": px(spec, mark),
        "highPrice": px(spec, max(*prices, mark)),
        "lowPrice": px(spec, min(*prices, mark)),
        "volume": qty(spec, volume),
        "quoteVolume": fixed(quote_volume, 2),
        "openTime": now - 86_400_000,
        "closeTime": now,
        "firstId": day[0].trade_id if day else 0,
        "lastId": last.trade_id if last else 0,
        "count": len(day),
    }


def book_ticker(engine: Engine, spec: MarketSpec, now: int) -> dict[str, Any]:
    bid, ask = engine.bid_ask(spec.coin)
    return {
        "symbol": symbol_of(spec),
        "bidPrice": px(spec, bid),
        "bidQty": qty(spec, spec.max_qty),
        "askPrice": px(spec, ask),
        "askQty": qty(spec, spec.max_qty),
        "time": now,
        "lastUpdateId": now,
    }


def depth(engine: Engine, spec: MarketSpec, now: int, limit: int | None = None) -> dict[str, Any]:
    """``/fapi/v1/depth``: the venue-wide book (`sim.book`, `Depth.sides`: the levels a taker
    order walks), bids descending and asks ascending, ``limit`` levels a side at most. With no
    venue-wide depth (none, or only an account's: this endpoint has no account), one level a
    side: the touch, sized at the market's maximum order size (the engine fills any size).

    ``limit`` is one of Binance's valid limits (default 500); another is -1130, as fapi
    refuses a ``limit`` it does not take (the code inferred from its other endpoints)."""
    if limit is None:
        limit = 500
    if limit not in DEPTH_LIMITS:
        raise err.invalid_param("limit")
    bid, ask = engine.bid_ask(spec.coin)
    if engine.depth is None:
        bids, asks = [(bid, spec.max_qty)], [(ask, spec.max_qty)]
    else:
        bids, asks = engine.depth.sides(spec, bid, ask, engine.marks[spec.coin])
    return {
        "lastUpdateId": now,
        "E": now,
        "T": now,
        "bids": [[px(spec, p), qty(spec, q)] for p, q in bids[:limit]],
        "asks": [[px(spec, p), qty(spec, q)] for p, q in asks[:limit]],
    }


def premium_index(engine: Engine, spec: MarketSpec, now: int) -> dict[str, Any]:
    """``/fapi/v1/premiumIndex`` ("Mark Price"): ``lastFundingRate`` is the rate the next
    funding time will pay (the configured one), ``nextFundingTime`` that time."""
    mark, funding = engine.marks[spec.coin], engine.funding
    rate = funding.rate(spec.coin) if funding is not None else Decimal("0.0001")
    next_ms = (
        funding.next_ms
        if funding is not None
        else (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
    )
    return {
        "symbol": symbol_of(spec),
        "markPrice": fixed(mark, 8),
        "indexPrice": fixed(mark, 8),
        "estimatedSettlePrice": fixed(mark, 8),
        "lastFundingRate": fixed(rate, 8),
        "interestRate": "0.00010000",
        "nextFundingTime": next_ms,
        "time": now,
    }


def leverage_bracket(spec: MarketSpec) -> dict[str, Any]:
    """``/fapi/v1/leverageBracket`` for one symbol: its notional brackets (one unlimited
    bracket where the simulator models none)."""
    tiers = spec.brackets
    return {
        "symbol": symbol_of(spec),
        "notionalCoef": 1.0,
        "brackets": [
            {
                "bracket": n,
                "initialLeverage": t.max_leverage,
                "notionalCap": int(t.cap),
                "notionalFloor": int(t.floor),
                "maintMarginRatio": float(t.maint_margin_ratio),
                "cum": float(t.cum),
            }
            for n, t in enumerate(tiers, start=1)
        ],
    }


# ------------------------------------------------------------------------- sapi
def capital_config(engine: Engine) -> list[dict[str, Any]]:
    coins = [engine.collateral, *engine.markets]
    return [
        {
            "coin": coin,
            "depositAllEnable": True,
            "withdrawAllEnable": True,
            "name": coin,
            "free": "0",
            "locked": "0",
            "freeze": "0",
            "withdrawing": "0",
            "ipoing": "0",
            "ipoable": "0",
            "storage": "0",
            "isLegalMoney": False,
            "trading": True,
            "networkList": [
                {
                    "network": "BSC",
                    "coin": coin,
                    "withdrawIntegerMultiple": "0.00000001",
                    "isDefault": True,
                    "depositEnable": True,
                    "withdrawEnable": True,
                    "depositDesc": "",
                    "withdrawDesc": "",
                    "specialTips": "",
                    "specialWithdrawTips": "",
                    "name": "BNB Smart Chain (BEP20)",
                    "resetAddressStatus": False,
                    "addressRegex": "^(0x)[0-9A-Fa-f]{40}$",
                    "addressRule": "",
                    "memoRegex": "",
                    "withdrawFee": "0.01",
                    "withdrawMin": "0.02",
                    "withdrawMax": "9999999999.99999999",
                    "minConfirm": 15,
                    "unLockConfirm": 0,
                    "sameAddress": False,
                    "estimatedArrivalTime": 5,
                    "busy": False,
                    "contractAddressUrl": "https://bscscan.com/token/",
                    "contractAddress": "",
                }
            ],
        }
        for coin in coins
    ]


def margin_all_pairs(engine: Engine) -> list[dict[str, Any]]:
    return [
        {
            "id": 351637150141315861 + i,
            "symbol": symbol_of(spec),
            "base": spec.coin,
            "quote": spec.quote,
            "isMarginTrade": True,
            "isBuyAllowed": True,
            "isSellAllowed": True,
        }
        for i, spec in enumerate(engine.markets.values())
    ]
