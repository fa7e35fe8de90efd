"""``create_app(service, settings)``: the FastAPI application of ``tradeexec serve``.

The routes (``routes.py``, ``webhook.py``, ``GET /events`` here) are thin over one
`TradingService`. Around them, one ASGI guard: the body size limit (413 before the body is
read), one access-log line per request (the route's template, never a secret from the
path), and the last net for bugs (500 ``internal_error``, no traceback in the answer).

With ``manage_service`` the app's lifespan starts the service (reconcile every account,
resume signals a crash left, the reconcile loop) and stops it; the change feed and the
metrics' venue-request observer run while the app does. With a ``replica``
(`ReplicaCoordinator`, ``tradeexec serve --replica-id``) the lifespan starts it instead of the
service's own start-up reconcile and loop: this replica reconciles only the accounts it holds.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query
from sse_starlette.sse import EventSourceResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradeexec import __version__
from tradeexec.api import routes, webhook
from tradeexec.api.feed import EVENT_TYPES, Feed
from tradeexec.api.problems import Problem, documented, install_handlers, problem_response
from tradeexec.api.routes import Read
from tradeexec.api.settings import ApiSettings
from tradeexec.logging_setup import register_secrets
from tradeexec.replica import ReplicaCoordinator
from tradeexec.service import TradingService
from tradeexec.telemetry import Telemetry

__all__ = ["create_app"]

log = logging.getLogger("tradeexec.api")


def create_app(
    service: TradingService,
    settings: ApiSettings,
    *,
    telemetry: Telemetry | None = None,
    manage_service: bool = True,
    poll_interval_s: float = 0.25,
    gauge_interval_s: float = 10.0,
    replica: ReplicaCoordinator | None = None,
) -> FastAPI:
    telemetry = telemetry or Telemetry()
    if replica is not None and replica.telemetry is None:
        replica.telemetry = telemetry  # lease changes and takeovers on this app's /metrics
    feed = Feed(
        service, telemetry, poll_interval_s=poll_interval_s, gauge_interval_s=gauge_interval_s
    )
    register_secrets(settings.secret_values())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        telemetry.attach()
        if manage_service and replica is not None:  # reconciles only what it holds
            service.reconcile_interval_s = 0
            await service.start(reconcile=False)
            await replica.start()
        elif manage_service:
            await service.start()
        await feed.start()
        try:
            yield
        finally:
            await feed.stop()
            if manage_service and replica is not None:
                await replica.stop()
            if manage_service:
                await service.stop()
            telemetry.detach()

    app = FastAPI(
        title="tradeexec",
        version=__version__,
        summary="Signals to orders on exchanges: TradingView webhook, REST, events, metrics",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.settings = settings
    app.state.telemetry = telemetry
    app.state.feed = feed
    app.state.replica = replica
    app.state.webhook = webhook.WebhookDoor(service, telemetry)
    install_handlers(app)
    app.include_router(routes.router)
    app.include_router(webhook.router)

    @app.get(
        "/events",
        tags=["events"],
        summary="Server-Sent Events: signals, decisions, orders, fills, events",
        response_class=EventSourceResponse,
        responses={
            200: {"description": "text/event-stream", "content": {"text/event-stream": {}}},
            **documented(
                {
                    401: "No or unknown bearer token",
                    403: "The token lacks the scope",
                    422: "Invalid request",
                }
            ),
        },
    )
    async def events(
        _: Read,
        types: Annotated[
            str | None, Query(description=f"Comma-separated: {', '.join(EVENT_TYPES)}")
        ] = None,
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> EventSourceResponse:
        wanted = None
        if types:
            wanted = frozenset(t.strip() for t in types.split(",") if t.strip())
            unknown = wanted - set(EVENT_TYPES)
            if unknown:
                raise Problem(422, "invalid_request", f"unknown event type(s) {sorted(unknown)}")
        after = (
            int(last_event_id)
            if last_event_id and last_event_id.isascii() and last_event_id.isdigit()
            else None
        )

        async def stream() -> AsyncIterator[dict[str, Any]]:
            async for item in feed.subscribe(after, wanted):
                yield {"id": str(item.seq), "event": item.type, "data": json.dumps(item.data)}

        return EventSourceResponse(stream(), ping=15)

    # MCP over streamable HTTP at /mcp (issue 11): the same service and bearer tokens; its
    # session managers run inside this app's lifespan (see tradeexec.mcp_server.http)
    from tradeexec.mcp_server.http import mount_mcp

    mount_mcp(app, service, settings)

    # the dashboard (issue 15): pages at /ui/ (and / leads there), signed in with an API token
    from tradeexec.api.dashboard import mount_dashboard

    mount_dashboard(app)
    app.add_middleware(Guard, max_body_bytes=settings.max_body_bytes)
    return app


class Guard:
    """Body size limit, access log without secrets, and the last net for bugs."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 0}
        limit = self.max_body_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (
            not (declared.isascii() and declared.isdigit()) or int(declared) > limit
        ):
            await _answer(send, 413, "body_too_large", f"the body exceeds {limit} bytes")
            self._log(scope, 413, started)
            return
        seen = {"bytes": 0}

        async def limited() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen["bytes"] += len(message.get("body", b""))
                if seen["bytes"] > limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except _TooLarge:
            if not status["code"]:
                await _answer(send, 413, "body_too_large", f"the body exceeds {limit} bytes")
                status["code"] = 413
        except Exception:
            log.exception("unhandled error in %s %s", scope.get("method"), _route(scope))
            if not status["code"]:
                await _answer(send, 500, "internal_error", "an internal error; it was logged")
                status["code"] = 500
        self._log(scope, status["code"], started)

    def _log(self, scope: Scope, status: int, started: float) -> None:
        ms = (time.perf_counter() - started) * 1000
        log.info("%s %s %s %.1f ms", scope.get("method"), _route(scope), status, ms)


class _TooLarge(Exception):
    pass


def _route(scope: Scope) -> str:
    """The path, with the webhook's secret segment masked."""
    path = str(scope.get("path", ""))
    if path.startswith("/webhooks/tradingview/"):
        return "/webhooks/tradingview/***"
    return path


async def _answer(send: Send, status: int, code: str, detail: str) -> None:
    response = problem_response(status, code, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})
