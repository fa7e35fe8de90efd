"""Trader types by name: the built-in ones (the factory registers them), those registered in
code (`register_trader`), and third-party packages' entry points (group ``tradeexec.traders``;
an entry point names a callable ``(name, AccountConfig, AppConfig | None) -> ExchangeTrader``).

The names themselves belong to the configuration (`tradeexec.config.venues`: built-in
types, the entry-point group, names registered in code), which imports nothing from the
exchange layer; `register_trader` tells it a new name.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from tradeexec import errors
from tradeexec.config.venues import (
    BUILTIN_ACCOUNT_TYPES,
    ENTRY_POINT_GROUP,
    account_types,
    register_account_type,
)
from tradeexec.exchanges.interface import ExchangeTrader

__all__ = [
    "BUILTIN_ACCOUNT_TYPES",
    "ENTRY_POINT_GROUP",
    "TraderBuilder",
    "account_type_for",
    "builder_for",
    "register_trader",
    "trader_types",
]

#: ``(name, AccountConfig, AppConfig | None) -> ExchangeTrader``
TraderBuilder = Callable[[str, Any, Any], ExchangeTrader]

_REGISTRY: dict[str, TraderBuilder] = {}


def register_trader(type_name: str, builder: TraderBuilder) -> None:
    """Register a trader type in code (entry points do the same from a package)."""
    _REGISTRY[type_name] = builder
    register_account_type(type_name)


def trader_types() -> set[str]:
    """Every type an account may name: registered (built-ins included) or an entry point."""
    return account_types() | set(_REGISTRY)


def builder_for(type_name: str) -> TraderBuilder:
    if type_name in _REGISTRY:
        return _REGISTRY[type_name]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == type_name:
            builder: TraderBuilder = ep.load()
            _REGISTRY[type_name] = builder
            return builder
    known = sorted(trader_types())
    raise errors.ConfigError(f"unknown trader type {type_name!r}; known: {known}")


#: ccxt ids that mean one of our own account types (``binanceusdm`` is Binance USD-M futures,
#: which ``binance`` means here too)
_ALIASES = {"binanceusdm": "binance"}


def account_type_for(exchange_id: str) -> str:
    """The account type for a ccxt exchange id: our own venue type where there is one, else
    the generic ``ccxt``."""
    name = _ALIASES.get(exchange_id, exchange_id)
    return name if name in trader_types() and name != "ccxt" else "ccxt"
