"""What the MCP server enforces on top of the risk engine, whatever the client asks.

- **Which accounts MCP sees**: ``mcp.accounts`` (an allow-list; None: every account) minus
  those whose own config says ``mcp: off``. A hidden account is answered as unknown.
- **What MCP may do there** (`access_of`): paper accounts and the simulator trade with no
  extra configuration; any other account is read-only unless its config says ``mcp: live``,
  and then every new order needs a confirmation token (``mcp: trade`` is not enough for a
  live account: it stays read-only). An ``api_url`` on this machine (127.0.0.1, localhost,
  ::1) counts as the simulator: if you proxy a real venue through localhost, say
  ``mcp: live`` or ``mcp: read`` for that account.
- **Confirmation tokens** (`Confirmations`): minted by ``preview_order`` for the exact
  normalised arguments and account (a hash), single use, short-lived (``confirm_ttl_s``);
  any change of arguments, a second use or a late use is refused. Tokens live in this
  process's memory: with several replicas, preview and place on the same one.
- **MCP limits per account** (`McpLimiter`): notional per order and orders per minute,
  counted for what MCP sends, on top of the account's risk limits.

Every refusal is an `McpRefusal`: a stable reason code, one line, and what would pass.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal
from urllib.parse import urlparse

from tradeexec.config.models import AccountConfig, AppConfig, McpLimits
from tradeexec.execution.signals import Signal
from tradeexec.numeric import decimal_text

__all__ = [
    "Access",
    "AccountKind",
    "Confirmations",
    "McpLimiter",
    "McpRefusal",
    "access_of",
    "account_kind",
    "fingerprint",
]

AccountKind = Literal["paper", "simulator", "live"]
#: off: hidden; read: reads only; trade: trades; confirm: trades with a confirmation token
Access = Literal["off", "read", "trade", "confirm"]
_LOCAL_HOSTS = frozenset({"localhost", "localhost.localdomain"})
_MAX_TOKENS = 10_000


class McpRefusal(Exception):
    """A tool call refused: ``code`` (stable), one line, and what would pass (if known)."""

    def __init__(self, code: str, message: str, would_pass: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.would_pass = code, message, would_pass

    def line(self) -> str:
        hint = f"; would pass: {self.would_pass}" if self.would_pass else ""
        return f"{self.code}: {self.message}{hint}"


def account_kind(config: AccountConfig) -> AccountKind:
    """paper (type paper), simulator (an api_url on this machine), else live."""
    if config.type == "paper":
        return "paper"
    if config.api_url is not None:
        host = (urlparse(config.api_url).hostname or "").lower()
        if host in _LOCAL_HOSTS:
            return "simulator"
        try:
            if ipaddress.ip_address(host).is_loopback:
                return "simulator"
        except ValueError:
            pass
    return "live"


def access_of(config: AccountConfig) -> Access:
    setting = config.mcp
    if setting in ("off", "read"):
        return setting
    if setting == "live":
        return "confirm"
    return "read" if account_kind(config) == "live" else "trade"


def visible_accounts(config: AppConfig) -> list[str]:
    allowed = config.mcp.accounts
    return [
        name
        for name, account in config.accounts.items()
        if (allowed is None or name in allowed) and access_of(account) != "off"
    ]


def fingerprint(signal: Signal, account: str, symbol: str) -> str:
    """A hash of what decides an order: the normalised arguments, the account and the
    venue's symbol (so "BTC" and "BTC/USDT:USDT" are the same order). Not the idempotency
    key, the comment or the time."""
    fields: dict[str, Any] = {
        "account": account,
        "symbol": symbol,
        "side": signal.side.value if signal.side else None,
        "order_type": signal.order_type.value,
        "leverage": signal.leverage,
        "confidence": signal.confidence,
        "reduce_only": signal.reduce_only,
        "reverse": signal.reverse,
        "sizing_mode": signal.sizing_mode,
    }
    for name in ("target_position", "quantity", "notional", "price", "stop_loss", "take_profit"):
        value = getattr(signal, name)
        fields[name] = decimal_text(value) if value is not None else None
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Minted:
    account: str
    fingerprint: str
    expires: float
    used: bool = False


class Confirmations:
    """preview_order's confirmation tokens: single use, short-lived, bound to a fingerprint."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._tokens: dict[str, _Minted] = {}

    def mint(self, account: str, fingerprint: str) -> str:
        now = self._clock()
        # forget tokens expired a while ago (a late use is still told "expired" for one TTL)
        for token in [t for t, m in self._tokens.items() if m.expires + self.ttl_s < now]:
            del self._tokens[token]
        while len(self._tokens) >= _MAX_TOKENS:
            del self._tokens[next(iter(self._tokens))]
        token = "ct_" + secrets.token_urlsafe(18)
        self._tokens[token] = _Minted(account, fingerprint, now + self.ttl_s)
        return token

    def redeem(self, token: str | None, account: str, fingerprint: str) -> None:
        """Use ``token`` for this order, or raise `McpRefusal` (nothing is used up then,
        except by a match)."""
        again = (
            f"call preview_order with exactly these arguments, then place_order with its "
            f"confirmation_token within {self.ttl_s:g} s"
        )
        if not token:
            raise McpRefusal(
                "confirmation_required",
                f"account {account!r} is live: place_order needs a confirmation_token",
                again,
            )
        minted = self._tokens.get(token)
        if minted is None:
            raise McpRefusal("confirmation_invalid", "unknown confirmation_token", again)
        if minted.used:
            raise McpRefusal("confirmation_used", "this confirmation_token was used", again)
        if self._clock() > minted.expires:
            raise McpRefusal("confirmation_expired", "this confirmation_token expired", again)
        if minted.account != account or minted.fingerprint != fingerprint:
            raise McpRefusal(
                "confirmation_mismatch",
                "this confirmation_token was minted for other arguments or another account",
                again,
            )
        minted.used = True


class McpLimiter:
    """Per-account MCP limits: orders per minute (a sliding window) and notional per order."""

    def __init__(self, config: AppConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}

    def limits(self, account: str) -> McpLimits:
        return self._config.mcp.limits_for(account)

    def check_rate(self, account: str) -> None:
        limit = self.limits(account).max_orders_per_minute
        if limit is None:
            return
        window = self._window(account)
        if len(window) >= limit:
            wait = max(1, int(window[0] + 60 - self._clock()) + 1)
            raise McpRefusal(
                "mcp_order_rate",
                f"{len(window)} orders through MCP in the last minute (limit {limit})",
                f"retry in {wait} s",
            )

    def note_order(self, account: str) -> None:
        self._window(account).append(self._clock())

    def _window(self, account: str) -> deque[float]:
        window = self._sent.setdefault(account, deque())
        cutoff = self._clock() - 60
        while window and window[0] <= cutoff:
            window.popleft()
        return window

    def check_notional(
        self, account: str, quantity: Decimal, price: Decimal, step: Callable[[Decimal], Decimal]
    ) -> None:
        """``quantity`` at ``price`` within the MCP notional limit; ``step`` rounds a
        quantity down to the venue's precision (for what would pass)."""
        limit = self.limits(account).max_order_notional
        if limit is None or price <= 0:
            return
        notional = quantity * price
        if notional <= limit:
            return
        raise McpRefusal(
            "mcp_max_order_notional",
            f"{_money(notional)} > {_money(limit)} (MCP limit for {account!r})",
            f"quantity ≤ {decimal_text(max_quantity(limit, price, step))}",
        )


def max_quantity(limit: Decimal, price: Decimal, step: Callable[[Decimal], Decimal]) -> Decimal:
    """The largest quantity on the venue's grid whose notional at ``price`` is ≤ ``limit``."""
    return step((limit / price).quantize(Decimal("1e-12"), rounding=ROUND_DOWN))


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_DOWN):,}".replace(",", " ")
