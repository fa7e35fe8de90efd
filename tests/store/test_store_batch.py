"""Several writes as one transaction, and the order-rate count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tradeexec.store import Store


def _intent(store: Store, cid: str, signal_id: int, role: str = "entry") -> int:
    return store.record_order_intent(
        account="main", symbol="BTC/USDT:USDT", client_order_id=cid, role=role,
        side="buy", order_type="market", quantity=Decimal("0.1"), signal_id=signal_id,
    )  # fmt: skip


def test_a_batch_commits_its_writes_together(
    store: Store, db_url: str, make_signal: Callable[..., int]
) -> None:
    signal_id = make_signal()
    other = Store.from_url(db_url, migrate=False)
    try:
        with store.batch():
            store.record_decision(signal_id, True, None, "ok")
            order_id = _intent(store, "b-1", signal_id)
            # not visible to another connection before the batch commits
            assert other.get_order(order_id) is None
        assert other.get_order(order_id) is not None
        assert len(other.decisions_for_signal(signal_id)) == 1
    finally:
        other.close()


def test_a_failing_batch_leaves_nothing_behind(
    store: Store, make_signal: Callable[..., int]
) -> None:
    signal_id = make_signal()
    with pytest.raises(RuntimeError), store.batch():
        store.record_decision(signal_id, True, None, "ok")
        _intent(store, "b-2", signal_id)
        raise RuntimeError("crash between two writes")
    assert store.decisions_for_signal(signal_id) == []
    assert store.get_order_by_client_id("main", "b-2") is None


def test_count_orders_since_counts_by_time_and_role(
    store: Store, make_signal: Callable[..., int]
) -> None:
    signal_id = make_signal()
    now = datetime.now(UTC)
    _intent(store, "c-1", signal_id)
    _intent(store, "c-2", signal_id, role="stop_loss")
    assert store.count_orders_since("main", now - timedelta(seconds=60)) == 2
    assert store.count_orders_since("main", now - timedelta(seconds=60), ["entry"]) == 1
    assert store.count_orders_since("main", datetime.now(UTC) + timedelta(seconds=1)) == 0
    assert store.count_orders_since("other", now - timedelta(seconds=60)) == 0
