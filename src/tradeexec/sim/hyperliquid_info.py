"""``POST /info`` of the Hyperliquid face: every query type ccxt 4.5.x sends, in the venue's shapes.

Markets are the engine's, in engine order: the asset index of a coin is its position in
``meta.universe``. Numbers are strings (``"67500.0"``), times integers in ms, sides ``"B"`` /
``"A"``. Spot is empty but well-formed (USDC is token 0). ``l2Book`` serves the configured depth
(`l2_book`), or best bid and ask sized at the market's maximum order size without it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tradeexec.sim import hyperliquid_margin as hl_margin
from tradeexec.sim.accounting import ZERO, MarginMode
from tradeexec.sim.engine import Engine, OrderKind, OrderStatus, Reject, Side, SimOrder
from tradeexec.sim.hl_signing import normalize_address
from tradeexec.sim.hyperliquid_state import HlState, NonceBook, RejectedOrder
from tradeexec.sim.hyperliquid_wire import EXPIRE_STATUS, WireError, fmt
from tradeexec.sim.margin import liquidation_price, position_maintenance

USDC_TOKEN: dict[str, Any] = {
    "name": "USDC",
    "szDecimals": 8,
    "weiDecimals": 8,
    "index": 0,
    "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054",
    "isCanonical": True,
    "evmContract": None,
    "fullName": None,
}
_ORDER_TYPES = {
    OrderKind.LIMIT: "Limit",
    OrderKind.MARKET: "Market",
    OrderKind.STOP_MARKET: "Stop Market",
    OrderKind.STOP_LIMIT: "Stop Limit",
    OrderKind.TAKE_PROFIT_MARKET: "Take Profit Market",
    OrderKind.TAKE_PROFIT_LIMIT: "Take Profit Limit",
}
MONEY_PLACES = 6
DAY_MS = 86_400_000
L2_LEVELS = 20  # levels a side ``l2Book`` answers, as live


def _user(body: dict[str, Any], key: str = "user") -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise WireError(f"missing {key!r}")
    try:
        return normalize_address(value)
    except ValueError:
        raise WireError(f"bad address {value!r}") from None


class InfoApi:
    """Answers ``/info`` queries from the engine and the face state."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        state: Callable[[], HlState],
        clock: Callable[[], int],
    ) -> None:
        self._engine, self._state, self.clock = engine, state, clock

    @property
    def engine(self) -> Engine:
        return self._engine()

    @property
    def state(self) -> HlState:
        return self._state()

    def answer(self, kind: str, body: dict[str, Any]) -> Any:
        handler = getattr(self, f"_q_{kind}", None)
        if handler is None:
            raise WireError(f"unknown info type {kind!r}")
        return handler(body)

    # ------------------------------------------------------------------ markets
    def _check_dex(self, body: dict[str, Any]) -> None:
        if body.get("dex") not in (None, ""):
            raise WireError(f"unknown perp dex {body['dex']!r}")

    def _q_meta(self, body: dict[str, Any]) -> Any:
        self._check_dex(body)
        return hl_margin.meta(self.engine)

    def _q_marginTable(self, body: dict[str, Any]) -> Any:
        return hl_margin.margin_table(self.engine, body)

    def _q_userFunding(self, body: dict[str, Any]) -> Any:
        return hl_margin.user_funding(self.engine, _user(body), body)

    def _q_fundingHistory(self, body: dict[str, Any]) -> Any:
        return hl_margin.funding_history(self.engine, body)

    def _asset_ctx(self, coin: str) -> dict[str, Any]:
        engine = self.engine
        mark = engine.marks[coin]
        bid, ask = engine.bid_ask(coin)
        since = self.clock() - DAY_MS
        day = [f for f in engine.fills if f.coin == coin and f.time_ms >= since]
        open_interest = sum(
            (p.qty for a in engine.accounts.values() for p in a.open_positions()
             if p.coin == coin and p.qty > 0),
            ZERO,
        )  # fmt: skip
        return {
            "funding": hl_margin.current_funding(engine, coin),
            "openInterest": fmt(open_interest),
            "prevDayPx": fmt(mark),
            "dayNtlVlm": fmt(sum((f.qty * f.price for f in day), ZERO)),
            "premium": "0.0",
            "oraclePx": fmt(mark),
            "markPx": fmt(mark),
            "midPx": fmt((bid + ask) / 2),
            "impactPxs": [fmt(bid), fmt(ask)],
            "dayBaseVlm": fmt(sum((f.qty for f in day), ZERO)),
        }

    def _q_metaAndAssetCtxs(self, body: dict[str, Any]) -> Any:
        return [self._q_meta(body), [self._asset_ctx(c) for c in self.engine.markets]]

    def _q_spotMeta(self, _body: dict[str, Any]) -> Any:
        return {"universe": [], "tokens": [USDC_TOKEN]}

    def _q_spotMetaAndAssetCtxs(self, body: dict[str, Any]) -> Any:
        return [self._q_spotMeta(body), []]

    def _q_perpDexs(self, _body: dict[str, Any]) -> Any:
        return [None]

    def _q_allMids(self, body: dict[str, Any]) -> Any:
        self._check_dex(body)
        mids = {}
        for coin in self.engine.markets:
            bid, ask = self.engine.bid_ask(coin)
            mids[coin] = fmt((bid + ask) / 2)
        return mids

    def _q_l2Book(self, body: dict[str, Any]) -> Any:
        coin = body.get("coin")
        if not isinstance(coin, str):
            raise WireError("missing 'coin'")
        if coin not in self.engine.markets:
            return None
        return l2_book(self.engine, coin, self.clock())

    def _q_exchangeStatus(self, _body: dict[str, Any]) -> Any:
        return {"specialStatuses": None, "time": self.clock()}

    # ------------------------------------------------------------------ account
    def clearinghouse(self, user: str) -> dict[str, Any]:
        engine, now = self.engine, self.clock()
        if user not in engine.accounts:
            zero = {"accountValue": "0.0", "totalNtlPos": "0.0", "totalRawUsd": "0.0",
                    "totalMarginUsed": "0.0"}  # fmt: skip
            return {"marginSummary": zero, "crossMarginSummary": dict(zero),
                    "crossMaintenanceMarginUsed": "0.0", "withdrawable": "0.0",
                    "assetPositions": [], "time": now}  # fmt: skip
        summary = engine.summary(user)
        positions, notional, signed_notional, maintenance = [], ZERO, ZERO, ZERO
        for p in engine.positions(user):
            market, mark = engine.market(p.coin), engine.marks[p.coin]
            lev = engine.leverage(user, p.coin)
            value = abs(p.qty) * mark
            unreal = p.unrealized(mark)
            margin = value / lev
            notional += value
            signed_notional += p.qty * mark
            maintenance += position_maintenance(engine, p)
            liq_px = liquidation_price(engine, user, p)
            leverage: dict[str, Any] = {
                "type": engine.margin_mode(user, p.coin).value,
                "value": lev,
            }
            used = margin
            if engine.margin_mode(user, p.coin) is MarginMode.ISOLATED:
                used = margin + unreal
                leverage["rawUsd"] = fmt(used - p.qty * mark, MONEY_PLACES)
            cost = abs(p.qty) * p.entry_price / lev
            positions.append({
                "type": "oneWay",
                "position": {
                    "coin": p.coin,
                    "szi": fmt(p.qty),
                    "leverage": leverage,
                    "entryPx": fmt(p.entry_price, MONEY_PLACES),
                    "positionValue": fmt(value, MONEY_PLACES),
                    "unrealizedPnl": fmt(unreal, MONEY_PLACES),
                    "returnOnEquity": fmt(unreal / cost if cost else ZERO, 8),
                    "liquidationPx": None if liq_px is None else fmt(liq_px, 8),
                    "marginUsed": fmt(used, MONEY_PLACES),
                    "maxLeverage": market.max_leverage,
                    "cumFunding": {"allTime": "0.0", "sinceOpen": "0.0", "sinceChange": "0.0"},
                },
            })  # fmt: skip
        money = {
            "accountValue": fmt(summary.equity, MONEY_PLACES),
            "totalNtlPos": fmt(notional, MONEY_PLACES),
            "totalRawUsd": fmt(summary.equity - signed_notional, MONEY_PLACES),
            "totalMarginUsed": fmt(summary.position_margin, MONEY_PLACES),
        }
        return {
            "marginSummary": money,
            "crossMarginSummary": dict(money),
            "crossMaintenanceMarginUsed": fmt(maintenance, MONEY_PLACES),
            "withdrawable": fmt(max(summary.available, ZERO), MONEY_PLACES),
            "assetPositions": positions,
            "time": now,
        }

    def _q_clearinghouseState(self, body: dict[str, Any]) -> Any:
        self._check_dex(body)
        return self.clearinghouse(_user(body))

    def _q_spotClearinghouseState(self, body: dict[str, Any]) -> Any:
        _user(body)
        return {"balances": []}

    def _q_userAbstraction(self, body: dict[str, Any]) -> Any:
        _user(body)
        return "disabled"  # standard mode: perp collateral separate from spot

    def _q_userRole(self, body: dict[str, Any]) -> Any:
        user, state = _user(body), self.state
        if user in state.masters:
            return {"role": "subAccount", "data": {"master": state.masters[user]}}
        if user in self.engine.accounts:
            return {"role": "user"}
        owner = state.agent_owner(user)
        if owner is not None:
            return {"role": "agent", "data": {"user": owner}}
        return {"role": "missing"}

    def _q_extraAgents(self, body: dict[str, Any]) -> Any:
        records = self.state.agents.get(_user(body), {})
        return [
            {"name": r.name, "address": r.address, "validUntil": r.valid_until}
            for r in records.values()
        ]

    def _q_maxBuilderFee(self, body: dict[str, Any]) -> Any:
        approval = self.state.builder_approval(_user(body), _user(body, "builder"))
        return approval or 0

    def _q_referral(self, body: dict[str, Any]) -> Any:
        user = _user(body)
        code = self.state.referrers.get(user)
        volume = sum((f.qty * f.price for f in self.engine.account_fills(user)), ZERO)
        return {
            "referredBy": None if code is None else {"referrer": None, "code": code},
            "cumVlm": fmt(volume, MONEY_PLACES),
            "unclaimedRewards": "0.0",
            "claimedRewards": "0.0",
            "builderRewards": "0.0",
            "referrerState": {"stage": "needToTrade", "data": {"required": "10000.0"}},
            "rewardHistory": [],
        }

    def _q_userFees(self, body: dict[str, Any]) -> Any:
        _user(body)
        engine = self.engine
        return {
            "dailyUserVlm": [],
            "feeSchedule": {"cross": fmt(engine.taker_fee), "add": fmt(engine.maker_fee)},
            "userCrossRate": fmt(engine.taker_fee),
            "userAddRate": fmt(engine.maker_fee),
            "activeReferralDiscount": "0.0",
        }

    def _q_userRateLimit(self, body: dict[str, Any]) -> Any:
        user = _user(body)
        volume = sum((f.qty * f.price for f in self.engine.account_fills(user)), ZERO)
        used = len(self.state.nonces.get(user, NonceBook()).seen)
        return {"cumVlm": fmt(volume, MONEY_PLACES), "nRequestsUsed": used,
                "nRequestsCap": 10000 + int(volume)}  # fmt: skip

    # ------------------------------------------------------------------- orders
    def order_status(self, order: SimOrder) -> str:
        if order.order_id in self.state.status:
            return self.state.status[order.order_id]
        if order.status is OrderStatus.NEW:
            return "open"
        if order.status is OrderStatus.FILLED:
            return "filled"
        if order.status is OrderStatus.EXPIRED and order.expire_reason is not None:
            return EXPIRE_STATUS.get(order.expire_reason, "canceled")
        if order.expire_reason is Reject.LIQUIDATED:  # binary strings; no recorded response
            return "liquidatedCanceled"
        return "canceled"

    def frontend_order(self, order: SimOrder) -> dict[str, Any]:
        spec, meta = order.spec, self.state.meta.get(order.order_id)
        trigger = spec.kind.is_trigger
        condition = "N/A"
        if trigger and spec.trigger_price is not None:
            above = (spec.side is Side.BUY) == spec.kind.is_stop
            condition = f"Price {'above' if above else 'below'} {fmt(spec.trigger_price)}"
        children = []
        if meta is not None:
            for child_id in meta.children:
                child = self.engine.orders.get(child_id)
                if child is not None and child.status.is_open and not child.armed:
                    children.append(self.frontend_order(child))
        return {
            "coin": spec.coin,
            "side": "B" if spec.side is Side.BUY else "A",
            "limitPx": fmt(spec.price or ZERO),
            "sz": fmt(order.remaining if not spec.close_position else ZERO),
            "oid": order.order_id,
            "timestamp": order.created_ms,
            "triggerCondition": condition,
            "isTrigger": trigger,
            "triggerPx": fmt(spec.trigger_price or ZERO),
            "children": children,
            "isPositionTpsl": bool(meta and meta.position_tpsl),
            "reduceOnly": spec.reduce_only or spec.close_position,
            "orderType": _ORDER_TYPES[spec.kind],
            "origSz": fmt(spec.qty),
            "tif": meta.tif if meta is not None else None,
            "cloid": spec.client_id,
        }

    def _rejected_order(self, rec: RejectedOrder) -> dict[str, Any]:
        return {
            "coin": rec.coin, "side": "B" if rec.is_buy else "A", "limitPx": fmt(rec.price),
            "sz": fmt(rec.size), "oid": rec.oid, "timestamp": rec.time_ms,
            "triggerCondition": "N/A", "isTrigger": rec.trigger_px is not None,
            "triggerPx": fmt(rec.trigger_px or ZERO), "children": [], "isPositionTpsl": False,
            "reduceOnly": rec.reduce_only, "orderType": rec.order_type, "origSz": fmt(rec.size),
            "tif": rec.tif, "cloid": rec.cloid,
        }  # fmt: skip

    def _listed(self, user: str) -> list[SimOrder]:
        """Open orders shown on their own (unarmed TP/SL children appear under their parent)."""
        return sorted(
            (o for o in self.engine.open_orders(user) if o.armed),
            key=lambda o: o.order_id,
            reverse=True,
        )

    def _q_openOrders(self, body: dict[str, Any]) -> Any:
        self._check_dex(body)
        rows = []
        for o in self._listed(_user(body)):
            row = self.frontend_order(o)
            rows.append({k: row[k] for k in ("coin", "limitPx", "oid", "side", "sz", "timestamp",
                                              "origSz", "cloid", "reduceOnly")})  # fmt: skip
        return rows

    def _q_frontendOpenOrders(self, body: dict[str, Any]) -> Any:
        self._check_dex(body)
        return [self.frontend_order(o) for o in self._listed(_user(body))]

    def _q_orderStatus(self, body: dict[str, Any]) -> Any:
        user, oid = _user(body), body.get("oid")
        engine = self.engine
        order: SimOrder | None = None
        if isinstance(oid, int) and not isinstance(oid, bool):
            found = engine.orders.get(oid)
            order = found if found is not None and found.account_id == user else None
        elif isinstance(oid, str) and oid.startswith("0x"):
            cloid = oid.lower()
            rejected = self.state.rejected.get((user, cloid))
            if rejected is not None:
                return {"status": "order", "order": {
                    "order": self._rejected_order(rejected), "status": rejected.status,
                    "statusTimestamp": rejected.time_ms}}  # fmt: skip
            matches = [o for o in engine.orders.values()
                       if o.account_id == user and o.spec.client_id == cloid]  # fmt: skip
            order = matches[-1] if matches else None
        else:
            raise WireError("oid must be an integer or a 0x cloid")
        if order is None:
            return {"status": "unknownOid"}
        return {
            "status": "order",
            "order": {
                "order": self.frontend_order(order),
                "status": self.order_status(order),
                "statusTimestamp": order.updated_ms,
            },
        }

    def _q_historicalOrders(self, body: dict[str, Any]) -> Any:
        user = _user(body)
        rows: list[dict[str, Any]] = [
            {"order": self.frontend_order(o), "status": self.order_status(o),
             "statusTimestamp": o.updated_ms}
            for o in self.engine.orders.values() if o.account_id == user
        ]  # fmt: skip
        rows += [
            {"order": self._rejected_order(r), "status": r.status, "statusTimestamp": r.time_ms}
            for r in self.state.rejected.values() if r.account == user
        ]  # fmt: skip
        rows.sort(key=lambda r: r["statusTimestamp"], reverse=True)
        return rows[:2000]

    # -------------------------------------------------------------------- fills
    def fills(self, user: str) -> list[dict[str, Any]]:
        held: dict[str, Decimal] = {}
        rows = []
        for f in self.engine.account_fills(user):
            start = held.get(f.coin, ZERO)
            end = start + (f.qty if f.side is Side.BUY else -f.qty)
            held[f.coin] = end
            row: dict[str, Any] = {
                "coin": f.coin,
                "px": fmt(f.price),
                "sz": fmt(f.qty),
                "side": "B" if f.side is Side.BUY else "A",
                "time": f.time_ms,
                "startPosition": fmt(start),
                "dir": _direction(start, end),
                "closedPnl": fmt(f.realized_pnl, MONEY_PLACES),
                "hash": "0x" + f"{f.trade_id:064x}",
                "oid": f.order_id,
                "crossed": not f.maker,
                "fee": fmt(f.fee, MONEY_PLACES),
                "tid": f.trade_id,
                "feeToken": "USDC",
                "twapId": None,
            }
            if f.client_id is not None:  # absent, not null, without one ("Info endpoint" docs)
                row["cloid"] = f.client_id
            liquidation = hl_margin.liquidation_of(self.engine, f)
            if liquidation is not None:
                row["liquidation"] = liquidation
            builder_fee = self.state.builder_fees.get(f.trade_id)
            if builder_fee is not None:
                row["builderFee"] = fmt(builder_fee, MONEY_PLACES)
            rows.append(row)
        return rows

    def _q_userFills(self, body: dict[str, Any]) -> Any:
        return list(reversed(self.fills(_user(body))))[:2000]

    def _q_userFillsByTime(self, body: dict[str, Any]) -> Any:
        start, end = body.get("startTime"), body.get("endTime")
        if not isinstance(start, int) or (end is not None and not isinstance(end, int)):
            raise WireError("startTime / endTime must be integers")
        rows = [
            r for r in self.fills(_user(body))
            if r["time"] >= start and (end is None or r["time"] <= end)
        ]  # fmt: skip
        return rows[:2000]


def l2_book(engine: Engine, coin: str, now: int) -> dict[str, Any]:
    """The ``l2Book`` answer for ``coin``: the venue-wide book (`sim.book`, `Depth.sides`: the
    levels a taker order walks), at most `L2_LEVELS` a side, ``n`` 1 per level. With no
    venue-wide depth (none, or only an account's: ``l2Book`` has no user), one level a side:
    the touch, sized at the market's maximum order size (the engine fills any size)."""
    market = engine.markets[coin]
    bid, ask = engine.bid_ask(coin)
    if engine.depth is None:
        bids, asks = [(bid, market.max_qty)], [(ask, market.max_qty)]
    else:
        bids, asks = engine.depth.sides(market, bid, ask, engine.marks[coin])
    return {
        "coin": coin,
        "time": now,
        "levels": [
            [{"px": fmt(p), "sz": fmt(q), "n": 1} for p, q in side[:L2_LEVELS]]
            for side in (bids, asks)
        ],
    }


def _direction(start: Decimal, end: Decimal) -> str:
    if end > start:  # buying
        if start >= 0:
            return "Open Long"
        return "Close Short" if end <= 0 else "Short > Long"
    if start <= 0:
        return "Open Short"
    return "Close Long" if end >= 0 else "Long > Short"
