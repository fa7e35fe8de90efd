"""PaperTrader: the simulator's matching engine in-process, behind the same contract.

No HTTP, no keys. Markets mimic a real venue's rules (``venue='binance'``: USDT-settled,
tick/step grids; ``venue='hyperliquid'``: USDC-settled, significant-figure prices). Prices
come from a seeded synthetic walk by default, a replay CSV (``feed='replay:<path>'``), or a
real exchange's public tickers (``feed='live:<ccxt id>'``, where a network exists); with
``tick_s > 0`` a background task steps the feed, otherwise prices move by `advance()` or
`set_mark()` (tests and demos).

Given a `PaperStateStore` (the factory hands every paper account the service's store), the
account's venue state lives in the store and survives the process: ``connect`` restores it,
every change is saved as it happens, and two processes using one paper account take turns
(`exchanges/paper_sync.py`). Without one it lives in memory only, for the process's life.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Literal

from tradeexec import errors
from tradeexec.domain import (
    Balance,
    Fill,
    MarginMode,
    Market,
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Ticker,
    TimeInForce,
)
from tradeexec.exchanges.interface import (
    Capabilities,
    ExchangeTrader,
    Health,
    refuse_attached_brackets,
)
from tradeexec.exchanges.paper_sync import PaperSync
from tradeexec.exchanges.symbols import resolve_symbol
from tradeexec.sim import engine as sim
from tradeexec.sim.accounting import MarginMode as SimMarginMode
from tradeexec.sim.feeds import LivePublicFeed, PriceFeed, ReplayFeed, SyntheticWalk
from tradeexec.sim.markets import VENUES, MarketSpec

if TYPE_CHECKING:
    from tradeexec.store.paper_state import PaperStateStore

_KIND = {
    OrderType.MARKET: sim.OrderKind.MARKET,
    OrderType.LIMIT: sim.OrderKind.LIMIT,
    OrderType.STOP_MARKET: sim.OrderKind.STOP_MARKET,
    OrderType.TAKE_PROFIT_MARKET: sim.OrderKind.TAKE_PROFIT_MARKET,
    OrderType.STOP_LIMIT: sim.OrderKind.STOP_LIMIT,
    OrderType.TAKE_PROFIT_LIMIT: sim.OrderKind.TAKE_PROFIT_LIMIT,
}
_TYPE = {kind: order_type for order_type, kind in _KIND.items()}
_TIF = {
    TimeInForce.GTC: sim.TimeInForce.GTC,
    TimeInForce.IOC: sim.TimeInForce.IOC,
    TimeInForce.FOK: sim.TimeInForce.FOK,
    TimeInForce.POST_ONLY: sim.TimeInForce.POST_ONLY,
}
_STATUS = {
    sim.OrderStatus.NEW: OrderStatus.SUBMITTED,
    sim.OrderStatus.FILLED: OrderStatus.FILLED,
    sim.OrderStatus.CANCELED: OrderStatus.CANCELED,
    sim.OrderStatus.EXPIRED: OrderStatus.EXPIRED,
}
# the engine's refusals as our errors (the paper venue's only error mapping)
_REJECT: dict[sim.Reject, type[errors.ExchangeError]] = {
    sim.Reject.INSUFFICIENT_MARGIN: errors.InsufficientFunds,
    sim.Reject.BAD_PRICE: errors.PrecisionError,
    sim.Reject.BAD_QTY: errors.PrecisionError,
    sim.Reject.BELOW_MIN_QTY: errors.BelowMinimum,
    sim.Reject.BELOW_MIN_NOTIONAL: errors.BelowMinimum,
    sim.Reject.REDUCE_ONLY: errors.ReduceOnlyRejected,
    sim.Reject.UNKNOWN_ORDER: errors.OrderNotFound,
    sim.Reject.ORDER_NOT_OPEN: errors.OrderNotFound,
    sim.Reject.UNKNOWN_SYMBOL: errors.UnknownSymbol,
    sim.Reject.UNKNOWN_ACCOUNT: errors.AuthenticationError,
}


#: a live public feed's default source per mimicked venue: (ccxt id, quote:settle)
_LIVE_FEEDS: dict[str, tuple[str, str]] = {
    "binance": ("binanceusdm", "USDT:USDT"),
    "hyperliquid": ("hyperliquid", "USDC:USDC"),
}


def paper_capabilities(venue: str) -> Capabilities:
    rules = VENUES[venue]
    return Capabilities(
        venue="paper",
        settle_currency=rules.collateral,
        order_types=frozenset(OrderType),
        standalone_tpsl=True,
        client_id_format="generic",
        maker_fee=rules.maker_fee,
        taker_fee=rules.taker_fee,
        min_notional=rules.min_order_value,
    )


class PaperTrader(ExchangeTrader):
    def __init__(
        self,
        account: str = "paper",
        *,
        venue: Literal["binance", "hyperliquid"] = "binance",
        starting_balance: Decimal = Decimal("10000"),
        feed: str = "walk",
        seed: int = 0,
        tick_s: float = 0.0,
        leverage: int | None = None,
        state_store: PaperStateStore | None = None,
    ) -> None:
        self.account = account
        self.capabilities = paper_capabilities(venue)
        self._venue = venue
        rules = VENUES[venue]
        specs = rules.markets
        cap = self.capabilities
        self.engine = sim.Engine(
            specs,
            collateral=rules.collateral,
            maker_fee=rules.maker_fee,
            taker_fee=rules.taker_fee,
            reject_immediate_trigger=rules.reject_immediate_trigger,
            default_leverage=leverage or 20,
        )
        self.engine.create_account(account, starting_balance)
        quote = cap.settle_currency
        self._coin_of = {f"{s.coin}/{quote}:{quote}": s.coin for s in specs}
        self._feed_spec, self._seed, self._tick_s = feed, seed, tick_s
        self._feed: PriceFeed | LivePublicFeed | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = False
        self._sync = PaperSync(state_store, self.engine, account, venue)

    # ------------------------------------------------------------ lifecycle
    async def connect(self) -> None:
        if self._sync.store is not None:
            await asyncio.to_thread(self._sync.restore)  # before the feed: it starts from marks
        self._feed = self._make_feed()
        self._connected = True
        if self._tick_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._tick_forever())

    def _make_feed(self) -> PriceFeed | LivePublicFeed:
        kind, _, arg = self._feed_spec.partition(":")
        if kind == "replay":
            return ReplayFeed(arg)
        if kind == "live":
            exchange_id, quote = _LIVE_FEEDS[self._venue]
            return LivePublicFeed(arg or exchange_id, {c: f"{c}/{quote}" for c in self._coins})
        if kind != "walk":
            raise errors.ConfigError(f"unknown paper feed {self._feed_spec!r}")
        return SyntheticWalk(dict(self.engine.marks), seed=self._seed)

    @property
    def _coins(self) -> list[str]:
        return list(self.engine.markets)

    async def advance(self, steps: int = 1) -> None:
        """Step the price feed (fires triggers and crossed limits)."""
        for _ in range(steps):
            if isinstance(self._feed, LivePublicFeed):
                marks = await self._feed.astep()
            else:
                marks = self._feed.step() if self._feed else {}
            await self._sync.write(partial(self.engine.set_marks, marks))

    def set_mark(self, symbol: str, price: Decimal) -> None:
        """Move a mark now (firing what it crosses); saved at once when there is a store."""
        self._sync.write_now(partial(self.engine.set_mark, self._coin(symbol), price))

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            await self.advance()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if isinstance(self._feed, LivePublicFeed):
            await self._feed.close()
        self._connected = False

    async def load_markets(self, reload: bool = False) -> dict[str, Market]:
        return {sym: self._market(sym) for sym in self._coin_of}

    async def health_check(self) -> Health:
        if not self._connected:
            return Health(ok=False, venue="paper", error="not connected")
        return Health(ok=True, venue="paper", latency_ms=0.0)

    def _require(self) -> None:
        if not self._connected:
            raise errors.NotInitializedError(f"paper trader {self.account!r} is not connected")

    # -------------------------------------------------------------- markets
    def resolve_symbol(self, symbol: str) -> str:
        if symbol in self._coin_of:
            return symbol
        try:
            return resolve_symbol(symbol, self._coin_of.keys(), self.capabilities.settle_currency)
        except errors.UnknownSymbol as exc:
            exc.exchange = "paper"
            raise

    def _coin(self, symbol: str) -> str:
        return self._coin_of[self.resolve_symbol(symbol)]

    def _spec(self, symbol: str) -> MarketSpec:
        return self.engine.market(self._coin(symbol))

    def _market(self, sym: str) -> Market:
        spec = self.engine.market(self._coin_of[sym])
        return Market(
            symbol=sym,
            base=spec.coin,
            quote=spec.quote,
            settle=spec.quote,
            amount_step=spec.step_size,
            price_step=spec.tick_size,
            min_amount=spec.min_qty,
            min_notional=spec.min_notional,
            max_leverage=spec.max_leverage,
        )

    def market(self, symbol: str) -> Market:
        return self._market(self.resolve_symbol(symbol))

    def amount_to_precision(self, symbol: str, amount: Decimal) -> Decimal:
        return self._spec(symbol).round_qty_down(amount)

    def price_to_precision(self, symbol: str, price: Decimal) -> Decimal:
        return self._spec(symbol).round_price(price)

    # ---------------------------------------------------------------- reads
    async def fetch_ticker(self, symbol: str) -> Ticker:
        self._require()
        sym = self.resolve_symbol(symbol)
        coin = self._coin_of[sym]

        def read() -> Ticker:
            bid, ask = self.engine.bid_ask(coin)
            mark = self.engine.marks[coin]
            return Ticker(
                symbol=sym, bid=bid, ask=ask, last=mark, mark=mark, timestamp=self.engine.clock()
            )

        return await self._sync.read(read)

    async def fetch_balance(self) -> dict[str, Balance]:
        self._require()
        s = await self._sync.read(partial(self.engine.summary, self.account))
        currency = self.capabilities.settle_currency
        free = max(s.available, Decimal(0))
        return {
            currency: Balance(currency=currency, total=s.equity, free=free, used=s.equity - free)
        }

    async def fetch_positions(self, symbols: Sequence[str] | None = None) -> list[Position]:
        self._require()
        wanted = {self.resolve_symbol(s) for s in symbols} if symbols else None
        return await self._sync.read(partial(self._positions, wanted))

    def _positions(self, wanted: set[str] | None) -> list[Position]:
        quote = self.capabilities.settle_currency
        out = []
        for p in self.engine.positions(self.account):
            sym = f"{p.coin}/{quote}:{quote}"
            if wanted is not None and sym not in wanted:
                continue
            mark = self.engine.marks[p.coin]
            mode = self.engine.margin_mode(self.account, p.coin)
            out.append(
                Position(
                    symbol=sym,
                    quantity=p.qty,
                    entry_price=p.entry_price,
                    mark_price=mark,
                    unrealized_pnl=p.unrealized(mark),
                    leverage=self.engine.leverage(self.account, p.coin),
                    margin_mode=MarginMode(mode.value),
                )
            )
        return out

    def _order(self, o: sim.SimOrder) -> Order:
        status = _STATUS[o.status]
        if status is OrderStatus.SUBMITTED and o.filled_qty > 0:
            status = OrderStatus.PARTIALLY_FILLED
        quote = self.capabilities.settle_currency
        return Order(
            id=str(o.order_id),
            client_order_id=o.spec.client_id,
            symbol=f"{o.spec.coin}/{quote}:{quote}",
            side=OrderSide(o.spec.side.value.lower()),
            type=_TYPE[o.spec.kind],
            status=status,
            quantity=o.spec.qty,
            filled_quantity=o.filled_qty,
            average_price=o.avg_price if o.filled_qty else None,
            price=o.spec.price,
            trigger_price=o.spec.trigger_price,
            reduce_only=o.spec.reduce_only,
            timestamp=o.created_ms,
            fee=o.fee_paid,
            fee_currency=quote,
        )

    def _call(
        self,
        fn: object,
        *args: object,
        symbol: str | None = None,
        client_order_id: str | None = None,
    ) -> object:
        self._require()
        try:
            return fn(*args)  # type: ignore[operator]
        except sim.SimError as exc:
            cls = _REJECT.get(exc.reason, errors.InvalidOrder)
            raise cls(
                str(exc), exchange="paper", symbol=symbol, client_order_id=client_order_id
            ) from exc

    async def fetch_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        oid = int(order_id) if order_id is not None else None

        def read() -> Order:
            o = self._call(
                self.engine.get_order,
                self.account,
                oid,
                client_order_id,
                symbol=symbol,
                client_order_id=client_order_id,
            )
            assert isinstance(o, sim.SimOrder)
            return self._order(o)

        return await self._sync.read(read)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        self._require()
        coin = self._coin(symbol) if symbol else None
        return await self._sync.read(
            lambda: [self._order(o) for o in self.engine.open_orders(self.account, coin)]
        )

    async def fetch_my_trades(self, symbol: str, since: int | None = None) -> list[Fill]:
        self._require()
        sym = self.resolve_symbol(symbol)
        quote = self.capabilities.settle_currency
        fills = await self._sync.read(
            partial(self.engine.account_fills, self.account, self._coin_of[sym])
        )
        return [
            Fill(
                trade_id=str(f.trade_id),
                order_id=str(f.order_id),
                client_order_id=f.client_id,
                symbol=sym,
                side=OrderSide(f.side.value.lower()),
                quantity=f.qty,
                price=f.price,
                fee=f.fee,
                fee_currency=quote,
                realized_pnl=f.realized_pnl,
                timestamp=f.time_ms,
            )
            for f in fills
            if since is None or f.time_ms >= since
        ]

    # --------------------------------------------------------------- writes
    async def create_order(self, request: OrderRequest) -> Order:
        sym = self.resolve_symbol(request.symbol)
        refuse_attached_brackets(request, "paper")
        cid = request.client_order_id or "te" + secrets.token_hex(14)  # like every venue
        spec = sim.OrderSpec(
            coin=self._coin_of[sym],
            side=sim.Side(request.side.value.upper()),
            kind=_KIND[request.type],
            qty=self.amount_to_precision(sym, request.quantity),
            price=self.price_to_precision(sym, request.price) if request.price else None,
            trigger_price=(
                self.price_to_precision(sym, request.trigger_price)
                if request.trigger_price
                else None
            ),
            tif=_TIF[request.time_in_force],
            reduce_only=request.reduce_only,
            client_id=cid,
        )
        if spec.qty <= 0:
            raise errors.BelowMinimum(
                f"amount {request.quantity} rounds to 0 for {sym}", exchange="paper", symbol=sym
            )

        def place() -> Order:
            o = self._call(
                self.engine.place_order, self.account, spec, symbol=sym, client_order_id=cid
            )
            assert isinstance(o, sim.SimOrder)
            return self._order(o)

        return await self._sync.write(place, order_call=True)

    async def cancel_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order | None:
        oid = int(order_id) if order_id is not None else None

        def cancel() -> Order:
            o = self._call(
                self.engine.cancel_order,
                self.account,
                oid,
                client_order_id,
                symbol=symbol,
                client_order_id=client_order_id,
            )
            assert isinstance(o, sim.SimOrder)
            return self._order(o)

        try:
            return await self._sync.write(cancel, order_call=True)
        except errors.OrderNotFound:
            return None

    async def set_leverage(
        self, symbol: str, leverage: int, margin_mode: MarginMode | None = None
    ) -> None:
        coin = self._coin(symbol)

        def change() -> None:
            if margin_mode is not None:
                mode = SimMarginMode(margin_mode.value)
                if self.engine.margin_mode(self.account, coin) is not mode:
                    self._call(self.engine.set_margin_mode, self.account, coin, mode, symbol=symbol)
            self._call(self.engine.set_leverage, self.account, coin, leverage, symbol=symbol)

        await self._sync.write(change)
