"""Engines, sessions and schema migrations for the store.

SQLite is the default (one file, no server); any SQLAlchemy URL works, PostgreSQL included.
For SQLite every connection gets:

- WAL journal mode, so readers never block the writer (the webhook keeps answering while the
  pipeline writes);
- `foreign_keys=ON` (SQLite ignores foreign keys otherwise);
- a busy timeout, so a second writer waits for the lock instead of failing at once;
- transactions begun by SQLAlchemy rather than by the sqlite3 module, which would otherwise
  begin them lazily at the first write. Write transactions use `BEGIN IMMEDIATE` (see
  `WRITE_OPTIONS`): a deferred transaction that reads and then writes cannot wait for the lock
  and fails with "database is locked" if another connection wrote in between.

Durability is chosen per write transaction (`DURABLE` / `RELAXED` below). A durable commit
(the default, and always for one that records an order's intent before it is sent) is synced
to the disk before it returns: SQLite `synchronous=FULL`, PostgreSQL `synchronous_commit=on`.
A relaxed commit (what reconciliation can rebuild: acknowledgements, events, a signal's end)
skips that sync (SQLite `synchronous=NORMAL` in WAL mode, PostgreSQL `SET LOCAL
synchronous_commit = off`): a process crash loses nothing, a power cut may lose the last
relaxed commits, never a durable one. In both a durable commit also makes every earlier
relaxed commit durable: SQLite's WAL is one append-only file and a FULL commit fsyncs all of
it (frames already checkpointed into the database were synced by the checkpoint);
PostgreSQL's WAL is flushed up to the durable commit's record, which follows theirs.

Migrations run from code (`upgrade`), with no alembic.ini, so they work from an installed
package as well as from a checkout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

DEFAULT_URL = "sqlite:///./.tradeexec/tradeexec.db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Execution option read by the SQLite `begin` hook; the Store binds its writing sessions to
# `engine.execution_options(**WRITE_OPTIONS)`.
_IMMEDIATE_OPTION = "tradeexec_begin_immediate"
WRITE_OPTIONS: dict[str, Any] = {_IMMEDIATE_OPTION: True}
# Execution option read by the `begin` hooks: False relaxes this transaction's commit (see the
# module docstring); absent or True, the commit is synced to the disk.
_DURABLE_OPTION = "tradeexec_durable"
DURABLE: dict[str, Any] = {**WRITE_OPTIONS, _DURABLE_OPTION: True}
RELAXED: dict[str, Any] = {**WRITE_OPTIONS, _DURABLE_OPTION: False}
# the SQLite connection's current `synchronous`, kept in its `info` so a PRAGMA is only sent
# when a transaction wants the other one
_SYNC_KEY = "tradeexec_synchronous"


def is_sqlite_memory(url: URL) -> bool:
    """True for a private in-memory SQLite database (`sqlite://`, `sqlite:///:memory:`)."""
    if url.get_backend_name() != "sqlite":
        return False
    database = url.database or ""
    return database in ("", ":memory:") or (
        database.startswith("file:") and url.query.get("mode") == "memory"
    )


def _sqlite_file(url: URL) -> Path | None:
    """The database file a SQLite URL points at, or None for memory / `file:` URIs."""
    database = url.database or ""
    if is_sqlite_memory(url) or database.startswith("file:"):
        return None
    return Path(database)


def create_engine_for(
    url: str | URL = DEFAULT_URL, *, busy_timeout_ms: int = 5000, echo: bool = False
) -> Engine:
    """An Engine for `url`, configured for the store (see the module docstring for SQLite).

    A SQLite file's parent directory is created if missing. A private in-memory SQLite
    database gets a single shared connection (`StaticPool`); the `Store` serialises access to
    it, since one connection cannot carry two transactions at once.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pre-ping: a pooled connection the server has closed (a restart, a fail-over, the
        # idle-in-transaction timeout a paused replica meets) is replaced at checkout instead
        # of failing the call that drew it
        engine = create_engine(parsed, echo=echo, pool_pre_ping=True)

        @event.listens_for(engine, "begin")
        def _relax(conn: Connection) -> None:
            if conn.get_execution_options().get(_DURABLE_OPTION, True) is False:
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")

        return engine

    kwargs: dict[str, Any] = {}
    if is_sqlite_memory(parsed):
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    else:
        path = _sqlite_file(parsed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, echo=echo, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
        # Let SQLAlchemy emit BEGIN (in `_begin` below) instead of sqlite3's lazy begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA synchronous=FULL")
        finally:
            cursor.close()
        connection_record.info[_SYNC_KEY] = "FULL"

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        immediate = options.get(_IMMEDIATE_OPTION, False)
        if immediate:  # a write: its commit synced to the disk unless it asked otherwise
            wanted = "FULL" if options.get(_DURABLE_OPTION, True) else "NORMAL"
            info = conn.connection.info
            if info.get(_SYNC_KEY) != wanted:  # outside a transaction, as SQLite requires
                conn.exec_driver_sql(f"PRAGMA synchronous={wanted}")
                info[_SYNC_KEY] = wanted
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose loaded objects stay readable after commit (no refresh on access)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic Config built in code: migrations ship inside the package, no ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url is not None:
        rendered = url if isinstance(url, str) else url.render_as_string(hide_password=False)
        # ConfigParser interpolation treats '%' specially (URL-encoded passwords contain it).
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def upgrade(url: str | URL | Engine = DEFAULT_URL, revision: str = "head") -> None:
    """Bring the database at `url` (or behind an Engine) up to `revision` (default: latest).

    Pass the Engine itself for an in-memory SQLite database; a URL would open a new, empty one.
    """
    if isinstance(url, Engine):
        config = alembic_config()
        with url.execution_options(**WRITE_OPTIONS).begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        return
    engine = create_engine_for(url)
    try:
        upgrade(engine, revision)
    finally:
        engine.dispose()
