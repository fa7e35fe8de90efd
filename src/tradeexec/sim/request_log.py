"""The simulator's request log: every exchange request, as it arrived, minus secrets.

Each entry carries ``seq`` (1, 2, 3 ... for the simulator's life, never reused, also across
``/_sim/reset`` and a cleared log), ``time``, ``venue``, ``method``, ``path``, ``query``,
``body`` (signatures and keys stripped) and ``status`` (None until the answer starts; None
for good if no answer was sent). The log keeps the newest ``size`` entries; a reader polls
``GET /_sim/requests?after=<last seq seen>`` to get only what is new, in order.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECRET_FIELDS = frozenset({"signature", "privateKey", "secret", "apiKey"})
MAX_LOG_SIZE = 1_000_000


@dataclass
class RequestLog:
    size: int = 5000
    entries: deque[dict[str, Any]] = field(default_factory=deque)
    last_seq: int = 0

    def add(self, entry: dict[str, Any]) -> None:
        self.last_seq += 1
        entry["seq"] = self.last_seq
        self.entries.append(entry)
        self._trim()

    def resize(self, size: int) -> None:
        """Keep at most ``size`` entries from now on (the oldest go first)."""
        if not 1 <= size <= MAX_LOG_SIZE:
            raise ValueError(f"size must be from 1 to {MAX_LOG_SIZE}, got {size}")
        self.size = size
        self._trim()

    def _trim(self) -> None:
        while len(self.entries) > self.size:
            self.entries.popleft()

    def recent(
        self, limit: int = 100, venue: str | None = None, after: int | None = None
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` entries (of ``venue``), oldest first; with ``after``, the
        first ``limit`` entries whose ``seq`` is greater, so a cursor never skips any."""
        rows = [
            e
            for e in self.entries
            if (venue is None or e["venue"] == venue) and (after is None or e["seq"] > after)
        ]
        return rows[:limit] if after is not None else rows[-limit:]


def _venue_of(path: str) -> str:
    if path.startswith("/_sim"):
        return "control"
    return "hyperliquid" if path in ("/info", "/exchange") else "binance"


def _redacted_body(raw: bytes) -> Any:
    text = raw.decode("utf-8", "replace")[:8192]
    try:
        data = json.loads(text)
    except ValueError:
        pairs = parse_qsl(text, keep_blank_values=True)
        return urlencode([(k, v) for k, v in pairs if k not in SECRET_FIELDS]) if pairs else text
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if k not in SECRET_FIELDS}
    return data


class RequestLogMiddleware:
    """Records method, path, query and body of every request, minus signatures and keys."""

    def __init__(self, app: ASGIApp, log: RequestLog, clock: Callable[[], int]) -> None:
        self.app, self.log, self.clock = app, log, clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:  # buffer the body so the entry is logged BEFORE the request is handled
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        entry: dict[str, Any] = {
            "time": self.clock(),
            "venue": _venue_of(scope["path"]),
            "method": scope["method"],
            "path": scope["path"],
            "query": urlencode(
                [
                    (k, v)
                    for k, v in parse_qsl(scope.get("query_string", b"").decode())
                    if k not in SECRET_FIELDS
                ]
            ),
            "body": _redacted_body(body) if body else None,
            "status": None,  # filled in when the answer starts (None: no answer was sent)
        }
        if entry["venue"] != "control":
            self.log.add(entry)

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)

        await self.app(scope, replay_receive, recording_send)
