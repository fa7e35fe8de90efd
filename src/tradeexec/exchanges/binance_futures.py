"""Binance USD-M futures (ccxt ``binanceusdm``): a data sheet plus the few real differences.

- No spot calls: ``fetchCurrencies`` off, so ``load_markets`` never touches ``/sapi``.
- Conditional orders (stop / take-profit) go through ccxt's algo-order path
  (``POST /fapi/v1/algoOrder``, since 2025-12-09); cancelling or fetching one needs
  ``trigger=True``, which `CCXTTrader` adds from ``cancel_trigger_needs_flag``.
- Our client order id is always sent (ccxt would inject a broker-tagged one).
- Hedge mode: ``positionSide`` LONG/SHORT instead of reduce-only (Binance refuses both).
- Clock skew (-1021): ccxt's time-difference adjustment, loaded at connect.
- A ticker is three reads made concurrently: the 24 h ticker (last), the book ticker
  (bid/ask) and the premium index (mark); Binance's 24 h ticker has neither of the latter,
  and the risk checks value orders and bands at the mark.
- ``demo: true`` uses Binance's demo-trading environment; the old futures testnet is refused
  by ccxt, so ``testnet: true`` is a configuration error with that hint.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar

from tradeexec import errors
from tradeexec.domain import Order, OrderRequest, OrderSide, OrderType, Ticker
from tradeexec.exchanges.ccxt_parse import dec
from tradeexec.exchanges.ccxt_trader import CCXTTrader
from tradeexec.exchanges.interface import Capabilities

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
)


class BinanceFuturesTrader(CCXTTrader):
    ccxt_id: ClassVar[str | None] = "binanceusdm"
    default_capabilities: ClassVar[Capabilities | None] = BINANCE_FUTURES

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
        if self.testnet:
            raise errors.ConfigError(
                f"account {self.account!r}: Binance's futures testnet is refused by ccxt;"
                " use `demo: true` (Binance demo trading) or `api_url` (the simulator)"
            )
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
        """A fired algo order reports no fills of its own: they belong to the order it placed
        (``actualOrderId``), so its outcome is read from there."""
        order = await super()._fetch_once(sym, order_id, client_order_id, trigger)
        actual = order.info.get("actualOrderId") if trigger else None
        if not actual:
            return order
        placed = await super()._fetch_once(sym, str(actual), None, False)
        return replace(
            order,
            status=placed.status,
            filled_quantity=placed.filled_quantity,
            average_price=placed.average_price,
            fee=placed.fee,
            fee_currency=placed.fee_currency,
        )

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
