"""The Hyperliquid websocket face: ``/ws`` subscriptions, ping and ``post``.

As the Hyperliquid docs describe it ("Websocket", "Subscriptions", "Post requests",
"Timeouts and heartbeats"; shapes also as ccxt's ``pro/hyperliquid.py`` reads them):

- ``{"method": "subscribe", "subscription": {...}}`` is acknowledged with
  ``{"channel": "subscriptionResponse", "data": <the request>}``; a second identical one gets
  ``{"channel": "error", "data": "Already subscribed: ..."}``; ``unsubscribe`` likewise.
- Served subscription types: ``allMids`` (``{"mids"}``), ``l2Book`` and ``activeAssetCtx``
  (per ``coin``; a snapshot at once, then on every mark move), ``orderUpdates`` (per ``user``:
  a list of ``{"order", "status", "statusTimestamp"}`` when an order rests, triggers, fills or
  ends; no snapshot), ``userFills`` (per ``user``: ``{"isSnapshot": true, "user", "fills"}``
  first, then each new fill), ``trades`` (per ``coin``: the simulator's fills in that coin),
  ``clearinghouseState`` (per ``user``: what ``/info`` answers, at once and when the account's
  money, positions or orders change; ccxt's ``watch_positions`` / ``watch_balance``).
- ``{"method": "ping"}`` -> ``{"channel": "pong"}``.
- ``{"method": "post", "id", "request": {"type": "info" | "action", "payload"}}`` answers on
  the ``post`` channel what ``/info`` or ``/exchange`` would (ccxt's ``create_order_ws``).

Not modelled: candle, bbo, notification, webData2/3, spotState, openOrders,
userFundings, userNonFundingLedgerUpdates, userEvents, twap channels; the 1-minute idle
disconnect and the per-IP connection and subscription limits.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from tradeexec.sim.engine import Fill, Side
from tradeexec.sim.hl_signing import normalize_address
from tradeexec.sim.hyperliquid_api import HyperliquidFace
from tradeexec.sim.hyperliquid_wire import WireError, fmt, parse_envelope
from tradeexec.sim.ws_hub import Changes, Connection, EngineWatch, OrderChange

_COIN_TYPES = ("l2Book", "activeAssetCtx", "trades")
_USER_TYPES = ("orderUpdates", "userFills", "clearinghouseState")
_TYPES = ("allMids", *_COIN_TYPES, *_USER_TYPES)
_BASIC_ORDER = ("coin", "side", "limitPx", "sz", "oid", "timestamp", "origSz")


def _key(subscription: dict[str, Any]) -> str:
    return json.dumps(subscription, sort_keys=True)


class HlSocket:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.subs: dict[str, dict[str, Any]] = {}  # canonical key -> subscription

    def wants(self, kind: str, field: str | None = None, value: str | None = None) -> bool:
        return any(
            s["type"] == kind and (field is None or s.get(field) == value)
            for s in self.subs.values()
        )


class HyperliquidStreams:
    """The Hyperliquid face's ``/ws`` over its engine (see the module docstring)."""

    def __init__(self, face: HyperliquidFace) -> None:
        self.face = face
        self.sockets: set[HlSocket] = set()
        self._watch: EngineWatch | None = None

    @property
    def active(self) -> bool:
        return bool(self.sockets)

    def reset(self) -> None:
        self._watch = None

    def tick(self, now_ms: int) -> None:
        """Nothing on a timer: every channel served here pushes on change."""

    def routes(self) -> list[BaseRoute]:
        return [WebSocketRoute("/ws", self._socket)]

    async def _socket(self, websocket: WebSocket) -> None:
        await websocket.accept()
        if self._watch is None or self._watch.engine is not self.face.engine:
            self._watch = EngineWatch(self.face.engine)
        sock = HlSocket(Connection(websocket))
        self.sockets.add(sock)
        try:
            await sock.conn.serve(lambda message: self._on_message(sock, message))
        finally:
            self.sockets.discard(sock)

    # --------------------------------------------------------------- requests
    def _on_message(self, sock: HlSocket, message: Any) -> None:
        method = message.get("method") if isinstance(message, dict) else None
        if method == "ping":
            sock.conn.push({"channel": "pong"})
        elif method in ("subscribe", "unsubscribe"):
            self._subscription(sock, method, message.get("subscription"), message)
        elif method == "post":
            sock.conn.push({"channel": "post", "data": self._post(message)})
        else:
            text = message if isinstance(message, str) else json.dumps(message)
            msg = f"Error parsing JSON into valid websocket request: {text}"
            sock.conn.push({"channel": "error", "data": msg})

    def _subscription(self, sock: HlSocket, method: str, sub: Any, message: Any) -> None:
        valid = isinstance(sub, dict) and sub.get("type") in _TYPES
        if valid and sub["type"] in _COIN_TYPES:
            valid = sub.get("coin") in self.face.engine.markets
        if valid and sub["type"] in _USER_TYPES:
            try:
                normalize_address(sub.get("user"))
            except (TypeError, ValueError, AttributeError):
                valid = False
        if not valid:
            sock.conn.push({"channel": "error",
                            "data": f"Invalid subscription {json.dumps(sub)}"})  # fmt: skip
            return
        canonical = dict(sub)
        if "user" in canonical:
            canonical["user"] = normalize_address(canonical["user"])
        key = _key(canonical)
        if method == "subscribe" and key in sock.subs:
            sock.conn.push({"channel": "error", "data": f"Already subscribed: {json.dumps(sub)}"})
            return
        if method == "unsubscribe" and key not in sock.subs:
            msg = f"Already unsubscribed: {json.dumps(sub)}"
            sock.conn.push({"channel": "error", "data": msg})
            return
        sock.conn.push({"channel": "subscriptionResponse",
                        "data": {"method": method, "subscription": sub}})  # fmt: skip
        if method == "unsubscribe":
            del sock.subs[key]
            return
        self.sync()  # what happened before this subscription is not pushed as new
        sock.subs[key] = canonical
        self._snapshot(sock, canonical)

    def _snapshot(self, sock: HlSocket, sub: dict[str, Any]) -> None:
        kind, info = sub["type"], self.face.info_api
        if kind == "allMids":
            sock.conn.push({"channel": "allMids", "data": {"mids": info.answer("allMids", {})}})
        elif kind == "l2Book":
            sock.conn.push({"channel": "l2Book", "data": info.answer("l2Book", sub)})
        elif kind == "activeAssetCtx":
            sock.conn.push(self._asset_ctx(sub["coin"]))
        elif kind == "userFills":
            fills = list(reversed(info.fills(sub["user"])))[:2000]
            data = {"isSnapshot": True, "user": sub["user"], "fills": fills}
            sock.conn.push({"channel": "userFills", "data": data})
        elif kind == "clearinghouseState":
            state = info.answer("clearinghouseState", {"user": sub["user"]})
            data = {"dex": "", "user": sub["user"], "clearinghouseState": state}
            sock.conn.push({"channel": "clearinghouseState", "data": data})

    def _asset_ctx(self, coin: str) -> dict[str, Any]:
        ctx = self.face.info_api._asset_ctx(coin)  # the ctx metaAndAssetCtxs answers
        return {"channel": "activeAssetCtx", "data": {"coin": coin, "ctx": ctx}}

    def _post(self, message: dict[str, Any]) -> dict[str, Any]:
        request_id, request = message.get("id"), message.get("request")
        kind = request.get("type") if isinstance(request, dict) else None
        payload = request.get("payload") if isinstance(request, dict) else None
        face = self.face
        try:
            if kind == "info" and isinstance(payload, dict):
                face.state.sync(face.engine)
                data = face.info_api.answer(str(payload.get("type")), payload)
                response = {"type": "info", "payload": {"type": payload.get("type"), "data": data}}
            elif kind == "action":
                env = parse_envelope(payload)
                face.state.sync(face.engine)
                result = face.exchange_api.handle(env, face.exchange_api.identify(env))
                face.state.sync(face.engine)
                response = {"type": "action", "payload": result}
            else:
                raise WireError("request type must be info or action")
        except WireError as exc:
            response = {"type": "error", "payload": str(exc)}
        self.sync()
        return {"id": request_id, "response": response}

    # ----------------------------------------------------------------- pushes
    def sync(self) -> None:
        face = self.face
        if self._watch is None or self._watch.engine is not face.engine:
            self._watch = EngineWatch(face.engine)
        face.state.sync(face.engine)
        holders = {
            sub["user"]
            for sock in self.sockets
            for sub in sock.subs.values()
            if sub["type"] == "clearinghouseState"
        }
        changes = self._watch.diff(holders)
        if changes:
            self._push(changes)

    def _push(self, changes: Changes) -> None:
        info = self.face.info_api
        by_user: dict[str, list[dict[str, Any]]] = {}
        fills_by_user: dict[str, list[Fill]] = {}
        for change in changes.orders:
            by_user.setdefault(change.order.account_id, []).extend(self._order_updates(change))
            for fill in change.fills:
                fills_by_user.setdefault(fill.account_id, []).append(fill)
        rendered: dict[str, list[dict[str, Any]]] = {}
        for account, fills in fills_by_user.items():
            wanted = {f.trade_id for f in fills}
            rendered[account] = [r for r in info.fills(account) if r["tid"] in wanted]
        trades_by_coin: dict[str, list[dict[str, Any]]] = {}
        for fills in fills_by_user.values():
            for f in fills:
                trades_by_coin.setdefault(f.coin, []).append(_trade(f))
        mids = {"channel": "allMids", "data": {"mids": info.answer("allMids", {})}}
        for sock in self.sockets:
            for sub in list(sock.subs.values()):
                kind, user, coin = sub["type"], sub.get("user"), sub.get("coin")
                if kind == "orderUpdates" and by_user.get(user or ""):
                    sock.conn.push({"channel": "orderUpdates", "data": by_user[user or ""]})
                elif kind == "userFills" and rendered.get(user or ""):
                    update = {"user": user, "fills": rendered[user or ""]}
                    sock.conn.push({"channel": "userFills", "data": update})
                elif kind == "trades" and trades_by_coin.get(coin or ""):
                    sock.conn.push({"channel": "trades", "data": trades_by_coin[coin or ""]})
                elif kind == "allMids" and changes.marks:
                    sock.conn.push(mids)
                elif kind in ("l2Book", "activeAssetCtx") and coin in changes.marks:
                    self._snapshot(sock, sub)
                elif kind == "clearinghouseState" and (user in changes.accounts or user in by_user):
                    self._snapshot(sock, sub)  # the whole state, as live

    def _order_updates(self, change: OrderChange) -> list[dict[str, Any]]:
        """The statuses an order went through since the last push: ``open`` when it rests (or
        waits for its trigger), ``triggered`` when its trigger fires, then how it ended
        (``filled``, ``canceled``, ``reduceOnlyCanceled`` ...; `InfoApi.order_status`)."""
        info, o, before = self.face.info_api, change.order, change.before
        basic = info.frontend_order(o)
        order = {k: basic[k] for k in _BASIC_ORDER}
        if o.spec.client_id is not None:
            order["cloid"] = o.spec.client_id
        statuses: list[str] = []
        if before is None and o.status.is_open:
            statuses.append("open")
        if o.triggered_ms is not None and (before is None or not before.triggered):
            statuses.append("triggered")
        ended = not o.status.is_open and (before is None or before.status.is_open)
        if ended:
            statuses.append(info.order_status(o))
        return [{"order": order, "status": s, "statusTimestamp": o.updated_ms} for s in statuses]


def _trade(f: Fill) -> dict[str, Any]:
    """A ``trades`` entry; the simulator has no other side, so both users are the taker."""
    return {"coin": f.coin, "side": "B" if f.side is Side.BUY else "A", "px": fmt(f.price),
            "sz": fmt(f.qty), "time": f.time_ms, "hash": "0x" + f"{f.trade_id:064x}",
            "tid": f.trade_id, "users": [f.account_id, f.account_id]}  # fmt: skip
