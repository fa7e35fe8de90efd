"""Migrations build exactly the models' schema, on SQLite and PostgreSQL; SQLite connections
get the settings we rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, inspect, text
from sqlalchemy.exc import IntegrityError

from tradeexec.store import Store, create_engine_for, upgrade
from tradeexec.store.db import MIGRATIONS_DIR, alembic_config
from tradeexec.store.models import Base


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _schema_diffs(url: str, metadata: MetaData) -> list[object]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_upgrade_on_an_empty_database_creates_exactly_the_models_schema(
    empty_db_url: str,
) -> None:
    url = empty_db_url
    upgrade(url)

    assert _schema_diffs(url, Base.metadata) == []
    engine = create_engine_for(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_schema_comparison_would_notice_a_model_the_migration_lacks(empty_db_url: str) -> None:
    # Guards the test above: the comparison is live, not vacuously empty.
    url = empty_db_url
    upgrade(url)
    drifted = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["orders"].append_column(Column("leverage", Integer, nullable=True))

    diffs = _schema_diffs(url, drifted)

    assert [d[0] for d in diffs if isinstance(d, tuple)] == ["add_column"]


def test_upgrade_twice_is_harmless_and_lands_on_the_single_head(empty_db_url: str) -> None:
    url = empty_db_url
    upgrade(url)
    upgrade(url)

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    assert len(heads) == 1
    assert current == tuple(heads)


def test_downgrade_to_base_removes_every_table(empty_db_url: str) -> None:
    url = empty_db_url
    upgrade(url)

    command.downgrade(alembic_config(url), "base")

    engine = create_engine_for(url)
    try:
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_are_found_inside_the_package_without_an_ini_file() -> None:
    config = alembic_config()

    assert config.config_file_name is None
    assert Path(config.get_main_option("script_location") or "") == MIGRATIONS_DIR
    assert (MIGRATIONS_DIR / "env.py").is_file()


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    store = Store.from_url(sqlite_url(tmp_path / "pragmas.db"))
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    store.close()


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(IntegrityError):
        store.record_decision(signal_id=424242, approved=True, detail="no such signal")


def test_database_refuses_an_unknown_order_role(store: Store) -> None:
    insert = text(
        "INSERT INTO orders (account, symbol, client_order_id, role, side, order_type, quantity,"
        " reduce_only, status, filled_quantity, created_at, updated_at) VALUES ('main', 'BTC',"
        " 'c1', 'hedge', 'buy', 'market', '1', false, 'pending_submit', '0',"
        " '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')"
    )
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(insert)


def test_default_url_is_a_file_under_dot_tradeexec_created_on_demand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    store = Store.from_url()
    try:
        store.set_trading_state("main", "HALTED", "test")
    finally:
        store.close()

    assert (tmp_path / ".tradeexec" / "tradeexec.db").is_file()


def test_parent_directories_of_a_sqlite_file_are_created(tmp_path: Path) -> None:
    engine = create_engine_for(sqlite_url(tmp_path / "a" / "b" / "store.db"))
    engine.dispose()

    assert (tmp_path / "a" / "b").is_dir()
