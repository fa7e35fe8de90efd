"""The ``service:`` section of the configuration (``tradeexec serve``): where it listens,
bearer tokens with scopes, named TradingView webhook sources, the source-address allow-list,
the trusted proxy, limits. Secrets not configured are generated on first start (see
``tradeexec.api.settings``). Re-exported by ``tradeexec.config.models``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from tradeexec.config.frozen import Frozen, blank_to_none

__all__ = ["TRADINGVIEW_IPS", "Scope", "ServiceConfig", "TokenConfig", "WebhookSourceConfig"]


Scope = Literal["read", "trade", "admin"]
#: TradingView's published webhook source addresses (``allow_ips: [tradingview]``)
TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
_MIN_SECRET = 12


class TokenConfig(Frozen):
    """A named bearer token for the REST API. ``read`` sees; ``trade`` also sends signals,
    cancels and closes; ``admin`` also halts and resumes."""

    token: SecretStr
    scopes: list[Scope] = Field(default_factory=lambda: list[Scope](["read"]), min_length=1)

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().strip()) < _MIN_SECRET:
            raise ValueError(f"must be at least {_MIN_SECRET} characters")
        return value


class WebhookSourceConfig(Frozen):
    """A named TradingView alert source: its shared secret and the accounts it may trade
    (``None``: every account). ``account`` is used when an alert names none."""

    secret: SecretStr
    accounts: list[str] | None = None
    account: str | None = None

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().strip()) < _MIN_SECRET:
            raise ValueError(f"must be at least {_MIN_SECRET} characters")
        return value

    @model_validator(mode="after")
    def _default_allowed(self) -> WebhookSourceConfig:
        if self.account and self.accounts is not None and self.account not in self.accounts:
            raise ValueError(f"account {self.account!r} is not one of its accounts")
        return self


class ServiceConfig(Frozen):
    """``tradeexec serve``. Secrets not configured are generated on first start and kept
    (0600) in the data directory; see tradeexec.api.settings."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    webhook_secret: SecretStr | None = None  # the 'default' TradingView source's secret
    api_token: SecretStr | None = None  # the 'default' bearer token (every scope)
    tokens: dict[str, TokenConfig] = Field(default_factory=dict)
    webhooks: dict[str, WebhookSourceConfig] = Field(default_factory=dict)
    # webhook source addresses allowed (IPs, CIDRs, 'tradingview'); None: any
    allow_ips: list[str] | None = None
    # X-Forwarded-For is believed only from these peers (your reverse proxy)
    trusted_proxies: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=65536, ge=1024, le=10_000_000)
    reconcile_interval_s: float = Field(default=5.0, ge=0)
    # a TradingView alert older than this (its "time") is refused: entries, then exits
    entry_max_age_s: float = Field(default=60, gt=0)
    exit_max_age_s: float = Field(default=300, gt=0)

    @field_validator("webhook_secret", "api_token", mode="before")
    @classmethod
    def _blank_secret(cls, value: Any) -> Any:
        return blank_to_none(value)

    @field_validator("allow_ips", "trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str] | None) -> list[str] | None:
        import ipaddress

        for item in value or []:
            if item.strip().lower() == "tradingview":
                continue
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network (or 'tradingview')"
                ) from None
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> ServiceConfig:
        if self.api_token is not None and "default" in self.tokens:
            raise ValueError("'api_token' is the token named 'default': give one of them")
        if self.webhook_secret is not None and "default" in self.webhooks:
            raise ValueError("'webhook_secret' is the source named 'default': give one of them")
        return self

    def secret_values(self) -> list[str]:
        found = [s for s in (self.webhook_secret, self.api_token) if s is not None]
        found += [t.token for t in self.tokens.values()]
        found += [w.secret for w in self.webhooks.values()]
        return [s.get_secret_value() for s in found]
