"""Fixtures for the store tests: a migrated database per test, and small record factories.

Every test that takes ``db_url`` or ``store`` runs twice: on a SQLite file and on a database
of a real PostgreSQL server the session starts (``tradeexec_postgres``, from the
``tradeexec.testing`` plugin). ``empty_db_url`` is an unmigrated database on each.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from tradeexec.store import Store, upgrade
from tradeexec.store.models import Base
from tradeexec.testing import PostgresServer

_keys = itertools.count()


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated database file, copied per test (migrating each time is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    upgrade(f"sqlite:///{path}")  # the engine is disposed: the WAL is checkpointed into the file
    return path


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        path = tmp_path / "store.db"
        shutil.copyfile(request.getfixturevalue("_migrated_template"), path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("_postgres_store")
    # the tests' own database, emptied before each (much faster than a new database each)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
    engine.dispose()
    yield url


_TABLES = ", ".join(Base.metadata.tables)


@pytest.fixture(scope="session")
def _postgres_store(tradeexec_postgres: PostgresServer) -> str:
    return tradeexec_postgres.new_store_database()[1]


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server: PostgresServer = request.getfixturevalue("tradeexec_postgres")
    name, url = server.new_database("empty")
    yield url
    server.drop_database(name)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store.from_url(db_url)
    yield store
    store.close()


@pytest.fixture
def make_signal(store: Store) -> Callable[..., int]:
    """Record a signal with sensible defaults; returns its id."""

    def make(**overrides: Any) -> int:
        fields: dict[str, Any] = {
            "idempotency_key": f"key-{next(_keys)}",
            "account": "main",
            "symbol": "BTC/USDT:USDT",
            "source": "test",
            "payload": {"side": "buy"},
            "confidence": Decimal("0.83"),
        }
        fields.update(overrides)
        signal_id, created = store.record_signal(**fields)
        assert created
        return signal_id

    return make


@pytest.fixture
def make_order(store: Store) -> Callable[..., int]:
    """Record an order intent with sensible defaults; returns its id."""

    def make(**overrides: Any) -> int:
        fields: dict[str, Any] = {
            "account": "main",
            "symbol": "BTC/USDT:USDT",
            "client_order_id": f"cid-{next(_keys)}",
            "role": "entry",
            "side": "buy",
            "order_type": "market",
            "quantity": Decimal("0.010"),
        }
        fields.update(overrides)
        return store.record_order_intent(**fields)

    return make
