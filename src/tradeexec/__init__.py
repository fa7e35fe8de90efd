"""tradeexec: one dependable path from a trading signal to an order on an exchange.

The public API is the ``_EXPORTS`` table (name -> module); ``__all__`` is derived from it and a
test pins it, so it only changes on purpose.
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

#: the public names, derived from the table above (listed once); the type checkers read the
#: ``X as X`` re-exports below, and a test checks that both name the same things
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tradeexec' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


# one `from m import (A as A, ...)` per module: explicit re-exports (isort would split them)
if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    # isort: off
    from tradeexec.config import (
        AccountConfig as AccountConfig,
        AppConfig as AppConfig,
        RiskConfig as RiskConfig,
        load_config as load_config,
    )
    from tradeexec.domain import (
        Balance as Balance,
        Fill as Fill,
        MarginMode as MarginMode,
        Market as Market,
        Order as Order,
        OrderRequest as OrderRequest,
        OrderSide as OrderSide,
        OrderStatus as OrderStatus,
        OrderType as OrderType,
        Position as Position,
        SignalSource as SignalSource,
        Ticker as Ticker,
        TimeInForce as TimeInForce,
        TradingState as TradingState,
    )
    from tradeexec.errors import (
        ConfigError as ConfigError,
        ExchangeError as ExchangeError,
        InvalidSignal as InvalidSignal,
        OrderOutcomeUnknown as OrderOutcomeUnknown,
        RiskRejected as RiskRejected,
        TradeExecError as TradeExecError,
    )
    from tradeexec.exchanges.binance_futures import (
        BinanceFuturesTrader as BinanceFuturesTrader,
    )
    from tradeexec.exchanges.ccxt_trader import (
        CCXTTrader as CCXTTrader,
    )
    from tradeexec.exchanges.endpoints import (
        point_ccxt_at as point_ccxt_at,
    )
    from tradeexec.exchanges.factory import (
        ExchangeManager as ExchangeManager,
        create_trader as create_trader,
    )
    from tradeexec.exchanges.hyperliquid_trader import (
        HyperliquidTrader as HyperliquidTrader,
    )
    from tradeexec.exchanges.interface import (
        Capabilities as Capabilities,
        ExchangeTrader as ExchangeTrader,
    )
    from tradeexec.exchanges.paper import (
        PaperTrader as PaperTrader,
    )
    from tradeexec.exchanges.registry import (
        register_trader as register_trader,
    )
    from tradeexec.execution.report import (
        ExecutionReport as ExecutionReport,
    )
    from tradeexec.execution.signals import (
        Signal as Signal,
    )
    from tradeexec.plugin import (
        CCXTPlugin as CCXTPlugin,
        ExecutionPlugin as ExecutionPlugin,
        ExecutionResult as ExecutionResult,
        create_ccxt_plugin as create_ccxt_plugin,
    )
    from tradeexec.service import (
        TradingService as TradingService,
    )
    # isort: on
