"""The ``mcp:`` section of the configuration: the MCP server (``tradeexec mcp``, ``/mcp`` in
the service; see ``tradeexec.mcp_server``). An account's own ``mcp:`` setting (off, read,
trade, live) is on `AccountConfig`. Re-exported by ``tradeexec.config.models``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from pydantic import Field

from tradeexec.config.frozen import Frozen
from tradeexec.config.service import Scope

__all__ = ["McpConfig", "McpLimits"]


class McpLimits(Frozen):
    """What MCP may send to an account, on top of its risk limits (None: no extra limit)."""

    max_order_notional: Decimal | None = Field(default=None, gt=0)
    max_orders_per_minute: int | None = Field(default=None, ge=1)


class McpConfig(McpLimits):
    """The MCP server. The limits here apply to every account; ``per_account`` replaces
    them key by key."""

    read_only: bool = False  # lists no write tool and refuses every one
    accounts: list[str] | None = None  # the only accounts MCP sees (None: all not 'off')
    stdio_scope: Scope = "trade"  # a stdio client's scope; halt / resume need admin
    confirm_ttl_s: float = Field(default=60, gt=0, le=600)  # preview_order's tokens
    per_account: dict[str, McpLimits] = Field(default_factory=dict)

    def limits_for(self, account: str) -> McpLimits:
        merged = {k: getattr(self, k) for k in McpLimits.model_fields}
        own = self.per_account.get(account)
        if own is not None:
            merged.update({k: getattr(own, k) for k in own.model_fields_set})
        return McpLimits(**merged)

    def check_accounts(self, configured: Iterable[str]) -> None:
        """Every account named here is configured (ValueError otherwise)."""
        unknown = {*(self.accounts or []), *self.per_account} - set(configured)
        if unknown:
            raise ValueError(f"mcp: unknown account(s) {', '.join(sorted(unknown))}")
