"""Fixtures for the store tests: a migrated SQLite file per test, and small record factories."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradeexec.store import Store, upgrade

_keys = itertools.count()


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated database file, copied per test (migrating each time is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    upgrade(f"sqlite:///{path}")  # the engine is disposed: the WAL is checkpointed into the file
    return path


@pytest.fixture
def db_url(tmp_path: Path, _migrated_template: Path) -> str:
    path = tmp_path / "store.db"
    shutil.copyfile(_migrated_template, path)
    return f"sqlite:///{path}"


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
