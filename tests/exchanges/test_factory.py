"""Traders built from configuration: each built-in type, unknown types, third-party types
registered in code or through the ``tradeexec.traders`` entry-point group, and the
ExchangeManager that owns the live traders."""

from __future__ import annotations

import base64
import hashlib
import hmac
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tradeexec import errors
from tradeexec.config import AccountConfig, AppConfig, venues
from tradeexec.domain import MarginMode
from tradeexec.exchanges import factory, registry
from tradeexec.exchanges.binance_futures import BinanceFuturesTrader
from tradeexec.exchanges.ccxt_trader import CCXTTrader
from tradeexec.exchanges.factory import ExchangeManager, create_trader, register_trader
from tradeexec.exchanges.hyperliquid_trader import HyperliquidTrader
from tradeexec.exchanges.interface import ExchangeTrader
from tradeexec.exchanges.paper import PaperTrader

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

WALLET = "0x" + "ab" * 20
BUILDER = "0x" + "be" * 20


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test do not leak into the next one."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(venues, "_REGISTERED", set(venues._REGISTERED))  # the names too


def test_binance_account_builds_a_binance_futures_trader(tmp_path: Path) -> None:
    app = AppConfig(market_cache_dir=str(tmp_path), market_cache_ttl_s=120)
    account = AccountConfig(
        type="binance",
        api_key="k",
        api_secret="s",
        demo=True,
        api_url="http://127.0.0.1:1",
        leverage=7,
        margin_mode="isolated",
        hedge_mode=True,
        timeout_ms=1500,
        options={"recvWindow": 5000},
    )
    trader = create_trader("main", account, app)
    assert type(trader) is BinanceFuturesTrader
    assert trader.account == "main" and trader.capabilities.venue == "binance"
    assert trader._credentials == {"apiKey": "k", "secret": "s"}
    assert (trader.demo, trader.api_url, trader.hedge_mode) == (True, "http://127.0.0.1:1", True)
    assert (trader.default_leverage, trader.default_margin_mode) == (7, MarginMode.ISOLATED)
    assert trader.timeout_ms == 1500 and trader._options == {"recvWindow": 5000}
    assert trader.market_cache is not None
    assert (trader.market_cache.directory, trader.market_cache.ttl_s) == (tmp_path, 120)


def test_binance_without_keys_sends_no_empty_credentials() -> None:
    trader = create_trader("pub", AccountConfig(type="binance", api_key="", api_secret=""))
    assert isinstance(trader, BinanceFuturesTrader) and trader._credentials == {}
    assert trader.market_cache is None  # no AppConfig, no cache


def test_hyperliquid_account_builds_a_hyperliquid_trader() -> None:
    account = AccountConfig(
        type="hyperliquid",
        wallet_address=WALLET,
        private_key="0x" + "11" * 32,
        slippage=Decimal("0.02"),
        builder={"address": BUILDER, "fee": "0.0001"},
        referrer="FRIEND",
    )
    trader = create_trader("hl", account)
    assert type(trader) is HyperliquidTrader
    assert trader.capabilities.venue == "hyperliquid"
    assert trader._credentials == {"walletAddress": WALLET, "privateKey": "0x" + "11" * 32}
    assert trader.slippage == Decimal("0.02")
    assert trader.builder == (BUILDER, Decimal("0.0001")) and trader.referrer == "FRIEND"


def test_hyperliquid_defaults_configure_no_builder_and_no_referrer() -> None:
    trader = create_trader("hl", AccountConfig(type="hyperliquid", wallet_address=WALLET))
    assert isinstance(trader, HyperliquidTrader)
    assert trader.builder is None and trader.referrer is None


def test_ccxt_account_builds_a_generic_trader_and_needs_an_exchange_id() -> None:
    trader = create_trader(
        "k", AccountConfig(type="ccxt", exchange_id="kraken", api_key="k", api_secret="s")
    )
    assert type(trader) is CCXTTrader
    assert trader.exchange_id == "kraken" and trader.capabilities.venue == "kraken"
    with pytest.raises(ValueError, match="exchange_id"):
        AccountConfig(type="ccxt")  # the configuration says so first
    with pytest.raises(errors.ConfigError, match="exchange_id"):
        create_trader("k", AccountConfig.model_construct(type="ccxt", exchange_id=None))


def test_paper_account_builds_a_paper_trader() -> None:
    account = AccountConfig(type="paper", venue="hyperliquid", starting_balance="2500", seed=3)
    trader = create_trader("p", account)
    assert type(trader) is PaperTrader
    assert trader.capabilities.settle_currency == "USDC"
    assert trader.engine.account("p").wallet_balance == Decimal("2500")


def test_unknown_type_is_a_config_error_naming_the_known_ones() -> None:
    account = AccountConfig.model_construct(type="kucoinx")  # as if validation were skipped
    with pytest.raises(errors.ConfigError) as caught:
        create_trader("x", account)
    for known in ("binance", "hyperliquid", "paper", "ccxt"):
        assert known in str(caught.value)


def test_register_trader_in_code() -> None:
    built: list[tuple[str, str]] = []

    def build(name: str, account: AccountConfig, app: AppConfig | None) -> ExchangeTrader:
        built.append((name, account.type))
        return PaperTrader(name)

    with pytest.raises(ValueError, match="unknown account type 'mine'"):
        AccountConfig(type="mine")
    register_trader("mine", build)
    trader = create_trader("m", AccountConfig(type="mine"))  # the configuration accepts it now
    assert isinstance(trader, PaperTrader) and built == [("m", "mine")]


@pytest.fixture
def entry_point_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An installed-looking distribution whose entry point registers trader type 'acme'."""
    (tmp_path / "acme_traders.py").write_text(
        textwrap.dedent("""
        from tradeexec.exchanges.paper import PaperTrader

        def build(name, account, app):
            trader = PaperTrader(name, starting_balance=account.starting_balance)
            trader.built_by = "acme"
            return trader
    """)
    )
    dist = tmp_path / "acme_traders-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-traders\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[tradeexec.traders]\nacme = acme_traders:build\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "acme"


def test_entry_point_trader_types_are_found_and_built(entry_point_package: str) -> None:
    account = AccountConfig(type=entry_point_package, starting_balance="321")  # validates
    trader = create_trader("third", account)
    assert isinstance(trader, PaperTrader)
    assert trader.built_by == "acme"  # type: ignore[attr-defined]
    assert trader.engine.account("third").wallet_balance == Decimal("321")


def test_without_the_package_the_type_is_unknown() -> None:
    with pytest.raises(ValueError, match="unknown account type 'acme'"):
        AccountConfig(type="acme")


# -------------------------------------------------------------------- ExchangeManager


async def test_manager_connects_lazily_once_and_closes_all() -> None:
    config = AppConfig(
        accounts={
            "p1": AccountConfig(type="paper"),
            "p2": AccountConfig(type="paper", starting_balance="50"),
        },
        default_account="p2",
    )
    manager = ExchangeManager(config)
    health = await manager.health()
    assert set(health) == {"p1", "p2"} and all(
        h.error == "not connected yet" for h in health.values()
    )

    default = await manager.get()
    assert default.account == "p2" and await manager.get("p2") is default
    assert (await default.fetch_balance())["USDT"].total == Decimal("50")
    health = await manager.health()
    assert health["p2"].ok and health["p2"].error is None
    assert health["p1"].error == "not connected yet"

    with pytest.raises(errors.ConfigError, match="unknown account"):
        await manager.get("nope")
    await manager.close_all()
    assert not (await default.health_check()).ok


async def test_manager_without_accounts_says_so() -> None:
    with pytest.raises(errors.ConfigError):
        await ExchangeManager(AppConfig()).get()


async def test_manager_builds_sim_traders_from_config(sim_server: SimServer) -> None:
    c = sim_server.simulator.binance.create_account(Decimal("4321"))
    h = sim_server.simulator.hyperliquid.create_account(Decimal("1234"))
    config = AppConfig(
        accounts={
            "bn": AccountConfig(
                type="binance",
                api_key=c["apiKey"],
                api_secret=c["secret"],
                api_url=sim_server.base_url,
            ),
            "hl": AccountConfig(
                type="hyperliquid",
                wallet_address=h["walletAddress"],
                private_key=h["privateKey"],
                api_url=sim_server.base_url,
            ),
        }
    )
    manager = ExchangeManager(config)
    try:
        binance, hyperliquid = await manager.get("bn"), await manager.get("hl")
        assert (await binance.fetch_balance())["USDT"].total == Decimal("4321")
        assert (await hyperliquid.fetch_balance())["USDC"].total == Decimal("1234")
        assert all(h.ok for h in (await manager.health()).values())
    finally:
        await manager.close_all()


# --------------------------------------------------------------------------- any ccxt venue


def _hmac_b64(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# exchange, a private endpoint (path, ccxt api), its request path, the header names
PASSPHRASE_VENUES = [
    ("okx", "account/balance", ["private"], "/api/v5/account/balance",
     ("OK-ACCESS-KEY", "OK-ACCESS-SIGN", "OK-ACCESS-TIMESTAMP", "OK-ACCESS-PASSPHRASE")),
    ("kucoin", "accounts", ["private"], "/api/v1/accounts",
     ("KC-API-KEY", "KC-API-SIGN", "KC-API-TIMESTAMP", "KC-API-PASSPHRASE")),
    ("bitget", "v2/spot/account/assets", ["private", "spot"], "/api/v2/spot/account/assets",
     ("ACCESS-KEY", "ACCESS-SIGN", "ACCESS-TIMESTAMP", "ACCESS-PASSPHRASE")),
]  # fmt: skip


@pytest.mark.parametrize(("exchange_id", "path", "api", "request_path", "headers"),
                         PASSPHRASE_VENUES)  # fmt: skip
async def test_passphrase_venues_construct_and_sign_offline(
    exchange_id: str, path: str, api: list[str], request_path: str, headers: tuple[str, ...]
) -> None:
    """OKX, KuCoin and Bitget need a passphrase (ccxt's ``password``): a generic account
    passes it, and the request ccxt would send is signed with it. Nothing is sent: ccxt's
    ``sign()`` builds the request, and the signature is recomputed here from the venue's
    documented recipe (HMAC-SHA256 of timestamp + method + path, base64)."""
    key, secret, phrase = f"key-{exchange_id}", f"secret-{exchange_id}", f"phrase-{exchange_id}"
    account = AccountConfig(
        type="ccxt", exchange_id=exchange_id, api_key=key, api_secret=secret, passphrase=phrase
    )
    assert factory.credential_report(account) == {
        "needs": ["api_key", "api_secret", "password"],
        "set": ["api_key", "api_secret", "password"],
        "missing": [],
    }
    trader = create_trader("venue", account)
    assert type(trader) is CCXTTrader
    exchange = trader._build()  # what connect() uses, without its market download
    try:
        signed = exchange.sign(path, api, "GET", {})
    finally:
        await exchange.close()
    key_h, sign_h, time_h, phrase_h = headers
    sent = signed["headers"]
    assert signed["url"].endswith(request_path) and signed["method"] == "GET"
    assert sent[key_h] == key
    assert sent[sign_h] == _hmac_b64(secret, f"{sent[time_h]}GET{request_path}")
    # KuCoin's API v2 sends the passphrase itself signed with the secret
    expected = _hmac_b64(secret, phrase) if exchange_id == "kucoin" else phrase
    assert sent[phrase_h] == expected


def test_credential_report_names_what_is_missing() -> None:
    okx = AccountConfig(type="ccxt", exchange_id="okx", api_key="k", api_secret="s")
    assert factory.credential_report(okx)["missing"] == ["password"]
    hl = AccountConfig(type="hyperliquid", wallet_address=WALLET)
    assert factory.credential_report(hl) == {
        "needs": ["private_key", "wallet_address"],
        "set": ["wallet_address"],
        "missing": ["private_key"],
    }
    assert factory.credential_report(AccountConfig(type="paper"))["needs"] == []


async def test_manager_check_reads_the_balance_with_the_credentials(
    sim_server: SimServer,
) -> None:
    """A public ping passes with any keys; `check` signs a balance read, which the
    simulator verifies, so a wrong secret is reported with its code."""
    good = sim_server.simulator.binance.create_account(Decimal(100))
    config = AppConfig(
        accounts={
            name: AccountConfig(
                type="binance", api_key=good["apiKey"], api_secret=secret,
                api_url=sim_server.base_url,
            )
            for name, secret in (("good", good["secret"]), ("bad", "not-the-secret"))
        }
    )  # fmt: skip
    manager = ExchangeManager(config)
    try:
        checked = await manager.check_accounts()
    finally:
        await manager.close_all()
    assert checked["good"].ok and checked["good"].credentials == "accepted"
    assert not checked["bad"].ok
    assert checked["bad"].code == "authentication_failed"
    assert checked["bad"].credentials == "refused"
    assert "not-the-secret" not in str(checked["bad"].to_dict())


async def test_manager_check_catches_a_wrong_hyperliquid_key(sim_server: SimServer) -> None:
    """Hyperliquid's balance read is public: the check proves the key belongs to the wallet."""
    good = sim_server.simulator.hyperliquid.create_account(Decimal(100))
    other = sim_server.simulator.hyperliquid.create_account(Decimal(100))
    config = AppConfig(
        accounts={
            name: AccountConfig(
                type="hyperliquid", wallet_address=good["walletAddress"], private_key=key,
                api_url=sim_server.base_url,
            )
            for name, key in (("good", good["privateKey"]), ("bad", other["privateKey"]))
        }
    )  # fmt: skip
    manager = ExchangeManager(config)
    try:
        checked = await manager.check_accounts()
    finally:
        await manager.close_all()
    assert checked["good"].ok and checked["good"].credentials == "accepted"
    assert not checked["bad"].ok and checked["bad"].credentials == "refused"
    assert checked["bad"].code == "authentication_failed"
    assert other["privateKey"] not in str(checked["bad"].to_dict())
