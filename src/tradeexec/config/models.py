"""The shape of tradeexec's configuration: frozen pydantic models that reject unknown keys.

Loading (YAML, ``${ENV}`` interpolation, legacy layouts, error messages with file lines)
lives in ``tradeexec.config``, which re-exports everything here. Every default below is
also documented, with its reason, in ``config/exchange.yaml``.

Fractions are fractions: ``0.05`` means 5 % (``slippage``, ``price_band_pct``,
``risk_pct``, ``max_drawdown_pct``, ``percent_equity`` sizing).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from tradeexec.config.frozen import Frozen, blank_to_none
from tradeexec.config.mcp import McpConfig, McpLimits
from tradeexec.config.paths import default_market_cache_dir, default_store_url
from tradeexec.config.risk import (
    RiskConfig,
    RiskOverrides,
    SizingConfig,
    SizingMode,
    SizingOverrides,
)
from tradeexec.config.service import (
    ServiceConfig,
    TokenConfig,
    WebhookSourceConfig,
)
from tradeexec.config.venues import (
    BUILTIN_ACCOUNT_TYPES,
    account_types,
    misplaced,
    misplaced_message,
)
from tradeexec.domain import MarginMode
from tradeexec.errors import ConfigError

__all__ = [
    "BUILTIN_ACCOUNT_TYPES",
    "CCXT_CREDENTIAL_FIELDS",
    "SECRET_FIELDS",
    "AccountConfig",
    "AppConfig",
    "BuilderConfig",
    "McpConfig",
    "McpLimits",
    "RiskConfig",
    "RiskOverrides",
    "ServiceConfig",
    "SizingConfig",
    "SizingMode",
    "SizingOverrides",
    "TokenConfig",
    "WebhookSourceConfig",
]

# ``binance`` is Binance USD-M futures. Third-party packages may add types through the
# ``tradeexec.traders`` entry-point group (see tradeexec.exchanges.factory).

# ccxt's credential names (``Exchange.requiredCredentials``) -> our config keys
CCXT_CREDENTIAL_FIELDS = {
    "apiKey": "api_key",
    "secret": "api_secret",
    "uid": "uid",
    "accountId": "account_id",
    "login": "login",
    "password": "password",
    "twofa": "twofa",
    "privateKey": "private_key",
    "walletAddress": "wallet_address",
    "token": "token",
}
# never printed or logged; shown as '***'
SECRET_FIELDS = ("api_key", "api_secret", "private_key", "password", "twofa", "token")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# --------------------------------------------------------------------------- accounts


class BuilderConfig(Frozen):
    """A Hyperliquid builder fee you chose to pay (``fee`` is a fraction: 0.0001 = 1 bp)."""

    address: str
    fee: Decimal = Field(ge=0, le=Decimal("0.001"))

    @field_validator("address")
    @classmethod
    def _is_address(cls, value: str) -> str:
        if not _ADDRESS.match(value):
            raise ValueError("must be a 0x-prefixed 40-hex-digit address")
        return value


class AccountConfig(Frozen):
    """One trading account on one venue."""

    type: str
    exchange_id: str | None = None  # type 'ccxt': any ccxt exchange id
    venue: Literal["binance", "hyperliquid"] | None = None  # type 'paper': markets to mimic
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    wallet_address: str | None = None  # Hyperliquid main account (public)
    private_key: SecretStr | None = None  # Hyperliquid (API-)wallet key
    vault_address: str | None = None
    # the rest of ccxt's credentials (its ``requiredCredentials``), for type 'ccxt' accounts:
    # OKX, KuCoin and Bitget need a passphrase (ccxt calls it ``password``), some an ``uid``
    password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("password", "passphrase")
    )
    uid: str | None = None
    account_id: str | None = None
    login: str | None = None
    twofa: SecretStr | None = None
    token: SecretStr | None = None
    testnet: bool = False
    demo: bool = False
    api_url: str | None = None  # base URL override, e.g. the simulator
    leverage: int | None = Field(default=None, ge=1)
    margin_mode: MarginMode | None = None
    hedge_mode: bool = False
    symbols: list[str] | None = None  # allow-list; None = every symbol
    # opt-in failover: when this account's venue is unreachable before anything was sent,
    # the signal executes on this other account (with its own risk checks and symbols)
    fallback: str | None = None
    slippage: Decimal = Field(default=Decimal("0.05"), gt=0, lt=1)
    builder: BuilderConfig | None = None
    referrer: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)  # passed to ccxt as-is
    timeout_ms: int = Field(default=10_000, gt=0)  # ccxt request timeout (ccxt venues)
    starting_balance: Decimal = Field(default=Decimal(10000), gt=0)  # paper
    feed: str = "walk"  # paper: walk | replay:<csv> | live:<ccxt id>
    seed: int = 0  # paper
    risk: RiskOverrides | None = None
    # off, read, trade (paper / simulator), live (tokens): see tradeexec.mcp_server.guards
    mcp: Literal["off", "read", "trade", "live"] | None = None

    @field_validator(*SECRET_FIELDS, mode="before")
    @classmethod
    def _blank_secret(cls, value: Any) -> Any:
        return blank_to_none(value)

    @field_validator(
        "wallet_address", "vault_address", "exchange_id", "api_url", "referrer", "uid",
        "account_id", "login", mode="before",
    )  # fmt: skip
    @classmethod
    def _blank_text(cls, value: Any) -> Any:
        return blank_to_none(value)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        value = value.strip().lower()
        if value in BUILTIN_ACCOUNT_TYPES:
            return value
        # registered in code (register_trader) or by a package's entry point
        known_types = account_types()
        if value in known_types:
            return value
        known = ", ".join(sorted(known_types))
        raise ValueError(f"unknown account type {value!r}; known: {known}")

    @field_validator("wallet_address", "vault_address")
    @classmethod
    def _is_address(cls, value: str | None, info: ValidationInfo) -> str | None:
        # other ccxt venues have other address formats: ccxt checks those
        generic = info.data.get("type") == "ccxt"
        if value is not None and not generic and not _ADDRESS.match(value):
            raise ValueError("must be a 0x-prefixed 40-hex-digit address")
        return value

    @field_validator("api_url")
    @classmethod
    def _is_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// base URL")
        return value.rstrip("/")

    @field_validator("feed")
    @classmethod
    def _is_feed(cls, value: str) -> str:
        kind, _, arg = value.partition(":")
        if value == "walk" or (kind in ("replay", "live") and arg):
            return value
        raise ValueError("must be 'walk', 'replay:<csv path>' or 'live:<ccxt id>'")

    @model_validator(mode="after")
    def _consistent(self) -> AccountConfig:
        if self.type == "ccxt" and not self.exchange_id:
            raise ValueError("type 'ccxt' needs 'exchange_id' (any ccxt exchange id)")
        wrong = misplaced(self.type, self._set_away_from_default())
        if wrong:
            raise ValueError(misplaced_message(self.type, wrong))
        if self.testnet and self.demo:
            raise ValueError("choose one of 'testnet' and 'demo'")
        if (self.api_key is None) != (self.api_secret is None):
            raise ValueError("'api_key' and 'api_secret' go together; one is missing")
        if self.type == "hyperliquid" and self.private_key and not self.wallet_address:
            raise ValueError("'private_key' needs 'wallet_address' (the main account address)")
        return self

    def _set_away_from_default(self) -> list[str]:
        fields = type(self).model_fields
        return [
            name
            for name in self.model_fields_set
            if name in fields and getattr(self, name) != fields[name].get_default()
        ]

    @property
    def has_credentials(self) -> bool:
        return any(getattr(self, f) is not None for f in CCXT_CREDENTIAL_FIELDS.values())

    def ccxt_credentials(self) -> dict[str, str]:
        """The credentials set, under ccxt's names (``apiKey``, ``secret``, ``password``...)."""
        out = {}
        for ccxt_name, field in CCXT_CREDENTIAL_FIELDS.items():
            value = getattr(self, field)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value:
                out[ccxt_name] = str(value)
        return out


# --------------------------------------------------------------------------- app


class AppConfig(Frozen):
    accounts: dict[str, AccountConfig] = Field(default_factory=dict)
    default_account: str | None = None
    # never relative to the working directory: see tradeexec.config.paths
    store_url: str = Field(default_factory=default_store_url)
    service: ServiceConfig = ServiceConfig()
    market_cache_dir: str = Field(default_factory=default_market_cache_dir)
    market_cache_ttl_s: int = Field(default=3600, ge=0)
    risk: RiskConfig = RiskConfig()
    mcp: McpConfig = McpConfig()

    @model_validator(mode="after")
    def _mcp_accounts_known(self) -> AppConfig:
        self.mcp.check_accounts(self.accounts)
        return self

    @model_validator(mode="after")
    def _consistent(self) -> AppConfig:
        for name in self.accounts:
            if not _ACCOUNT_NAME.match(name):
                raise ValueError(f"account name {name!r}: use letters, digits, '_', '-' and '.'")
        if self.default_account is not None and self.default_account not in self.accounts:
            raise ValueError(
                f"default_account {self.default_account!r} is not one of the accounts "
                f"({', '.join(self.accounts) or 'none configured'})"
            )
        for source, hook in self.service.webhooks.items():
            unknown = [
                a for a in [*(hook.accounts or []), hook.account] if a and a not in self.accounts
            ]
            if unknown:
                raise ValueError(
                    f"service.webhooks.{source}: unknown account(s) {', '.join(unknown)}"
                )
        for name, account in self.accounts.items():
            if account.fallback is not None and (
                account.fallback == name or account.fallback not in self.accounts
            ):
                raise ValueError(
                    f"account {name!r}: fallback {account.fallback!r} must be another of the "
                    f"accounts ({', '.join(a for a in self.accounts if a != name) or 'none'})"
                )
        # An account's partial risk section is only checkable against the defaults it
        # completes; report problems at the account's own keys.
        problems: list[InitErrorDetails] = []
        for name, account in self.accounts.items():
            try:
                self.risk.merged(account.risk)
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    message = str(err["msg"]).removeprefix("Value error, ")
                    problems.append(
                        InitErrorDetails(
                            type=PydanticCustomError(
                                "risk_merge",
                                "{message} (with the top-level risk defaults merged in)",
                                {"message": message},
                            ),
                            loc=("accounts", name, "risk", *err["loc"]),
                            input=None,
                        )
                    )
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self

    @property
    def default_account_name(self) -> str | None:
        """``default_account``, else the first account, else None."""
        return self.default_account or next(iter(self.accounts), None)

    def account(self, name: str | None = None) -> AccountConfig:
        """An account by name (the default one for None); ``ConfigError`` if unknown."""
        key = name or self.default_account_name
        if key is None or key not in self.accounts:
            raise ConfigError(
                f"unknown account {key!r}; configured: {', '.join(self.accounts) or 'none'}"
            )
        return self.accounts[key]

    def risk_for(self, account: str | None = None) -> RiskConfig:
        """The effective limits of an account: the defaults with its own overrides."""
        return self.risk.merged(self.account(account).risk)

    def secret_values(self) -> list[str]:
        """Every secret this configuration holds (for log redaction; never print them)."""
        found = [
            value.get_secret_value()
            for account in self.accounts.values()
            for value in (getattr(account, f) for f in SECRET_FIELDS)
            if value is not None
        ]
        found += self.service.secret_values()
        for account in self.accounts.values():
            found += _secret_option_values(account.options)
        password = re.search(r"://[^:/@]+:([^@]+)@", self.store_url)
        if password:
            found.append(password.group(1))
        return found

    def redacted(self) -> dict[str, Any]:
        """Everything, JSON-ready, with every secret shown as ``'***'`` (None when unset)
        and any password in ``store_url`` masked: safe to print or log."""
        data = self.model_dump(mode="json")
        data["store_url"] = re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", self.store_url)
        svc = data["service"]
        for key in ("webhook_secret", "api_token"):
            svc[key] = None if getattr(self.service, key) is None else "***"
        for token in svc["tokens"].values():
            token["token"] = "***"
        for source in svc["webhooks"].values():
            source["secret"] = "***"
        for name, account in self.accounts.items():
            out = data["accounts"][name]
            for key in SECRET_FIELDS:
                out[key] = None if getattr(account, key) is None else "***"
            out["options"] = _redact_options(out["options"])
            if account.risk is not None:  # only what the account sets itself
                out["risk"] = account.risk.model_dump(mode="json", exclude_unset=True)
        return data


_SECRET_WORDS = re.compile(r"secret|password|passphrase|token|private|apikey|api_key", re.I)


def _redact_options(value: Any) -> Any:
    """ccxt options may carry credentials (``password``, ``privateKey``...): mask them."""
    if isinstance(value, dict):
        return {
            k: "***" if _SECRET_WORDS.search(str(k)) and v is not None else _redact_options(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_options(v) for v in value]
    return value


def _secret_option_values(value: Any) -> list[str]:
    """The values `_redact_options` would mask (ccxt options may carry credentials)."""
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if _SECRET_WORDS.search(str(k)) and isinstance(v, str | int):
                found.append(str(v))
            else:
                found += _secret_option_values(v)
    elif isinstance(value, list):
        for v in value:
            found += _secret_option_values(v)
    return found
