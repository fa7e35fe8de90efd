"""Fills are recorded once per exchange trade id; daily PnL; latest positions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from tradeexec.store import Store

DAY = datetime(2026, 6, 2, tzinfo=UTC)


def _fill(store: Store, trade_id: str, **overrides: Any) -> bool:
    fields: dict[str, Any] = {
        "account": "main",
        "symbol": "BTC/USDT:USDT",
        "exchange_trade_id": trade_id,
        "side": "buy",
        "quantity": Decimal("0.004"),
        "price": Decimal("67500.1"),
    }
    fields.update(overrides)
    return store.record_fill(**fields)


def test_a_trade_id_is_recorded_once_per_account(
    store: Store, make_order: Callable[..., int]
) -> None:
    order_id = make_order()

    assert _fill(store, "t-1", order_id=order_id, fee=Decimal("0.1")) is True
    assert _fill(store, "t-1", order_id=order_id, fee=Decimal("99")) is False
    assert _fill(store, "t-1", account="sub") is True

    [fill] = store.fills_for_order(order_id)
    assert (fill.exchange_trade_id, fill.fee, fill.quantity, fill.price) == (
        "t-1",
        Decimal("0.1"),
        Decimal("0.004"),
        Decimal("67500.1"),
    )


def test_concurrent_reports_of_one_trade_record_it_once(
    store: Store, make_order: Callable[..., int]
) -> None:
    order_id = make_order()
    barrier = threading.Barrier(6)

    def report(_: int) -> bool:
        barrier.wait()
        return _fill(store, "t-race", order_id=order_id)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(report, range(6)))

    assert sorted(results) == [False] * 5 + [True]
    assert len(store.fills_for_order(order_id)) == 1


def test_a_fill_for_an_unknown_order_is_an_error_not_a_duplicate(store: Store) -> None:
    with pytest.raises(IntegrityError):
        _fill(store, "t-orphan", order_id=31337)


def test_fills_of_an_order_come_by_time(store: Store, make_order: Callable[..., int]) -> None:
    order_id = make_order()
    _fill(store, "late", order_id=order_id, at=DAY + timedelta(seconds=2))
    _fill(store, "early", order_id=order_id, at=DAY + timedelta(seconds=1))
    _fill(store, "elsewhere", order_id=make_order())

    assert [f.exchange_trade_id for f in store.fills_for_order(order_id)] == ["early", "late"]


def test_daily_realized_pnl_sums_pnl_minus_fees_since_the_start(store: Store) -> None:
    _fill(store, "yesterday", realized_pnl=Decimal("500"), at=DAY - timedelta(microseconds=1))
    _fill(store, "open", fee=Decimal("0.27"), at=DAY)  # opening fill: fee, no PnL
    _fill(
        store, "win", realized_pnl=Decimal("12.5"), fee=Decimal("0.3"), at=DAY + timedelta(hours=1)
    )
    _fill(store, "loss", realized_pnl=Decimal("-20.125"), at=DAY + timedelta(hours=2))
    _fill(store, "other", account="sub", realized_pnl=Decimal("1000"), at=DAY + timedelta(hours=3))

    assert store.daily_realized_pnl("main", DAY) == Decimal("-8.195")
    assert store.daily_realized_pnl("main", DAY + timedelta(hours=2)) == Decimal("-20.125")
    assert store.daily_realized_pnl("nobody", DAY) == 0


def test_daily_realized_pnl_compares_instants_across_timezones(store: Store) -> None:
    _fill(store, "utc-10", realized_pnl=Decimal("5"), at=DAY.replace(hour=10))
    start = datetime(2026, 6, 2, 19, 0, tzinfo=timezone(timedelta(hours=9)))  # 10:00 UTC

    assert store.daily_realized_pnl("main", start) == Decimal("5")
    assert store.daily_realized_pnl("main", start + timedelta(microseconds=1)) == 0


def test_latest_positions_take_the_newest_snapshot_per_symbol(store: Store) -> None:
    snap = store.record_position_snapshot
    snap(account="main", symbol="BTC", quantity=Decimal("0.01"), at=DAY + timedelta(minutes=2))
    snap(account="main", symbol="BTC", quantity=Decimal("0.03"), at=DAY + timedelta(minutes=1))
    snap(
        account="main",
        symbol="ETH",
        quantity=Decimal("-1.5"),
        entry_price=Decimal("3000"),
        mark_price=Decimal("2990"),
        unrealized_pnl=Decimal("15"),
        at=DAY,
    )
    snap(account="main", symbol="SOL", quantity=Decimal("4"), at=DAY)
    snap(account="main", symbol="SOL", quantity=Decimal("0.000"), at=DAY + timedelta(minutes=5))
    snap(account="sub", symbol="BTC", quantity=Decimal("9"), at=DAY + timedelta(hours=1))

    open_positions = store.latest_positions("main")
    with_flat = store.latest_positions("main", include_flat=True)

    assert [(p.symbol, p.quantity) for p in open_positions] == [
        ("BTC", Decimal("0.01")),
        ("ETH", Decimal("-1.5")),
    ]
    assert (open_positions[1].entry_price, open_positions[1].unrealized_pnl) == (
        Decimal("3000"),
        Decimal("15"),
    )
    assert [(p.symbol, p.quantity) for p in with_flat][-1] == ("SOL", Decimal("0.000"))
    assert store.latest_positions("nobody") == []
