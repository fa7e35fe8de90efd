"""tradeexec: one dependable path from a trading signal to an order on an exchange.

The public API is listed in ``__all__`` (a test pins it, so it only changes on purpose).
Names are imported on first use, so ``import tradeexec`` stays cheap: ccxt (~0.7 s, ~100 MB)
and SQLAlchemy load only when a trader, the store or the service is actually used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # exchange layer
    "ExchangeTrader": "tradeexec.exchanges.interface",
    "Capabilities": "tradeexec.exchanges.interface",
    "CCXTTrader": "tradeexec.exchanges.ccxt_trader",
    "BinanceFuturesTrader": "tradeexec.exchanges.binance_futures",
    "HyperliquidTrader": "tradeexec.exchanges.hyperliquid_trader",
    "PaperTrader": "tradeexec.exchanges.paper",
    "create_trader": "tradeexec.exchanges.factory",
    "register_trader": "tradeexec.exchanges.registry",
    "ExchangeManager": "tradeexec.exchanges.factory",
    # the plugin API of the original plan
    "ExecutionPlugin": "tradeexec.plugin",
    "CCXTPlugin": "tradeexec.plugin",
    "create_ccxt_plugin": "tradeexec.plugin",
    "ExecutionResult": "tradeexec.plugin",
    # the facade and its values
    "TradingService": "tradeexec.service",
    "Signal": "tradeexec.execution.signals",
    "ExecutionReport": "tradeexec.execution.report",
    "load_config": "tradeexec.config",
    "AppConfig": "tradeexec.config",
    "AccountConfig": "tradeexec.config",
    "RiskConfig": "tradeexec.config",
    # domain
    "OrderSide": "tradeexec.domain",
    "OrderType": "tradeexec.domain",
    "OrderStatus": "tradeexec.domain",
    "TimeInForce": "tradeexec.domain",
    "MarginMode": "tradeexec.domain",
    "TradingState": "tradeexec.domain",
    "SignalSource": "tradeexec.domain",
    "OrderRequest": "tradeexec.domain",
    "Order": "tradeexec.domain",
    "Fill": "tradeexec.domain",
    "Position": "tradeexec.domain",
    "Balance": "tradeexec.domain",
    "Ticker": "tradeexec.domain",
    "Market": "tradeexec.domain",
    # errors (the whole tree is in tradeexec.errors)
    "TradeExecError": "tradeexec.errors",
    "ConfigError": "tradeexec.errors",
    "InvalidSignal": "tradeexec.errors",
    "RiskRejected": "tradeexec.errors",
    "ExchangeError": "tradeexec.errors",
    "OrderOutcomeUnknown": "tradeexec.errors",
    # the simulator
    "point_ccxt_at": "tradeexec.exchanges.endpoints",
}

__all__ = [
    "AccountConfig",
    "AppConfig",
    "Balance",
    "BinanceFuturesTrader",
    "CCXTPlugin",
    "CCXTTrader",
    "Capabilities",
    "ConfigError",
    "ExchangeError",
    "ExchangeManager",
    "ExchangeTrader",
    "ExecutionPlugin",
    "ExecutionReport",
    "ExecutionResult",
    "Fill",
    "HyperliquidTrader",
    "InvalidSignal",
    "MarginMode",
    "Market",
    "Order",
    "OrderOutcomeUnknown",
    "OrderRequest",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "PaperTrader",
    "Position",
    "RiskConfig",
    "RiskRejected",
    "Signal",
    "SignalSource",
    "Ticker",
    "TimeInForce",
    "TradeExecError",
    "TradingService",
    "TradingState",
    "__version__",
    "create_ccxt_plugin",
    "create_trader",
    "load_config",
    "point_ccxt_at",
    "register_trader",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tradeexec' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from tradeexec.config import AccountConfig, AppConfig, RiskConfig, load_config
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
        SignalSource,
        Ticker,
        TimeInForce,
        TradingState,
    )
    from tradeexec.errors import (
        ConfigError,
        ExchangeError,
        InvalidSignal,
        OrderOutcomeUnknown,
        RiskRejected,
        TradeExecError,
    )
    from tradeexec.exchanges.binance_futures import BinanceFuturesTrader
    from tradeexec.exchanges.ccxt_trader import CCXTTrader
    from tradeexec.exchanges.endpoints import point_ccxt_at
    from tradeexec.exchanges.factory import ExchangeManager, create_trader
    from tradeexec.exchanges.hyperliquid_trader import HyperliquidTrader
    from tradeexec.exchanges.interface import Capabilities, ExchangeTrader
    from tradeexec.exchanges.paper import PaperTrader
    from tradeexec.exchanges.registry import register_trader
    from tradeexec.execution.report import ExecutionReport
    from tradeexec.execution.signals import Signal
    from tradeexec.plugin import (
        CCXTPlugin,
        ExecutionPlugin,
        ExecutionResult,
        create_ccxt_plugin,
    )
    from tradeexec.service import TradingService
