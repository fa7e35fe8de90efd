"""The paper state's row lock on SQLite and PostgreSQL: writers from separate engines (as
separate processes have) take turns, each starting from what the previous one committed; on
PostgreSQL a lost race to insert the first row is a conflict to retry, never a lost write."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tradeexec.store.paper_state import PaperStateConflict, PaperStateStore


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
            start.wait(timeout=30)  # all at once: the first inserts race (no row to lock yet)
            done = 0
            while done < 10:
                try:
                    with store.locked("paper") as row:
                        count = 0 if row.current is None else int(row.current.state["count"])
                        row.save("paper", {"count": str(count + 1)})
                    done += 1
                except PaperStateConflict as conflict:  # lost the first insert: re-read
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
    assert snapshot.state == {"count": "40"}
    assert snapshot.version == 40
    assert len(conflicts) <= len(others) - 1  # only a lost first insert is a conflict
