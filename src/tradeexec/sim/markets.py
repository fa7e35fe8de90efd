"""Perpetual market specifications for the simulator, with each venue's real trading rules.

A `MarketSpec` is data: the engine validates and rounds with it, the exchange faces render
it in their own wire format (Binance ``exchangeInfo`` filters, Hyperliquid ``meta``).

Binance USD-M rules are tick/step based (PRICE_FILTER, LOT_SIZE, MIN_NOTIONAL).
Hyperliquid rules are significant-figure based: a price has at most 5 significant figures and
at most ``6 - szDecimals`` decimals (integer prices are always allowed); sizes have at most
``szDecimals`` decimals; an order must be worth at least 10 USDC.

Maintenance margin is one rule on both venues, ``notional * rate - deduction`` of the tier the
position's notional falls in (`MarketSpec.maintenance_margin`): Binance's brackets give the
rate and ``cum``; Hyperliquid's margin tables give the tiers, the rate being half the initial
margin at the tier's max leverage and the deduction keeping the sum continuous.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

PERP_MAX_DECIMALS = 6  # Hyperliquid: MAX_DECIMALS for perps
UNLIMITED = Decimal(1_000_000_000)  # the notional cap shown where no bracket is modelled
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class LeverageTier:
    """One notional bracket (Binance ``/fapi/v1/leverageBracket``): a position of up to
    ``cap`` notional may be held at up to ``max_leverage``."""

    floor: Decimal
    cap: Decimal
    max_leverage: int
    maint_margin_ratio: Decimal
    cum: Decimal


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One perpetual market. ``coin`` is the base asset (``BTC``); the faces name it their way."""

    coin: str
    quote: str
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal
    max_leverage: int
    tick_size: Decimal | None = None  # Binance-style price grid
    max_sig_figs: int | None = None  # Hyperliquid-style price rule
    sz_decimals: int | None = None  # Hyperliquid-style size rule
    max_qty: Decimal = Decimal("1000000")
    initial_price: Decimal = Decimal("100")
    tiers: tuple[LeverageTier, ...] = ()  # notional brackets, lowest first; () = no limit
    maint_margin_ratio: Decimal = Decimal("0.004")  # the one bracket's rate when tiers == ()
    margin_table: tuple[int, str] | None = None  # Hyperliquid ``marginTableId``, description

    @property
    def brackets(self) -> tuple[LeverageTier, ...]:
        """The tiers, or the one unlimited bracket where none are modelled."""
        return self.tiers or (
            LeverageTier(Decimal(0), UNLIMITED, self.max_leverage, self.maint_margin_ratio,
                         Decimal(0)),
        )  # fmt: skip

    def tier_for(self, notional: Decimal) -> LeverageTier:
        """The bracket a position of ``notional`` (absolute) falls in."""
        brackets = self.brackets
        return next((t for t in brackets if notional <= t.cap), brackets[-1])

    def maintenance_margin(self, notional: Decimal) -> Decimal:
        """Maintenance margin of a position worth ``notional`` (absolute): rate * notional -
        the tier's deduction (Binance ``cum``), never below zero."""
        tier = self.tier_for(notional)
        return max(Decimal(0), notional * tier.maint_margin_ratio - tier.cum)

    def max_notional(self, leverage: int) -> Decimal | None:
        """The largest position notional allowed at ``leverage`` (None: not limited)."""
        caps = [t.cap for t in self.tiers if t.max_leverage >= leverage]
        if not self.tiers:
            return None
        return max(caps, default=Decimal(0))

    @property
    def max_price_decimals(self) -> int | None:
        if self.sz_decimals is None:
            return None
        return PERP_MAX_DECIMALS - self.sz_decimals

    def price_is_valid(self, price: Decimal) -> bool:
        if price <= 0:
            return False
        if self.tick_size is not None and price % self.tick_size != 0:
            return False
        if self.max_sig_figs is not None and price != price.to_integral_value():
            if _sig_figs(price) > self.max_sig_figs:
                return False
            decimals = self.max_price_decimals
            if decimals is not None and _decimals(price) > decimals:
                return False
        return True

    def qty_is_valid(self, qty: Decimal) -> bool:
        return qty > 0 and qty % self.step_size == 0

    def round_price(self, price: Decimal) -> Decimal:
        """Nearest valid price (used for marks and fill prices, never for client input)."""
        if self.tick_size is not None:
            return (price / self.tick_size).quantize(Decimal(1), ROUND_HALF_EVEN) * self.tick_size
        if self.max_sig_figs is not None:
            # integers are always valid; otherwise keep max_sig_figs and the decimals cap
            decimals = max(0, self.max_sig_figs - 1 - price.adjusted())
            decimals = min(decimals, self.max_price_decimals or PERP_MAX_DECIMALS)
            return price.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_EVEN)
        return price

    def round_qty_down(self, qty: Decimal) -> Decimal:
        return (qty / self.step_size).quantize(Decimal(1), ROUND_DOWN) * self.step_size


def _sig_figs(value: Decimal) -> int:
    digits = value.normalize().as_tuple().digits
    return len(digits)


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -int(exponent))


D = Decimal

# BTCUSDT's notional brackets as fapi answered /fapi/v1/leverageBracket in a recorded response
# (github.com/boolean404/heikin-ashi-trading-bot, json/fapiPrivate_get_leverage_bracket.py);
# Binance revises them from time to time. (floor, cap, max leverage, maint. margin ratio, cum)
_BTCUSDT_BRACKETS = (
    ("0", "50000", 125, "0.004", "0"),
    ("50000", "250000", 100, "0.005", "50"),
    ("250000", "3000000", 50, "0.01", "1300"),
    ("3000000", "20000000", 20, "0.025", "46300"),
    ("20000000", "40000000", 10, "0.05", "546300"),
    ("40000000", "100000000", 5, "0.1", "2546300"),
    ("100000000", "120000000", 4, "0.125", "5046300"),
    ("120000000", "200000000", 3, "0.15", "8046300"),
    ("200000000", "300000000", 2, "0.25", "28046300"),
    ("300000000", "500000000", 1, "0.5", "103046300"),
)

BINANCE_MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec(
        "BTC",
        "USDT",
        step_size=D("0.001"),
        min_qty=D("0.001"),
        min_notional=D("100"),
        max_leverage=125,
        tick_size=D("0.10"),
        max_qty=D("1000"),
        initial_price=D("67500"),
        tiers=tuple(
            LeverageTier(D(floor), D(cap), lev, D(mmr), D(cum))
            for floor, cap, lev, mmr, cum in _BTCUSDT_BRACKETS
        ),
    ),
    MarketSpec(
        "ETH",
        "USDT",
        step_size=D("0.001"),
        min_qty=D("0.001"),
        min_notional=D("20"),
        max_leverage=100,
        tick_size=D("0.01"),
        max_qty=D("10000"),
        initial_price=D("3500"),
    ),
    MarketSpec(
        "SOL",
        "USDT",
        step_size=D("1"),
        min_qty=D("1"),
        min_notional=D("5"),
        max_leverage=75,
        tick_size=D("0.0100"),
        max_qty=D("1000000"),
        initial_price=D("150"),
    ),
)


def hyperliquid_tiers(*tiers: tuple[str, int]) -> tuple[LeverageTier, ...]:
    """Margin tiers from a margin table's (lowerBound, maxLeverage) rows: each tier's
    maintenance rate is half the initial margin at its max leverage, its deduction the
    previous one plus lowerBound * (rate - previous rate) (Hyperliquid docs, "Margin
    tiers")."""
    out: list[LeverageTier] = []
    for n, (lower, lev) in enumerate(tiers):
        rate = Decimal(1) / (2 * lev)
        cum = out[-1].cum + D(lower) * (rate - out[-1].maint_margin_ratio) if out else D(0)
        cap = D(tiers[n + 1][0]) if n + 1 < len(tiers) else UNLIMITED * 1000
        out.append(LeverageTier(D(lower), cap, lev, rate, cum))
    return tuple(out)


# Hyperliquid's mainnet margin tables as meta lists them (recorded meta responses quoted in
# public client tests; "Margin tiers" in the Hyperliquid docs): id, description, tiers
HL_MARGIN_TABLES = {
    "BTC": (56, "tiered 40x", hyperliquid_tiers(("0", 40), ("150000000", 20))),
    "ETH": (55, "tiered 25x", hyperliquid_tiers(("0", 25), ("100000000", 15))),
    "SOL": (54, "tiered 20x", hyperliquid_tiers(("0", 20), ("70000000", 10))),
}

HYPERLIQUID_MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec(
        "BTC",
        "USDC",
        step_size=D("0.00001"),
        min_qty=D("0.00001"),
        min_notional=D("10"),
        max_leverage=40,
        max_sig_figs=5,
        sz_decimals=5,
        initial_price=D("67500"),
        tiers=HL_MARGIN_TABLES["BTC"][2],
        margin_table=HL_MARGIN_TABLES["BTC"][:2],
    ),
    MarketSpec(
        "ETH",
        "USDC",
        step_size=D("0.0001"),
        min_qty=D("0.0001"),
        min_notional=D("10"),
        max_leverage=25,
        max_sig_figs=5,
        sz_decimals=4,
        initial_price=D("3500"),
        tiers=HL_MARGIN_TABLES["ETH"][2],
        margin_table=HL_MARGIN_TABLES["ETH"][:2],
    ),
    MarketSpec(
        "SOL",
        "USDC",
        step_size=D("0.01"),
        min_qty=D("0.01"),
        min_notional=D("10"),
        max_leverage=20,
        max_sig_figs=5,
        sz_decimals=2,
        initial_price=D("150"),
        tiers=HL_MARGIN_TABLES["SOL"][2],
        margin_table=HL_MARGIN_TABLES["SOL"][:2],
    ),
)


def select_markets(
    specs: tuple[MarketSpec, ...], coins: list[str] | None
) -> tuple[MarketSpec, ...]:
    """The configured subset of a venue's markets (``None`` keeps all)."""
    if not coins:
        return specs
    wanted = {c.upper() for c in coins}
    chosen = tuple(s for s in specs if s.coin in wanted)
    missing = wanted - {s.coin for s in chosen}
    if missing:
        raise ValueError(f"unknown simulator market(s): {sorted(missing)}")
    return chosen


@dataclass(frozen=True, slots=True)
class VenueRules:
    """A venue's trading rules as the engine needs them (the simulator and paper share it)."""

    markets: tuple[MarketSpec, ...]
    collateral: str
    maker_fee: Decimal
    taker_fee: Decimal
    reject_immediate_trigger: bool  # Binance -2021; Hyperliquid fires such a trigger at once
    min_order_value: Decimal | None  # a venue-wide minimum (Hyperliquid's 10 USDC)
    funding_interval_ms: int = 8 * HOUR_MS
    funding_rate: Decimal = Decimal("0.0001")  # the default rate per interval (longs pay if > 0)
    # (least max leverage, largest market-order value): the first row a market's max leverage
    # reaches caps its market (IOC) orders; limit orders may be 10x that. () = no cap
    market_order_caps: tuple[tuple[int, Decimal], ...] = ()

    def market_order_cap(self, spec: MarketSpec) -> Decimal | None:
        """The largest value of one market (IOC) order on ``spec``; None: not capped."""
        return next((cap for lev, cap in self.market_order_caps if spec.max_leverage >= lev),
                    None)  # fmt: skip


# Binance USD-M: funding every 8 h at 00:00, 08:00 and 16:00 UTC, 0.01 % per interval at rest
# ("Introduction to Binance Futures Funding Rates"). Hyperliquid: every hour, the 0.01 % per
# 8 h interest rate paid an eighth at a time; market orders capped by max leverage ("Contract
# specifications": $4M at 50x and up, $1M from 20x, $500k from 10x, else $250k; limit orders
# 10x that).
VENUES: dict[str, VenueRules] = {
    "binance": VenueRules(BINANCE_MARKETS, "USDT", D("0.0002"), D("0.0005"), True, None),
    "hyperliquid": VenueRules(
        HYPERLIQUID_MARKETS, "USDC", D("0.00015"), D("0.00045"), False, D("10"),
        funding_interval_ms=HOUR_MS, funding_rate=D("0.0000125"),
        market_order_caps=((50, D(4_000_000)), (20, D(1_000_000)), (10, D(500_000)),
                           (0, D(250_000))),
    ),
}  # fmt: skip
