"""The simulator application: both exchange faces plus the ``/_sim/`` control API.

Control API (JSON; documented in the README):

==========  ====================================  ==============================================
method      path                                  what
==========  ====================================  ==============================================
GET         /_sim/health                          liveness
POST        /_sim/accounts                        {"venue", "balance"} -> new funded credentials
POST        /_sim/accounts/{venue}/{account}/fund {"amount"}
GET         /_sim/accounts/{venue}/{account}      balances, positions, open orders
GET         /_sim/prices                          marks per venue
POST        /_sim/prices                          {"coin", "price", "venue"?, "last"?}: set a
                                                  mark and the last price (with the mark unless
                                                  given; fires triggers, fills crossed limits)
POST        /_sim/tick                            {"steps"}: advance the price feed
GET/POST/   /_sim/faults                          list / add a FaultRule / clear all
DELETE
POST        /_sim/reset                           fresh engines, accounts, faults; the clock
                                                  back on the wall clock
GET         /_sim/requests?limit=&venue=&after=   the request log (newest last; no secrets;
                                                  ``after``: entries whose ``seq`` is greater)
GET/POST    /_sim/requests/config                 {"size"}: how many entries the log keeps
GET         /_sim/accounts/{venue}/{account}/     the account's orders in any status
            orders?status=&limit=
GET/POST/   /_sim/limits                          rate limits (`sim.ratelimit`): {"venue",
DELETE                                            "enforce", "request_weight", ...}; DELETE:
                                                  back to SimConfig.rate_limits
GET/POST/   /_sim/depth                           the book depth (`sim.book`): {"venue"?,
DELETE                                            "account"?, "size", "levels"?, ...}; DELETE
                                                  (same venue/account query) turns it off
GET/POST    /_sim/time, /_sim/funding             the clock and funding rates
                                                  (`sim.control_clock`)
==========  ====================================  ==============================================
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from tradeexec.sim.binance_api import BinanceFace
from tradeexec.sim.book import Depth, depth_from_json
from tradeexec.sim.clearing import ClearingEngine
from tradeexec.sim.clock import SimClock
from tradeexec.sim.control_clock import ClockControl
from tradeexec.sim.control_views import order_history, order_view
from tradeexec.sim.engine import SimError
from tradeexec.sim.face import ExchangeFace, SimContext
from tradeexec.sim.faults import FaultRule, FaultSet
from tradeexec.sim.feeds import PriceFeed, ReplayFeed, SyntheticWalk
from tradeexec.sim.hyperliquid_api import HyperliquidFace
from tradeexec.sim.markets import VENUES, select_markets
from tradeexec.sim.ratelimit import RateLimitConfig, RateLimits, updated
from tradeexec.sim.request_log import (
    MAX_LOG_SIZE,
    SECRET_FIELDS,
    RequestLog,
    RequestLogMiddleware,
)
from tradeexec.sim.ws_faces import SyncAfterRequest, WebsocketFaces

__all__ = ["SECRET_FIELDS", "RequestLog", "SimConfig", "Simulator"]


@dataclass(frozen=True)
class SimConfig:
    seed: int = 0
    coins: tuple[str, ...] = ()  # empty: all known markets
    spread_bps: Decimal = Decimal("2")
    tick_ms: int = 0  # 0: prices move only when told (tests); >0: the feed steps on a timer
    replay_csv: str | None = None
    starting_balance: Decimal = Decimal("10000")
    request_log_size: int = 5000  # entries kept by the request log (`sim.request_log`)
    depth: Depth | None = None  # None: whole fills at the touch (see `sim.book`)
    # live values, not enforced by default (`sim.ratelimit`; POST /_sim/limits turns them on)
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    hl_network: str = "both"  # Hyperliquid signatures accepted: mainnet, testnet or both


def venue_engine(venue: str, config: SimConfig, ctx: SimContext) -> ClearingEngine:
    rules = VENUES[venue]
    engine = ClearingEngine(
        select_markets(rules.markets, list(config.coins)),
        funding_interval_ms=rules.funding_interval_ms,
        funding_rate=rules.funding_rate,
        collateral=rules.collateral,
        maker_fee=rules.maker_fee,
        taker_fee=rules.taker_fee,
        spread_bps=config.spread_bps,
        reject_immediate_trigger=rules.reject_immediate_trigger,
        clock=ctx.clock,
    )
    engine.depth = config.depth
    return engine


class Simulator:
    """Both venues, their faces, faults and the price feed, behind one Starlette app."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.clock = SimClock()  # /_sim/time moves it forward; /_sim/reset back to the wall
        self.ctx = SimContext(
            faults=FaultSet(seed=self.config.seed),
            clock=self.clock,
            limits=RateLimits(self.config.rate_limits),
        )
        self.clock_control = ClockControl(self.clock, self._engines)
        self.log = RequestLog(self.config.request_log_size)
        self.binance = BinanceFace(venue_engine("binance", self.config, self.ctx), self.ctx)
        self.hyperliquid = HyperliquidFace(
            venue_engine("hyperliquid", self.config, self.ctx),
            self.ctx,
            network=self.config.hl_network,
        )
        self.feed = self._make_feed()
        self.ws = WebsocketFaces(self.binance, self.hyperliquid, lambda: self.ctx.clock())
        self._app = self._build_app()

    @property
    def faces(self) -> dict[str, ExchangeFace]:
        return {"binance": self.binance, "hyperliquid": self.hyperliquid}

    def _engines(self) -> dict[str, ClearingEngine]:
        engines = {name: face.engine for name, face in self.faces.items()}
        return {n: e for n, e in engines.items() if isinstance(e, ClearingEngine)}

    @property
    def app(self) -> ASGIApp:
        return self._app

    def _make_feed(self) -> PriceFeed:
        if self.config.replay_csv:
            return ReplayFeed(self.config.replay_csv)
        return SyntheticWalk(dict(self.binance.engine.marks), seed=self.config.seed)

    # ------------------------------------------------------------- control
    def reset(self) -> None:
        self.clock.reset()
        self.ctx.faults.clear()
        self.ctx.limits.reset()
        self.log.entries.clear()
        self.binance.engine = venue_engine("binance", self.config, self.ctx)
        self.hyperliquid.engine = venue_engine("hyperliquid", self.config, self.ctx)
        self.binance.reset()
        self.hyperliquid.reset()
        self.hyperliquid.network = self.config.hl_network
        self.ws.reset()
        self.feed = self._make_feed()

    def set_price(
        self, coin: str, price: Decimal, venue: str | None = None, last: Decimal | None = None
    ) -> int:
        """Move a mark (and the last price: ``last``, else with the mark) on one or both venues."""
        fills = 0
        for name, face in self.faces.items():
            if venue in (None, name) and coin in face.engine.markets:
                fills += len(face.engine.set_mark(coin, price, last))
        return fills

    def tick(self, steps: int = 1) -> None:
        for _ in range(steps):
            for coin, price in self.feed.step().items():
                self.set_price(coin, price)

    def demo_credentials(self) -> dict[str, dict[str, str]]:
        balance = self.config.starting_balance
        return {
            "binance": self.binance.create_account(balance),
            "hyperliquid": self.hyperliquid.create_account(balance),
        }

    # ---------------------------------------------------------------- app
    def _build_app(self) -> ASGIApp:
        routes: list[BaseRoute] = [
            Route("/_sim/health", self._health, methods=["GET"]),
            Route("/_sim/accounts", self._create_account, methods=["POST"]),
            Route("/_sim/accounts/{venue}/{account}/fund", self._fund, methods=["POST"]),
            Route("/_sim/accounts/{venue}/{account}", self._account, methods=["GET"]),
            Route("/_sim/prices", self._prices, methods=["GET", "POST"]),
            Route("/_sim/tick", self._tick, methods=["POST"]),
            Route("/_sim/faults", self._faults, methods=["GET", "POST", "DELETE"]),
            Route("/_sim/reset", self._reset, methods=["POST"]),
            Route("/_sim/requests", self._requests, methods=["GET"]),
            Route("/_sim/requests/config", self._requests_config, methods=["GET", "POST"]),
            Route("/_sim/accounts/{venue}/{account}/orders", self._orders, methods=["GET"]),
            Route("/_sim/limits", self._limits, methods=["GET", "POST", "DELETE"]),
            Route("/_sim/depth", self._depth, methods=["GET", "POST", "DELETE"]),
            *self.clock_control.routes(),
        ]
        routes += self.binance.routes() + self.hyperliquid.routes()
        routes += self.ws.routes()
        app = Starlette(
            routes=routes,
            lifespan=self._lifespan,
            exception_handlers={_BadRequest: _control_error, SimError: _control_error},
        )
        return RequestLogMiddleware(
            SyncAfterRequest(app, self.ws), self.log, lambda: self.ctx.clock()
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(self._tick_forever()) if self.config.tick_ms > 0 else None
        pushes = asyncio.create_task(self.ws.run())
        try:
            yield
        finally:
            pushes.cancel()
            if task is not None:
                task.cancel()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick_ms / 1000)
            self.tick()
            self.clock_control.run_due()  # a running feed is a live market: funding on time

    def _face(self, venue: str) -> ExchangeFace:
        if venue not in self.faces:
            raise _BadRequest(f"unknown venue {venue!r}; one of {sorted(self.faces)}")
        return self.faces[venue]

    async def _health(self, _request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def _create_account(self, request: Request) -> JSONResponse:
        body = await _json(request)
        face = self._face(str(body.get("venue", "")))
        balance = _decimal(body.get("balance", str(self.config.starting_balance)), "balance")
        return JSONResponse(face.create_account(balance))

    async def _fund(self, request: Request) -> JSONResponse:
        face = self._face(request.path_params["venue"])
        body = await _json(request)
        amount = _decimal(body.get("amount"), "amount")
        account = face.engine.account(request.path_params["account"].lower())
        account.deposit(amount)
        return JSONResponse({"account": account.account_id, "wallet": str(account.wallet_balance)})

    async def _account(self, request: Request) -> JSONResponse:
        face = self._face(request.path_params["venue"])
        account_id = request.path_params["account"].lower()
        engine = face.engine
        summary = {k: str(v) for k, v in asdict(engine.summary(account_id)).items()}
        positions = [
            {
                "coin": p.coin,
                "side": p.position_side.value,
                "qty": str(p.qty),
                "entry": str(p.entry_price),
            }
            for p in engine.positions(account_id)
        ]
        orders = [order_view(o) for o in engine.open_orders(account_id)]
        return JSONResponse({"summary": summary, "positions": positions, "open_orders": orders})

    async def _prices(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            body = await _json(request)
            coin = str(body.get("coin", "")).upper()
            venue = body.get("venue")
            if not any(coin in f.engine.markets for f in self.faces.values()):
                raise _BadRequest(f"unknown coin {coin!r}")
            price = _decimal(body.get("price"), "price", positive=True)
            last = (
                None if body.get("last") is None else _decimal(body["last"], "last", positive=True)
            )
            for face in self.faces.values():
                market = face.engine.markets.get(coin)
                for value in (price, last or price):
                    if market is not None and market.round_price(value) <= 0:
                        raise _BadRequest(f"price {value} is below {coin}'s tick")
            fills = self.set_price(coin, price, venue, last)
            return JSONResponse({"coin": coin, "fills": fills, **self._marks()})
        return JSONResponse(self._marks())

    def _marks(self) -> dict[str, Any]:
        return {
            "marks": {
                name: {c: str(p) for c, p in face.engine.marks.items()}
                for name, face in self.faces.items()
            },
            "lasts": {
                name: {c: str(p) for c, p in face.engine.lasts.items()}
                for name, face in self.faces.items()
            },
        }

    async def _tick(self, request: Request) -> JSONResponse:
        body = await _json(request)
        self.tick(_int(body.get("steps", 1), "steps", 1, 10_000))
        return JSONResponse(self._marks())

    async def _faults(self, request: Request) -> JSONResponse:
        if request.method == "DELETE":
            self.ctx.faults.clear()
        elif request.method == "POST":
            body = await _json(request)
            try:
                self.ctx.faults.add(FaultRule(**_fault_fields(body)))
            except (TypeError, ValueError) as exc:
                raise _BadRequest(f"bad fault rule: {exc}") from exc
        return JSONResponse({"rules": [asdict(r) for r in self.ctx.faults.rules]})

    async def _reset(self, _request: Request) -> JSONResponse:
        self.reset()
        return JSONResponse({"ok": True})

    async def _requests(self, request: Request) -> JSONResponse:
        """The request log, newest last; ``after=<seq>``: only entries after that one."""
        limit = _int(request.query_params.get("limit", "100"), "limit", 1, 100_000)
        venue = request.query_params.get("venue")
        after = request.query_params.get("after")
        cursor = None if after is None else _int(after, "after", 0, 10**15)
        return JSONResponse(
            {"requests": self.log.recent(limit, venue, cursor), "last_seq": self.log.last_seq}
        )

    async def _requests_config(self, request: Request) -> JSONResponse:
        body = await _json(request) if request.method == "POST" else {}
        if "size" in body:
            self.log.resize(_int(body["size"], "size", 1, MAX_LOG_SIZE))
        return JSONResponse({"size": self.log.size, "last_seq": self.log.last_seq})

    async def _orders(self, request: Request) -> JSONResponse:
        """An account's orders in any status (open, filled, cancelled, expired)."""
        face = self._face(request.path_params["venue"])
        account_id = request.path_params["account"].lower()
        face.engine.account(account_id)  # an unknown account is a 400, not an empty list
        limit = _int(request.query_params.get("limit", "500"), "limit", 1, 100_000)
        try:
            rows = order_history(face.engine, account_id, request.query_params.get("status"), limit)
        except ValueError as exc:
            raise _BadRequest(str(exc)) from exc
        return JSONResponse({"account": account_id, "orders": rows})

    async def _limits(self, request: Request) -> JSONResponse:
        """Rate limits per venue (`sim.ratelimit`): POST {"venue", <field>: value ...} changes
        them (counters and bans start afresh); DELETE goes back to `SimConfig.rate_limits`."""
        limits = self.ctx.limits
        if request.method == "DELETE":
            limits.reset()
        elif request.method == "POST":
            body = await _json(request)
            venue = str(body.pop("venue", ""))
            if venue not in ("binance", "hyperliquid"):
                raise _BadRequest(f"unknown venue {venue!r}; one of binance, hyperliquid")
            try:
                if venue == "binance":
                    limits.binance.configure(updated(limits.binance.limits, body))
                else:
                    limits.hyperliquid.configure(updated(limits.hyperliquid.limits, body))
            except ValueError as exc:
                raise _BadRequest(f"bad limits: {exc}") from exc
        return JSONResponse(limits.to_json())

    async def _depth(self, request: Request) -> JSONResponse:
        """Book depth for a venue (or both) or one account: POST sets, DELETE turns it off
        (venue / account in the body or the query), GET shows it."""
        where: dict[str, Any] = dict(request.query_params)
        body = await _json(request) if request.method == "POST" else {}
        where.update({k: body.pop(k) for k in ("venue", "account") if k in body})
        venue, account = where.get("venue"), where.get("account")
        faces = [self._face(str(venue))] if venue is not None else list(self.faces.values())
        if account is not None and venue is None:
            raise _BadRequest("an account needs its venue")
        if request.method != "GET":
            try:
                depth = depth_from_json(body) if request.method == "POST" else None
            except (TypeError, ValueError) as exc:
                raise _BadRequest(f"bad depth: {exc}") from exc
            for face in faces:
                if account is None:
                    face.engine.depth, face.engine.account_depth = depth, {}
                else:
                    face.engine.account(str(account).lower())
                    face.engine.account_depth[str(account).lower()] = depth
        return JSONResponse(
            {
                name: {
                    "depth": f.engine.depth and f.engine.depth.to_json(),
                    "accounts": {a: d and d.to_json() for a, d in f.engine.account_depth.items()},
                }
                for name, f in self.faces.items()
            }
        )


class _BadRequest(Exception):
    """Bad input to the control API (answered 400 with the message)."""


async def _control_error(_request: Request, exc: Exception) -> JSONResponse:
    """Bad control-API input is a 400 with the reason, never a 500."""
    return JSONResponse({"error": str(exc)}, status_code=400)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise _BadRequest(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise _BadRequest("body must be a JSON object")
    return data


# The control API's sane range (the simulator imports nothing from the product, so it keeps
# its own): a price or amount outside it is a 400, never a quantize error answered 500.
MAX_NUMBER = Decimal("1e15")
MIN_PRICE = Decimal("1e-12")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")


def _decimal(value: Any, name: str, *, positive: bool = False) -> Decimal:
    """A JSON number or numeric string in [0, 1e15] (``positive``: > 0), else a 400.

    Refused: booleans, null, NaN / Infinity, thousands separators, empty strings, and
    anything outside the range (1e400 would make every quantize raise)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _BadRequest(f"{name} must be a number, got {value!r}")
    text = str(value).strip()
    if len(text) > 64 or not _NUMBER_TEXT.fullmatch(text):
        raise _BadRequest(f"{name} must be a number, got {value!r}")
    result = Decimal(text)
    if result < 0 or result > MAX_NUMBER:
        raise _BadRequest(f"{name} must be between 0 and {MAX_NUMBER:E}, got {text}")
    if positive and result < MIN_PRICE:
        raise _BadRequest(f"{name} must be at least {MIN_PRICE:E}, got {text}")
    return result


def _int(value: Any, name: str, low: int, high: int) -> int:
    """A whole number in [low, high] (JSON number or numeric string), else a 400."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _BadRequest(f"{name} must be a whole number, got {value!r}")
    number = _decimal(value, name) if not isinstance(value, int) else Decimal(value)
    if number != number.to_integral_value() or not low <= number <= high:
        raise _BadRequest(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return int(number)


# FaultRule's number fields and their ranges: checked here so a bad rule is a 400 now,
# not a 500 on the exchange route it later matches
_FAULT_NUMBERS: dict[str, tuple[Decimal, Decimal]] = {
    "seconds": (Decimal(0), Decimal(3600)),
    "probability": (Decimal(0), Decimal(1)),
}
_FAULT_INTEGERS: dict[str, tuple[int, int]] = {
    "status": (100, 599),
    "times": (0, 10**9),
    "skip": (0, 10**9),
}


def _fault_fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = dict(body)
    for name, (low, high) in _FAULT_NUMBERS.items():
        if name in fields:
            number = _decimal(fields[name], name)
            if not low <= number <= high:
                raise _BadRequest(f"{name} must be between {low} and {high}, got {number}")
            fields[name] = float(number)  # a delay or a probability, never money
    for name, (low_int, high_int) in _FAULT_INTEGERS.items():
        if fields.get(name) is not None:
            fields[name] = _int(fields[name], name, low_int, high_int)
    for name in ("route", "kind", "account"):
        if name in fields and fields[name] is not None and not isinstance(fields[name], str):
            raise _BadRequest(f"{name} must be a string, got {fields[name]!r}")
    return fields
