"""Configuration: where it comes from and what it may say.

- ``loading``: ``load_config`` (``--config``, ``$TRADEEXEC_CONFIG``, ``config/exchange.yaml``,
  the legacy Binance environment variables, else one paper account), ``${ENV}``
  interpolation, and ``file:line`` errors with "did you mean";
- ``models``: the accounts (every venue type), risk and sizing settings, the application;
- ``service`` / ``mcp``: the service's and the MCP server's sections;
- ``venues``: which settings belong to which venue type, and the account type names;
- ``paths``: where state lives (the store, the market cache) whatever the directory.

The configuration imports nothing from the layers above it: the account type names live here
(``venues``), and the exchange layer's `register_trader` adds a name to them.
"""

from tradeexec.config.loading import (
    BUILTIN_ACCOUNT_TYPES,
    CCXT_CREDENTIAL_FIELDS,
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_PATH,
    AccountConfig,
    AppConfig,
    BuilderConfig,
    RiskConfig,
    RiskOverrides,
    SecretInConfigWarning,
    ServiceConfig,
    SizingConfig,
    SizingMode,
    SizingOverrides,
    TokenConfig,
    WebhookSourceConfig,
    default_config,
    find_config_file,
    load_config,
    load_config_text,
)
from tradeexec.config.mcp import McpConfig, McpLimits

__all__ = [
    "BUILTIN_ACCOUNT_TYPES",
    "CCXT_CREDENTIAL_FIELDS",
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_PATH",
    "AccountConfig",
    "AppConfig",
    "BuilderConfig",
    "McpConfig",
    "McpLimits",
    "RiskConfig",
    "RiskOverrides",
    "SecretInConfigWarning",
    "ServiceConfig",
    "SizingConfig",
    "SizingMode",
    "SizingOverrides",
    "TokenConfig",
    "WebhookSourceConfig",
    "default_config",
    "find_config_file",
    "load_config",
    "load_config_text",
]
