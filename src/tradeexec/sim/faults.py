"""Fault injection for the simulator, per route and per account.

A `FaultRule` matches requests by route name (an fnmatch pattern such as ``binance.order.*``
or ``hyperliquid.exchange.order``) and optionally by account id. What it does:

- ``latency``: wait ``seconds`` before handling the request (then answer normally).
- ``status``: answer ``status`` (429, 418, 500, 503 ...) without handling the request; the face
  renders the body in its exchange's own error shape.
- ``timeout``: hold the request ``seconds`` without handling it (the client times out).
- ``drop``: close the connection without handling the request.
- ``lost_response``: handle the request (the order exists on the simulator), then hold the
  answer ``seconds`` so the client times out: the "accepted then the response is lost" case.
- ``lost_drop``: handle the request, then close the connection without an answer.

``times`` bounds how often a rule fires (``None`` = every match); ``skip`` lets the first N
matching requests through untouched (e.g. fail the stop-loss that follows an entry on the
same route); ``probability`` (seeded) makes it fire on a fraction of matches.
"""

from __future__ import annotations

import asyncio
import fnmatch
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

FaultKind = Literal["latency", "status", "timeout", "drop", "lost_response", "lost_drop"]
FAULT_KINDS: tuple[str, ...] = (
    "latency",
    "status",
    "timeout",
    "drop",
    "lost_response",
    "lost_drop",
)


@dataclass(slots=True)
class FaultRule:
    route: str
    kind: FaultKind
    account: str | None = None
    seconds: float = 0.0
    status: int = 503
    times: int | None = None
    probability: float = 1.0
    skip: int = 0
    fired: int = 0
    seen: int = 0

    def matches(self, route: str, account: str | None) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if self.account is not None and self.account != account:
            return False
        if not fnmatch.fnmatchcase(route, self.route):
            return False
        self.seen += 1
        return self.seen > self.skip


class DroppedConnection(Response):
    """A response that promises a body it never sends, so the server closes the socket."""

    def __init__(self) -> None:
        super().__init__(content=b"", status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"1024"), (b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b"{", "more_body": False})


@dataclass
class FaultSet:
    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add(self, rule: FaultRule) -> None:
        if rule.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {rule.kind!r}; one of {FAULT_KINDS}")
        self.rules.append(rule)

    def clear(self) -> None:
        self.rules.clear()

    def pick(self, route: str, account: str | None) -> FaultRule | None:
        for rule in self.rules:
            if rule.matches(route, account) and self._rng.random() < rule.probability:
                rule.fired += 1
                return rule
        return None

    async def guard(
        self,
        route: str,
        account: str | None,
        handler: Callable[[], Awaitable[Response]],
        error_response: Callable[[int], Response],
    ) -> Response:
        """Run ``handler`` for a request, applying the first matching fault rule."""
        rule = self.pick(route, account)
        if rule is None:
            return await handler()
        if rule.kind == "latency":
            await asyncio.sleep(rule.seconds)
            return await handler()
        if rule.kind == "status":
            return error_response(rule.status)
        if rule.kind == "timeout":
            await asyncio.sleep(rule.seconds or 30.0)
            return error_response(504)
        if rule.kind == "drop":
            return DroppedConnection()
        response = await handler()  # lost_response / lost_drop: the request takes effect
        if rule.kind == "lost_drop":
            return DroppedConnection()
        await asyncio.sleep(rule.seconds or 30.0)
        return response
