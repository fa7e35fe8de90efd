"""CCXTTrader: the generic `ExchangeTrader` over ``ccxt.async_support``.

Any ccxt exchange id works for market data, balances and basic orders. Venue files
(`binance_futures`, `hyperliquid_trader`) subclass it with a `Capabilities` value and the few
hooks that truly differ (`_exchange_config`, `_order_params`, `_prepare_price`, ...).

Safety rules implemented here, once:
- reads are retried on network errors (incl. 429/418) with exponential backoff, and every
  request first waits while the venue's rate limits say so (`backoff`: headers, Retry-After);
- a create or cancel is never resent: if its outcome is unknown (timeout, dropped
  connection, 5xx) the order is looked up by its client order id, and if it still cannot be
  found, `OrderOutcomeUnknown` is raised for the caller to record and reconcile;
- amounts are rounded down and prices rounded with the venue's own precision helpers, and
  below-minimum orders are refused before anything is sent;
- every order carries our client order id (ccxt would otherwise inject its own).

What an order write sends, refuses and does without an answer is in `ccxt_orders`; the
timing of every HTTP request for the metrics (`request_observers`) in `ccxt_requests`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from tradeexec import errors
from tradeexec.domain import (
    Balance,
    Fill,
    MarginMode,
    Market,
    Order,
    OrderRequest,
    OrderStatus,
    Position,
    Ticker,
)
from tradeexec.exchanges import ccxt_parse as parse
from tradeexec.exchanges.backoff import RateLimitRules, rate_gate
from tradeexec.exchanges.ccxt_errors import is_ambiguous, is_no_change, translate
from tradeexec.exchanges.ccxt_orders import (
    CCXT_ORDER_TYPE,
    check_minimums,
    complete_acknowledgement,
    order_params,
    resolve_lost_create,
)
from tradeexec.exchanges.ccxt_requests import RequestObserver, request_observers, wrap_requests
from tradeexec.exchanges.endpoints import point_ccxt_at
from tradeexec.exchanges.interface import (
    Capabilities,
    ExchangeTrader,
    Health,
    refuse_attached_brackets,
)
from tradeexec.exchanges.market_cache import MarketCache
from tradeexec.exchanges.symbols import resolve_symbol

__all__ = ["CCXTTrader", "RequestObserver", "request_observers"]

T = TypeVar("T")


class CCXTTrader(ExchangeTrader):
    ccxt_id: ClassVar[str | None] = None  # venue subclasses fix it; generic takes it in init
    default_capabilities: ClassVar[Capabilities | None] = None

    def __init__(
        self,
        account: str,
        *,
        exchange_id: str | None = None,
        credentials: Mapping[str, str] | None = None,
        testnet: bool = False,
        demo: bool = False,
        api_url: str | None = None,
        options: Mapping[str, Any] | None = None,
        leverage: int | None = None,
        margin_mode: MarginMode | None = None,
        hedge_mode: bool = False,
        market_cache: MarketCache | None = None,
        read_retries: int = 3,
        retry_backoff_s: float = 0.2,
        lookup_attempts: int = 3,
        timeout_ms: int = 10_000,
        settle_currency: str = "USDT",
        rate_limits: RateLimitRules | None = None,
    ) -> None:
        self.account = account
        self.exchange_id = self.ccxt_id or exchange_id or ""
        if not self.exchange_id:
            raise errors.ConfigError(f"account {account!r}: a ccxt exchange id is required")
        self.capabilities = self.default_capabilities or Capabilities(
            venue=self.exchange_id, settle_currency=settle_currency
        )
        self._credentials = dict(credentials or {})
        self.testnet, self.demo, self.api_url = testnet, demo, api_url
        self._options = dict(options or {})
        self.default_leverage, self.default_margin_mode = leverage, margin_mode
        self.hedge_mode = hedge_mode
        self.market_cache = market_cache
        self.read_retries, self.retry_backoff_s = read_retries, retry_backoff_s
        self.lookup_attempts, self.timeout_ms = lookup_attempts, timeout_ms
        self.exchange: Any = None
        self._markets: dict[str, Market] = {}
        self._trigger_refs: set[str] = set()  # ids / client ids of trigger orders we placed
        self._last_price: dict[str, Decimal] = {}
        self._price_seen_at: dict[str, float] = {}  # time.monotonic() of _last_price
        self.markets_from_cache = False  # the last load_markets came from the disk cache
        self.rate_gate = rate_gate(rate_limits or self.capabilities.rate_limits, self.exchange_id)

    # ------------------------------------------------------------ venue hooks
    def _exchange_class(self) -> Any:
        import ccxt.async_support as ccxt  # heavy: only when a trader is built

        try:
            return getattr(ccxt, self.exchange_id)
        except AttributeError:
            raise errors.ConfigError(f"unknown ccxt exchange id {self.exchange_id!r}") from None

    def _exchange_config(self) -> dict[str, Any]:
        return {
            **self._credentials,
            "enableRateLimit": self.api_url is None,
            "timeout": self.timeout_ms,
            "options": dict(self._options),
        }

    def _switch_environment(self, exchange: Any) -> None:
        if self.testnet:
            exchange.set_sandbox_mode(True)

    async def _after_connect(self) -> None:
        """Apply account settings (leverage, margin mode, position mode)."""

    def _order_params(self, request: OrderRequest, client_order_id: str) -> dict[str, Any]:
        trigger = self._trigger(request) if request.type.is_trigger else None
        return order_params(request, client_order_id, trigger)

    async def _prepare_price(self, symbol: str, request: OrderRequest) -> Decimal | None:
        """The price argument ccxt gets (venues whose market orders need one override this)."""
        return request.price

    def _trigger_params(self) -> dict[str, Any]:
        return {"trigger": True}

    def _new_client_order_id(self) -> str:
        return "te" + secrets.token_hex(14)

    # ------------------------------------------------------------- lifecycle
    def _build(self) -> Any:
        exchange = self._exchange_class()(self._exchange_config())
        self._switch_environment(exchange)
        wrap_requests(exchange, self)  # metrics, pacing, the send gate
        if self.api_url:
            point_ccxt_at(exchange, self.api_url)
            if self.api_url.startswith("http://"):
                # ccxt waits 250 ms on close so TLS connections can shut down cleanly; a
                # plain-HTTP endpoint (the simulator) has no TLS to wait for
                exchange.timeout_on_exit = 0
        return exchange

    async def connect(self) -> None:
        if self.exchange is None:
            self.exchange = self._build()
        await self.load_markets()
        await self._after_connect()

    async def close(self) -> None:
        if self.exchange is not None:
            await self.exchange.close()
            self.exchange = None

    def _endpoint(self) -> str:
        return f"{self.api_url or 'default'}|testnet={self.testnet}|demo={self.demo}"

    async def load_markets(self, reload: bool = False) -> dict[str, Market]:
        ex = self._require()
        cached = (
            None
            if reload or self.market_cache is None
            else self.market_cache.load(self.exchange_id, self._endpoint())
        )
        self.markets_from_cache = cached is not None
        if cached is not None:
            ex.set_markets(cached["markets"], cached.get("currencies"))
        else:
            await self._read(lambda: ex.load_markets(reload=True))
            if self.market_cache is not None:
                self.market_cache.save(
                    self.exchange_id, self._endpoint(), ex.markets, ex.currencies
                )
        self._markets = {
            sym: parse.market_from_ccxt(m, ex.precisionMode) for sym, m in ex.markets.items()
        }
        return dict(self._markets)

    async def health_check(self) -> Health:
        started = time.perf_counter()
        try:
            ex = self._require()
            if ex.has.get("fetchTime"):
                await ex.fetch_time()
            else:
                await ex.fetch_ticker(next(iter(self._markets)))
        except Exception as exc:  # health reports, never raises
            err = translate(exc, exchange=self.exchange_id)
            return Health(ok=False, venue=self.capabilities.venue, error=str(err))
        return Health(
            ok=True,
            venue=self.capabilities.venue,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    def _require(self) -> Any:
        if self.exchange is None:
            raise errors.NotInitializedError(
                f"trader {self.account!r} is not connected; call connect() first",
                exchange=self.exchange_id,
            )
        return self.exchange

    # ---------------------------------------------------------------- markets
    def resolve_symbol(self, symbol: str) -> str:
        self._require()
        if symbol in self._markets:
            return symbol
        try:
            return resolve_symbol(symbol, self._markets.keys(), self.capabilities.settle_currency)
        except errors.UnknownSymbol as exc:
            exc.exchange = self.exchange_id
            raise

    def market(self, symbol: str) -> Market:
        return self._markets[self.resolve_symbol(symbol)]

    def amount_to_precision(self, symbol: str, amount: Decimal) -> Decimal:
        from ccxt.base.decimal_to_precision import TRUNCATE

        sym = self.resolve_symbol(symbol)
        ex = self._require()
        text = ex.decimal_to_precision(
            str(amount),
            TRUNCATE,
            ex.markets[sym]["precision"]["amount"],
            ex.precisionMode,
            ex.paddingMode,
        )
        return Decimal(text)

    def price_to_precision(self, symbol: str, price: Decimal) -> Decimal:
        sym = self.resolve_symbol(symbol)
        return Decimal(self._require().price_to_precision(sym, str(price)))

    # ----------------------------------------------------------------- reads
    async def _read(self, call: Callable[[], Awaitable[T]], *, symbol: str | None = None) -> T:
        """Run a read, retrying network errors (429 included) with exponential backoff."""
        for attempt in range(self.read_retries + 1):
            try:
                return await call()
            except Exception as exc:
                err = translate(exc, exchange=self.exchange_id, symbol=symbol)
                if not errors.is_retryable_read(err) or attempt == self.read_retries:
                    raise err from exc
                await asyncio.sleep(self.retry_backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    async def fetch_ticker(self, symbol: str) -> Ticker:
        sym = self.resolve_symbol(symbol)
        ticker = parse.ticker_from_ccxt(await self._read(lambda: self.exchange.fetch_ticker(sym)))
        price = ticker.reference_price
        if price is not None:
            self.remember_price(sym, price)
        return ticker

    def remember_price(self, sym: str, price: Decimal) -> None:
        self._last_price[sym] = price
        self._price_seen_at[sym] = time.monotonic()

    def recent_price(self, sym: str, max_age_s: float) -> Decimal | None:
        """The last price a ticker read gave, if it is at most ``max_age_s`` old."""
        seen = self._price_seen_at.get(sym)
        if seen is None or time.monotonic() - seen > max_age_s:
            return None
        return self._last_price.get(sym)

    async def fetch_balance(self) -> dict[str, Balance]:
        raw = await self._read(lambda: self._require().fetch_balance(self._account_params()))
        return parse.balances_from_ccxt(raw, self.capabilities.settle_currency)

    def _account_params(self) -> dict[str, Any]:
        return {}

    async def fetch_positions(self, symbols: Sequence[str] | None = None) -> list[Position]:
        syms = [self.resolve_symbol(s) for s in symbols] if symbols else None
        raw = await self._read(
            lambda: self._require().fetch_positions(syms, self._account_params())
        )
        positions = [parse.position_from_ccxt(p) for p in raw]
        return [p for p in positions if p is not None]

    async def fetch_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        sym = self.resolve_symbol(symbol)
        if order_id is None and client_order_id is None:
            raise errors.InvalidOrder("fetch_order needs an order id or a client order id")
        return await self._on_plain_then_trigger(
            sym, order_id, client_order_id, self._fetch_once, reads=True
        )

    async def _fetch_once(
        self, sym: str, order_id: str | None, client_order_id: str | None, trigger: bool
    ) -> Order:
        params = {**self._account_params(), **(self._trigger_params() if trigger else {})}
        if order_id is None:
            params["clientOrderId"] = client_order_id
        raw = await self._read(
            lambda: self._require().fetch_order(order_id, sym, params), symbol=sym
        )
        return parse.order_from_ccxt(raw, sym)

    async def _on_plain_then_trigger(
        self,
        sym: str,
        order_id: str | None,
        client_order_id: str | None,
        call: Callable[[str, str | None, str | None, bool], Awaitable[T]],
        *,
        reads: bool,
    ) -> T:
        """Venues that keep trigger orders apart (Binance algo orders) need to be told which
        kind an order is: ask the kind we know it to be, else plain first, then trigger."""
        if not self.capabilities.cancel_trigger_needs_flag:
            return await call(sym, order_id, client_order_id, False)
        known_trigger = (order_id in self._trigger_refs) or (client_order_id in self._trigger_refs)
        order = (True, False) if known_trigger else (False, True)
        try:
            return await call(sym, order_id, client_order_id, order[0])
        except errors.OrderNotFound:
            return await call(sym, order_id, client_order_id, order[1])

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        sym = self.resolve_symbol(symbol) if symbol else None
        ex = self._require()
        raw = await self._read(
            lambda: ex.fetch_open_orders(sym, None, None, self._account_params())
        )
        orders = [parse.order_from_ccxt(o, sym) for o in raw]
        if self.capabilities.cancel_trigger_needs_flag:
            params = {**self._account_params(), **self._trigger_params()}
            raw_t = await self._read(lambda: ex.fetch_open_orders(sym, None, None, params))
            orders += [parse.order_from_ccxt(o, sym) for o in raw_t]
        return orders

    async def fetch_my_trades(self, symbol: str, since: int | None = None) -> list[Fill]:
        sym = self.resolve_symbol(symbol)
        raw = await self._read(
            lambda: self._require().fetch_my_trades(sym, since, None, self._account_params())
        )
        return [parse.fill_from_ccxt(t) for t in raw]

    # ---------------------------------------------------------------- writes
    def _trigger(self, request: OrderRequest) -> Decimal:
        assert request.trigger_price is not None
        return self.price_to_precision(request.symbol, request.trigger_price)

    async def create_order(self, request: OrderRequest) -> Order:
        ex = self._require()
        sym = self.resolve_symbol(request.symbol)
        refuse_attached_brackets(request, self.exchange_id)
        cid = request.client_order_id or self._new_client_order_id()
        amount = self.amount_to_precision(sym, request.quantity)
        price = await self._prepare_price(sym, request)
        if price is not None:
            price = self.price_to_precision(sym, price)
        reference = price if request.type.needs_price else request.trigger_price
        needs_value = self._markets[sym].min_notional is not None and not request.reduce_only
        if reference is None and needs_value and sym not in self._last_price:
            await self.fetch_ticker(sym)  # value a market order, so minimums hold before sending
        check_minimums(
            self._markets[sym],
            sym,
            amount,
            reference or self._last_price.get(sym),
            reduce=request.reduce_only,
            exchange=self.exchange_id,
        )
        params = self._order_params(request, cid)
        if request.type.is_trigger:
            self._trigger_refs.add(cid)
        try:
            raw = await ex.create_order(
                sym,
                CCXT_ORDER_TYPE[request.type],
                request.side.value,
                float(amount),
                float(price) if price is not None else None,
                params,
            )
        except Exception as exc:
            if is_ambiguous(exc):
                return await resolve_lost_create(
                    lambda: self.fetch_order(sym, client_order_id=cid),
                    cause=exc,
                    attempts=self.lookup_attempts,
                    backoff_s=self.retry_backoff_s,
                    exchange=self.exchange_id,
                    symbol=sym,
                    client_order_id=cid,
                )
            raise translate(
                exc, exchange=self.exchange_id, symbol=sym, client_order_id=cid
            ) from exc
        order = parse.order_from_ccxt(raw, sym)
        # Hyperliquid's acknowledgement has no side (parsed as "buy"): a sell would read as a buy
        thin = order.client_order_id is None or order.quantity == 0 or not raw.get("side")
        if thin or (request.type.needs_price and order.price is None):
            order = complete_acknowledgement(order, cid, request, amount, price)
        if (
            order.status is OrderStatus.FILLED
            and 0 < order.filled_quantity < amount
            and not request.type.is_trigger
        ):
            # "filled" for less than was sent is an IOC whose rest was cancelled (Hyperliquid
            # answers {"filled": {"totalSz": ...}} and ccxt reads totalSz as the amount): the
            # order is over with part filled, not filled
            order = replace(order, status=OrderStatus.EXPIRED, quantity=amount)
        if request.type.is_trigger:
            self._trigger_refs.add(order.id)
        return order

    async def cancel_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order | None:
        sym = self.resolve_symbol(symbol)
        try:
            return await self._on_plain_then_trigger(
                sym, order_id, client_order_id, self._cancel_once, reads=False
            )
        except errors.OrderNotFound:
            return None  # already gone: filled, cancelled or never there

    async def _cancel_once(
        self, sym: str, order_id: str | None, client_order_id: str | None, trigger: bool
    ) -> Order:
        params = {**(self._trigger_params() if trigger else {})}
        if order_id is None:
            params["clientOrderId"] = client_order_id
        try:
            raw = await self._require().cancel_order(order_id, sym, params)
        except Exception as exc:
            if not is_ambiguous(exc):
                raise translate(
                    exc, exchange=self.exchange_id, symbol=sym, client_order_id=client_order_id
                ) from exc
            order = await self._fetch_once(sym, order_id, client_order_id, trigger)
            if order.status.is_open:
                raise errors.OrderOutcomeUnknown(
                    "cancel got no answer and the order is still open; not resent",
                    exchange=self.exchange_id,
                    symbol=sym,
                    client_order_id=client_order_id,
                ) from exc
            return order
        order = parse.order_from_ccxt(raw, sym)
        if order.quantity == 0 or not order.status.is_terminal:
            # a bare acknowledgement (Binance algo orders, Hyperliquid): read the order's state
            return await self._fetch_once(sym, order_id, client_order_id, trigger)
        return order

    async def set_leverage(
        self, symbol: str, leverage: int, margin_mode: MarginMode | None = None
    ) -> None:
        sym = self.resolve_symbol(symbol)
        ex = self._require()
        try:
            if margin_mode is not None:
                await self._write_setting(lambda: ex.set_margin_mode(margin_mode.value, sym))
            await self._write_setting(lambda: ex.set_leverage(leverage, sym))
        except errors.TradeExecError as exc:
            exc.symbol = sym
            raise

    async def _write_setting(self, call: Callable[[], Awaitable[Any]]) -> None:
        """Settings are idempotent, so they may be retried; 'no change needed' is success."""
        try:
            await self._read(call)
        except errors.TradeExecError as exc:
            if exc.__cause__ is not None and is_no_change(exc.__cause__):
                return
            raise
