"""The Binance USD-M websocket face: the user data stream (listenKey) and market streams.

REST, as fapi ("User Data Streams" / "Start User Data Stream", API-key header, no signature):

- ``POST /fapi/v1/listenKey``: ``{"listenKey"}``, valid 60 minutes; an account with an active
  key gets the same key back, extended.
- ``PUT /fapi/v1/listenKey``: extends the active key 60 minutes (-1125 if there is none).
- ``DELETE /fapi/v1/listenKey``: closes the key and its streams.

Websocket paths (ccxt 4.5's ``binanceusdm`` uses the split ones: ``/private/ws?listenKey=``
for user data, ``/market/ws/<n>`` for mark price and tickers, ``/public/ws/<n>`` for the book
ticker; older clients use ``/ws/<listenKey>`` and ``/ws/<stream>``):

- ``/ws/<listenKey>``, ``/private/ws/<listenKey>``, ``/private/ws?listenKey=<key>``: the user
  data stream: ``ORDER_TRADE_UPDATE``, ``ALGO_UPDATE``, ``ACCOUNT_UPDATE`` as the engine changes
  (`ws_binance_events`), ``listenKeyExpired`` once the key lapses (the socket stays open but
  says nothing more, as documented). An unknown key is refused at the handshake.
- ``/{public,market}/ws[/<anything>]``, ``/ws/<stream>``: market streams, named in the path or
  by ``{"method": "SUBSCRIBE", "params": [...], "id": n}`` (answered ``{"result": null, "id":
  n}``; UNSUBSCRIBE and LIST_SUBSCRIPTIONS too): ``<symbol>@markPrice[@1s]`` (every 3 s or 1 s),
  ``<symbol>@bookTicker``, ``<symbol>@miniTicker``, ``<symbol>@ticker`` (when the mark or last
  price moves), and the ``!markPrice@arr[@1s]``, ``!bookTicker``, ``!miniTicker@arr``,
  ``!ticker@arr`` forms.
  Any stream is served on any of the paths (live splits them public / market).
- ``/stream?streams=<a>/<b>`` (and ``/{public,market,private}/stream``): combined streams,
  listen keys and market streams alike; each push is ``{"stream": <name>, "data": <event>}``.

Not modelled: the bare ``/ws`` (that path is the Hyperliquid face's), the ws-fapi trading
API, the 24-hour connection limit and subscription rate limits.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from tradeexec.sim import binance_render as render
from tradeexec.sim import ws_binance_events as ev
from tradeexec.sim.binance_api import BinanceFace
from tradeexec.sim.binance_errors import Answer, BinanceError
from tradeexec.sim.markets import MarketSpec
from tradeexec.sim.ws_hub import Connection, EngineWatch, OrderChange

LISTEN_KEY_VALIDITY_MS = 60 * 60 * 1000
LISTEN_KEY_MISSING = Answer(-1125, "This listenKey does not exist.")
_KEY_ALPHABET = string.ascii_letters + string.digits
_RENDER: dict[str, Callable[..., dict[str, Any]]] = {
    "markPrice": ev.mark_price,
    "bookTicker": ev.book_ticker,
    "miniTicker": ev.mini_ticker,
    "ticker": ev.ticker,
}
_MARK_PERIOD_S = {True: 1.0, False: 3.0}  # "@1s" or not


@dataclass
class ListenKey:
    key: str
    account_id: str
    expires_ms: int


class ListenKeys:
    """One active key per account, as on fapi."""

    def __init__(self) -> None:
        self.by_account: dict[str, ListenKey] = {}
        self.by_key: dict[str, ListenKey] = {}

    def open(self, account_id: str, now: int) -> ListenKey:
        current = self.by_account.get(account_id)
        if current is None or current.expires_ms <= now:
            self.close(account_id)
            key = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(64))
            current = ListenKey(key, account_id, now)
            self.by_account[account_id] = self.by_key[key] = current
        current.expires_ms = now + LISTEN_KEY_VALIDITY_MS
        return current

    def keep_alive(self, account_id: str, now: int) -> ListenKey:
        current = self.by_account.get(account_id)
        if current is None or current.expires_ms <= now:
            raise LISTEN_KEY_MISSING.error()
        current.expires_ms = now + LISTEN_KEY_VALIDITY_MS
        return current

    def close(self, account_id: str) -> ListenKey | None:
        current = self.by_account.pop(account_id, None)
        if current is not None:
            self.by_key.pop(current.key, None)
        return current

    def active(self, key: str, now: int) -> ListenKey | None:
        found = self.by_key.get(key)
        return found if found is not None and found.expires_ms > now else None


@dataclass(eq=False)
class BinanceSocket:
    conn: Connection
    listen_key: ListenKey | None = None  # a user data stream; None: market streams only
    streams: set[str] = field(default_factory=set)
    mark_pushed: dict[str, float] = field(default_factory=dict)  # stream -> monotonic time
    expired: bool = False  # the listen key lapsed (listenKeyExpired was sent)
    combined: bool = False  # /stream: each push is {"stream": <name>, "data": <payload>}

    def send(self, stream: str, payload: Any) -> None:
        self.conn.push({"stream": stream, "data": payload} if self.combined else payload)


class BinanceStreams:
    """The Binance face's websockets over its engine (see the module docstring)."""

    def __init__(self, face: BinanceFace) -> None:
        self.face = face
        self.keys = ListenKeys()
        self.sockets: set[BinanceSocket] = set()
        self._watch: EngineWatch | None = None
        self._funding_seen: dict[str, int] = {}  # account -> funding payments already told

    @property
    def active(self) -> bool:
        return bool(self.sockets)

    def reset(self) -> None:
        self.keys = ListenKeys()
        self._funding_seen = {}
        for sock in list(self.sockets):  # may run on a test's thread
            if sock.listen_key is not None:
                sock.conn.close()
        self._watch = None

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/fapi/v1/listenKey", self._listen_key, methods=["POST", "PUT", "DELETE"]),
            WebSocketRoute("/ws/{tail:path}", self._socket),
            WebSocketRoute("/{category}/ws", self._socket),
            WebSocketRoute("/{category}/ws/{tail:path}", self._socket),
            WebSocketRoute("/stream", self._socket),
            WebSocketRoute("/{category}/stream", self._socket),
        ]

    # ----------------------------------------------------------------- REST
    async def _listen_key(self, request: Request) -> Response:
        api_key = request.headers.get("X-MBX-APIKEY")
        route = {"POST": "open", "PUT": "keepalive", "DELETE": "close"}[request.method]

        async def run() -> Response:
            try:
                account_id = self.face.keys.check_key(api_key).account_id
                now = self.face.ctx.clock()
                if request.method == "POST":
                    return JSONResponse({"listenKey": self.keys.open(account_id, now).key})
                if request.method == "PUT":
                    return JSONResponse({"listenKey": self.keys.keep_alive(account_id, now).key})
                closed = self.keys.close(account_id)
                for sock in list(self.sockets):
                    if closed is not None and sock.listen_key is closed:
                        sock.conn.close()
                return JSONResponse({})
            except BinanceError as exc:
                return exc.response()

        account = self.face.keys.account_for(api_key)
        guard: Callable[..., Awaitable[Response]] = self.face.ctx.faults.guard
        return await guard(f"binance.listenKey.{route}", account, run, self.face.error_response)

    # ------------------------------------------------------------ websocket
    async def _socket(self, websocket: WebSocket) -> None:
        category = websocket.path_params.get("category")
        if category is not None and category not in ("public", "market", "private"):
            await websocket.close(code=1008)
            return
        combined = websocket.url.path.endswith("/stream")
        names = websocket.query_params.get("streams", "") if combined else ""
        names = names or str(websocket.path_params.get("tail", ""))
        parts = [n for n in names.strip("/").split("/") if n]
        keys = [n for n in parts if _looks_like_key(n) and category in (None, "private")]
        key = websocket.query_params.get("listenKey") or (keys[0] if keys else None)
        sock = BinanceSocket(Connection(websocket), combined=combined)
        if key is not None:
            sock.listen_key = self.keys.active(key, self.face.ctx.clock())
            if sock.listen_key is None:
                await websocket.close(code=1008)  # an unknown or lapsed key: no stream
                return
        sock.streams.update(n for n in parts if "@" in n or n.startswith("!"))
        await websocket.accept()
        if self._watch is None or self._watch.engine is not self.face.engine:
            self._watch = EngineWatch(self.face.engine)
        self.sockets.add(sock)
        self.sync()  # the account's money and funding as of the connection: what comes after
        try:
            await sock.conn.serve(lambda message: self._on_message(sock, message))
        finally:
            self.sockets.discard(sock)

    def _on_message(self, sock: BinanceSocket, message: Any) -> None:
        """``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` ("Live Subscribing/
        Unsubscribing to streams"); errors in the documented ``{"code", "msg"}`` shape."""
        if not isinstance(message, dict):
            sock.conn.push({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None})
            return
        request_id = message.get("id")
        method, params = message.get("method"), message.get("params", [])
        if not isinstance(request_id, int) or isinstance(request_id, bool) or request_id < 0:
            msg = "Invalid request: request ID must be an unsigned integer"
            sock.conn.push({"error": {"code": 2, "msg": msg}, "id": request_id})
            return
        if method == "LIST_SUBSCRIPTIONS":
            sock.conn.push({"result": sorted(sock.streams), "id": request_id})
            return
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            msg = (f"Invalid request: unknown variant {method!r}, expected one of SUBSCRIBE, "
                   "UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY")  # fmt: skip
            sock.conn.push({"error": {"code": 2, "msg": msg}, "id": request_id})
            return
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            msg = "Invalid request: property name must be a string"
            sock.conn.push({"error": {"code": 2, "msg": msg}, "id": request_id})
            return
        if method == "SUBSCRIBE":
            sock.streams.update(params)
        else:
            sock.streams.difference_update(params)
        sock.conn.push({"result": None, "id": request_id})

    # ---------------------------------------------------------------- pushes
    def sync(self) -> None:
        engine = self.face.engine
        if self._watch is None or self._watch.engine is not engine:
            self._watch = EngineWatch(engine)
        users = {s.listen_key.account_id for s in self.sockets if s.listen_key and not s.expired}
        for account_id in users - set(self._funding_seen):  # payments before it was watched
            self._funding_seen[account_id] = self._funding_paid(account_id)
        changes = self._watch.diff(users)
        now = self.face.ctx.clock()
        if changes.orders or changes.accounts:
            self._push_user_events(changes.orders, changes.accounts, users, now)
        for coin in changes.marks:
            self._push_market(self.face.engine.markets[coin], now, on_change=True)

    def _push_user_events(
        self, orders: list[OrderChange], accounts: set[str], users: set[str], now: int
    ) -> None:
        engine = self.face.engine
        by_account: dict[str, list[dict[str, Any]]] = {}
        filled_coins: dict[str, set[str]] = {}
        for change in orders:
            account_id = change.order.account_id
            if account_id not in users:
                continue
            spec = engine.markets[change.order.spec.coin]
            extras = self.face.orders._extra(change.order)  # echoed params (workingType ...)
            by_account.setdefault(account_id, []).extend(ev.order_events(spec, change, extras, now))
            if change.fills:
                filled_coins.setdefault(account_id, set()).add(spec.coin)
        for account_id in accounts | set(filled_coins):
            coins = filled_coins.get(account_id, set())
            reason = "ORDER" if coins else self._money_reason(account_id)
            by_account.setdefault(account_id, []).append(
                ev.account_update(engine, account_id, coins, now, reason=reason)
            )
        for sock in self.sockets:
            if sock.listen_key is not None and not sock.expired:
                for event in by_account.get(sock.listen_key.account_id, []):
                    sock.send(sock.listen_key.key, event)

    def _funding_paid(self, account_id: str) -> int:
        funding = getattr(self.face.engine, "funding", None)  # `sim.clearing` engines pay it
        return len(funding.account_payments(account_id)) if funding is not None else 0

    def _money_reason(self, account_id: str) -> str:
        """``ACCOUNT_UPDATE``'s reason for a wallet move without a fill: FUNDING_FEE when a
        funding payment was booked since the last push, else ADJUSTMENT (control-API
        deposits, the insurance fund)."""
        paid = self._funding_paid(account_id)
        seen = self._funding_seen.get(account_id, paid)
        self._funding_seen[account_id] = paid
        return "FUNDING_FEE" if paid > seen else "ADJUSTMENT"

    def _push_market(self, spec: MarketSpec, now: int, *, on_change: bool) -> None:
        """The streams about ``spec`` that move with the mark (all but mark price)."""
        symbol = render.symbol_of(spec).lower()
        for sock in self.sockets:
            for stream in sock.streams:
                parsed = parse_stream(stream)
                if (
                    parsed is None
                    or parsed.kind == "markPrice"
                    or parsed.symbol not in (None, symbol)
                ):
                    continue
                event = _RENDER[parsed.kind](self.face.engine, spec, now)
                sock.send(stream, [event] if parsed.array else event)

    def tick(self, now_ms: int) -> None:
        """Mark price streams on their cadence; lapsed listen keys told ``listenKeyExpired``."""
        for sock in self.sockets:
            key = sock.listen_key
            if key is not None and not sock.expired and key.expires_ms <= now_ms:
                sock.send(key.key, ev.listen_key_expired(key.key, now_ms))
                sock.expired = True  # the socket stays open; nothing more is pushed on it
                if self.keys.by_key.get(key.key) is key:
                    self.keys.close(key.account_id)
        self._tick_marks(now_ms)

    def _tick_marks(self, now_ms: int) -> None:
        engine, clock = self.face.engine, time.monotonic()
        symbols = {render.symbol_of(s).lower(): s for s in engine.markets.values()}
        for sock in self.sockets:
            for stream in sock.streams:
                parsed = parse_stream(stream)
                if parsed is None or parsed.kind != "markPrice":
                    continue
                if clock - sock.mark_pushed.get(stream, 0.0) < _MARK_PERIOD_S[parsed.fast]:
                    continue
                sock.mark_pushed[stream] = clock
                if parsed.symbol is None:
                    sock.send(stream, [ev.mark_price(engine, s, now_ms) for s in symbols.values()])
                elif parsed.symbol in symbols:
                    sock.send(stream, ev.mark_price(engine, symbols[parsed.symbol], now_ms))


@dataclass(frozen=True)
class Stream:
    symbol: str | None  # lower case; None: every symbol (the ``!`` forms)
    kind: str  # a key of _RENDER
    fast: bool  # "@1s"
    array: bool  # "@arr": one message is a list


def parse_stream(name: str) -> Stream | None:
    """``btcusdt@markPrice@1s`` -> Stream("btcusdt", "markPrice", True, False); None for a
    stream this face does not serve (subscribing to it is accepted, nothing is pushed)."""
    head, *rest = name.split("@")
    everyone = head.startswith("!")
    kind = head[1:] if everyone else (rest[0] if rest else "")
    flags = rest if everyone else rest[1:]
    if kind not in _RENDER or not set(flags) <= {"arr", "1s"}:
        return None
    return Stream(None if everyone else head.lower(), kind, "1s" in flags, "arr" in flags)


def _looks_like_key(tail: str) -> bool:
    return len(tail) == 64 and tail.isalnum()
