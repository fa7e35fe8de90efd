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

from tradeexec.sim.engine import Engine, wall_clock_ms
from tradeexec.sim.faults import FaultSet


@dataclass
class SimContext:
    """Shared by both faces: fault rules and the clock (ms since the epoch)."""

    faults: FaultSet = field(default_factory=FaultSet)
    clock: Callable[[], int] = wall_clock_ms


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
