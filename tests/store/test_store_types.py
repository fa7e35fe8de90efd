"""Money is exact and time is aware UTC, end to end through the Store."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tradeexec.store import Store
from tradeexec.testing import PostgresServer

_ids = itertools.count()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    # Module-scoped: hypothesis runs many examples per test, one migrated database serves them.
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("types") / "store.db"
        store = Store.from_url(f"sqlite:///{path}")
    else:
        server: PostgresServer = request.getfixturevalue("tradeexec_postgres")
        store = Store.from_url(server.new_store_database("types")[1])
    yield store
    store.close()


exact_decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: abs(d.adjusted()) < 60
)


@settings(max_examples=200, deadline=None)
@given(quantity=exact_decimals, price=exact_decimals)
@example(quantity=Decimal("0.000123456789012345678"), price=Decimal("67500.10"))
@example(quantity=Decimal("123456789012345678901234567890.123456789"), price=Decimal("1E+30"))
@example(quantity=Decimal("-0.00"), price=Decimal("0.1000000000000000055511151231257827"))
def test_decimals_round_trip_exactly(
    shared_store: Store, quantity: Decimal, price: Decimal
) -> None:
    order_id = shared_store.record_order_intent(
        account="main",
        symbol="BTC/USDT:USDT",
        client_order_id=f"rt-{next(_ids)}",
        role="entry",
        side="buy",
        order_type="limit",
        quantity=quantity,
        price=price,
    )
    order = shared_store.get_order(order_id)

    assert order is not None
    # Same value AND same representation (exponent, trailing zeros, sign of zero).
    assert str(order.quantity) == str(quantity)
    assert str(order.price) == str(price)


def test_decimals_are_stored_as_their_canonical_text(store: Store) -> None:
    store.record_position_snapshot(
        account="main", symbol="ETH", quantity=Decimal("-1.500"), entry_price=Decimal("3E+3")
    )
    typeof = "typeof" if store.engine.dialect.name == "sqlite" else "pg_typeof"
    with store.engine.connect() as connection:
        row = connection.execute(
            text(
                f"SELECT quantity, entry_price, CAST({typeof}(quantity) AS TEXT)"
                " FROM position_snapshots"
            )
        ).one()

    assert tuple(row[:2]) == ("-1.500", "3E+3")
    assert row[2] in ("text", "character varying")


def test_floats_and_non_finite_values_are_refused_for_money(store: Store) -> None:
    base = {"account": "main", "symbol": "BTC", "role": "entry", "side": "buy"}
    with pytest.raises(TypeError, match="quantity must be a Decimal"):
        store.record_order_intent(
            **base,
            client_order_id="f1",
            order_type="market",
            quantity=0.1,  # type: ignore[arg-type]
        )
    with pytest.raises(ValueError, match="price must be finite"):
        store.record_order_intent(
            **base,
            client_order_id="f2",
            order_type="limit",
            quantity=Decimal(1),
            price=Decimal("NaN"),
        )
    assert store.list_orders() == []


def test_float_confidence_is_kept_as_its_decimal_literal(store: Store) -> None:
    signal_id, _ = store.record_signal(
        idempotency_key="conf",
        account="main",
        symbol="BTC",
        source="t",
        payload={},
        confidence=0.83,
    )

    signal = store.get_signal(signal_id)
    assert signal is not None
    assert signal.confidence == Decimal("0.83")


def test_timestamps_come_back_aware_in_utc_as_the_same_instant(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 3, 1, 10, 30, 15, 123456, tzinfo=plus_two)

    event_id = store.append_event("note", "main", {"x": 1}, at=local)
    (event,) = store.events(account="main")

    assert event.id == event_id
    assert event.at == local
    assert event.at.tzinfo == UTC
    assert event.at.hour == 8


def test_naive_timestamps_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.append_event("note", "main", {}, at=datetime(2026, 3, 1, 10, 30))
    with pytest.raises(ValueError, match="timezone-aware"):
        store.daily_realized_pnl("main", datetime(2026, 3, 1))


def test_json_payloads_keep_decimals_exact_as_strings(store: Store) -> None:
    signal_id, _ = store.record_signal(
        idempotency_key="json",
        account="main",
        symbol="BTC",
        source="t",
        payload={"stop": Decimal("66000.10"), "at": datetime(2026, 1, 2, tzinfo=UTC), "n": [1, 2]},
    )

    signal = store.get_signal(signal_id)
    assert signal is not None
    assert signal.payload == {"stop": "66000.10", "at": "2026-01-02T00:00:00+00:00", "n": [1, 2]}


def test_unserialisable_payloads_are_refused_before_writing(store: Store) -> None:
    with pytest.raises(TypeError, match="cannot store object"):
        store.record_signal(
            idempotency_key="bad", account="main", symbol="BTC", source="t", payload={"x": object()}
        )
    assert store.get_signal_by_key("bad") is None
