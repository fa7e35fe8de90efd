"""`PostgresServer`: a throwaway PostgreSQL server for tests, started from the distribution's
own programs (``initdb``, ``pg_ctl``) in a temporary directory and removed afterwards.

It listens on a unix socket in its own directory only (no TCP port, nothing to collide with),
trusts local connections, and trades durability for speed (``fsync=off``): it lives for one
test session. Each test takes a fresh database, copied from a migrated template
(``CREATE DATABASE ... TEMPLATE``), which is much faster than migrating each time::

    with PostgresServer() as server:
        template = server.create_database("template_store")
        upgrade(template)
        url = server.create_database("t1", template="template_store")

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` user (which
the distribution's package creates) through ``runuser``. The programs are found on ``PATH``
or under ``/usr/lib/postgresql/<version>/bin`` (Debian and Ubuntu), or in
``$TRADEEXEC_PG_BIN``. Missing programs raise `PostgresUnavailable` saying what to install:
a test that needs the server fails, it is never skipped.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["PostgresServer", "PostgresUnavailable", "find_postgres_bin"]

_INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl) were not found. Install the "
    "distribution's package (Debian/Ubuntu: `apt-get install -y postgresql`; `make test` "
    "does it when run as root), or point TRADEEXEC_PG_BIN at the directory holding them."
)
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresUnavailable(RuntimeError):
    """The server cannot be started here (programs missing, no ``postgres`` user as root)."""


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.parent.name))


def find_postgres_bin() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl`` (the newest version when several)."""
    configured = os.environ.get("TRADEEXEC_PG_BIN")
    candidates: list[Path] = [Path(configured)] if configured else []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=_version_key)
    candidates.extend(path.parent for path in reversed(found))
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    raise PostgresUnavailable(_INSTALL_HINT)


class PostgresServer:
    """A private PostgreSQL server (see the module docstring); `start` / `stop`, or ``with``."""

    def __init__(self, *, bin_dir: Path | None = None, max_connections: int = 200) -> None:
        self.bin_dir = bin_dir or find_postgres_bin()
        self.max_connections = max_connections
        self.root: Path | None = None
        self._as_postgres = os.geteuid() == 0
        self._names = itertools.count(1)
        self._template: str | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def socket_dir(self) -> Path:
        if self.root is None:
            raise RuntimeError("the server is not started")
        return self.root / "socket"

    def start(self) -> None:
        if self._as_postgres and shutil.which("runuser") is None:
            raise PostgresUnavailable("running as root needs `runuser` (util-linux)")
        root = Path(tempfile.mkdtemp(prefix="tradeexec-pg-"))
        self.root = root
        (root / "socket").mkdir()
        if self._as_postgres:
            try:
                shutil.chown(root, "postgres", "postgres")
                shutil.chown(root / "socket", "postgres", "postgres")
            except LookupError as exc:
                shutil.rmtree(root, ignore_errors=True)
                self.root = None
                raise PostgresUnavailable(
                    "as root the server runs as the `postgres` user, which does not exist "
                    f"({exc}); the distribution's postgresql package creates it"
                ) from exc
        try:
            self._run(
                "initdb", "-D", str(root / "data"), "--auth=trust", "--username=postgres",
                "--encoding=UTF8", "--no-locale", "--no-sync",
            )  # fmt: skip
            options = " ".join(
                [
                    f"-k {root / 'socket'}",
                    "-c listen_addresses=''",
                    f"-c max_connections={self.max_connections}",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                ]
            )
            self._run(
                "pg_ctl", "start", "-w", "-t", "60", "-D", str(root / "data"),
                "-l", str(root / "server.log"), "-o", options,
            )  # fmt: skip
        except BaseException:
            self._remove()
            raise

    def stop(self) -> None:
        """Stop the server and remove its files."""
        if self.root is None:
            return
        data = str(self.root / "data")
        try:
            self._run("pg_ctl", "stop", "-w", "-t", "30", "-m", "fast", "-D", data)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "stop", "-m", "immediate", "-D", data, check=False)
        self._remove()

    def _remove(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log (for a failure message)."""
        if self.root is None or not (self.root / "server.log").exists():
            return ""
        return "\n".join((self.root / "server.log").read_text().splitlines()[-lines:])

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        command = [str(self.bin_dir / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if check and done.returncode != 0:
            raise PostgresUnavailable(
                f"{program} failed ({done.returncode}): {done.stderr.strip() or done.stdout}"
                f"\n{self.log_tail()}"
            )

    # ------------------------------------------------------------------ databases
    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3) for ``database`` on this server."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create ``name`` (a copy of ``template`` when given, which must have no open
        connection); its URL."""
        _check_name(name)
        statement = f'CREATE DATABASE "{name}"'
        if template is not None:
            _check_name(template)
            statement += f' TEMPLATE "{template}"'
            if self.version() >= 150000:  # a file copy: for a small database much faster
                statement += " STRATEGY FILE_COPY"
        self.execute(statement)
        return self.url(name)

    def new_database(self, prefix: str = "t") -> tuple[str, str]:
        """A new empty database: ``(name, url)``."""
        name = f"{prefix}_{next(self._names)}"
        return name, self.create_database(name)

    def new_store_database(self, prefix: str = "store") -> tuple[str, str]:
        """A new database holding the store's schema at the latest migration: ``(name,
        url)``. The first call migrates a template; later ones copy it."""
        from tradeexec.store.db import upgrade  # only where a store is wanted

        if self._template is None:
            template = f"template_{next(self._names)}"
            upgrade(self.create_database(template))  # the engine is disposed afterwards
            self._template = template
        name = f"{prefix}_{next(self._names)}"
        return name, self.create_database(name, template=self._template)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, closing whatever connections are still open on it."""
        _check_name(name)
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def version(self) -> int:
        """The server's version number (``150018`` for 15.18)."""
        return int(self.execute("SHOW server_version_num") or 0)

    def execute(self, statement: str) -> str | None:
        """Run one statement outside a transaction on the ``postgres`` database; the first
        column of its first row, if it returns rows."""
        import psycopg  # only where a server is used

        with psycopg.connect(
            host=str(self.socket_dir), user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            cursor = connection.execute(statement.encode())
            row = cursor.fetchone() if cursor.description else None
            return None if row is None else str(row[0])


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
