"""Where tradeexec keeps its state: one place, whatever the current directory.

The store holds the kill switch, the idempotency keys and every order; if its location
followed the working directory, a halted account would trade again from another directory
and a re-delivered signal would fill twice. So the store and the market cache live in one
stable data directory:

- ``$TRADEEXEC_HOME`` when set, else
- the platform's user data directory (``platformdirs``): ``~/.local/share/tradeexec`` on
  Linux (``$XDG_DATA_HOME/tradeexec``), ``~/Library/Application Support/tradeexec`` on
  macOS, ``%LOCALAPPDATA%\\tradeexec`` on Windows.

The store is ``tradeexec.db`` in it and the market cache ``markets/``. Overrides, strongest
first: ``--store`` on the command line, ``$TRADEEXEC_STORE_URL``, ``store_url`` in the config
file. A relative SQLite path in a config file is relative to that file (not to the current
directory); one given on the command line or in the environment is made absolute where it
is given. A bare path (no ``scheme://``) means a SQLite file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "HOME_ENV_VAR",
    "STORE_URL_ENV_VAR",
    "data_dir",
    "default_market_cache_dir",
    "default_store_url",
    "market_cache_dir_from",
    "sqlite_file",
    "store_url_from",
]

HOME_ENV_VAR = "TRADEEXEC_HOME"
STORE_URL_ENV_VAR = "TRADEEXEC_STORE_URL"
APP_NAME = "tradeexec"


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$TRADEEXEC_HOME``, else the platform's user data directory for tradeexec."""
    env = os.environ if env is None else env
    home = env.get(HOME_ENV_VAR, "").strip()
    if home:
        return Path(home).expanduser().resolve()
    import platformdirs

    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def default_store_url(env: Mapping[str, str] | None = None) -> str:
    """``$TRADEEXEC_STORE_URL`` (made absolute), else ``tradeexec.db`` in `data_dir`."""
    env = os.environ if env is None else env
    named = env.get(STORE_URL_ENV_VAR, "").strip()
    if named:
        return store_url_from(named, Path.cwd())
    return _sqlite_url(data_dir(env) / "tradeexec.db")


def default_market_cache_dir(env: Mapping[str, str] | None = None) -> str:
    return str(data_dir(env) / "markets")


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def store_url_from(value: str, base: Path) -> str:
    """A store URL with any relative SQLite file made absolute against ``base``.

    ``path/to/x.db`` and ``sqlite:///path/to/x.db`` both mean that file under ``base``;
    absolute paths, in-memory SQLite and other databases are returned unchanged.
    """
    value = value.strip()
    if "://" not in value:
        return _sqlite_url((base / Path(value).expanduser()).resolve())
    scheme, _, rest = value.partition("://")
    if not scheme.startswith("sqlite") or not rest.startswith("/"):
        return value
    database, query = rest[1:], ""
    if "?" in database:
        database, query = database.split("?", 1)
        query = "?" + query
    if database in ("", ":memory:") or database.startswith("file:"):
        return value
    path = Path(database).expanduser()
    if path.is_absolute():
        return f"{scheme}:///{path}{query}"
    return f"{scheme}:///{(base / path).resolve()}{query}"


def market_cache_dir_from(value: str, base: Path) -> str:
    """A market cache directory, relative ones made absolute against ``base``."""
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names, or None (in-memory SQLite or another database)."""
    scheme, _, rest = url.partition("://")
    if not scheme.startswith("sqlite") or not rest.startswith("/"):
        return None
    database = rest[1:].split("?", 1)[0]
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)
