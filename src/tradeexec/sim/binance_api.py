"""The Binance USD-M futures face of the simulator: fapi (and the two sapi reads ccxt makes).

Unmodified ``ccxt.async_support.binanceusdm`` pointed at the simulator (`point_ccxt_at`) gets the
answers fapi.binance.com gives: the same paths, parameters, JSON shapes, error codes and HTTP
statuses, HMAC-SHA256 request signing (`binance_auth`). The order endpoints (plain and algo)
live in `binance_orders`, shapes in `binance_render` and `binance_market`, parameter checks in
`binance_params`, error answers in `binance_errors`.

Conditional orders (stop / take-profit, market or limit) live in the algo service as on Binance
since 2025-12: ``/fapi/v1/algoOrder``; the plain ``/fapi/v1/order`` refuses them with -4120. An
algo order's ``algoId`` is its engine order id; once it fires, the order it placed gets an id
of its own (``actualOrderId`` on the algo order): it shows up on the plain endpoints under that
id only (asking them for the algoId answers -2013), and its trades carry that id.

Every request first passes the rate limits (`sim.ratelimit`, off unless enforced: weight per
IP, orders per account, 429 / 418 with ``Retry-After``, the ``X-MBX-*`` count headers), then
runs through ``ctx.faults.guard(route, account, ...)``. Route names:

=============================  ==========================================================
route                          method and path
=============================  ==========================================================
binance.ping                   GET /fapi/v1/ping
binance.time                   GET /fapi/v1/time
binance.exchangeInfo           GET /fapi/v1/exchangeInfo
binance.depth                  GET /fapi/v1/depth
binance.ticker                 GET /fapi/v1/ticker/24hr
binance.bookTicker             GET /fapi/v1/ticker/bookTicker
binance.price                  GET /fapi/v1/ticker/price, /fapi/v2/ticker/price
binance.premiumIndex           GET /fapi/v1/premiumIndex
binance.fundingRate            GET /fapi/v1/fundingRate
binance.order.create           POST /fapi/v1/order
binance.order.cancel           DELETE /fapi/v1/order
binance.order.get              GET /fapi/v1/order
binance.order.open             GET /fapi/v1/openOrders
binance.order.openOne          GET /fapi/v1/openOrder (one open order; the connector's
                               get_open_orders)
binance.order.all              GET /fapi/v1/allOrders
binance.order.cancelAll        DELETE /fapi/v1/allOpenOrders
binance.algo.create            POST /fapi/v1/algoOrder
binance.algo.cancel            DELETE /fapi/v1/algoOrder
binance.algo.get               GET /fapi/v1/algoOrder
binance.algo.open              GET /fapi/v1/openAlgoOrders
binance.algo.all               GET /fapi/v1/allAlgoOrders
binance.algo.cancelAll         DELETE /fapi/v1/algoOpenOrders
binance.balance                GET /fapi/v2/account, /fapi/v3/account, /fapi/v2/balance,
                               /fapi/v3/balance
binance.positions              GET /fapi/v2/positionRisk, /fapi/v3/positionRisk
binance.trades                 GET /fapi/v1/userTrades
binance.income                 GET /fapi/v1/income
binance.forceOrders            GET /fapi/v1/forceOrders
binance.leverage               POST /fapi/v1/leverage
binance.leverageBracket        GET /fapi/v1/leverageBracket
binance.symbolConfig           GET /fapi/v1/symbolConfig
binance.marginType             POST /fapi/v1/marginType
binance.positionMode.get       GET /fapi/v1/positionSide/dual
binance.positionMode.set       POST /fapi/v1/positionSide/dual
binance.sapi.currencies        GET /sapi/v1/capital/config/getall
binance.sapi.marginPairs       GET /sapi/v1/margin/allPairs
=============================  ==========================================================

Not simulated (answered as fapi answers an unknown value): TRAILING_STOP_MARKET (-1116 on the
algo endpoint), ``timeInForce=GTD`` (-1115), ``priceMatch`` (-1130). ``workingType`` picks
the price a conditional watches: the last price (CONTRACT_PRICE, the default) or the mark.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tradeexec.sim import binance_errors as err
from tradeexec.sim import binance_income as income
from tradeexec.sim import binance_market as mkt
from tradeexec.sim import binance_render as render
from tradeexec.sim.accounting import MarginMode
from tradeexec.sim.binance_auth import KeyStore
from tradeexec.sim.binance_errors import BinanceError
from tradeexec.sim.binance_orders import BinanceOrders, Call
from tradeexec.sim.binance_params import Params
from tradeexec.sim.engine import Engine, Reject, SimError
from tradeexec.sim.face import SimContext
from tradeexec.sim.markets import MarketSpec

SUCCESS = {"code": 200, "msg": "success"}

Handler = Callable[[Call], Any]


class BinanceFace:
    """Binance USD-M REST on the real paths, backed by one `Engine`."""

    venue = "binance"

    def __init__(self, engine: Engine, ctx: SimContext) -> None:
        self.engine = engine
        self.ctx = ctx
        self.keys = KeyStore()
        self.orders = BinanceOrders(lambda: self.engine)
        self._created_ms: dict[str, int] = {}

    # ----------------------------------------------------------- ExchangeFace
    def create_account(self, balance: Decimal) -> dict[str, str]:
        account_id = f"binance-{secrets.token_hex(6)}"
        self.engine.create_account(account_id, balance)
        self._created_ms[account_id] = self.ctx.clock()
        cred = self.keys.add(account_id)
        return {"apiKey": cred.api_key, "secret": cred.secret, "account": account_id}

    def error_response(self, status: int) -> Response:
        return err.status_error(status, self.ctx.clock()).response()

    def reset(self) -> None:
        self.keys.clear()
        self.orders.reset()
        self._created_ms.clear()

    def routes(self) -> list[BaseRoute]:
        orders = self.orders
        table: list[tuple[str, str, str, Handler, bool]] = [
            ("GET", "/fapi/v1/ping", "binance.ping", self._ping, False),
            ("GET", "/fapi/v1/time", "binance.time", self._time, False),
            ("GET", "/fapi/v1/exchangeInfo", "binance.exchangeInfo", self._info, False),
            ("GET", "/fapi/v1/depth", "binance.depth", self._depth, False),
            ("GET", "/fapi/v1/ticker/24hr", "binance.ticker", self._ticker, False),
            ("GET", "/fapi/v1/ticker/bookTicker", "binance.bookTicker", self._book, False),
            ("GET", "/fapi/v1/ticker/price", "binance.price", self._price, False),
            ("GET", "/fapi/v2/ticker/price", "binance.price", self._price, False),
            ("GET", "/fapi/v1/premiumIndex", "binance.premiumIndex", self._premium, False),
            ("GET", "/fapi/v1/fundingRate", "binance.fundingRate", self._funding_rates, False),
            ("POST", "/fapi/v1/order", "binance.order.create", orders.new, True),
            ("DELETE", "/fapi/v1/order", "binance.order.cancel", orders.cancel, True),
            ("GET", "/fapi/v1/order", "binance.order.get", orders.get, True),
            ("GET", "/fapi/v1/openOrders", "binance.order.open", orders.open, True),
            ("GET", "/fapi/v1/openOrder", "binance.order.openOne", orders.open_one, True),
            ("GET", "/fapi/v1/allOrders", "binance.order.all", orders.all, True),
            ("DELETE", "/fapi/v1/allOpenOrders", "binance.order.cancelAll",
             orders.cancel_all, True),
            ("POST", "/fapi/v1/algoOrder", "binance.algo.create", orders.algo_new, True),
            ("DELETE", "/fapi/v1/algoOrder", "binance.algo.cancel", orders.algo_cancel, True),
            ("GET", "/fapi/v1/algoOrder", "binance.algo.get", orders.algo_get, True),
            ("GET", "/fapi/v1/openAlgoOrders", "binance.algo.open", orders.algo_open, True),
            ("GET", "/fapi/v1/allAlgoOrders", "binance.algo.all", orders.algo_all, True),
            ("DELETE", "/fapi/v1/algoOpenOrders", "binance.algo.cancelAll",
             orders.algo_cancel_all, True),
            ("GET", "/fapi/v2/account", "binance.balance", self._account_v2, True),
            ("GET", "/fapi/v3/account", "binance.balance", self._account_v3, True),
            ("GET", "/fapi/v2/balance", "binance.balance", self._balance, True),
            ("GET", "/fapi/v3/balance", "binance.balance", self._balance, True),
            ("GET", "/fapi/v2/positionRisk", "binance.positions", self._risk_v2, True),
            ("GET", "/fapi/v3/positionRisk", "binance.positions", self._risk_v3, True),
            ("GET", "/fapi/v1/userTrades", "binance.trades", self._trades, True),
            ("GET", "/fapi/v1/income", "binance.income", self._income, True),
            ("GET", "/fapi/v1/forceOrders", "binance.forceOrders", self._force_orders, True),
            ("POST", "/fapi/v1/leverage", "binance.leverage", self._leverage, True),
            ("GET", "/fapi/v1/leverageBracket", "binance.leverageBracket", self._brackets, True),
            ("GET", "/fapi/v1/symbolConfig", "binance.symbolConfig", self._symbol_config, True),
            ("POST", "/fapi/v1/marginType", "binance.marginType", self._margin_type, True),
            ("GET", "/fapi/v1/positionSide/dual", "binance.positionMode.get", self._dual_get, True),
            ("POST", "/fapi/v1/positionSide/dual", "binance.positionMode.set",
             self._dual_set, True),
            ("GET", "/sapi/v1/capital/config/getall", "binance.sapi.currencies",
             self._currencies, True),
            ("GET", "/sapi/v1/margin/allPairs", "binance.sapi.marginPairs",
             self._margin_pairs, True),
        ]  # fmt: skip
        return [
            Route(path, self._endpoint(name, handler, signed), methods=[method])
            for method, path, name, handler, signed in table
        ]

    # ------------------------------------------------------------- plumbing
    def _endpoint(
        self, name: str, handler: Handler, signed: bool
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            raw_query = request.scope.get("query_string", b"").decode("utf-8", "replace")
            raw_body = (await request.body()).decode("utf-8", "replace")
            api_key = request.headers.get("X-MBX-APIKEY")
            account = self.keys.account_for(api_key) if signed else None
            ip = request.client.host if request.client else ""
            limited = self.ctx.limits.binance.admit(
                ip, name, dict(parse_qsl(raw_body) + parse_qsl(raw_query)), account
            )
            if limited.refused:
                answer = BinanceError(limited.code, limited.message, limited.status or 429)
                return _with_headers(answer.response(), limited.headers)

            async def run() -> Response:
                try:
                    values = dict(parse_qsl(raw_body, keep_blank_values=True))
                    values.update(parse_qsl(raw_query, keep_blank_values=True))
                    account_id = ""
                    if signed:
                        cred = self.keys.verify(
                            api_key, raw_query, raw_body, values, self.ctx.request_now()
                        )
                        account_id = cred.account_id
                    return JSONResponse(handler(Call(Params(values), account_id)))
                except BinanceError as exc:
                    return exc.response()
                except SimError as exc:
                    return err.from_reject(exc.reason).response()

            response = await self.ctx.faults.guard(name, account, run, self.error_response)
            return _with_headers(response, limited.headers)

        return endpoint

    def _market(self, call: Call, *, required: bool = True) -> MarketSpec | None:
        return call.market(self.engine, required=required)

    def _markets(self, call: Call) -> list[MarketSpec]:
        market = self._market(call, required=False)
        return [market] if market is not None else list(self.engine.markets.values())

    def _one_or_all(self, call: Call, render_one: Callable[[MarketSpec], Any]) -> Any:
        rows = [render_one(spec) for spec in self._markets(call)]
        return rows[0] if call.params.get("symbol") is not None else rows

    # ----------------------------------------------------------------- public
    def _ping(self, _call: Call) -> Any:
        return {}

    def _time(self, _call: Call) -> Any:
        # the clock signed requests are checked against (ccxt's adjustForTimeDifference reads
        # it), not the simulator's business time, which /_sim/time may have moved ahead
        return {"serverTime": self.ctx.request_now()}

    def _info(self, _call: Call) -> Any:
        info = mkt.exchange_info(self.engine, self.ctx.clock())
        info["rateLimits"] = self.ctx.limits.binance.published()  # as configured (`ratelimit`)
        return info

    def _depth(self, call: Call) -> Any:
        market = self._market(call)
        assert market is not None
        return mkt.depth(self.engine, market, self.ctx.clock(), call.params.integer("limit"))

    def _ticker(self, call: Call) -> Any:
        now = self.ctx.clock()
        return self._one_or_all(call, lambda spec: mkt.ticker_24hr(self.engine, spec, now))

    def _book(self, call: Call) -> Any:
        now = self.ctx.clock()
        return self._one_or_all(call, lambda spec: mkt.book_ticker(self.engine, spec, now))

    def _price(self, call: Call) -> Any:
        now = self.ctx.clock()
        return self._one_or_all(
            call,
            lambda spec: {
                "symbol": render.symbol_of(spec),
                "price": render.px(spec, self.engine.lasts[spec.coin]),  # the last price
                "time": now,
            },
        )

    def _premium(self, call: Call) -> Any:
        now = self.ctx.clock()
        return self._one_or_all(call, lambda spec: mkt.premium_index(self.engine, spec, now))

    def _funding_rates(self, call: Call) -> Any:
        return income.funding_rates(self.engine, call, self._market(call, required=False))

    # ---------------------------------------------------------------- account
    def _income(self, call: Call) -> Any:
        market = self._market(call, required=False)
        return income.income(self.engine, call, market, self.ctx.clock())

    def _force_orders(self, call: Call) -> Any:
        market = self._market(call, required=False)
        return income.force_orders(self.engine, call, market, self.ctx.clock())

    def _account_v2(self, call: Call) -> Any:
        created = self._created_ms.get(call.account, 0)
        return render.account(self.engine, call.account, v2=True, created_ms=created)

    def _account_v3(self, call: Call) -> Any:
        created = self._created_ms.get(call.account, 0)
        return render.account(self.engine, call.account, v2=False, created_ms=created)

    def _balance(self, call: Call) -> Any:
        return render.balances(self.engine, call.account, self._created_ms.get(call.account, 0))

    def _risk(self, call: Call, *, v2: bool) -> Any:
        market = self._market(call, required=False)
        return [
            render.position_risk(self.engine, call.account, self.engine.market(p.coin), p, v2=v2)
            for p in render.positions_of(self.engine, call.account, all_symbols=v2)
            if market is None or p.coin == market.coin
        ]

    def _risk_v2(self, call: Call) -> Any:
        return self._risk(call, v2=True)

    def _risk_v3(self, call: Call) -> Any:
        return self._risk(call, v2=False)

    def _trades(self, call: Call) -> Any:
        market = self._market(call)
        assert market is not None
        engine = self.engine
        order_id = call.params.integer("orderId")
        start = call.params.integer("startTime")
        end = call.params.integer("endTime")
        from_id = call.params.integer("fromId")
        limit = min(call.params.integer("limit") or 500, 1000)
        # a fired algo order's trades carry the id of the order it placed, not the algoId
        shown = {
            f.order_id: render.shown_order_id(engine.orders[f.order_id])
            for f in engine.account_fills(call.account, market.coin)
        }
        fills = [
            f for f in engine.account_fills(call.account, market.coin)
            if (order_id is None or shown[f.order_id] == order_id)
            and (start is None or f.time_ms >= start) and (end is None or f.time_ms <= end)
            and (from_id is None or f.trade_id >= from_id)
        ]  # fmt: skip
        fills = fills[:limit] if (from_id is not None or start is not None) else fills[-limit:]
        return [render.trade(market, f, shown[f.order_id]) for f in fills]

    # --------------------------------------------------------------- settings
    def _leverage(self, call: Call) -> Any:
        market = self._market(call)
        assert market is not None
        raw = call.params.required("leverage")
        if not raw.isdigit():
            raise err.illegal_chars("leverage", "^[0-9]{1,20}$")
        leverage = int(raw)
        if 1 <= leverage <= market.max_leverage:
            self._check_leverage_change(call.account, market, leverage)
        try:
            self.engine.set_leverage(call.account, market.coin, leverage)
        except SimError as exc:
            if exc.reason is Reject.BAD_LEVERAGE:
                raise err.bad_leverage(raw) from None
            raise
        return {
            "leverage": leverage,
            "maxNotionalValue": render.max_notional(market, leverage),
            "symbol": render.symbol_of(market),
        }

    def _check_leverage_change(self, account: str, market: MarketSpec, leverage: int) -> None:
        """What fapi checks before changing a symbol's leverage with a position open: the
        position must fit the new leverage's bracket (-2027), and lowering the leverage must
        leave margin for the larger initial margin (-2028)."""
        notional = sum(
            (abs(p.qty) * self.engine.marks[p.coin] for p in self.engine.positions(account)
             if p.coin == market.coin),
            Decimal(0),
        )  # fmt: skip
        if not notional:
            return
        cap = market.max_notional(leverage)
        if cap is not None and notional > cap:
            raise err.ABOVE_MAX_NOTIONAL.error()
        current = self.engine.leverage(account, market.coin)
        extra = notional / leverage - notional / current
        if extra > 0 and extra > self.engine.summary(account).available:
            raise err.LEVERAGE_MARGIN.error()

    def _brackets(self, call: Call) -> Any:
        return self._one_or_all(call, mkt.leverage_bracket)

    def _symbol_config(self, call: Call) -> Any:
        """``GET /fapi/v1/symbolConfig``: per symbol, the account's margin type and leverage
        (what ccxt's fetchLeverage(s) and fetchMarginMode read)."""
        return [
            {
                "symbol": render.symbol_of(spec),
                "marginType": "ISOLATED"
                if self.engine.margin_mode(call.account, spec.coin) is MarginMode.ISOLATED
                else "CROSSED",
                "isAutoAddMargin": "false",
                "leverage": self.engine.leverage(call.account, spec.coin),
                "maxNotionalValue": render.max_notional(
                    spec, self.engine.leverage(call.account, spec.coin)
                ),
            }
            for spec in self._markets(call)
        ]

    def _margin_type(self, call: Call) -> Any:
        market = self._market(call)
        assert market is not None
        raw = call.params.required("marginType")
        modes = {"ISOLATED": MarginMode.ISOLATED, "CROSSED": MarginMode.CROSS}
        if raw.upper() not in modes:
            raise err.invalid_param("marginType")
        mode = modes[raw.upper()]
        if self.engine.margin_mode(call.account, market.coin) is not mode and (
            self.engine.open_orders(call.account, market.coin)
        ):
            raise err.MARGIN_TYPE_OPEN_ORDERS.error()
        self.engine.set_margin_mode(call.account, market.coin, mode)
        return SUCCESS

    def _dual_get(self, call: Call) -> Any:
        return {"dualSidePosition": self.engine.account(call.account).hedge_mode}

    def _dual_set(self, call: Call) -> Any:
        hedge = call.params.boolean("dualSidePosition")
        if hedge is None:
            raise err.mandatory("dualSidePosition")
        if self.engine.account(call.account).hedge_mode == hedge:
            raise err.POSITION_SIDE_UNCHANGED.error()
        if self.engine.positions(call.account):
            raise err.POSITION_SIDE_POSITION.error()
        if self.engine.open_orders(call.account):
            raise err.POSITION_SIDE_OPEN_ORDERS.error()
        self.engine.set_position_mode(call.account, hedge)
        return SUCCESS

    # ------------------------------------------------------------------- sapi
    def _currencies(self, _call: Call) -> Any:
        return mkt.capital_config(self.engine)

    def _margin_pairs(self, _call: Call) -> Any:
        return mkt.margin_all_pairs(self.engine)


def _with_headers(response: Response, headers: dict[str, str]) -> Response:
    """The rate-limit headers (``X-MBX-USED-WEIGHT-1M``, ``Retry-After`` ...) on an answer."""
    for name, value in headers.items():
        response.headers[name] = value
    return response
