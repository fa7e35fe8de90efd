"""Turn whatever symbol a user, agent or TradingView alert sends into the venue's own symbol.

Venues speak ccxt's unified symbols: ``BTC/USDT:USDT`` (Binance USD-M perpetual),
``BTC/USDC:USDC`` (Hyperliquid perpetual), ``BTC/USDT:USDT-250627`` (dated future),
``PURR/USDC`` (spot). People write ``BTCUSDT``, ``btc/usdt``, ``BTC``, ``BTC-USDT``, or
TradingView's ``BINANCE:BTCUSDT.P`` (exchange prefix, ``.P`` = perpetual).

Resolution, in order:

1. the symbol exactly as the venue lists it (case-insensitively), except that a spot pair
   gives way to the perpetual of the same pair when the venue lists both;
2. the same base and quote (perpetual preferred over spot, dated futures only when asked
   for exactly);
3. a bare base (``BTC``): the venue's usual settlement currency, e.g. USDT on Binance USD-M
   and USDC on Hyperliquid;
4. the same base with a *different* USD stablecoin, when that is unambiguous: TradingView
   alerts written for ``BINANCE:BTCUSDT.P`` are commonly pointed at Hyperliquid, where
   ``BTC/USDC:USDC`` is the only BTC perpetual.

Anything else raises ``UnknownSymbol`` with the closest venue symbols as suggestions.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from tradeexec.errors import UnknownSymbol

__all__ = [
    "USD_STABLECOINS",
    "ParsedSymbol",
    "SymbolIndex",
    "base_of",
    "parse_symbol",
    "resolve_symbol",
]

# Quote currencies we treat as interchangeable dollars for step 4 above.
USD_STABLECOINS = frozenset({"USDT", "USDC", "USD", "BUSD", "FDUSD", "TUSD", "USDE", "DAI"})

# Used to split a compact ``BTCUSDT`` into base and quote; longest first.
_COMMON_QUOTES = (
    "FDUSD",
    "USDT",
    "USDC",
    "BUSD",
    "TUSD",
    "USDE",
    "USD",
    "DAI",
    "EUR",
    "BTC",
    "ETH",
    "BNB",
)

_PERP_SUFFIX = re.compile(r"(\.P|\.PERP|[-_]PERP|[-_]SWAP)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParsedSymbol:
    """A unified symbol taken apart. ``settle`` is None for spot; ``expiry`` for futures."""

    symbol: str
    base: str
    quote: str
    settle: str | None
    expiry: str | None

    @property
    def is_perpetual(self) -> bool:
        return self.settle is not None and self.expiry is None

    @property
    def compact(self) -> str:
        """``BTCUSDT``: the form exchanges' own APIs and TradingView use."""
        return (self.base + self.quote).upper()


def parse_symbol(symbol: str) -> ParsedSymbol | None:
    """Split a ccxt unified symbol (``BASE/QUOTE[:SETTLE[-EXPIRY]]``); None if it is not one."""
    pair, _, settle_part = symbol.partition(":")
    base, slash, quote = pair.partition("/")
    if not slash or not base or not quote or "/" in quote:
        return None
    settle: str | None = None
    expiry: str | None = None
    if settle_part:
        settle, _, expiry_part = settle_part.partition("-")
        expiry = expiry_part or None
        if not settle:
            return None
    return ParsedSymbol(symbol, base, quote, settle, expiry)


def _strip_decorations(user_symbol: str) -> tuple[str, bool]:
    """Drop exchange prefixes (``BINANCE:``) and perpetual suffixes (``.P``).

    Returns the rest and whether a perpetual suffix was present.
    """
    text = user_symbol.strip()
    # A colon before any slash is an exchange prefix; after a slash it is ccxt's settle.
    while ":" in text:
        head, _, tail = text.partition(":")
        if "/" in head or not tail:
            break
        text = tail.strip()
    stripped = _PERP_SUFFIX.sub("", text)
    return stripped, stripped != text


def _split_compact(compact: str, quotes: Iterable[str]) -> list[tuple[str, str]]:
    """Every (base, quote) reading of ``BTCUSDT`` for the given quote currencies."""
    out = []
    for quote in sorted(set(quotes), key=len, reverse=True):
        if compact.endswith(quote) and len(compact) > len(quote):
            out.append((compact[: -len(quote)], quote))
    return out


def base_of(symbol: str) -> str:
    """The base currency of any symbol form: ``BTC/USDT:USDT``, ``BINANCE:BTCUSDT.P``,
    ``btcusdt``, ``BTC-PERP`` and ``BTC`` all give ``BTC``. Unified symbols keep their
    case (Hyperliquid's ``kPEPE``)."""
    text, _ = _strip_decorations(symbol)
    parsed = parse_symbol(text)
    if parsed is not None:
        return parsed.base
    for separator in ("-", "_", "/"):
        if separator in text:
            return text.split(separator, 1)[0].upper()
    compact = text.upper()
    splits = _split_compact(compact, _COMMON_QUOTES)
    return splits[0][0] if splits else compact


class SymbolIndex:
    """A venue's symbols, indexed for repeated resolution (build once per market load)."""

    def __init__(self, venue_symbols: Collection[str]) -> None:
        self.symbols: tuple[str, ...] = tuple(venue_symbols)
        self._exact = {s.upper(): s for s in self.symbols}
        self._parsed = [p for p in map(parse_symbol, self.symbols) if p is not None]
        self._by_base: dict[str, list[ParsedSymbol]] = {}
        for parsed in self._parsed:
            self._by_base.setdefault(parsed.base.upper(), []).append(parsed)
        self._quotes = {p.quote.upper() for p in self._parsed} | set(_COMMON_QUOTES)
        # The venue's "home" currency, for bare bases and ties: its most common settlement
        # currency (USDT on Binance USD-M, USDC on Hyperliquid), else its most common quote.
        counts = Counter(p.settle.upper() for p in self._parsed if p.is_perpetual and p.settle)
        if not counts:
            counts = Counter(p.quote.upper() for p in self._parsed)
        self.home_currency: str | None = counts.most_common(1)[0][0] if counts else None

    def resolve(self, user_symbol: str, settle: str | None = None) -> str:
        """The venue's symbol for ``user_symbol``; ``UnknownSymbol`` if there is none."""
        wanted_settle = settle.upper() if settle else None
        text, perp_hint = _strip_decorations(user_symbol)
        if not text:
            raise UnknownSymbol("empty symbol", symbol=user_symbol)

        exact = self._exact.get(text.upper())
        if exact is not None:
            parsed = parse_symbol(exact)
            settle_ok = wanted_settle is None or (
                parsed is not None and (parsed.settle or "").upper() == wanted_settle
            )
            spot = parsed is not None and parsed.settle is None
            # tradeexec trades derivatives: a spot listing only wins if no perpetual of the
            # same pair exists (Hyperliquid lists both HYPE/USDC and HYPE/USDC:USDC).
            if settle_ok and not (spot and (perp_hint or self._has_perp(parsed))):
                return exact

        for base, quote, user_settle in self._readings(text):
            found = self._choose(base, quote, wanted_settle, user_settle, perp_hint, user_symbol)
            if found is not None:
                return found
        raise UnknownSymbol(
            f"no market for {user_symbol!r} on this venue",
            symbol=user_symbol,
            close_matches=self.close_matches(user_symbol),
        )

    def _has_perp(self, parsed: ParsedSymbol | None) -> bool:
        if parsed is None:
            return False
        return any(
            m.is_perpetual and m.quote.upper() == parsed.quote.upper()
            for m in self._by_base.get(parsed.base.upper(), [])
        )

    def _readings(self, text: str) -> list[tuple[str, str | None, str | None]]:
        """Plausible (BASE, QUOTE, SETTLE) readings of a user symbol, best first."""
        parsed = parse_symbol(text.upper()) if "/" in text else None
        if parsed is not None:
            return [(parsed.base, parsed.quote, parsed.settle)]
        for separator in ("-", "_"):
            if separator in text:
                base, _, quote = text.upper().partition(separator)
                return [(base, quote or None, None)]
        compact = text.upper()
        readings: list[tuple[str, str | None, str | None]] = []
        # A compact form some venue market spells exactly (handles odd bases like 1000PEPE).
        for p in self._parsed:
            if p.compact == compact:
                readings.append((p.base.upper(), p.quote.upper(), None))
        if compact in self._by_base:
            readings.append((compact, None, None))
        readings.extend((b, q, None) for b, q in _split_compact(compact, self._quotes))
        return readings

    def _choose(
        self,
        base: str,
        quote: str | None,
        settle: str | None,
        settle_hint: str | None,
        perpetual_only: bool,
        user_symbol: str,
    ) -> str | None:
        """Pick one market for a reading. ``settle`` is a hard filter (the caller's);
        ``settle_hint`` (from the user's ``:USDT``) only narrows when it matches something."""
        # Dated futures only match exactly (step 1); never by guesswork.
        markets = [m for m in self._by_base.get(base.upper(), []) if m.expiry is None]
        if settle is not None:
            markets = [m for m in markets if (m.settle or "").upper() == settle]
        if settle_hint is not None:
            hinted = [m for m in markets if (m.settle or "").upper() == settle_hint.upper()]
            markets = hinted or markets
        perps = [m for m in markets if m.is_perpetual]
        pool = perps if perps or perpetual_only else markets
        if quote is not None:
            same_quote = [m for m in pool if m.quote.upper() == quote.upper()]
            if same_quote:
                return same_quote[0].symbol
            if quote.upper() not in USD_STABLECOINS:
                return None
            pool = [m for m in pool if m.quote.upper() in USD_STABLECOINS]
        if not pool:
            return None
        if len(pool) == 1:
            return pool[0].symbol
        home = [m for m in pool if self._is_home(m)]
        if len(home) == 1:
            return home[0].symbol
        raise UnknownSymbol(
            f"{user_symbol!r} is ambiguous on this venue",
            symbol=user_symbol,
            close_matches=sorted(m.symbol for m in pool),
        )

    def _is_home(self, market: ParsedSymbol) -> bool:
        currency = (market.settle or market.quote).upper()
        return currency == self.home_currency

    def close_matches(self, user_symbol: str, n: int = 5) -> tuple[str, ...]:
        """Venue symbols that look like ``user_symbol``: same base first, then similar
        compact forms (``XRPUSDT`` ~ ``XRPUSDC``), then similar bases (``ETHX`` ~ ``ETH``)."""
        text, _ = _strip_decorations(user_symbol)
        key = re.sub(r"[-_/:]", "", text).upper()
        base = base_of(text).upper()
        out: list[str] = [p.symbol for p in self._by_base.get(base, [])]
        compact: dict[str, str] = {}
        for symbol in self.symbols:
            parsed = parse_symbol(symbol)
            form = parsed.compact if parsed else re.sub(r"[-_/:]", "", symbol).upper()
            compact.setdefault(form, symbol)
        for match in difflib.get_close_matches(key, list(compact), n=n, cutoff=0.5):
            out.append(compact[match])
        for match in difflib.get_close_matches(base, list(self._by_base), n=n, cutoff=0.6):
            out.extend(p.symbol for p in self._by_base[match])
        return tuple(dict.fromkeys(out))[:n]


def resolve_symbol(
    user_symbol: str, venue_symbols: Collection[str], settle: str | None = None
) -> str:
    """The venue's own symbol for ``user_symbol``, or ``UnknownSymbol`` listing close matches.

    ``settle`` restricts the choice to markets settled in that currency. For repeated use
    against the same venue, build a ``SymbolIndex`` once instead.
    """
    return SymbolIndex(venue_symbols).resolve(user_symbol, settle)
