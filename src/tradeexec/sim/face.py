"""What an exchange face (the wire protocol of one venue) gives the simulator app.

A face owns one `Engine` and its credentials, renders the engine in the venue's own JSON
shapes and error codes, and runs every handled request through `SimContext.faults.guard`
with a route name (``binance.order.create``, ``hyperliquid.exchange.order`` ...) and the
account id, so fault rules can target routes and accounts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from starlette.responses import Response
from starlette.routing import BaseRoute

from tradeexec.sim.clock import SimClock
from tradeexec.sim.engine import Engine
from tradeexec.sim.faults import FaultSet
from tradeexec.sim.ratelimit import RateLimitConfig, RateLimits


@dataclass
class SimContext:
    """Shared by both faces: fault rules, rate limits and the clock (ms since the epoch; a
    `SimClock` unless a test drives its own function)."""

    faults: FaultSet = field(default_factory=FaultSet)
    clock: Callable[[], int] = field(default_factory=SimClock)
    limits: RateLimits = field(default_factory=lambda: RateLimits(RateLimitConfig()))

    def request_now(self) -> int:
        """What a client's request timestamp or nonce is checked against: the real time when
        the clock is a `SimClock` (clients sign with their own clocks, which ``/_sim/time``
        does not move), else the test's clock."""
        if isinstance(self.clock, SimClock):
            return self.clock.wall_ms()
        return self.clock()


class ExchangeFace(Protocol):
    venue: str  # "binance" | "hyperliquid"
    engine: Engine

    def routes(self) -> list[BaseRoute]:
        """Starlette routes on the venue's real paths."""
        ...

    def create_account(self, balance: Decimal) -> dict[str, str]:
        """Create and fund an account; return its credentials and ``account`` (the engine id)."""
        ...

    def error_response(self, status: int) -> Response:
        """The venue's own answer for an HTTP status (used by injected 429/418/5xx)."""
        ...

    def reset(self) -> None:
        """Forget accounts, credentials, nonces (the engine is reset by the app)."""
        ...
