"""Which account settings belong to which venue type: the configuration's venue facts, as data.

An account is one model whatever its venue, but most settings mean something on one venue
type only (a Hyperliquid wallet address on a Binance account is a mistake, not a no-op).
`misplaced` names the settings an account sets that its type does not use, so the mistake
fails at start-up with the setting's name. Settings not listed here are shared by every type
(``api_url``, ``leverage``, ``symbols``, ``risk`` ...). Account types registered by other
packages are not judged: their settings are theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import entry_points

__all__ = [
    "BUILTIN_ACCOUNT_TYPES",
    "ENTRY_POINT_GROUP",
    "VENUE_SETTINGS",
    "account_types",
    "misplaced",
    "misplaced_message",
    "register_account_type",
]

#: the account types tradeexec itself provides (the exchange factory builds their traders)
BUILTIN_ACCOUNT_TYPES = ("binance", "hyperliquid", "paper", "ccxt")
#: third-party packages add account types with an entry point in this group (the exchange
#: registry loads the builder it names; the configuration needs only the name)
ENTRY_POINT_GROUP = "tradeexec.traders"
_REGISTERED: set[str] = set()


def register_account_type(type_name: str) -> None:
    """Make ``type_name`` a valid account ``type`` (`register_trader` calls this): the exchange
    layer tells the configuration, so the configuration imports nothing from it."""
    _REGISTERED.add(type_name)


def account_types() -> set[str]:
    """Every type an account may name: built in, registered in code, or an entry point."""
    entry = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {*BUILTIN_ACCOUNT_TYPES, *_REGISTERED, *entry}


_PAPER, _CCXT = frozenset({"paper"}), frozenset({"ccxt"})
_HL = frozenset({"hyperliquid"})
_KEYED = frozenset({"binance", "ccxt"})  # an api key and secret
_WALLET = frozenset({"hyperliquid", "ccxt"})  # a wallet address and private key

#: setting -> the account types that use it
VENUE_SETTINGS: dict[str, frozenset[str]] = {
    "venue": _PAPER,  # the markets a paper account mimics
    "starting_balance": _PAPER,
    "feed": _PAPER,
    "seed": _PAPER,
    "exchange_id": _CCXT,
    # the rest of ccxt's credentials (its requiredCredentials): OKX, KuCoin, Bitget ...
    "password": _CCXT,
    "uid": _CCXT,
    "account_id": _CCXT,
    "login": _CCXT,
    "twofa": _CCXT,
    "token": _CCXT,
    "api_key": _KEYED,
    "api_secret": _KEYED,
    "hedge_mode": _KEYED,
    "demo": _KEYED,  # Binance demo trading (and ccxt venues that have one)
    "wallet_address": _WALLET,
    "private_key": _WALLET,
    "vault_address": _HL,
    "slippage": _HL,  # ccxt's market-order price cap on Hyperliquid
    "builder": _HL,
    "referrer": _HL,
}

_BUILTIN = frozenset(BUILTIN_ACCOUNT_TYPES)


def misplaced(account_type: str, settings: Iterable[str]) -> list[str]:
    """The ``settings`` (those an account sets away from their defaults) that an account of
    ``account_type`` does not use; empty for types registered by other packages."""
    if account_type not in _BUILTIN:
        return []
    return sorted(
        name for name in settings if account_type not in VENUE_SETTINGS.get(name, _BUILTIN)
    )


_NAMES = {"paper": "paper", "ccxt": "ccxt", "binance": "Binance", "hyperliquid": "Hyperliquid"}


def misplaced_message(account_type: str, settings: list[str]) -> str:
    """``'builder': only for Hyperliquid accounts (only type 'hyperliquid' accounts use it);
    this one is type 'binance'``."""
    users = sorted({t for name in settings for t in VENUE_SETTINGS[name]})
    named = " and ".join(_NAMES[t] for t in users)
    types = " or ".join(repr(t) for t in users)
    pronoun = "it" if len(settings) == 1 else "them"
    return (
        f"{', '.join(map(repr, settings))}: only for {named} accounts (only type {types} "
        f"accounts use {pronoun}); this one is type {account_type!r}"
    )
