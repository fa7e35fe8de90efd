"""The MCP server over streamable HTTP, at ``/mcp`` in the service (``tradeexec serve``).

Callers authenticate as on the REST API: a bearer token from the service's config, with
scopes. The token's highest scope picks the server: ``read`` lists the read tools and
``preview_order``; ``trade`` adds placing, cancelling and closing; ``admin`` adds halt and
resume (``mcp.read_only`` caps every token at ``read``). No token, or an unknown one: 401
(a problem document, as every error of the service).

The transport is stateless (every request stands alone, JSON answers): any replica can
answer any request. Confirmation tokens are minted in the process: with several replicas
behind a balancer, pin preview and place of a live order to one replica (sticky sessions)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from tradeexec.api.auth import find_by_secret
from tradeexec.api.problems import problem_response
from tradeexec.api.settings import SCOPES, ApiSettings, Token
from tradeexec.mcp_server.finite import finite_body
from tradeexec.mcp_server.server import build_server
from tradeexec.mcp_server.tools import McpTools
from tradeexec.service import TradingService

__all__ = ["McpHttp", "mount_mcp"]

PATH = "/mcp"


class McpHttp:
    """An ASGI app: the caller's bearer token, then the MCP server for its scope."""

    def __init__(self, tools: McpTools, tokens: tuple[Token, ...]) -> None:
        self.tokens = tokens
        self.managers: dict[str, StreamableHTTPSessionManager] = {}
        for scope in SCOPES:
            server = build_server(
                tools,
                scope,
                stateless_http=True,
                json_response=True,
                # bearer tokens are the protection: a browser cannot send them on its own,
                # and the service may be reached by any host name (a reverse proxy)
                transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            )
            server.streamable_http_app()  # creates its session manager
            self.managers[scope] = server.session_manager

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the session managers (once: a manager cannot be restarted)."""
        async with AsyncExitStack() as stack:
            for manager in self.managers.values():
                await stack.enter_async_context(manager.run())
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = self._caller(scope)
        if token is None:
            response = problem_response(401, "unauthorized", "a valid bearer token is required")
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        level = next(s for s in reversed(SCOPES) if token.allows(s))
        if scope.get("method") == "POST":
            receive = await _finite_receive(receive)
        await self.managers[level].handle_request(scope, receive, send)

    def _caller(self, scope: Scope) -> Token | None:
        headers = dict(scope.get("headers") or [])
        kind, _, secret = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if kind.lower() != "bearer" or not secret.strip():
            return None
        return find_by_secret(self.tokens, secret.strip(), lambda t: t.secret)


async def _finite_receive(receive: Receive) -> Receive:
    """The request body read whole (the service's guard bounds it), with non-finite number
    tokens spelt as text (`finite_body`), replayed to the SDK; after it, the real stream
    (a disconnect is still seen)."""
    chunks: list[bytes] = []
    early: Message | None = None
    while True:
        message = await receive()
        if message["type"] != "http.request":
            early = message  # a disconnect before the body ended: passed on as it came
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    first: Message = {"type": "http.request", "body": finite_body(body) or body}
    pending: list[Message] = [first] if early is None else [first, early]

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def mount_mcp(app: FastAPI, service: TradingService, settings: ApiSettings) -> McpHttp:
    """Serve MCP at ``/mcp`` in ``app``, running its session managers in the app's
    lifespan (after the service has started, stopped before it stops)."""
    mcp = McpHttp(McpTools(service), settings.tokens)
    app.router.routes.append(Route(PATH, endpoint=mcp, include_in_schema=False))  # ASGI app
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(parent: Any) -> AsyncIterator[Any]:
        async with inner(parent) as state, mcp.running():
            yield state

    app.router.lifespan_context = lifespan
    return mcp
