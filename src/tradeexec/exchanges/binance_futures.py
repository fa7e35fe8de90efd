"""Binance USD-M futures (ccxt ``binanceusdm``): a data sheet plus the few real differences.

- No spot calls: ``fetchCurrencies`` off, so ``load_markets`` never touches ``/sapi``.
- Conditional orders (stop / take-profit) go through ccxt's algo-order path
  (``POST /fapi/v1/algoOrder``, since 2025-12-09); cancelling or fetching one needs
  ``trigger=True``, which `CCXTTrader` adds from ``cancel_trigger_needs_flag``. Once one
  fires, the order it placed has its own id (``actualOrderId``): see `_fetch_once`.
- Our client order id is always sent (ccxt would inject a broker-tagged one).
- Hedge mode: ``positionSide`` LONG/SHORT instead of reduce-only (Binance refuses both).
- Clock skew (-1021): ccxt's time-difference adjustment, loaded at connect.
- A ticker is three reads made concurrently: the 24 h ticker (last), the book ticker
  (bid/ask) and the premium index (mark); Binance's 24 h ticker has neither of the latter,
  and the risk checks value orders and bands at the mark.
- ``demo: true`` uses Binance's demo-trading environment; the old futures testnet is refused
  by ccxt, so ``testnet: true`` means demo trading too (with a warning), wherever it is set:
  the configuration, ``BINANCE_TESTNET`` or ``create_ccxt_plugin(testnet=True)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar, TypeVar

from tradeexec import errors
from tradeexec.domain import Order, OrderRequest, OrderSide, OrderType, Ticker
from tradeexec.exchanges.backoff import BINANCE_RATE_LIMITS
from tradeexec.exchanges.ccxt_parse import dec
from tradeexec.exchanges.ccxt_trader import CCXTTrader
from tradeexec.exchanges.interface import Capabilities

_log = logging.getLogger(__name__)

T = TypeVar("T")

BINANCE_FUTURES = Capabilities(
    venue="binance",
    settle_currency="USDT",
    order_types=frozenset(OrderType),
    standalone_tpsl=True,
    attached_tpsl=False,
    market_order_needs_price=False,
    hedge_mode=True,
    client_id_format="binance",
    cancel_trigger_needs_flag=True,
    maker_fee=Decimal("0.0002"),
    taker_fee=Decimal("0.0005"),
    rate_limits=BINANCE_RATE_LIMITS,
)


class BinanceFuturesTrader(CCXTTrader):
    ccxt_id: ClassVar[str | None] = "binanceusdm"
    default_capabilities: ClassVar[Capabilities | None] = BINANCE_FUTURES

    def __init__(self, account: str, *, testnet: bool = False, demo: bool = False, **kw: Any):
        # one meaning wherever ``testnet`` is set (configuration, BINANCE_TESTNET, the plugin,
        # code): ccxt refuses the gone futures testnet, and demo trading is its heir
        if testnet:
            _log.warning("account %r: Binance 'testnet' means its demo trading", account)
        super().__init__(account, demo=demo or testnet, **kw)

    @cached_property
    def _placed_ids(self) -> set[str]:
        """Ids of orders that fired algo orders placed, as learnt (plain order ids)."""
        return set()

    def _exchange_config(self) -> dict[str, Any]:
        config = super()._exchange_config()
        config["options"] = {
            "fetchCurrencies": False,
            "adjustForTimeDifference": True,
            "defaultType": "future",
            "warnOnFetchOpenOrdersWithoutSymbol": False,
            **config["options"],
        }
        return config

    def _switch_environment(self, exchange: Any) -> None:
        if self.demo:
            exchange.enable_demo_trading(True)

    async def _after_connect(self) -> None:
        ex = self._require()
        if self.markets_from_cache:  # ccxt syncs the clock inside load_markets otherwise
            await self._read(ex.load_time_difference)
        if self.hedge_mode:
            await self._write_setting(lambda: ex.set_position_mode(True))

    async def _fetch_once(
        self, sym: str, order_id: str | None, client_order_id: str | None, trigger: bool
    ) -> Order:
        """A fired algo order is answered by the order it placed: that order has an id of its
        own (``actualOrderId``; the plain endpoints answer -2013 for the algoId), carries the
        fills and realised PnL in ``userTrades``, and is what a cancel must reach if it still
        rests (a fired stop-limit). So the outcome comes back under that id, with the algo
        order's type and trigger; the store follows the id, so fills are matched by it."""
        order = await super()._fetch_once(sym, order_id, client_order_id, trigger)
        actual = order.info.get("actualOrderId") if trigger else None
        if not actual:
            return order  # not fired, or refused when it fired (REJECTED: nothing placed)
        placed = await super()._fetch_once(sym, str(actual), None, False)
        self._placed_ids.add(placed.id)
        return replace(
            placed,
            type=order.type,
            trigger_price=order.trigger_price,
            client_order_id=order.client_order_id,
            reduce_only=order.reduce_only or placed.reduce_only,
        )

    async def _on_plain_then_trigger(
        self,
        sym: str,
        order_id: str | None,
        client_order_id: str | None,
        call: Callable[[str, str | None, str | None, bool], Awaitable[T]],
        *,
        reads: bool,
    ) -> T:
        """An id we learnt as a fired algo order's placed order is a plain order id: never ask
        the algo service for it (algoIds are another counter, and could name another order)."""
        if order_id is not None and order_id in self._placed_ids:
            return await call(sym, order_id, client_order_id, False)
        return await super()._on_plain_then_trigger(
            sym, order_id, client_order_id, call, reads=reads
        )

    async def _cancel_once(
        self, sym: str, order_id: str | None, client_order_id: str | None, trigger: bool
    ) -> Order:
        """The algo service refuses to cancel a fired algo order (-2011); if the order it
        placed still rests (a fired stop-limit), that order is what is cancelled."""
        try:
            return await super()._cancel_once(sym, order_id, client_order_id, trigger)
        except errors.OrderNotFound:
            if not trigger:
                raise
            placed = await self._fetch_once(sym, order_id, client_order_id, True)
            if placed.id == order_id or not placed.status.is_open:
                raise
            return await super()._cancel_once(sym, placed.id, None, False)

    def _order_params(self, request: OrderRequest, client_order_id: str) -> dict[str, Any]:
        params = super()._order_params(request, client_order_id)
        if self.hedge_mode:
            params.pop("reduceOnly", None)
            opening = request.side is OrderSide.BUY
            long_side = opening != request.reduce_only
            params.setdefault("positionSide", "LONG" if long_side else "SHORT")
        return params

    async def fetch_ticker(self, symbol: str) -> Ticker:
        sym = self.resolve_symbol(symbol)
        ex = self._require()
        last, books, mark = await asyncio.gather(
            super().fetch_ticker(sym),
            self._read(lambda: ex.fetch_bids_asks([sym]), symbol=sym),
            self._read(lambda: ex.fetch_mark_price(sym), symbol=sym),
        )
        book = books.get(sym, {})
        ticker = replace(
            last,
            bid=dec(book.get("bid")) or last.bid,
            ask=dec(book.get("ask")) or last.ask,
            mark=dec(mark.get("markPrice")) or last.mark,
        )
        if ticker.reference_price is not None:
            self.remember_price(sym, ticker.reference_price)
        return ticker
