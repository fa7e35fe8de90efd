"""Rate limits as Binance USD-M and Hyperliquid enforce them (off unless turned on).

**Binance USD-M** (developers.binance.com, USDⓈ-M Futures "General Info" → LIMITS, and each
endpoint's documented weight; `BINANCE_WEIGHTS`):

- request weight per IP, ``REQUEST_WEIGHT`` 2400 per minute, reported on every answer as
  ``X-MBX-USED-WEIGHT-1M`` (the header is named after the interval:
  ``X-MBX-USED-WEIGHT-(intervalNum)(intervalLetter)``);
- orders per account, ``ORDERS`` 300 per 10 seconds and 1200 per minute, reported on order
  answers as ``X-MBX-ORDER-COUNT-10S`` / ``X-MBX-ORDER-COUNT-1M``; a new order weighs 0 on the
  IP limit;
- over the weight limit: HTTP 429, ``{"code": -1003, ...}`` and ``Retry-After`` (seconds until
  the window frees); over an order limit: HTTP 429, -1015, without ``Retry-After``;
- "repeatedly violating rate limits and/or failing to back off after receiving 429s will
  result in an automated IP ban (HTTP status 418)", lasting "from 2 minutes to 3 days" for
  repeat offenders. Binance does not publish how many 429s it tolerates: here the IP is banned
  when it sends more than ``ban_after`` requests after its first 429 in one window; each ban
  of the same IP lasts twice the one before (``ban_s``, 120 s, doubling up to 3 days).

Windows are fixed and aligned to the clock (a minute window starts on the minute), as the
used-weight counter resets at the top of each minute. The clock is the real one, not the
simulator's (``/_sim/time`` does not lift a ban): a client waits in real time. The window
lengths, limits and ban times are configurable (tests shrink a "minute" to a few seconds);
`exchangeInfo`'s ``rateLimits`` and the header names follow the configured intervals, as
they would on Binance.

**Hyperliquid** (docs "Rate limits and user limits"):

- REST requests share an aggregated weight of 1200 per minute per IP: ``exchange`` actions
  weigh 1 + floor(batch length / 40); ``info`` requests weigh 2 (l2Book, allMids,
  clearinghouseState, orderStatus, spotClearinghouseState, exchangeStatus), 60 (userRole) or
  20 (all others). The extra weight per 20 items some info answers carry is not modelled.
  Over the limit: HTTP 429 with a ``null`` body (ccxt: ``RateLimitExceeded``), no
  ``Retry-After``.
- Per address (actions only, not info): 10 000 requests to start with plus one per USDC
  traded; a batch of n orders or cancels counts n. Over it, an address may still send one
  request every 10 seconds; cancels have ``min(cap + 100000, 2 * cap)``. Refused with
  ``{"status": "err", "response": "Too many cumulative requests sent (used > cap) for
  cumulative volume traded $V. Place taker orders to free up 1 request per USDC traded."}``
  (the text ccxt's hyperliquid exception table quotes; ccxt: ``RateLimitExceeded``).

Enforcement is off by default (`SimConfig.rate_limits`): no counting, no headers, so the test
suite and the benchmarks run as before. ``POST /_sim/limits`` turns it on per venue.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

DAY_S = 86_400

#: IP weight of each Binance route (see `sim.binance_api` for the route names): (weight with
#: a symbol, weight without one). Depth is weighed by its ``limit`` (`_DEPTH_WEIGHTS`). New
#: orders weigh 0 on the IP and 1 on the account's order counters. The two ``sapi`` reads
#: count on the SAPI's own limit, not fapi's, so they weigh 0 here.
BINANCE_WEIGHTS: dict[str, tuple[int, int]] = {
    "binance.ping": (1, 1),
    "binance.time": (1, 1),
    "binance.exchangeInfo": (1, 1),
    "binance.ticker": (1, 40),
    "binance.bookTicker": (2, 5),
    "binance.price": (1, 2),
    "binance.premiumIndex": (1, 10),
    "binance.order.create": (0, 0),
    "binance.order.cancel": (1, 1),
    "binance.order.get": (1, 1),
    "binance.order.open": (1, 40),
    "binance.order.all": (5, 5),
    "binance.order.cancelAll": (1, 1),
    "binance.algo.create": (0, 0),
    "binance.algo.cancel": (1, 1),
    "binance.algo.get": (1, 1),
    "binance.algo.open": (1, 40),
    "binance.algo.all": (5, 5),
    "binance.algo.cancelAll": (1, 1),
    "binance.balance": (5, 5),
    "binance.positions": (5, 5),
    "binance.trades": (5, 5),
    "binance.leverage": (1, 1),
    "binance.leverageBracket": (1, 1),
    "binance.symbolConfig": (5, 5),
    "binance.marginType": (1, 1),
    "binance.positionMode.get": (30, 30),
    "binance.positionMode.set": (1, 1),
    "binance.sapi.currencies": (0, 0),
    "binance.sapi.marginPairs": (0, 0),
}
#: /fapi/v1/depth: (largest limit, weight), smallest first; the default limit is 500
_DEPTH_WEIGHTS = ((50, 2), (100, 5), (500, 10), (1000, 20))
#: routes that place an order (counted per account on the ORDERS limits)
BINANCE_ORDER_ROUTES = frozenset({"binance.order.create", "binance.algo.create"})

#: Hyperliquid info request weights; every other documented type weighs 20
HYPERLIQUID_INFO_WEIGHTS: dict[str, int] = {
    "l2Book": 2,
    "allMids": 2,
    "clearinghouseState": 2,
    "orderStatus": 2,
    "spotClearinghouseState": 2,
    "exchangeStatus": 2,
    "userRole": 60,
}
HYPERLIQUID_INFO_DEFAULT_WEIGHT = 20


def binance_weight(route: str, params: Mapping[str, str]) -> int:
    """The IP weight of one Binance request (unknown routes weigh 1)."""
    if route == "binance.depth":
        try:
            limit = int(params.get("limit") or 500)
        except ValueError:
            limit = 500
        return next((w for top, w in _DEPTH_WEIGHTS if limit <= top), _DEPTH_WEIGHTS[-1][1])
    one, every = BINANCE_WEIGHTS.get(route, (1, 1))
    return one if params.get("symbol") else every


def hyperliquid_info_weight(kind: str) -> int:
    return HYPERLIQUID_INFO_WEIGHTS.get(kind, HYPERLIQUID_INFO_DEFAULT_WEIGHT)


def hyperliquid_action_weight(batch: int) -> int:
    """An exchange action's IP weight: 1 + floor(batch length / 40)."""
    return 1 + max(batch, 0) // 40


@dataclass(frozen=True, slots=True, kw_only=True)
class BinanceLimits:
    """Binance's limits; live values by default, but not enforced unless ``enforce``."""

    enforce: bool = False
    request_weight: int = 2400  # per IP per weight window
    weight_window_s: int = 60
    orders_short: int = 300  # per account per short window
    orders_short_window_s: int = 10
    orders_long: int = 1200  # per account per long window
    orders_long_window_s: int = 60
    ban_after: int = 3  # requests tolerated after a window's first 429; the next is banned
    ban_s: int = 120  # the first ban; each later ban of the same IP doubles, up to max_ban_s
    max_ban_s: int = 3 * DAY_S


@dataclass(frozen=True, slots=True, kw_only=True)
class HyperliquidLimits:
    """Hyperliquid's limits; live values by default, but not enforced unless ``enforce``."""

    enforce: bool = False
    ip_weight: int = 1200  # per IP per window
    weight_window_s: int = 60
    address_initial: int = 10_000  # requests every address starts with
    address_per_usdc: int = 1  # requests earned per USDC traded
    throttled_every_s: int = 10  # an address over its budget may still act this often


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitConfig:
    binance: BinanceLimits = BinanceLimits()
    hyperliquid: HyperliquidLimits = HyperliquidLimits()


def updated(limits: Any, changes: Mapping[str, Any]) -> Any:
    """``limits`` with ``changes`` applied; unknown fields, wrong types or values out of range
    raise ValueError (the control API answers 400)."""
    known = {f.name: f for f in fields(limits)}
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in known:
            raise ValueError(f"unknown limit {name!r}; one of {sorted(known)}")
        if name == "enforce":
            if not isinstance(value, bool):
                raise ValueError(f"enforce must be true or false, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10**9:
            raise ValueError(f"{name} must be a whole number from 1 to 1e9, got {value!r}")
        clean[name] = value
    return replace(limits, **clean)


def interval_name(seconds: int) -> tuple[str, int, str]:
    """A window as Binance names it: (interval, intervalNum, header suffix letter)."""
    for unit, letter, size in (("DAY", "D", DAY_S), ("HOUR", "H", 3600), ("MINUTE", "M", 60)):
        if seconds % size == 0:
            return unit, seconds // size, letter
    return "SECOND", seconds, "S"


def header_suffix(seconds: int) -> str:
    _, num, letter = interval_name(seconds)
    return f"{num}{letter}"


@dataclass(slots=True)
class FixedWindows:
    """Counters per key over fixed windows of ``seconds``, aligned to the clock."""

    seconds: int
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    def index(self, now: float) -> int:
        return int(now // self.seconds)

    def used(self, key: str, now: float) -> int:
        window, used = self.counts.get(key, (-1, 0))
        return used if window == self.index(now) else 0

    def add(self, key: str, amount: int, now: float) -> int:
        used = self.used(key, now) + amount
        self.counts[key] = (self.index(now), used)
        return used

    def seconds_left(self, now: float) -> float:
        return (self.index(now) + 1) * self.seconds - now


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the limiter says about one request: the headers to add to the answer, and, if
    it is refused, the HTTP status, the venue's error code and message, and Retry-After."""

    headers: dict[str, str]
    status: int | None = None
    code: int = 0
    message: str = ""

    @property
    def refused(self) -> bool:
        return self.status is not None


ALLOWED = Verdict({})


class BinanceRateLimiter:
    def __init__(self, limits: BinanceLimits, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.configure(limits)

    def configure(self, limits: BinanceLimits) -> None:
        """New limits; counters, strikes and bans start afresh."""
        self.limits = limits
        self.weight = FixedWindows(limits.weight_window_s)
        self.orders_short = FixedWindows(limits.orders_short_window_s)
        self.orders_long = FixedWindows(limits.orders_long_window_s)
        self.strikes = FixedWindows(limits.weight_window_s)
        self.banned_until: dict[str, float] = {}
        self.bans: dict[str, int] = {}

    def published(self) -> list[dict[str, Any]]:
        """``exchangeInfo``'s ``rateLimits`` for the configured limits."""
        lim = self.limits
        rows = []
        for kind, limit, seconds in (
            ("REQUEST_WEIGHT", lim.request_weight, lim.weight_window_s),
            ("ORDERS", lim.orders_long, lim.orders_long_window_s),
            ("ORDERS", lim.orders_short, lim.orders_short_window_s),
        ):
            interval, num, _ = interval_name(seconds)
            rows.append(
                {"rateLimitType": kind, "interval": interval, "intervalNum": num, "limit": limit}
            )
        return rows

    def admit(self, ip: str, route: str, params: Mapping[str, str], account: str | None) -> Verdict:
        lim = self.limits
        if not lim.enforce:
            return ALLOWED
        now = self.clock()
        used = self.weight.add(ip, binance_weight(route, params), now)
        headers = {f"X-MBX-USED-WEIGHT-{header_suffix(lim.weight_window_s)}": str(used)}
        banned = self.banned_until.get(ip, 0.0)
        if banned > now:
            return self._banned(headers, banned, now)
        if used > lim.request_weight:
            if self.strikes.add(ip, 1, now) > lim.ban_after + 1:
                return self._ban(ip, headers, now)
            unit, num, _ = interval_name(lim.weight_window_s)
            headers["Retry-After"] = str(math.ceil(self.weight.seconds_left(now)))
            return Verdict(
                headers,
                429,
                -1003,
                f"Too much request weight used; current limit is {lim.request_weight} request"
                f" weight per {num} {unit}. Please use the websocket for live updates to avoid"
                " polling the API.",
            )
        if route in BINANCE_ORDER_ROUTES and account is not None:
            for counter, limit in (
                (self.orders_short, lim.orders_short),
                (self.orders_long, lim.orders_long),
            ):
                count = counter.add(account, 1, now)
                headers[f"X-MBX-ORDER-COUNT-{header_suffix(counter.seconds)}"] = str(count)
                if count > limit:
                    unit, num, _ = interval_name(counter.seconds)
                    return Verdict(
                        headers,
                        429,
                        -1015,
                        f"Too many new orders; current limit is {limit} orders per {num} {unit}.",
                    )
        return Verdict(headers)

    def _ban(self, ip: str, headers: dict[str, str], now: float) -> Verdict:
        lim = self.limits
        count = self.bans.get(ip, 0)
        self.bans[ip] = count + 1
        seconds = min(lim.ban_s * 2**count, lim.max_ban_s)
        self.banned_until[ip] = now + seconds
        return self._banned(headers, now + seconds, now)

    def _banned(self, headers: dict[str, str], until: float, now: float) -> Verdict:
        headers["Retry-After"] = str(math.ceil(until - now))
        return Verdict(
            headers,
            418,
            -1003,
            f"Way too much request weight used; IP banned until {int(until * 1000)}. Please use"
            " the websocket for live updates to avoid bans.",
        )


class HyperliquidRateLimiter:
    def __init__(self, limits: HyperliquidLimits, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.configure(limits)

    def configure(self, limits: HyperliquidLimits) -> None:
        self.limits = limits
        self.weight = FixedWindows(limits.weight_window_s)
        self.address_used: dict[str, int] = {}
        self.throttled_at: dict[str, float] = {}

    def admit_ip(self, ip: str, weight: int) -> Verdict:
        """The per-IP weight: over it, HTTP 429 (the face answers ``null``)."""
        if not self.limits.enforce:
            return ALLOWED
        if self.weight.add(ip, weight, self.clock()) > self.limits.ip_weight:
            return Verdict({}, 429)
        return ALLOWED

    def report(self, address: str, answer: dict[str, Any]) -> dict[str, Any]:
        """``userRateLimit``'s answer with the budget this limiter enforces (when it does):
        requests used so far and the cap the address's traded volume (``cumVlm``) earns."""
        if not self.limits.enforce:
            return answer
        volume = int(Decimal(str(answer.get("cumVlm", "0"))))
        cap = self.limits.address_initial + volume * self.limits.address_per_usdc
        return {**answer, "nRequestsUsed": self.address_used.get(address, 0), "nRequestsCap": cap}

    def admit_action(
        self, address: str, requests: int, volume: Decimal, *, cancel: bool
    ) -> str | None:
        """The per-address budget for an action of ``requests`` orders or cancels by an
        address that traded ``volume`` USDC so far: None, or the venue's refusal text."""
        lim = self.limits
        if not lim.enforce:
            return None
        used = self.address_used.get(address, 0) + requests
        self.address_used[address] = used
        cap = lim.address_initial + int(volume) * lim.address_per_usdc
        if cancel:
            cap = min(cap + 100_000, cap * 2)
        if used <= cap:
            return None
        now = self.clock()
        if now - self.throttled_at.get(address, -math.inf) >= lim.throttled_every_s:
            self.throttled_at[address] = now  # one request every 10 s still goes through
            return None
        return (
            f"Too many cumulative requests sent ({used} > {cap}) for cumulative volume traded"
            f" ${volume:.2f}. Place taker orders to free up 1 request per USDC traded."
        )


class RateLimits:
    """Both venues' limiters (held by `SimContext`)."""

    def __init__(self, config: RateLimitConfig, clock: Callable[[], float] = time.time) -> None:
        self.config, self.clock = config, clock
        self.binance = BinanceRateLimiter(config.binance, clock)
        self.hyperliquid = HyperliquidRateLimiter(config.hyperliquid, clock)

    def reset(self) -> None:
        """Back to the configured limits and clock, counters and bans cleared."""
        self.binance.configure(self.config.binance)
        self.hyperliquid.configure(self.config.hyperliquid)
        self.binance.clock = self.hyperliquid.clock = self.clock

    def to_json(self) -> dict[str, Any]:
        return {
            "binance": asdict(self.binance.limits),
            "hyperliquid": asdict(self.hyperliquid.limits),
        }
