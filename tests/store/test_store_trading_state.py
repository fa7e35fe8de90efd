"""Per-account trading state: ACTIVE by default, set and read back, only known states."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum

import pytest

from tradeexec.store import Store


class TradingState(StrEnum):  # stands in for domain.TradingState (lower-case values)
    HALTED = "halted"


def test_an_account_never_set_is_active(store: Store) -> None:
    assert store.get_trading_state("main") == ("ACTIVE", None)


def test_setting_the_state_is_read_back_per_account(store: Store) -> None:
    store.set_trading_state("main", "HALTED", "daily loss limit reached")
    store.set_trading_state("sub", "REDUCING", "max drawdown")

    assert store.get_trading_state("main") == ("HALTED", "daily loss limit reached")
    assert store.get_trading_state("sub") == ("REDUCING", "max drawdown")
    assert store.get_trading_state("third") == ("ACTIVE", None)

    store.set_trading_state("main", "ACTIVE")
    assert store.get_trading_state("main") == ("ACTIVE", None)


def test_states_in_any_case_and_enums_are_stored_upper_case(store: Store) -> None:
    store.set_trading_state("main", TradingState.HALTED, "kill switch")
    store.set_trading_state("sub", " reducing ", "drawdown")

    state, _ = store.get_trading_state("main")
    assert type(state) is str
    assert state == "HALTED"
    assert store.get_trading_state("sub") == ("REDUCING", "drawdown")


def test_an_unknown_state_is_refused_and_nothing_changes(store: Store) -> None:
    store.set_trading_state("main", "REDUCING", "first")

    with pytest.raises(ValueError, match="unknown trading state 'PAUSED'"):
        store.set_trading_state("main", "PAUSED", "typo")

    assert store.get_trading_state("main") == ("REDUCING", "first")


def test_concurrent_first_writes_leave_one_consistent_state(store: Store) -> None:
    states = ["HALTED", "REDUCING", "ACTIVE", "HALTED", "REDUCING", "ACTIVE"]
    barrier = threading.Barrier(len(states))

    def set_state(n: int) -> None:
        barrier.wait()
        store.set_trading_state("fresh", states[n], f"writer {n}")

    with ThreadPoolExecutor(max_workers=len(states)) as pool:
        list(pool.map(set_state, range(len(states))))

    state, reason = store.get_trading_state("fresh")
    assert reason is not None
    assert state == states[int(reason.removeprefix("writer "))]
