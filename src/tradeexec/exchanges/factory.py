"""Building traders from configuration, and owning the live ones.

``create_trader(name, account_config)`` looks the account's ``type`` up in a registry:
``binance`` (Binance USD-M futures), ``hyperliquid``, ``paper``, ``ccxt`` (any ccxt id), plus
whatever third-party packages register in the ``tradeexec.traders`` entry-point group (an
entry point names a callable ``(name, AccountConfig, AppConfig | None) -> ExchangeTrader``).

`ExchangeManager` owns the live traders of one service: created and connected lazily on
first use, health-checked together (`check_accounts`: a private read with each account's
credentials, concurrently), closed together. There is no hidden module-level singleton; the
plugin API documents its own default manager.

A generic ``ccxt`` account passes every credential ccxt knows (``apiKey``, ``secret``,
``password`` (a passphrase), ``uid``, ``walletAddress``, ``privateKey``...);
`credential_report` says which ones the chosen exchange requires and which are missing.

Paper accounts keep their venue state in the store (`store/paper_state.py`), so paper trading
survives between processes. The seam is explicit: `ExchangeManager(config, store_engine=...)`
gets the service's store engine and hands a `PaperStateStore` on it to each paper trader.
A manager built without one (read-only CLI commands) opens the configured ``store_url`` for
its paper accounts if that store already exists, and never creates one; a private in-memory
SQLite store, or none at all, keeps paper state in memory for the process's life.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradeexec import errors
from tradeexec.exchanges.interface import ExchangeTrader, Health
from tradeexec.exchanges.registry import (
    ENTRY_POINT_GROUP,
    TraderBuilder,
    builder_for,
    register_trader,
    trader_types,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tradeexec.config import AccountConfig, AppConfig
    from tradeexec.store.paper_state import PaperStateStore


def _cache(app: AppConfig | None) -> Any:
    from tradeexec.exchanges.market_cache import MarketCache

    if app is None:
        return None
    return MarketCache(Path(app.market_cache_dir), float(app.market_cache_ttl_s))


def _common(account: AccountConfig, app: AppConfig | None) -> dict[str, Any]:
    return {
        "testnet": account.testnet,
        "demo": account.demo,
        "api_url": account.api_url,
        "options": dict(account.options),
        "timeout_ms": account.timeout_ms,
        "leverage": account.leverage,
        "margin_mode": account.margin_mode,
        "market_cache": _cache(app),
    }


def _api_key_credentials(account: AccountConfig) -> dict[str, str]:
    creds = account.ccxt_credentials()
    return {k: v for k, v in creds.items() if k in ("apiKey", "secret")}


def _build_binance(name: str, account: AccountConfig, app: AppConfig | None) -> ExchangeTrader:
    from tradeexec.exchanges.binance_futures import BinanceFuturesTrader

    return BinanceFuturesTrader(
        name,
        credentials=_api_key_credentials(account),
        hedge_mode=account.hedge_mode,
        **_common(account, app),
    )


def _build_hyperliquid(name: str, account: AccountConfig, app: AppConfig | None) -> ExchangeTrader:
    from tradeexec.exchanges.hyperliquid_trader import HyperliquidTrader

    creds = {
        k: v for k, v in account.ccxt_credentials().items() if k in ("walletAddress", "privateKey")
    }
    builder = (account.builder.address, account.builder.fee) if account.builder else None
    return HyperliquidTrader(
        name,
        credentials=creds,
        slippage=account.slippage,
        vault_address=account.vault_address,
        builder=builder,
        referrer=account.referrer,
        **_common(account, app),
    )


def _build_ccxt(name: str, account: AccountConfig, app: AppConfig | None) -> ExchangeTrader:
    from tradeexec.exchanges.ccxt_trader import CCXTTrader

    if not account.exchange_id:
        raise errors.ConfigError(f"account {name!r}: type 'ccxt' needs 'exchange_id'")
    return CCXTTrader(
        name,
        exchange_id=account.exchange_id,
        credentials=account.ccxt_credentials(),  # every one ccxt knows: passphrase, uid...
        hedge_mode=account.hedge_mode,
        **_common(account, app),
    )


def _build_paper(
    name: str,
    account: AccountConfig,
    app: AppConfig | None,
    state_store: PaperStateStore | None = None,
) -> ExchangeTrader:
    from tradeexec.exchanges.paper import PaperTrader

    venue = account.venue or "binance"
    if venue not in ("binance", "hyperliquid"):
        raise errors.ConfigError(f"account {name!r}: paper venue must be binance or hyperliquid")
    return PaperTrader(
        name,
        venue=venue,
        starting_balance=account.starting_balance,
        feed=account.feed,
        seed=account.seed,
        leverage=account.leverage,
        state_store=state_store,
    )


_BUILTIN: dict[str, TraderBuilder] = {
    "binance": _build_binance,
    "hyperliquid": _build_hyperliquid,
    "ccxt": _build_ccxt,
    "paper": _build_paper,
}
for _type, _build in _BUILTIN.items():
    register_trader(_type, _build)


def create_trader(
    name: str,
    account: AccountConfig,
    app: AppConfig | None = None,
    *,
    paper_state: Callable[[], PaperStateStore | None] | None = None,
) -> ExchangeTrader:
    """A new, not yet connected trader for one configured account. ``paper_state`` says
    where a (built-in) paper account keeps its venue state; asked only for one."""
    builder = builder_for(account.type)
    if builder is _build_paper and paper_state is not None:
        return _build_paper(name, account, app, paper_state())
    return builder(name, account, app)


# the ccxt class behind each built-in account type (generic accounts name their own)
_CCXT_IDS = {"binance": "binanceusdm", "hyperliquid": "hyperliquid"}


def credential_report(account: AccountConfig) -> dict[str, list[str]]:
    """The credentials (config key names) the account's exchange requires, which of them are
    set, and which are missing. Empty for paper and third-party types."""
    from tradeexec.config import CCXT_CREDENTIAL_FIELDS

    exchange_id = account.exchange_id if account.type == "ccxt" else _CCXT_IDS.get(account.type)
    needs: list[str] = []
    if exchange_id:
        import ccxt.async_support as ccxt  # only here: it costs ~0.7 s

        cls = getattr(ccxt, exchange_id, None)
        if cls is not None:
            required = cls().requiredCredentials  # no session until the first request
            needs = [CCXT_CREDENTIAL_FIELDS[k] for k, v in required.items() if v and k in
                     CCXT_CREDENTIAL_FIELDS]  # fmt: skip
    have = set(account.ccxt_credentials())
    names = {v: k for k, v in CCXT_CREDENTIAL_FIELDS.items()}
    present = [n for n in needs if names[n] in have]
    return {"needs": needs, "set": present, "missing": [n for n in needs if n not in present]}


class ExchangeManager:
    """The live traders of one service: lazy connect, health, close all."""

    def __init__(self, config: AppConfig, *, store_engine: Engine | None = None) -> None:
        """``store_engine``: the service's store, where paper accounts keep their state."""
        self.config = config
        self._traders: dict[str, ExchangeTrader] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._store_engine = store_engine
        self._paper_state: PaperStateStore | None = None
        self._paper_state_looked_up = False

    def paper_state(self) -> PaperStateStore | None:
        """Where this manager's paper accounts keep their venue state (None: in memory): on
        the store engine handed in, else in the configured store if it already exists (opened
        once, closed by `close_all`; a read-only command never creates a database)."""
        if self._paper_state_looked_up:
            return self._paper_state
        from tradeexec.config.paths import sqlite_file
        from tradeexec.store.paper_state import PaperStateStore

        self._paper_state_looked_up = True
        if self._store_engine is not None:
            if PaperStateStore.usable(self._store_engine):
                self._paper_state = PaperStateStore(self._store_engine)
            return self._paper_state
        url = self.config.store_url
        path = sqlite_file(url)
        if (path is not None and not path.is_file()) or (path is None and _is_memory(url)):
            return None
        try:
            self._paper_state = PaperStateStore.open(url)
        except Exception as exc:  # a bad URL, a missing driver, a server down
            shown = self.config.redacted()["store_url"]
            why = type(exc).__name__
            raise errors.ConfigError(
                f"cannot open the store {shown} for paper state: {why}"
            ) from None
        return self._paper_state

    @property
    def names(self) -> list[str]:
        return list(self.config.accounts)

    def default_name(self) -> str:
        if self.config.default_account:
            return self.config.default_account
        if not self.config.accounts:
            raise errors.ConfigError("no accounts are configured")
        return next(iter(self.config.accounts))

    def account_config(self, name: str | None) -> AccountConfig:
        key = name or self.default_name()
        try:
            return self.config.accounts[key]
        except KeyError:
            raise errors.ConfigError(
                f"unknown account {key!r}; configured: {sorted(self.config.accounts)}"
            ) from None

    async def get(self, name: str | None = None) -> ExchangeTrader:
        """The connected trader for an account (connected on first use)."""
        key = name or self.default_name()
        if key in self._traders:
            return self._traders[key]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._traders:
                trader = create_trader(
                    key, self.account_config(key), self.config, paper_state=self.paper_state
                )
                try:
                    await trader.connect()
                except BaseException:
                    await trader.close()
                    raise
                self._traders[key] = trader
        return self._traders[key]

    @property
    def connected(self) -> list[str]:
        """The accounts whose traders are live (connected on first use)."""
        return list(self._traders)

    def add(self, trader: ExchangeTrader) -> None:
        """Adopt an already built trader (tests, embedding)."""
        self._traders[trader.account] = trader

    async def health(self) -> dict[str, Health]:
        out: dict[str, Health] = {}
        for key in self.names:
            trader = self._traders.get(key)
            if trader is None:
                out[key] = Health(
                    ok=True, venue=self.account_config(key).type, error="not connected yet"
                )
            else:
                out[key] = await trader.health_check()
        return out

    async def check(self, name: str) -> Health:
        """Is the account usable? Connect, then read its balance with its credentials (a
        public read when it has none): wrong keys fail here with the venue's refusal."""
        account = self.account_config(name)
        started = time.perf_counter()
        private = account.has_credentials or account.type == "paper"
        try:
            trader = await self.get(name)
            venue = trader.capabilities.venue
            if private:
                await trader.verify_credentials()
            else:
                markets = await trader.load_markets()
                if markets:
                    await trader.fetch_ticker(next(iter(markets)))
        except errors.TradeExecError as exc:
            from tradeexec.network_diagnosis import why_unreachable

            why = why_unreachable(exc) if isinstance(exc, errors.NetworkError) else None
            refused = isinstance(exc, errors.AuthenticationError)
            return Health(
                ok=False, venue=account.type, error=f"{exc} ({why})" if why else str(exc),
                code=exc.code, credentials="refused" if refused else "not checked",
            )  # fmt: skip
        return Health(
            ok=True, venue=venue, latency_ms=round((time.perf_counter() - started) * 1000, 1),
            credentials="accepted" if account.has_credentials else "none (market data only)"
            if account.type != "paper" else "not needed",
        )  # fmt: skip

    async def check_accounts(self, names: Sequence[str] | None = None) -> dict[str, Health]:
        """`check` for each account (all by default), concurrently: a slow venue does not
        hold the others up."""
        keys = list(names) if names is not None else self.names
        results = await asyncio.gather(*(self.check(k) for k in keys))
        return dict(zip(keys, results, strict=True))

    async def close_all(self) -> None:
        traders, self._traders = list(self._traders.values()), {}
        for trader in traders:
            await trader.close()
        if self._paper_state is not None and self._store_engine is None:
            self._paper_state.close()  # the one it opened itself
            self._paper_state, self._paper_state_looked_up = None, False


def _is_memory(url: str) -> bool:
    from sqlalchemy.engine import make_url

    from tradeexec.store.db import is_sqlite_memory

    try:
        return is_sqlite_memory(make_url(url))
    except Exception:  # not a URL SQLAlchemy reads: opening it says why
        return False


__all__ = [
    "ENTRY_POINT_GROUP",
    "ExchangeManager",
    "TraderBuilder",
    "create_trader",
    "credential_report",
    "register_trader",
    "trader_types",
]
