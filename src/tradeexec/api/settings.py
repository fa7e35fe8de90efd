"""The service's resolved settings: tokens, webhook sources, address lists and limits.

Built from the config's ``service:`` section. What it does not configure is made here:

- no ``api_token`` and no ``tokens``: one token named ``default`` with every scope;
- no ``webhook_secret`` and no ``webhooks``: one TradingView source named ``default`` that
  may trade every account.

Those are generated on the first start and kept in ``service-secrets.json`` (mode 0600) in
the data directory, so TradingView alerts and scripts keep working across restarts. Only
these are ever shown (the banner of ``tradeexec serve``); configured secrets never are.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tradeexec.config import ServiceConfig
from tradeexec.config.service import TRADINGVIEW_IPS

__all__ = ["SCOPES", "ApiSettings", "Network", "Token", "WebhookSource"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Scope = Literal["read", "trade", "admin"]
#: each scope includes the ones before it
SCOPES: tuple[Scope, ...] = ("read", "trade", "admin")
_RANK = {scope: rank for rank, scope in enumerate(SCOPES)}
SECRETS_FILE = "service-secrets.json"


@dataclass(frozen=True)
class Token:
    name: str
    secret: str = field(repr=False)
    scopes: frozenset[str]

    def allows(self, scope: Scope) -> bool:
        """``admin`` includes ``trade``, which includes ``read``."""
        have = [_RANK[s] for s in self.scopes if s in _RANK]
        return bool(have) and max(have) >= _RANK[scope]


@dataclass(frozen=True)
class WebhookSource:
    name: str
    secret: str = field(repr=False)
    accounts: tuple[str, ...] | None = None  # None: every account
    account: str | None = None  # for alerts that name none

    def may_trade(self, account: str) -> bool:
        return self.accounts is None or account in self.accounts


@dataclass(frozen=True)
class ApiSettings:
    tokens: tuple[Token, ...]
    sources: tuple[WebhookSource, ...]
    allow_ips: tuple[Network, ...] | None = None
    trusted_proxies: tuple[Network, ...] = ()
    max_body_bytes: int = 65536
    entry_max_age_s: float = 60.0
    exit_max_age_s: float = 300.0
    # secrets made (or read back) here, not configured: the only ones ever shown
    generated: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(cls, service: ServiceConfig, state_dir: Path | None) -> ApiSettings:
        """The settings for ``service``; missing secrets come from (or go to) ``state_dir``
        (None: generated for this process only)."""
        tokens = [
            Token(name, t.token.get_secret_value(), frozenset(t.scopes))
            for name, t in service.tokens.items()
        ]
        if service.api_token is not None:
            tokens.append(Token("default", service.api_token.get_secret_value(), frozenset(SCOPES)))
        sources = [
            WebhookSource(
                name,
                w.secret.get_secret_value(),
                tuple(w.accounts) if w.accounts is not None else None,
                w.account,
            )
            for name, w in service.webhooks.items()
        ]
        if service.webhook_secret is not None:
            sources.append(WebhookSource("default", service.webhook_secret.get_secret_value()))
        generated: dict[str, str] = {}
        if not tokens or not sources:
            stored = _stored_secrets(state_dir)
            if not tokens:
                generated["api_token"] = stored["api_token"]
                tokens.append(Token("default", stored["api_token"], frozenset(SCOPES)))
            if not sources:
                generated["webhook_secret"] = stored["webhook_secret"]
                sources.append(WebhookSource("default", stored["webhook_secret"]))
        return cls(
            tokens=tuple(tokens),
            sources=tuple(sources),
            allow_ips=_networks(service.allow_ips) if service.allow_ips is not None else None,
            trusted_proxies=_networks(service.trusted_proxies),
            max_body_bytes=service.max_body_bytes,
            entry_max_age_s=service.entry_max_age_s,
            exit_max_age_s=service.exit_max_age_s,
            generated=generated,
        )

    def secret_values(self) -> list[str]:
        """Every token and webhook secret (for log redaction)."""
        return [t.secret for t in self.tokens] + [s.secret for s in self.sources]


def _networks(items: list[str]) -> tuple[Network, ...]:
    out: list[Network] = []
    for item in items:
        if item.strip().lower() == "tradingview":
            out += [ipaddress.ip_network(ip) for ip in TRADINGVIEW_IPS]
        else:
            out.append(ipaddress.ip_network(item.strip(), strict=False))
    return tuple(out)


def _stored_secrets(state_dir: Path | None) -> dict[str, str]:
    """The generated token and webhook secret, made on first use and kept 0600."""
    fresh = {
        "api_token": "te_" + secrets.token_urlsafe(24),
        "webhook_secret": "tv_" + secrets.token_urlsafe(24),
    }
    if state_dir is None:
        return fresh
    path = state_dir / SECRETS_FILE
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if all(isinstance(stored.get(k), str) and stored[k] for k in fresh):
            return {k: stored[k] for k in fresh}
    except FileNotFoundError:
        pass
    except (OSError, ValueError):
        pass  # unreadable or damaged: replace it
    state_dir.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(fresh, out)
    os.chmod(temp, 0o600)
    os.replace(temp, path)
    return fresh
