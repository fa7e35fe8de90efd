"""The control API's clock and funding routes: ``/_sim/time`` and ``/_sim/funding``.

==========  ================  ===========================================================
method      path              what
==========  ================  ===========================================================
GET         /_sim/time        ``{"now_ms", "wall_ms", "offset_ms", "next_funding_ms"}``
POST        /_sim/time        ``{"advance_s": N}`` or ``{"set_ms": T}``: move the clock
                              forward (never back: 400), then pay the funding times it
                              passed (and liquidate what that leaves underwater);
                              answers as GET plus ``funding_paid`` per venue
GET         /_sim/funding     per venue: interval, default rate, rates set per coin, the
                              next funding time
POST        /_sim/funding     ``{"coin", "rate", "venue"?}``: the rate paid per interval
                              from the next funding time on (both venues if none named)
==========  ================  ===========================================================
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from tradeexec.sim.clearing import ClearingEngine
from tradeexec.sim.clock import ClockError, SimClock

__all__ = ["ClockControl"]

MAX_ADVANCE_S = 10 * 366 * 86_400  # ten years of funding times is enough for any test
MAX_RATE = Decimal("0.1")  # +-10 % per interval: far past any venue's cap
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


class _Bad(ValueError):
    pass


class ClockControl:
    """Serves the two routes over the simulator's clock and its venues' engines."""

    def __init__(self, clock: SimClock, engines: Callable[[], dict[str, ClearingEngine]]):
        self.clock = clock
        self._engines = engines

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/_sim/time", self._time, methods=["GET", "POST"]),
            Route("/_sim/funding", self._funding, methods=["GET", "POST"]),
        ]

    def run_due(self) -> dict[str, int]:
        """Pay what the clock has made due on every venue; funding times paid per venue."""
        return {name: engine.run_due() for name, engine in self._engines().items()}

    def _state(self) -> dict[str, Any]:
        return {
            "now_ms": self.clock.now_ms(),
            "wall_ms": self.clock.wall_ms(),
            "offset_ms": self.clock.offset_ms,
            "next_funding_ms": {n: e.funding.next_ms for n, e in self._engines().items()},
        }

    async def _time(self, request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse(self._state())
        try:
            body = await _body(request)
            if set(body) - {"advance_s", "set_ms"} or len(body) != 1:
                raise _Bad('give exactly one of "advance_s" (seconds) or "set_ms" (epoch ms)')
            if "advance_s" in body:
                seconds = _number(body["advance_s"], "advance_s", Decimal(0), MAX_ADVANCE_S)
                self.clock.advance(int(seconds * 1000))
            else:
                when = _number(body["set_ms"], "set_ms", Decimal(0), Decimal(10**15))
                if when != when.to_integral_value():
                    raise _Bad("set_ms must be a whole number of milliseconds")
                if int(when) - self.clock.now_ms() > MAX_ADVANCE_S * 1000:
                    raise _Bad(f"set_ms is more than {MAX_ADVANCE_S} s ahead")
                self.clock.set_ms(int(when))
        except (_Bad, ClockError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        paid = self.run_due()
        return JSONResponse({**self._state(), "funding_paid": paid})

    async def _funding(self, request: Request) -> JSONResponse:
        engines = self._engines()
        if request.method == "POST":
            try:
                body = await _body(request)
                if set(body) - {"venue", "coin", "rate"}:
                    raise _Bad(f"unknown fields {sorted(set(body) - {'venue', 'coin', 'rate'})}")
                venue = body.get("venue")
                if venue is not None and venue not in engines:
                    raise _Bad(f"unknown venue {venue!r}; one of {sorted(engines)}")
                coin = str(body.get("coin", "")).upper()
                chosen = [e for n, e in engines.items() if venue in (None, n)]
                if not any(coin in e.markets for e in chosen):
                    raise _Bad(f"unknown coin {coin!r}")
                rate = _number(body.get("rate"), "rate", -MAX_RATE, MAX_RATE)
            except _Bad as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            for engine in chosen:
                if coin in engine.markets:
                    engine.funding.rates[coin] = rate
        return JSONResponse(
            {
                name: {
                    "interval_ms": e.funding.interval_ms,
                    "default_rate": str(e.funding.default_rate),
                    "rates": {c: str(e.funding.rate(c)) for c in e.markets},
                    "next_funding_ms": e.funding.next_ms,
                }
                for name, e in engines.items()
            }
        )


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise _Bad(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise _Bad("body must be a JSON object")
    return data


def _number(value: Any, name: str, low: Decimal | int, high: Decimal | int) -> Decimal:
    """A JSON number or numeric string within [low, high], else a 400."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Bad(f"{name} must be a number, got {value!r}")
    text = str(value).strip()
    if len(text) > 40 or not _NUMBER.fullmatch(text):
        raise _Bad(f"{name} must be a number, got {value!r}")
    number = Decimal(text)
    if not low <= number <= high:
        raise _Bad(f"{name} must be between {low} and {high}, got {text}")
    return number
