"""Symbol resolution: every way people write a symbol lands on the venue's own symbol."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tradeexec.errors import UnknownSymbol
from tradeexec.exchanges.symbols import (
    SymbolIndex,
    base_of,
    parse_symbol,
    resolve_symbol,
)

BINANCE = [
    "BTC/USDT:USDT",
    "ETH/USDT:USDT",
    "SOL/USDT:USDT",
    "BTC/USDC:USDC",
    "ETH/USDC:USDC",
    "1000PEPE/USDT:USDT",
    "BTC/USDT:USDT-250627",
    "XRP/USDC:USDC",
]
HYPERLIQUID = [
    "BTC/USDC:USDC",
    "ETH/USDC:USDC",
    "SOL/USDC:USDC",
    "kPEPE/USDC:USDC",
    "HYPE/USDC:USDC",
    "HYPE/USDC",
    "PURR/USDC",
]


@pytest.mark.parametrize(
    "user",
    [
        "BTC/USDT",
        "BTCUSDT",
        "BTCUSDT.P",
        "BINANCE:BTCUSDT.P",
        "BINANCE:BTCUSDT",
        "BTC/USDT:USDT",
        "BTC",
        "btc",
        "btcusdt",
        "btc/usdt",
        "btc/usdt:usdt",
        "binance:btcusdt.p",
        " BTCUSDT ",
        "BTC-USDT",
        "BTC_USDT",
        "BTC-PERP",
        "BTCUSDT.PERP",
    ],
)
def test_binance_forms(user: str) -> None:
    assert resolve_symbol(user, BINANCE) == "BTC/USDT:USDT"


@pytest.mark.parametrize(
    "user",
    [
        "BTC/USDC",
        "BTCUSDC",
        "BTCUSDC.P",
        "HYPERLIQUID:BTCUSDC.P",
        "BTC/USDC:USDC",
        "BTC",
        "btc",
        # TradingView tickers from Binance, reused for Hyperliquid:
        "BTC/USDT",
        "BTCUSDT",
        "BTCUSDT.P",
        "BINANCE:BTCUSDT.P",
        "BTC/USDT:USDT",
    ],
)
def test_hyperliquid_forms(user: str) -> None:
    assert resolve_symbol(user, HYPERLIQUID) == "BTC/USDC:USDC"


def test_exact_quote_is_preferred_when_it_exists() -> None:
    assert resolve_symbol("BTCUSDC", BINANCE) == "BTC/USDC:USDC"
    assert resolve_symbol("BTC/USDC", BINANCE) == "BTC/USDC:USDC"
    assert resolve_symbol("ETHUSDT.P", BINANCE) == "ETH/USDT:USDT"


def test_other_stablecoin_used_only_when_it_is_the_only_perp() -> None:
    assert resolve_symbol("XRPUSDT", BINANCE) == "XRP/USDC:USDC"


def test_settle_argument_is_a_hard_filter() -> None:
    assert resolve_symbol("BTC", BINANCE, settle="USDC") == "BTC/USDC:USDC"
    assert resolve_symbol("BTC", BINANCE, settle="usdt") == "BTC/USDT:USDT"
    with pytest.raises(UnknownSymbol):
        resolve_symbol("SOL", BINANCE, settle="USDC")


def test_case_of_venue_symbols_is_kept() -> None:
    assert resolve_symbol("kpepe", HYPERLIQUID) == "kPEPE/USDC:USDC"
    assert resolve_symbol("KPEPEUSDT.P", HYPERLIQUID) == "kPEPE/USDC:USDC"


def test_odd_bases_resolve_through_compact_forms() -> None:
    assert resolve_symbol("1000PEPEUSDT.P", BINANCE) == "1000PEPE/USDT:USDT"


def test_dated_futures_only_by_exact_name() -> None:
    assert resolve_symbol("BTC/USDT:USDT-250627", BINANCE) == "BTC/USDT:USDT-250627"
    assert resolve_symbol("btc/usdt:usdt-250627", BINANCE) == "BTC/USDT:USDT-250627"


def test_perpetual_preferred_over_spot_of_the_same_pair() -> None:
    assert resolve_symbol("HYPE/USDC", HYPERLIQUID) == "HYPE/USDC:USDC"
    assert resolve_symbol("HYPE", HYPERLIQUID) == "HYPE/USDC:USDC"
    # Spot only when nothing else exists, and never for a ".P" (perpetual) ticker.
    assert resolve_symbol("PURR/USDC", HYPERLIQUID) == "PURR/USDC"
    with pytest.raises(UnknownSymbol):
        resolve_symbol("PURRUSDC.P", HYPERLIQUID)


def test_unknown_symbol_lists_close_matches() -> None:
    with pytest.raises(UnknownSymbol) as info:
        resolve_symbol("ETHX", BINANCE)
    assert "ETH/USDT:USDT" in info.value.close_matches
    assert "ETH/USDT:USDT" in str(info.value)
    assert info.value.symbol == "ETHX"

    with pytest.raises(UnknownSymbol) as info:
        resolve_symbol("BTC/EUR", BINANCE)
    assert "BTC/USDT:USDT" in info.value.close_matches

    with pytest.raises(UnknownSymbol) as info:
        # Neither stablecoin is the venue's home currency (USDC), so no safe choice.
        venue = ["SOL/USDT:USDT", "SOL/USDE:USDE", "BTC/USDC:USDC", "ETH/USDC:USDC"]
        resolve_symbol("SOLUSDC", venue)
    assert set(info.value.close_matches) == {"SOL/USDT:USDT", "SOL/USDE:USDE"}
    assert "ambiguous" in str(info.value)


def test_non_usd_quote_is_not_substituted() -> None:
    with pytest.raises(UnknownSymbol):
        resolve_symbol("ETHBTC", BINANCE)


def test_empty_symbol() -> None:
    with pytest.raises(UnknownSymbol):
        resolve_symbol("  ", BINANCE)


def test_venue_with_raw_symbols() -> None:
    assert resolve_symbol("btcusdt", ["BTCUSDT", "ETHUSDT"]) == "BTCUSDT"
    assert resolve_symbol("BINANCE:BTCUSDT.P", ["BTCUSDT", "ETHUSDT"]) == "BTCUSDT"


def test_home_currency() -> None:
    assert SymbolIndex(BINANCE).home_currency == "USDT"
    assert SymbolIndex(HYPERLIQUID).home_currency == "USDC"
    assert SymbolIndex([]).home_currency is None


def test_parse_symbol() -> None:
    p = parse_symbol("BTC/USDT:USDT-250627")
    assert p is not None
    assert (p.base, p.quote, p.settle, p.expiry) == ("BTC", "USDT", "USDT", "250627")
    assert not p.is_perpetual
    spot = parse_symbol("PURR/USDC")
    assert spot is not None and spot.settle is None and not spot.is_perpetual
    assert parse_symbol("BTCUSDT") is None
    assert parse_symbol("BTC/") is None


@pytest.mark.parametrize(
    ("symbol", "base"),
    [
        ("BTC/USDT:USDT", "BTC"),
        ("BINANCE:BTCUSDT.P", "BTC"),
        ("btcusdt", "BTC"),
        ("ETHUSDC", "ETH"),
        ("BTC-PERP", "BTC"),
        ("BTC", "BTC"),
        ("kPEPE/USDC:USDC", "kPEPE"),
        ("sol/usdt", "sol"),
    ],
)
def test_base_of(symbol: str, base: str) -> None:
    assert base_of(symbol) == base


# --------------------------------------------------------------------------- properties

bases = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=8).filter(
    lambda b: not b.isdigit()
)
quotes = st.sampled_from(["USDT", "USDC"])


@given(bases, quotes, st.sampled_from([True, False]))
def test_round_trip_every_user_form(base: str, quote: str, lower: bool) -> None:
    # A base that itself ends in a quote word could be read two ways; the venue symbol
    # list decides, so keep such bases out of the generic property.
    assume(not any(base.endswith(q) for q in ("USDT", "USDC", "USD", "BTC", "ETH")))
    venue_symbol = f"{base}/{quote}:{quote}"
    venue = [venue_symbol, "BTC/USDT:USDT", "ETH/USDC:USDC", "ZZZ/USDT:USDT-250627"]
    assume(venue_symbol not in venue[1:])
    forms = [
        f"{base}/{quote}",
        f"{base}{quote}",
        f"{base}{quote}.P",
        f"BINANCE:{base}{quote}.P",
        f"{base}/{quote}:{quote}",
        f"{base}-{quote}",
    ]
    for form in forms:
        text = form.lower() if lower else form
        assert resolve_symbol(text, venue) == venue_symbol, text
        assert base_of(text).upper() == base


@given(bases)
def test_usdt_ticker_resolves_on_usdc_only_venue(base: str) -> None:
    assume(not any(base.endswith(q) for q in ("USDT", "USDC", "USD", "BTC", "ETH")))
    venue_symbol = f"{base}/USDC:USDC"
    assert resolve_symbol(f"BINANCE:{base}USDT.P", [venue_symbol, "ETH/USDC:USDC"]) in (
        venue_symbol,
    )


@given(st.lists(st.sampled_from(BINANCE + HYPERLIQUID), min_size=1, unique=True))
def test_every_venue_symbol_resolves_to_itself(symbols: list[str]) -> None:
    for symbol in symbols:
        resolved = resolve_symbol(symbol, symbols)
        parsed = parse_symbol(symbol)
        if parsed is not None and parsed.settle is None:
            # A spot pair may give way to the perpetual of the same pair.
            assert resolved in (symbol, f"{symbol}:{parsed.quote}")
        else:
            assert resolved == symbol
