"""The account-state table: who may move an account where (issue 9)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tradeexec.domain import TradingState
from tradeexec.execution.account_state import RECONCILER_PREFIX, AccountStates, Mover, allowed
from tradeexec.execution.journal import Journal
from tradeexec.store.repository import Store

A, R, H = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED


def test_nothing_automatic_lifts_the_kill_switch() -> None:
    for new, by in itertools.product((A, R), Mover):
        assert allowed(H, new, by) is (by is Mover.OPERATOR)


def test_the_reconciler_lifts_only_what_it_set() -> None:
    assert allowed(R, A, Mover.RECONCILER, RECONCILER_PREFIX + "untracked position")
    assert not allowed(R, A, Mover.RECONCILER, "entries paused by the operator")
    assert not allowed(A, H, Mover.RECONCILER)  # it reduces, it never halts


@pytest.mark.parametrize("by", [Mover.OPERATOR, Mover.RISK, Mover.PROTECTION])
def test_halting_is_for_the_operator_the_limits_and_protection(by: Mover) -> None:
    assert all(allowed(current, H, by) for current in (A, R, H))


async def test_moves_are_durable_guarded_and_recorded(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 's.db'}")
    states = AccountStates(Journal(store))

    assert await states.move("a", R, Mover.RECONCILER, RECONCILER_PREFIX + "mismatch")
    assert await states.move("a", H, Mover.OPERATOR, "drill", cancel_orders=True)
    assert not await states.move("a", A, Mover.RECONCILER, RECONCILER_PREFIX + "gone")
    assert store.get_trading_state("a") == ("HALTED", "drill")
    kinds = [(e.kind, e.data["by"], e.data["to"]) for e in store.events(account="a")]
    assert kinds == [
        ("account_reducing", "reconciler", "reducing"),
        ("account_halted", "operator", "halted"),
    ]
    assert store.events(account="a")[-1].data["cancel_orders"] is True
    store.close()
