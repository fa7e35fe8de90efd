"""Loading the configuration: ``config/exchange.yaml``, environment variables, defaults.

Where it comes from (first match wins):

1. the ``path`` given to ``load_config``;
2. the file named by ``$TRADEEXEC_CONFIG``;
3. ``./config/exchange.yaml`` if it exists;
4. the original plan's environment-only setup: ``BINANCE_API_KEY`` + ``BINANCE_API_SECRET``
   (+ optional ``BINANCE_TESTNET``) make one account named ``binance`` (the default);
5. one ``paper`` account, so a fresh checkout runs without keys.

In the file, any string may use ``${VAR}`` or ``${VAR:-default}`` (``$$`` is a literal
``$``); a missing variable without a default fails at start-up, naming the variable and the
line. Unknown keys fail the same way (``exchange.yaml:12: accounts.hl.api_sekret: unknown
key; did you mean 'api_secret'?``). The original plan's flat top-level ``binance:`` section
(``api_key``, ``api_secret``, ``testnet``) still works: it becomes the account ``binance``.

Secrets are ``SecretStr`` (never shown by repr, str or logs). A secret written literally in
the file is accepted with a warning that names the account and key, never the value.
``service.webhook_secret`` / ``service.api_token`` fall back to ``$TRADEEXEC_WEBHOOK_SECRET``
/ ``$TRADEEXEC_API_TOKEN`` when the configuration leaves them unset.

The store and the market cache never depend on the current directory: by default they live
in the user data directory (``$TRADEEXEC_HOME`` overrides it); ``$TRADEEXEC_STORE_URL``
beats the file's ``store_url``; relative paths in a file are relative to that file (see
``tradeexec.config.paths``).
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import types
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from tradeexec.config.models import (
    BUILTIN_ACCOUNT_TYPES,
    CCXT_CREDENTIAL_FIELDS,
    SECRET_FIELDS,
    AccountConfig,
    AppConfig,
    BuilderConfig,
    RiskConfig,
    RiskOverrides,
    ServiceConfig,
    SizingConfig,
    SizingMode,
    SizingOverrides,
    TokenConfig,
    WebhookSourceConfig,
)
from tradeexec.config.paths import (
    STORE_URL_ENV_VAR,
    default_market_cache_dir,
    default_store_url,
    market_cache_dir_from,
    store_url_from,
)
from tradeexec.errors import ConfigError

__all__ = [
    "BUILTIN_ACCOUNT_TYPES",
    "CCXT_CREDENTIAL_FIELDS",
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_PATH",
    "AccountConfig",
    "AppConfig",
    "BuilderConfig",
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

logger = logging.getLogger(__name__)

CONFIG_ENV_VAR = "TRADEEXEC_CONFIG"
DEFAULT_CONFIG_PATH = Path("config/exchange.yaml")

_SECRET_KEYS = (*SECRET_FIELDS, "passphrase")
_SERVICE_SECRET_ENV = {
    "webhook_secret": "TRADEEXEC_WEBHOOK_SECRET",
    "api_token": "TRADEEXEC_API_TOKEN",
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

Loc = tuple[str | int, ...]


class SecretInConfigWarning(UserWarning):
    """A credential is written literally in a config file instead of ``${ENV_VAR}``."""


# --------------------------------------------------------------------------- public API


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> AppConfig:
    """The application configuration (see the module docstring for where it comes from).

    ``env`` replaces ``os.environ`` for interpolation and the environment-only setups.
    Raises ``ConfigError`` with ``file:line: key: problem`` lines.
    """
    env = os.environ if env is None else env
    found = find_config_file(path, env)
    if found is not None:
        try:
            text = found.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{found}: cannot read the config file: {exc.strerror}") from None
        return load_config_text(text, env, source=str(found), base_dir=found.resolve().parent)
    legacy = _legacy_env_config(env)
    if legacy is not None:
        return legacy
    return default_config(env)


def find_config_file(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Path | None:
    """The config file ``load_config`` would read, or None for an environment/default setup.

    An explicitly named file (argument or ``$TRADEEXEC_CONFIG``) must exist.
    """
    env = os.environ if env is None else env
    named, origin = (path, "the path given") if path else (env.get(CONFIG_ENV_VAR), CONFIG_ENV_VAR)
    if named:
        candidate = Path(named).expanduser()
        if not candidate.is_file():
            raise ConfigError(f"config file {str(candidate)!r} (from {origin}) does not exist")
        return candidate
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def load_config_text(
    text: str,
    env: Mapping[str, str] | None = None,
    *,
    source: str = "<config>",
    base_dir: Path | None = None,
) -> AppConfig:
    """Parse, interpolate and validate YAML text; ``source`` names it in messages.

    Relative paths in it (a SQLite ``store_url``, ``market_cache_dir``) are relative to
    ``base_dir`` (the config file's directory; the current directory for text)."""
    env = os.environ if env is None else env
    data, lines = _parse_yaml(text, source)
    _warn_literal_secrets(data, lines, source)
    data = _interpolate(data, (), env, lines, source)
    data, lines = _lift_flat_binance_section(data, lines, source)
    if not data.get("accounts"):
        data["accounts"] = {"paper": {"type": "paper"}}
        data.setdefault("default_account", "paper")
    _service_secrets_from_env(data, env)
    _place_state(data, env, base_dir or Path.cwd())
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, lines, source)) from None


def default_config(env: Mapping[str, str] | None = None) -> AppConfig:
    """One paper account named ``paper``: what runs when nothing is configured."""
    data: dict[str, Any] = {
        "accounts": {"paper": {"type": "paper"}},
        "default_account": "paper",
    }
    env = os.environ if env is None else env
    _service_secrets_from_env(data, env)
    _place_state(data, env, Path.cwd())
    return AppConfig.model_validate(data)


# --------------------------------------------------------------------------- YAML + lines


def _parse_yaml(text: str, source: str) -> tuple[dict[str, Any], dict[Loc, int]]:
    """The document and the line (1-based) of every mapping key and sequence item in it."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}
        if node is not None:
            _record_lines(node, (), lines, source)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    if data is None:
        return {}, lines
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: the top level must be a mapping of keys to values")
    return data, lines


def _record_lines(node: yaml.Node, path: Loc, out: dict[Loc, int], source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                _record_lines(value_node, path, out, source)
                continue
            key = str(key_node.value)
            here = (*path, key)
            line = key_node.start_mark.line + 1
            if here in out:
                raise ConfigError(
                    f"{source}:{line}: {_dotted(here)}: duplicate key (first at line {out[here]})"
                )
            out[here] = line
            _record_lines(value_node, here, out, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out.setdefault((*path, index), item.start_mark.line + 1)
            _record_lines(item, (*path, index), out, source)


def _line_of(loc: Loc, lines: Mapping[Loc, int]) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


# --------------------------------------------------------------------------- ${ENV}

_TOKEN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}|\$\{[^}]*\}?")


def _interpolate(
    value: Any, loc: Loc, env: Mapping[str, str], lines: Mapping[Loc, int], source: str
) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*loc, str(k)), env, lines, source) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*loc, i), env, lines, source) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        token, name, has_default, default = match.group(0), *match.group(1, 2, 3)
        if token == "$$":
            return "$"
        where = f"{source}:{_line_of(loc, lines) or '?'}: {_dotted(loc)}"
        if name is None:
            raise ConfigError(
                f"{where}: malformed {token!r}; write ${{VAR}} or ${{VAR:-default}} ($$ for $)"
            )
        if name in env:
            return env[name]
        if has_default:
            return str(default)
        raise ConfigError(
            f"{where}: environment variable {name} is not set "
            f"(export it, or write ${{{name}:-default}})"
        )

    return _TOKEN.sub(replace, value)


def _warn_literal_secrets(data: Mapping[str, Any], lines: Mapping[Loc, int], source: str) -> None:
    sections: list[tuple[str, Loc, Any, tuple[str, ...]]] = []
    accounts = data.get("accounts")
    if isinstance(accounts, dict):
        sections += [
            (f"account {n!r}", ("accounts", str(n)), a, _SECRET_KEYS) for n, a in accounts.items()
        ]
    sections.append(("account 'binance'", ("binance",), data.get("binance"), _SECRET_KEYS))
    sections.append(("service", ("service",), data.get("service"), tuple(_SERVICE_SECRET_ENV)))
    for label, loc, section, keys in sections:
        if not isinstance(section, dict):
            continue
        for key in keys:
            value = section.get(key)
            if isinstance(value, str) and value.strip() and "${" not in value:
                line = _line_of((*loc, key), lines) or "?"
                message = (
                    f"{source}:{line}: {label} has a literal {key} in the config file; "
                    f"prefer ${{ENV_VAR}} so the secret stays out of files"
                )
                logger.warning(message)
                warnings.warn(message, SecretInConfigWarning, stacklevel=4)


# --------------------------------------------------------------------------- legacy layouts


def _lift_flat_binance_section(
    data: dict[str, Any], lines: dict[Loc, int], source: str
) -> tuple[dict[str, Any], dict[Loc, int]]:
    """The original plan's ``binance: {api_key, api_secret, testnet}`` -> account ``binance``."""
    section = data.get("binance")
    if section is None:
        return data, lines
    if not isinstance(section, dict):
        line = _line_of(("binance",), lines) or "?"
        raise ConfigError(f"{source}:{line}: binance: expected a mapping of settings")
    data = dict(data)
    del data["binance"]
    accounts = dict(data.get("accounts") or {})
    if "binance" in accounts:
        line = _line_of(("binance",), lines) or "?"
        raise ConfigError(
            f"{source}:{line}: binance: a top-level 'binance:' section and an account named "
            "'binance' both exist; keep one"
        )
    accounts["binance"] = {"type": "binance", **section}
    if len(accounts) == 1:
        data.setdefault("default_account", "binance")
    data["accounts"] = accounts
    lines = dict(lines)
    for loc, line in list(lines.items()):
        if loc[:1] == ("binance",):
            lines[("accounts", "binance", *loc[1:])] = line
    return data, lines


def _legacy_env_config(env: Mapping[str, str]) -> AppConfig | None:
    """The original plan's environment-only Binance setup, or None if it is not used."""
    key = env.get("BINANCE_API_KEY", "").strip()
    secret = env.get("BINANCE_API_SECRET", "").strip()
    if not key and not secret:
        return None
    if not (key and secret):
        missing = "BINANCE_API_SECRET" if key else "BINANCE_API_KEY"
        raise ConfigError(
            f"environment: {missing} is not set, but its partner is; set both (or neither)"
        )
    raw_testnet = env.get("BINANCE_TESTNET", "").strip().lower()
    if raw_testnet not in _TRUE | _FALSE:
        raise ConfigError(
            f"environment: BINANCE_TESTNET={raw_testnet!r} is not a boolean (true/false/1/0)"
        )
    data: dict[str, Any] = {
        "accounts": {
            "binance": {
                "type": "binance",
                "api_key": key,
                "api_secret": secret,
                "testnet": raw_testnet in _TRUE,
            }
        },
        "default_account": "binance",
    }
    _service_secrets_from_env(data, env)
    _place_state(data, env, Path.cwd())
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, {}, "environment")) from None


def _place_state(data: dict[str, Any], env: Mapping[str, str], base: Path) -> None:
    """The store and the market cache, never relative to the current directory (see
    tradeexec.config.paths): ``$TRADEEXEC_STORE_URL`` beats the file's ``store_url``;
    relative paths in the file are relative to the file."""
    store = data.get("store_url")
    if env.get(STORE_URL_ENV_VAR, "").strip() or not store:
        data["store_url"] = default_store_url(env)
    elif isinstance(store, str):
        data["store_url"] = store_url_from(store, base)
    cache = data.get("market_cache_dir")
    if not cache:
        data["market_cache_dir"] = default_market_cache_dir(env)
    elif isinstance(cache, str):
        data["market_cache_dir"] = market_cache_dir_from(cache, base)


def _service_secrets_from_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    service = data.get("service")
    if service is not None and not isinstance(service, dict):
        return  # let validation report it
    service = dict(service or {})
    changed = False
    for key, var in _SERVICE_SECRET_ENV.items():
        if not service.get(key) and env.get(var):
            service[key] = SecretStr(env[var])
            changed = True
    if changed:
        data["service"] = service


# --------------------------------------------------------------------------- messages


def _describe(exc: ValidationError, lines: Mapping[Loc, int], source: str) -> str:
    """pydantic's errors as ``file:line: key: problem`` lines. Input values are never
    included: they may be secrets."""
    out = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = _yaml_loc(tuple(err["loc"]), lines)
        line = _line_of(loc, lines)
        where = f"{source}:{line}" if line is not None else source
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
            allowed = _allowed_keys(loc[:-1])
            hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
            if hint:
                message += f"; did you mean {hint[0]!r}?"
            elif allowed:
                message += f" (allowed: {', '.join(allowed)})"
        elif err["type"] == "missing":
            message = "required key is missing"
        out.append(f"{where}: {_dotted(loc)}: {message}")
    return "\n".join(out)


def _yaml_loc(loc: Loc, lines: Mapping[Loc, int]) -> Loc:
    """Drop the parts of a pydantic location that are type tags, not YAML keys."""
    path: Loc = ()
    for part in loc:
        candidate = (*path, part)
        is_tag = isinstance(part, str) and (part[:1].isupper() or "[" in part)
        if candidate in lines or not is_tag:
            path = candidate
    return path


def _allowed_keys(loc: Loc) -> list[str]:
    """The keys a config section at ``loc`` accepts (for "did you mean" hints)."""
    current: Any = AppConfig
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        models = [a for a in get_args(annotation) if a is not type(None)]
        return models[0] if len(models) == 1 else annotation
    return annotation
