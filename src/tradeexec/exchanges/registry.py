"""Trader types by name: the built-in ones (the factory registers them), those registered in
code (`register_trader`), and third-party packages' entry points (group ``tradeexec.traders``;
an entry point names a callable ``(name, AccountConfig, AppConfig | None) -> ExchangeTrader``).

A leaf module: it imports nothing from the configuration, so the configuration can ask it
which account types exist without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from tradeexec import errors
from tradeexec.exchanges.interface import ExchangeTrader

__all__ = ["ENTRY_POINT_GROUP", "TraderBuilder", "builder_for", "register_trader", "trader_types"]

ENTRY_POINT_GROUP = "tradeexec.traders"
#: ``(name, AccountConfig, AppConfig | None) -> ExchangeTrader``
TraderBuilder = Callable[[str, Any, Any], ExchangeTrader]

_REGISTRY: dict[str, TraderBuilder] = {}


def register_trader(type_name: str, builder: TraderBuilder) -> None:
    """Register a trader type in code (entry points do the same from a package)."""
    _REGISTRY[type_name] = builder


def trader_types() -> set[str]:
    """Every type an account may name: registered (built-ins included) or an entry point."""
    return set(_REGISTRY) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}


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
