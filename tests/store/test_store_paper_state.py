"""The paper state's rows on SQLite and PostgreSQL: writers from separate engines (as separate
processes have) take turns, each on top of what the previous one committed (a write on an
older version is a conflict, never a lost write); a change writes only the orders and fills it
names, and a load puts the account back together; the migration splits a whole-state row."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from tradeexec.store import upgrade
from tradeexec.store.db import alembic_config
from tradeexec.store.paper_state import PaperChange, PaperStateConflict, PaperStateStore


@pytest.fixture
def states(db_url: str) -> Iterator[PaperStateStore]:
    store = PaperStateStore.open(db_url)
    yield store
    store.close()


def test_writers_on_separate_engines_take_turns_and_lose_no_increment(
    states: PaperStateStore, db_url: str
) -> None:
    others = [PaperStateStore.open(db_url) for _ in range(4)]
    errors: list[BaseException] = []
    conflicts: list[PaperStateConflict] = []
    start = threading.Barrier(len(others))

    def bump(store: PaperStateStore) -> None:
        try:
            start.wait(timeout=30)  # all at once: the first inserts race (no row yet)
            done = 0
            while done < 10:
                seen = store.load("paper")
                version, count = (0, 0) if seen is None else (seen.version, seen.state["count"])
                try:
                    with store.transaction("paper") as tx:
                        tx.save("paper", version, PaperChange({"count": count + 1}))
                    done += 1
                except PaperStateConflict as conflict:  # another wrote since our load
                    conflicts.append(conflict)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bump, args=(store,)) for store in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for store in others:
        store.close()

    assert errors == []
    snapshot = states.load("paper")
    assert snapshot is not None
    assert (snapshot.state["count"], snapshot.version) == (40, 40)  # every increment kept


def _order(oid: int, status: str = "NEW") -> dict[str, Any]:
    return {"order_id": oid, "status": status}


def _fill(tid: int) -> dict[str, Any]:
    return {"trade_id": tid, "price": "67500.1"}


def test_a_change_writes_its_parts_and_a_load_joins_them(states: PaperStateStore) -> None:
    with states.transaction("p") as tx:
        tx.save("binance", 0, PaperChange({"n": 1}, [_order(1), _order(2)], (), [_fill(10)]))
    with states.transaction("p") as tx:
        change = PaperChange({"n": 2}, [_order(3)], [_order(1, "FILLED")], [_fill(11)])
        assert tx.save("binance", 1, change) == 2

    loaded = states.load("p")

    assert loaded is not None and loaded.version == 2 and loaded.venue == "binance"
    assert loaded.state == {
        "n": 2,
        "orders": [_order(1, "FILLED"), _order(2), _order(3)],  # in id order
        "fills": [_fill(10), _fill(11)],
    }


def test_a_change_drops_old_orders_and_fills(states: PaperStateStore) -> None:
    with states.transaction("p") as tx:
        orders = [_order(i, "FILLED") for i in (1, 2, 3)]
        tx.save("binance", 0, PaperChange({}, orders, (), [_fill(7), _fill(8)]))
    with states.transaction("p") as tx:
        tx.save("binance", 1, PaperChange({}, [_order(4)], (), [_fill(9)], [1, 2], 8))

    loaded = states.load("p")

    assert loaded is not None
    assert [o["order_id"] for o in loaded.state["orders"]] == [3, 4]
    assert [f["trade_id"] for f in loaded.state["fills"]] == [8, 9]


def test_a_failed_change_writes_nothing(states: PaperStateStore) -> None:
    with states.transaction("p") as tx:
        tx.save("binance", 0, PaperChange({"n": 1}, [_order(1)]))
    with pytest.raises(RuntimeError), states.transaction("p") as tx:
        tx.save("binance", 1, PaperChange({"n": 2}, [_order(2)], [_order(1, "FILLED")]))
        raise RuntimeError("the process fails before its commit")

    loaded = states.load("p")

    assert loaded is not None and loaded.version == 1
    assert loaded.state == {"n": 1, "orders": [_order(1)], "fills": []}


def test_delete_forgets_every_part(states: PaperStateStore) -> None:
    with states.transaction("p") as tx:
        tx.save("binance", 0, PaperChange({}, [_order(1)], (), [_fill(1)]))
    assert states.delete("p")
    assert states.load("p") is None and states.version("p") == 0
    with states.transaction("p") as tx:  # and it starts afresh, with the same ids again
        tx.save("binance", 0, PaperChange({}, [_order(1)], (), [_fill(1)]))


def test_the_migration_splits_a_whole_state_row_and_joins_it_back(empty_db_url: str) -> None:
    whole = {
        "format": 1,
        "account": {"account_id": "paper", "wallet_balance": "9990.5"},
        "orders": [_order(1_000_001, "FILLED"), _order(1_000_002)],
        "fills": [_fill(5_000_001)],
        "marks": {"BTC": "67500"},
        "next_order_id": 1_000_003,
        "next_trade_id": 5_000_002,
    }
    upgrade(empty_db_url, "0004")  # a store written before this change
    engine = create_engine(empty_db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO paper_state (account, version, venue, state, updated_at) "
                    "VALUES ('paper', 7, 'binance', :state, CURRENT_TIMESTAMP)"
                ),
                {"state": json.dumps(whole)},
            )
        upgrade(empty_db_url)
        states = PaperStateStore(engine)

        loaded = states.load("paper")

        assert loaded is not None and loaded.version == 7  # the same version: nothing moved
        assert loaded.state == whole
        with engine.connect() as connection:
            core = connection.execute(text("SELECT state FROM paper_state")).scalar_one()
        assert "orders" not in str(core)  # the parts live in their own rows

        command.downgrade(alembic_config(empty_db_url), "0004")
        with engine.connect() as connection:
            back = connection.execute(text("SELECT state FROM paper_state")).scalar_one()
        assert (json.loads(back) if isinstance(back, str) else back) == whole
    finally:
        engine.dispose()
