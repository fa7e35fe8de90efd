"""What the simulator's websocket faces share: engine change tracking and the connections.

The engine is not asked to publish anything. `EngineWatch` compares it with what it saw
last time (new orders by id, open orders by state, new fills by trade id, marks, and the
balances and positions of watched accounts) and hands each face the changes, in order, to
render in its venue's event shapes (`ws_binance`, `ws_hyperliquid`). `WsHub.sync` runs that
after every HTTP request (`SyncAfterRequest`) and on a short timer (`WsHub.run`), so an
order placed over REST, a mark moved through ``/_sim/prices`` or the tick task, and a
trigger it fires are all pushed; nothing is tracked while no socket is open.

Everything runs on the server's event loop: the engine is only driven from there (requests,
the tick task), and a socket's messages are queued (`Connection.push`) and written by its own
task, so a slow client never blocks a sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from tradeexec.sim.engine import Engine, Fill, OrderStatus, SimOrder

logger = logging.getLogger(__name__)
SYNC_INTERVAL_S = 0.1  # the timer's period: changes made without a request (in-process calls)


@dataclass(frozen=True, slots=True)
class OrderSig:
    """What a socket cares about in an order: any change here is an event."""

    status: OrderStatus
    filled: Decimal
    triggered: bool
    placed_id: int | None

    @classmethod
    def of(cls, order: SimOrder) -> OrderSig:
        return cls(order.status, order.filled_qty, order.triggered_ms is not None, order.placed_id)


@dataclass
class OrderChange:
    """One order since the last sync: ``before`` is None for a new order; ``fills`` are its
    new fills in trade order."""

    order: SimOrder
    before: OrderSig | None
    fills: list[Fill] = field(default_factory=list)


@dataclass
class Changes:
    orders: list[OrderChange] = field(default_factory=list)  # in order id order
    accounts: set[str] = field(default_factory=set)  # watched accounts whose money moved
    marks: dict[str, Decimal] = field(default_factory=dict)  # coins whose mark or last moved

    def __bool__(self) -> bool:
        return bool(self.orders or self.accounts or self.marks)


def _account_sig(engine: Engine, account_id: str) -> tuple[Any, ...]:
    acct = engine.account(account_id)
    positions = tuple(sorted((p.coin, p.position_side.value, p.qty, p.entry_price)
                             for p in acct.open_positions()))  # fmt: skip
    return acct.wallet_balance, positions


class EngineWatch:
    """What changed in one engine since the last `diff` (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known: dict[int, OrderSig] = {
            o.order_id: OrderSig.of(o) for o in engine.orders.values() if o.status.is_open
        }
        self._last_order = max(engine.orders, default=0)
        self._last_trade = engine.fills[-1].trade_id if engine.fills else 0
        self._prices = {c: (m, engine.lasts.get(c)) for c, m in engine.marks.items()}
        self._accounts: dict[str, tuple[Any, ...]] = {}

    def diff(self, watched: Iterable[str] = ()) -> Changes:
        engine, changes = self.engine, Changes()
        new: list[SimOrder] = []
        for order in reversed(engine.orders.values()):  # in id order (`Engine._register`)
            if order.order_id <= self._last_order:
                break
            new.append(order)
        fills: list[Fill] = []
        for fill in reversed(engine.fills):
            if fill.trade_id <= self._last_trade:
                break
            fills.append(fill)
        fills.reverse()
        touched: dict[int, OrderChange] = {o.order_id: OrderChange(o, None) for o in new}
        for order_id, before in list(self._known.items()):
            known = engine.orders.get(order_id)
            if known is None:
                del self._known[order_id]
            elif OrderSig.of(known) != before:
                touched[order_id] = OrderChange(known, before)
        for fill in fills:
            change = touched.get(fill.order_id)
            if change is None:
                filled = engine.orders.get(fill.order_id)
                if filled is None:  # an imported account's history: nothing to tell
                    continue
                change = touched[fill.order_id] = OrderChange(filled, OrderSig.of(filled))
            change.fills.append(fill)
        for order_id in sorted(touched):
            change = touched[order_id]
            changes.orders.append(change)
            if change.order.status.is_open:
                self._known[order_id] = OrderSig.of(change.order)
            else:
                self._known.pop(order_id, None)
        self._last_order = max(self._last_order, *touched, 0)
        if fills:
            self._last_trade = fills[-1].trade_id
        for coin, mark in engine.marks.items():
            price = (mark, engine.lasts.get(coin))  # a ticker's last moves with every fill
            if self._prices.get(coin) != price:
                changes.marks[coin] = mark
                self._prices[coin] = price
        for account_id in watched:
            if account_id not in engine.accounts:
                continue
            money = _account_sig(engine, account_id)
            if self._accounts.get(account_id, money) != money:
                changes.accounts.add(account_id)
            self._accounts[account_id] = money
        return changes


class Connection:
    """One accepted socket: JSON messages queued by `push`, written in order by `pump`."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def push(self, message: Any) -> None:
        self._put(json.dumps(message, separators=(",", ":")))

    def close(self) -> None:
        self._put(None)

    def _put(self, item: str | None) -> None:
        # in order either way; from another thread (a test's `Simulator.reset`) via the loop
        if threading.get_ident() == self._thread:
            self.queue.put_nowait(item)
        else:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, item)

    async def pump(self) -> None:
        while (text := await self.queue.get()) is not None:
            await self.websocket.send_text(text)
        await self.websocket.close()

    async def serve(self, on_message: Callable[[Any], None]) -> None:
        """Read messages until the client leaves (each handed to ``on_message`` as JSON, or
        the raw text when it does not parse) while `pump` writes."""
        writer = asyncio.create_task(self.pump())
        try:
            while not writer.done():
                receiving = asyncio.ensure_future(self.websocket.receive_text())
                await asyncio.wait({receiving, writer}, return_when=asyncio.FIRST_COMPLETED)
                if not receiving.done():
                    receiving.cancel()
                    break
                try:
                    text = receiving.result()
                except (WebSocketDisconnect, RuntimeError):
                    break
                try:
                    message = json.loads(text)
                except ValueError:
                    message = text
                try:
                    on_message(message)
                except Exception:  # a bad request must not end the stream: log it, go on
                    logger.exception("websocket message %.200r", text)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer


class VenueStreams(Protocol):
    """A venue's websocket face, as the hub drives it."""

    @property
    def active(self) -> bool:
        """Any socket open (nothing is tracked otherwise)."""
        ...

    def sync(self) -> None:
        """Push what changed in the engine since the last call."""
        ...

    def tick(self, now_ms: int) -> None:
        """Timed pushes and expiries (called by `WsHub.run`)."""
        ...


class WsHub:
    """The venues' websocket faces: `sync` after each request, `run` on a timer."""

    def __init__(self, venues: list[VenueStreams], clock: Callable[[], int]) -> None:
        self.venues = venues
        self.clock = clock

    def sync(self) -> None:
        for venue in self.venues:
            if venue.active:
                venue.sync()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SYNC_INTERVAL_S)
            try:
                self.sync()
                now = self.clock()
                for venue in self.venues:
                    if venue.active:
                        venue.tick(now)
            except RuntimeError:  # the engine changed under us from another thread: next time
                continue
            except Exception:  # a rendering bug must not stop every later push: log it
                logger.exception("websocket push failed")


class SyncAfterRequest:
    """ASGI middleware: once an HTTP request has been handled, push what it changed."""

    def __init__(self, app: ASGIApp, hub: WsHub) -> None:
        self.app, self.hub = app, hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.hub.sync()
