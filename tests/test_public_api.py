"""The public surface changes only on purpose, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import tradeexec

EXPECTED = {
    "AccountConfig", "AppConfig", "Balance", "BinanceFuturesTrader", "CCXTPlugin", "CCXTTrader",
    "Capabilities", "ConfigError", "ExchangeError", "ExchangeManager", "ExchangeTrader",
    "ExecutionPlugin", "ExecutionReport", "ExecutionResult", "Fill", "HyperliquidTrader",
    "InvalidSignal", "MarginMode", "Market", "Order", "OrderOutcomeUnknown", "OrderRequest",
    "OrderSide", "OrderStatus", "OrderType", "PaperTrader", "Position", "RiskConfig",
    "RiskRejected", "Signal", "SignalSource", "Ticker", "TimeInForce", "TradeExecError",
    "TradingService", "TradingState", "__version__", "create_ccxt_plugin", "create_trader",
    "load_config", "point_ccxt_at", "register_trader",
}  # fmt: skip


def test_all_is_exactly_the_documented_surface() -> None:
    assert set(tradeexec.__all__) == EXPECTED


def test_type_checkers_see_the_same_names_from_the_same_modules() -> None:
    """``__all__`` is derived from the lazy export table; the ``TYPE_CHECKING`` block re-exports
    (``X as X``) what type checkers and IDEs read. A name added to one and not the other, or
    imported from another module than the one it is loaded from, fails here."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(tradeexec))
    guarded = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
    )
    seen: dict[str, str] = {}
    for stmt in guarded.body:
        assert isinstance(stmt, ast.ImportFrom) and stmt.module, ast.dump(stmt)
        for alias in stmt.names:
            assert alias.asname == alias.name, f"{alias.name} is not re-exported explicitly"
            seen[alias.name] = stmt.module
    assert seen == tradeexec._EXPORTS


def test_every_public_name_resolves() -> None:
    for name in tradeexec.__all__:
        assert getattr(tradeexec, name) is not None, name


def test_import_does_not_load_ccxt_or_sqlalchemy() -> None:
    code = (
        "import sys, tradeexec; "
        "heavy = [m for m in ('ccxt', 'sqlalchemy') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_original_plan_names_are_where_the_plan_put_them() -> None:
    from tradeexec.exchanges.factory import create_trader
    from tradeexec.plugin import create_ccxt_plugin

    assert tradeexec.create_ccxt_plugin is create_ccxt_plugin
    assert tradeexec.create_trader is create_trader
    plugin = tradeexec.create_ccxt_plugin("binance", api_key="k", api_secret="s")
    assert plugin.name() == "ccxt:binance"
    assert isinstance(plugin, tradeexec.ExecutionPlugin)
