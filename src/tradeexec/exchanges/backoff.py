"""Backing off before a venue bans us: request pacing from the venue's own rate-limit data.

A venue's limits are data (`RateLimitRules`, on its `Capabilities`): each `RateLimit` says
what is counted (request weight per IP, orders per account), over which window, and which
response header reports the count. `RateGate` sits in front of every HTTP request a ccxt
client makes (`ccxt_requests.pace_requests`) and:

- **paces from the headers** (Binance ``X-MBX-USED-WEIGHT-1M``, ``X-MBX-ORDER-COUNT-10S`` ...):
  the last count the venue reported, plus what we sent since, must leave ``headroom`` below
  the limit; otherwise the request waits until the window frees (windows are fixed and
  start on the clock's multiples of their length, as Binance's do). A delay, not a failure;
- **learns the limits the venue publishes** (Binance ``exchangeInfo.rateLimits``), so a venue
  (or a simulator) with other limits than the defaults is paced by its own;
- **honours ``Retry-After``** on a 429 / 418: nothing is sent before it has passed; a
  refusal without one (Hyperliquid, Binance's order-count 429) pauses ``pause_s``, doubling
  while the refusals continue;
- fails a request at once (`RateLimited`) rather than hold it past ``max_wait_s`` (a ban);
- for limits no header reports (Hyperliquid's 1200 weight per minute per IP), counts its own
  requests in a sliding window, but only if ``pace_unreported`` is set: live, ccxt's own
  rate limiter already paces these (tradeexec enables it for real venues).

The gate never resends anything: a request refused with 429 raises as before (reads are
retried by `CCXTTrader._read`, which waits here first; creates and cancels are not resent).
One gate per trader: the headers report the IP's use by every process, so traders sharing
an IP still see each other through them.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import parse_qsl

from tradeexec import errors

__all__ = [
    "BINANCE_RATE_LIMITS",
    "HYPERLIQUID_RATE_LIMITS",
    "RateGate",
    "RateLimit",
    "RateLimitRules",
    "rate_gate",
]

log = logging.getLogger(__name__)

_INTERVAL_S = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86_400}


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimit:
    """One limit a venue enforces."""

    kind: str  # the venue's name for it (Binance: REQUEST_WEIGHT, ORDERS)
    limit: int
    interval_s: int
    per: Literal["ip", "account"] = "ip"
    orders_only: bool = False  # counts order placements only (weight 1 each)
    # the header reporting the count: prefix + interval ("X-MBX-USED-WEIGHT-" + "1M"); None:
    # the venue reports nothing (we can only count our own requests)
    header_prefix: str | None = None

    @property
    def header(self) -> str | None:
        # read for every limit before and after every request: built once per limit
        return None if self.header_prefix is None else _header(self.header_prefix, self.interval_s)


@functools.cache
def _header(prefix: str, interval_s: int) -> str:
    for letter, size in (("D", 86_400), ("H", 3600), ("M", 60)):
        if interval_s % size == 0:
            return f"{prefix}{interval_s // size}{letter}"
    return f"{prefix}{interval_s}S"


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitRules:
    """A venue's rate limits and how its requests weigh, as data."""

    limits: tuple[RateLimit, ...]
    headroom: float = 0.1  # keep this fraction of each limit free (requests in flight, others)
    # request weights: "METHOD /path" (or "METHOD /path:<body type>" for JSON bodies with a
    # "type", Hyperliquid's /info); weights_without_symbol where a request for every symbol
    # weighs more (Binance's openOrders: 1 with a symbol, 40 without); default_weight otherwise
    weights: Mapping[str, int] = field(default_factory=dict)
    weights_without_symbol: Mapping[str, int] = field(default_factory=dict)
    default_weight: int = 1
    order_requests: frozenset[str] = frozenset()  # "METHOD /path" of order placements
    published_in: str | None = None  # the response key listing the venue's limits
    pause_s: float = 0.25  # after a refusal without Retry-After (doubles while they continue)
    max_pause_s: float = 60.0
    boundary_margin_s: float = 0.25  # clocks differ: wait this much past a window's end
    # a longer wait (a 418 ban: minutes to days) fails the request at once with RateLimited
    # instead: a signal held for minutes is worse than a clear refusal
    max_wait_s: float = 65.0
    pace_unreported: bool = False  # count our own requests for limits no header reports

    def weight(self, method: str, path: str, query: str, body: Any) -> int:
        key = f"{method.upper()} {path}"
        if any(k.startswith(f"{key}:") for k in self.weights):
            kind = _body_type(body)  # parsed only where the body's type sets the weight
            if kind is not None and f"{key}:{kind}" in self.weights:
                return self.weights[f"{key}:{kind}"]
        if key in self.weights_without_symbol and "symbol" not in _param_names(query, body):
            return self.weights_without_symbol[key]
        return self.weights.get(key, self.default_weight)

    def with_published(self, published: Any) -> RateLimitRules:
        """These rules with the limits a venue published (Binance's ``rateLimits`` rows:
        rateLimitType, interval, intervalNum, limit); rows of an unknown kind are ignored."""
        if not isinstance(published, list):
            return self
        by_kind: dict[str, list[RateLimit]] = {}
        for row in published:
            try:
                kind, limit = str(row["rateLimitType"]), int(row["limit"])
                seconds = _INTERVAL_S[str(row["interval"])] * int(row["intervalNum"])
            except (KeyError, TypeError, ValueError):
                continue
            model = next((lim for lim in self.limits if lim.kind == kind), None)
            if model is not None and limit > 0 and seconds > 0:
                by_kind.setdefault(kind, []).append(replace(model, limit=limit, interval_s=seconds))
        if not by_kind:
            return self
        kept = [lim for lim in self.limits if lim.kind not in by_kind]
        return replace(self, limits=tuple(kept + [x for rows in by_kind.values() for x in rows]))


def _body_type(body: Any) -> str | None:
    if not isinstance(body, str) or not body.startswith("{"):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def _param_names(query: str, body: Any) -> set[str]:
    names = {k for k, _ in parse_qsl(query)}
    if isinstance(body, str) and not body.startswith("{"):
        names |= {k for k, _ in parse_qsl(body)}
    return names


BINANCE_RATE_LIMITS = RateLimitRules(
    # "General Info" → LIMITS (USDⓈ-M futures); exchangeInfo publishes the same rows
    limits=(
        RateLimit(kind="REQUEST_WEIGHT", limit=2400, interval_s=60,
                  header_prefix="X-MBX-USED-WEIGHT-"),
        RateLimit(kind="ORDERS", limit=300, interval_s=10, per="account", orders_only=True,
                  header_prefix="X-MBX-ORDER-COUNT-"),
        RateLimit(kind="ORDERS", limit=1200, interval_s=60, per="account", orders_only=True,
                  header_prefix="X-MBX-ORDER-COUNT-"),
    ),
    # each endpoint's documented weight, for the requests tradeexec makes (others weigh 1)
    weights={
        "POST /fapi/v1/order": 0, "POST /fapi/v1/algoOrder": 0,  # orders count apart
        "GET /fapi/v2/account": 5, "GET /fapi/v3/account": 5, "GET /fapi/v2/balance": 5,
        "GET /fapi/v3/balance": 5, "GET /fapi/v2/positionRisk": 5,
        "GET /fapi/v3/positionRisk": 5, "GET /fapi/v1/userTrades": 5,
        "GET /fapi/v1/allOrders": 5, "GET /fapi/v1/allAlgoOrders": 5,
        "GET /fapi/v1/positionSide/dual": 30, "GET /fapi/v1/symbolConfig": 5,
        "GET /fapi/v1/ticker/bookTicker": 2, "GET /fapi/v1/depth": 10,
    },
    weights_without_symbol={
        "GET /fapi/v1/openOrders": 40, "GET /fapi/v1/openAlgoOrders": 40,
        "GET /fapi/v1/ticker/24hr": 40, "GET /fapi/v1/ticker/bookTicker": 5,
        "GET /fapi/v1/ticker/price": 2, "GET /fapi/v2/ticker/price": 2,
        "GET /fapi/v1/premiumIndex": 10,
    },
    order_requests=frozenset({"POST /fapi/v1/order", "POST /fapi/v1/algoOrder"}),
    published_in="rateLimits",
    pause_s=0.25,
)  # fmt: skip

HYPERLIQUID_RATE_LIMITS = RateLimitRules(
    # "Rate limits and user limits": 1200 weight per minute per IP, reported by no header
    limits=(RateLimit(kind="REQUEST_WEIGHT", limit=1200, interval_s=60),),
    weights={
        "POST /info:l2Book": 2, "POST /info:allMids": 2, "POST /info:clearinghouseState": 2,
        "POST /info:orderStatus": 2, "POST /info:spotClearinghouseState": 2,
        "POST /info:exchangeStatus": 2, "POST /info:userRole": 60,
        "POST /exchange": 1,  # an unbatched action (tradeexec sends no batches)
    },
    default_weight=20,  # every other info request
    pause_s=0.25,
)  # fmt: skip


@dataclass(slots=True)
class _Window:
    """What we know of one limit's current window: the venue's count plus ours since."""

    index: int = -1
    used: int = 0
    reported: bool = False  # the venue has reported this limit at least once
    sent: deque[tuple[float, int]] = field(default_factory=deque)  # unreported: our sends


@dataclass(slots=True)
class GateStats:
    waits: int = 0
    waited_s: float = 0.0
    refusals: int = 0  # 429 / 418 answers seen


class RateGate:
    """Paces one trader's requests (see the module docstring)."""

    def __init__(
        self,
        rules: RateLimitRules,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        name: str = "",
    ) -> None:
        self.rules, self.clock, self.sleep, self.name = rules, clock, sleep, name
        self.blocked_until = 0.0
        self.stats = GateStats()
        self._windows: dict[tuple[str, int], _Window] = {}
        self._refusals_in_a_row = 0

    def _window(self, limit: RateLimit) -> _Window:
        return self._windows.setdefault((limit.kind, limit.interval_s), _Window())

    def _applies(self, limit: RateLimit, is_order: bool) -> bool:
        if limit.orders_only and not is_order:
            return False
        return limit.header is not None or self.rules.pace_unreported

    def delay(self, weight: int, is_order: bool) -> float:
        """Seconds to wait before a request of ``weight`` may go (0: now)."""
        now = self.clock()
        wait = self.blocked_until - now
        for limit in self.rules.limits:
            if not self._applies(limit, is_order):
                continue
            cost = 1 if limit.orders_only else weight
            budget = math.floor(limit.limit * (1 - self.rules.headroom))
            win = self._window(limit)
            if limit.header is not None:
                index = int(now // limit.interval_s)
                over = win.used > 0 and win.used + cost > budget
                if win.reported and win.index == index and over:
                    end = (index + 1) * limit.interval_s + self.rules.boundary_margin_s
                    wait = max(wait, end - now)
                continue
            while win.sent and win.sent[0][0] <= now - limit.interval_s:
                win.sent.popleft()
            total = sum(w for _, w in win.sent)
            for sent_at, w in win.sent:  # the oldest sends age out first
                if total + cost <= budget:
                    break
                total -= w
                wait = max(wait, sent_at + limit.interval_s - now)
        return max(wait, 0.0)

    async def before(self, method: str, path: str, query: str = "", body: Any = None) -> None:
        """Wait until the request may go, then count it."""
        weight = self.rules.weight(method, path, query, body)
        is_order = f"{method.upper()} {path}" in self.rules.order_requests
        while (wait := self.delay(weight, is_order)) > 0:
            if wait > self.rules.max_wait_s:
                raise errors.RateLimited(
                    f"the venue's rate limit asks for {wait:.0f} s of quiet (ban or"
                    f" Retry-After); not sent",
                    exchange=self.name,
                )
            self.stats.waits += 1
            self.stats.waited_s += wait
            log.info("%s: waiting %.2f s for the rate limit before %s", self.name, wait, path)
            await self.sleep(wait)
        now = self.clock()
        for limit in self.rules.limits:
            if not self._applies(limit, is_order):
                continue
            cost = 1 if limit.orders_only else weight
            win = self._window(limit)
            if limit.header is None:
                win.sent.append((now, cost))
            elif win.reported:
                index = int(now // limit.interval_s)
                if win.index != index:
                    win.index, win.used = index, 0
                win.used += cost

    def after(self, headers: Mapping[str, Any] | None, *, refused: bool = False) -> None:
        """Read the counts (and, for a 429 / 418, ``Retry-After``) from an answer's headers."""
        now = self.clock()
        lower = {str(k).lower(): v for k, v in (headers or {}).items()} if headers else {}
        for limit in self.rules.limits:
            header = limit.header
            if header is None or header.lower() not in lower:
                continue
            try:
                used = int(str(lower[header.lower()]).split(",")[0])
            except ValueError:
                continue
            win = self._window(limit)
            index = int(now // limit.interval_s)
            if win.index == index:
                win.used = max(win.used, used)
            else:
                win.index, win.used = index, used
            win.reported = True
        if not refused:
            self._refusals_in_a_row = 0
            return
        self.stats.refusals += 1
        self._refusals_in_a_row += 1
        try:
            pause = float(str(lower["retry-after"]))
        except (KeyError, ValueError):
            pause = min(
                self.rules.pause_s * 2 ** (self._refusals_in_a_row - 1), self.rules.max_pause_s
            )
        self.blocked_until = max(self.blocked_until, now + pause)

    def learn(self, response: Any) -> None:
        """Take the limits a venue publishes (Binance's ``exchangeInfo.rateLimits``)."""
        key = self.rules.published_in
        if key is not None and isinstance(response, dict) and key in response:
            self.rules = self.rules.with_published(response[key])


def rate_gate(rules: RateLimitRules | None, name: str) -> RateGate | None:
    """A gate for a venue's rules (None: the venue has none)."""
    return RateGate(rules, name=name) if rules is not None else None
