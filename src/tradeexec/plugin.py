"""The plugin API of the original plan: dict in, dict out, over the one pipeline.

    plugin = create_ccxt_plugin('binance', api_key='xxx', api_secret='yyy',
                                testnet=True, min_confidence=0.7)
    await plugin.init()
    result = await plugin.execute_order({'symbol': 'BTC/USDT', 'side': 'buy',
        'order_type': 'market', 'quantity': 0.1, 'confidence': 0.85,
        'stop_loss': 66000.0, 'take_profit': 69000.0})

``'binance'`` means Binance USD-M futures (``BTC/USDT`` resolves to ``BTC/USDT:USDT``);
``'hyperliquid'`` and ``'paper'`` are the other built-in venues; any other id is a generic
ccxt exchange. ``execute_order`` never raises: every failure is a dict with ``success:
False``, a readable ``error`` and a machine ``reason`` (plus both confidence values when the
gate refused). The trades go through `TradingService`, so the confidence gate, the risk
limits, the kill switch and idempotency apply exactly as on every other surface.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from tradeexec import errors
from tradeexec.config import AccountConfig, AppConfig
from tradeexec.domain import Order, SignalSource
from tradeexec.exchanges.factory import create_trader
from tradeexec.exchanges.registry import account_type_for
from tradeexec.service import TradingService

ExecutionResult = dict[str, Any]


@runtime_checkable
class ExecutionPlugin(Protocol):
    """What an execution plugin offers an agent framework."""

    async def init(self) -> None: ...
    async def execute_order(self, order: dict[str, Any]) -> ExecutionResult: ...
    async def fetch_data(self, symbol: str, exchange: str | None = None) -> dict[str, Any]: ...
    async def fetch_balance(self) -> dict[str, Any]: ...
    async def cancel_order(self, order_id: str, symbol: str) -> ExecutionResult: ...
    async def fetch_order(self, order_id: str, symbol: str) -> ExecutionResult: ...
    def name(self) -> str: ...
    async def health_check(self) -> bool: ...
    async def close(self) -> None: ...


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _failure(exc: BaseException) -> ExecutionResult:
    if isinstance(exc, errors.TradeExecError):
        return {"success": False, **exc.to_dict()}
    return {"success": False, "reason": "internal_error", "error": f"{type(exc).__name__}: {exc}"}


def order_to_dict(order: Order) -> ExecutionResult:
    return {
        "success": True,
        "order_id": order.id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "status": order.status.value,
        "quantity": _f(order.quantity),
        "filled_quantity": _f(order.filled_quantity),
        "average_price": _f(order.average_price),
        "price": _f(order.price),
        "trigger_price": _f(order.trigger_price),
        "timestamp": order.timestamp,
    }


class CCXTPlugin:
    """An `ExecutionPlugin` for one exchange account, over `TradingService`."""

    def __init__(self, exchange_id: str, config: Any) -> None:
        self.exchange_id = exchange_id
        self.config = config  # tradeexec.config.AppConfig with one account
        self.account = next(iter(config.accounts))
        self.service: Any = None
        self._public: dict[str, Any] = {}

    def name(self) -> str:
        return f"ccxt:{self.exchange_id}"

    @property
    def initialized(self) -> bool:
        return self.service is not None

    async def init(self) -> None:
        """Open the store, connect to the exchange (load markets) and, when credentials are
        configured, check them with one balance read. Raises on failure. Idempotent."""
        if self.service is not None:  # a second service would leak the first's connections
            return
        service = TradingService(self.config)
        try:
            trader = await service.manager.get(self.account)
            if self.config.accounts[self.account].has_credentials:
                await trader.verify_credentials()  # wrong keys fail here, not at an order
            await service.start()
        except BaseException:
            await service.stop()
            raise
        self.service = service

    def _require(self) -> Any:
        if self.service is None:
            raise errors.NotInitializedError(
                f"plugin {self.name()} is not initialised; await plugin.init() first"
            )
        return self.service

    async def execute_order(self, order: dict[str, Any]) -> ExecutionResult:
        try:
            service = self._require()
            report = await service.submit({"account": self.account, **order}, SignalSource.AGENT)
            return report.to_dict()  # type: ignore[no-any-return]
        except Exception as exc:  # the dict API never raises
            return _failure(exc)

    async def fetch_data(self, symbol: str, exchange: str | None = None) -> dict[str, Any]:
        """Bid, ask, last and mark for a symbol, on this plugin's exchange or another one."""
        try:
            trader = await self._trader_for(exchange)
            ticker = await trader.fetch_ticker(symbol)
        except Exception as exc:
            return _failure(exc)
        return {
            "success": True,
            "exchange": exchange or self.exchange_id,
            "symbol": ticker.symbol,
            "bid": _f(ticker.bid),
            "ask": _f(ticker.ask),
            "last": _f(ticker.last),
            "mark": _f(ticker.mark),
            "timestamp": ticker.timestamp,
        }

    async def _trader_for(self, exchange: str | None) -> Any:
        service = self._require()
        if exchange is None or exchange == self.exchange_id:
            return await service.manager.get(self.account)
        if exchange not in self._public:  # keyless market data from another exchange
            own = self.config.accounts[self.account]
            kind = account_type_for(exchange)
            cfg = AccountConfig(
                type=kind, exchange_id=None if kind != "ccxt" else exchange, api_url=own.api_url
            )
            trader = create_trader(f"public-{exchange}", cfg, self.config)
            try:
                await trader.connect()
            except BaseException:
                await trader.close()  # release its HTTP session; the next call tries afresh
                raise
            self._public[exchange] = trader
        return self._public[exchange]

    async def fetch_balance(self) -> dict[str, Any]:
        try:
            trader = await self._trader_for(None)
            balances = await trader.fetch_balance()
        except Exception as exc:
            return _failure(exc)
        return {
            "success": True,
            **{
                c: {"total": _f(b.total), "free": _f(b.free), "used": _f(b.used)}
                for c, b in balances.items()
            },
        }

    async def cancel_order(self, order_id: str, symbol: str) -> ExecutionResult:
        try:
            order = await self._require().cancel(symbol, order_id=order_id, account=self.account)
        except Exception as exc:
            return _failure(exc)
        if order is None:
            return {"success": True, "order_id": order_id, "status": "already_closed"}
        return order_to_dict(order)

    async def fetch_order(self, order_id: str, symbol: str) -> ExecutionResult:
        try:
            trader = await self._trader_for(None)
            return order_to_dict(await trader.fetch_order(symbol, order_id=order_id))
        except Exception as exc:
            return _failure(exc)

    async def health_check(self) -> bool:
        """True when the exchange answers a private read (the balance) with this plugin's
        credentials (a public read when it has none), as the original plan has it:
        ``is_healthy = await plugin.health_check()``. `health_report` says why not."""
        return bool((await self.health_report())["healthy"])

    async def health_report(self) -> dict[str, Any]:
        """The details behind `health_check`: ``healthy``, ``latency_ms``, ``credentials``,
        and the failure's ``reason`` code and ``error`` text. Never raises."""
        if self.service is None:
            return {
                "healthy": False, "exchange": self.exchange_id, "reason": "not_initialized",
                "error": f"plugin {self.name()} is not initialised; await plugin.init() first",
            }  # fmt: skip
        health = await self.service.manager.check(self.account)
        return {
            "healthy": health.ok,
            "exchange": self.exchange_id,
            "latency_ms": health.latency_ms,
            "credentials": health.credentials,
            "reason": health.code,
            "error": health.error,
        }

    async def close(self) -> None:
        for trader in self._public.values():
            await trader.close()
        self._public.clear()
        if self.service is not None:
            await self.service.stop()
            self.service = None


def create_ccxt_plugin(
    exchange_id: str,
    api_key: str | None = None,
    api_secret: str | None = None,
    testnet: bool = False,
    min_confidence: float = 0.6,
    *,
    wallet_address: str | None = None,
    private_key: str | None = None,
    api_url: str | None = None,
    demo: bool = False,
    store_url: str | None = None,
    account: str | None = None,
    **account_options: Any,
) -> CCXTPlugin:
    """The convenience constructor of the original plan (see the module docstring)."""
    kind = account_type_for(exchange_id)
    fields: dict[str, Any] = {
        "type": kind,
        "api_key": api_key,
        "api_secret": api_secret,
        "testnet": testnet,
        "demo": demo,
        "api_url": api_url,
        "wallet_address": wallet_address,
        "private_key": private_key,
        "risk": {"min_confidence": min_confidence},
        **account_options,
    }
    if kind == "ccxt":
        fields["exchange_id"] = exchange_id
    name = account or exchange_id
    app: dict[str, Any] = {"accounts": {name: AccountConfig(**fields)}, "default_account": name}
    if store_url is not None:
        app["store_url"] = store_url
    return CCXTPlugin(exchange_id, AppConfig(**app))
