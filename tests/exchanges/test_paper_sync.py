"""The paper venue's rows under change: two processes' changes on one account, calls made
together, history pruning, restarts, and database failures in the middle of a change.

Each "process" is a `PaperTrader` with a `PaperStateStore` of its own on one database (a
SQLite file and a PostgreSQL database); failures are the database's own (a SQLite trigger
refusing a write, a constraint checked at commit), never a patched client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tradeexec import errors
from tradeexec.domain import OrderRequest, OrderSide, OrderStatus, OrderType
from tradeexec.exchanges import paper_sync
from tradeexec.exchanges.paper import PaperTrader
from tradeexec.store import upgrade
from tradeexec.store.paper_state import PaperStateStore
from tradeexec.testing import postgres_store_url

D = Decimal
SYM = "BTC/USDT:USDT"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'te.db'}"
    else:
        yield from postgres_store_url(request)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """For the failures made with SQLite's own triggers and constraints."""
    return f"sqlite:///{tmp_path / 'te.db'}"


def _stores(url: str) -> Iterator[list[PaperStateStore]]:
    """One store per process (its own engine and connections); the first is for looking."""
    opened = [PaperStateStore.open(url) for _ in range(3)]
    yield opened
    for store in opened:
        store.close()


@pytest.fixture
def stores(url: str) -> Iterator[list[PaperStateStore]]:
    yield from _stores(url)


@pytest.fixture
def sqlite_stores(sqlite_url: str) -> Iterator[list[PaperStateStore]]:
    yield from _stores(sqlite_url)


async def paper(store: PaperStateStore) -> PaperTrader:
    trader = PaperTrader("paper", starting_balance=D(10000), state_store=store)
    await trader.connect()
    return trader


def market(side: str, qty: str, **kw: Any) -> OrderRequest:
    return OrderRequest(
        symbol=SYM, side=OrderSide(side), type=OrderType.MARKET, quantity=D(qty), **kw
    )


def stop(side: str, qty: str, trigger: int, **kw: Any) -> OrderRequest:
    return OrderRequest(
        symbol=SYM, side=OrderSide(side), type=OrderType.STOP_MARKET, quantity=D(qty),
        trigger_price=D(trigger), reduce_only=True, **kw,
    )  # fmt: skip


def take(side: str, qty: str, trigger: int, **kw: Any) -> OrderRequest:
    return OrderRequest(
        symbol=SYM, side=OrderSide(side), type=OrderType.TAKE_PROFIT_MARKET, quantity=D(qty),
        trigger_price=D(trigger), reduce_only=True, **kw,
    )  # fmt: skip


def execute_with(url: str, statement: str, params: dict[str, Any]) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement), params)
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


# ------------------------------------------------------------- two processes, one account


async def test_a_change_made_on_a_stale_engine_runs_again_on_the_committed_state(
    stores: list[PaperStateStore],
) -> None:
    look, one, two = stores
    first, second = await paper(one), await paper(two)  # both hold version 0
    placed = await first.create_order(market("buy", "0.1"))

    again = await second.create_order(market("buy", "0.1"))  # stale: conflict, reload, redo

    assert int(again.id) > int(placed.id)  # on top of the first's order, not beside it
    assert look.version("paper") == 2
    for view in (first, second, await paper(look)):
        [position] = await view.fetch_positions()
        assert position.quantity == D("0.2")
        assert len(await view.fetch_my_trades(SYM)) == 2


async def test_a_refusal_on_a_stale_engine_is_not_believed(
    stores: list[PaperStateStore],
) -> None:
    look, one, two = stores
    first, second = await paper(one), await paper(two)
    await first.create_order(market("buy", "0.1"))
    resting = await first.create_order(stop("sell", "0.1", 60000, client_order_id="sl-1"))

    # the second's engine knows neither the position nor the stop: it would refuse both
    closed = await second.create_order(market("sell", "0.05", reduce_only=True))
    cancelled = await second.cancel_order(SYM, order_id=resting.id)

    assert closed.status is OrderStatus.FILLED
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELED
    view = await paper(look)
    assert [p.quantity for p in await view.fetch_positions()] == [D("0.05")]
    assert await view.fetch_open_orders() == []


async def test_a_refusal_on_the_committed_state_stands_and_writes_nothing(
    stores: list[PaperStateStore],
) -> None:
    look, one, _ = stores
    trader = await paper(one)
    await trader.create_order(market("buy", "0.1"))
    with pytest.raises(errors.ReduceOnlyRejected):
        await trader.create_order(market("buy", "0.1", reduce_only=True))
    assert look.version("paper") == 1


async def test_calls_made_together_share_one_change_and_keep_their_own_outcomes(
    stores: list[PaperStateStore],
) -> None:
    look, one, _ = stores
    trader = await paper(one)
    await trader.create_order(market("buy", "0.1"))

    placed, refused, sl = await asyncio.gather(
        trader.create_order(take("sell", "0.1", 70000, client_order_id="tp")),
        trader.create_order(market("buy", "10")),  # far beyond the margin
        trader.create_order(stop("sell", "0.1", 60000, client_order_id="sl")),
        return_exceptions=True,
    )

    assert isinstance(refused, errors.InsufficientFunds)
    assert not isinstance(placed, BaseException) and not isinstance(sl, BaseException)
    assert look.version("paper") == 2  # the two stops in one change, the refusal in none
    view = await paper(look)
    assert sorted(o.client_order_id or "" for o in await view.fetch_open_orders()) == [
        "sl",
        "tp",
    ]


# ------------------------------------------------------------- restarts and history


async def test_a_restart_restores_the_engine_exactly_through_pruning(
    stores: list[PaperStateStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paper_sync, "KEEP_CLOSED_ORDERS", 4)
    monkeypatch.setattr(paper_sync, "SLACK_CLOSED_ORDERS", 3)
    monkeypatch.setattr(paper_sync, "KEEP_FILLS", 5)
    monkeypatch.setattr(paper_sync, "SLACK_FILLS", 2)
    look, one, _ = stores
    trader = await paper(one)
    await trader.set_leverage(SYM, 5)
    resting = await trader.create_order(stop("sell", "0.01", 60000, client_order_id="keep"))
    for i in range(12):
        await trader.create_order(market("buy" if i % 2 else "sell", "0.01"))
        trader.set_mark(SYM, D(67000) + i)
        restarted = await paper(look)
        assert restarted.engine.export_account("paper") == trader.engine.export_account("paper")

    orders = trader.engine.export_account("paper")["orders"]
    closed = [o for o in orders if o["status"] != "NEW"]
    assert 4 <= len(closed) <= 7  # pruned, in batches
    assert resting.id in {str(o["order_id"]) for o in orders}  # an open order is never dropped
    assert 5 <= len(trader.engine.account_fills("paper")) <= 7
    later = await trader.create_order(market("buy", "0.01"))
    assert int(later.id) > max(o["order_id"] for o in orders)  # ids go on rising


# ------------------------------------------------------------- failures in the middle


async def test_a_write_the_database_refuses_leaves_the_rows_as_they_were(
    sqlite_stores: list[PaperStateStore], sqlite_url: str
) -> None:
    look, one, _ = sqlite_stores
    trader = await paper(one)
    await trader.create_order(market("buy", "0.1"))
    before = look.load("paper")
    execute(
        sqlite_url,
        "CREATE TRIGGER no_fills BEFORE INSERT ON paper_fills "
        "BEGIN SELECT RAISE(ABORT, 'disk says no'); END",
    )  # the account's row is updated first: this fails the change half-way

    with pytest.raises(errors.ExchangeUnavailable, match="disk says no"):
        await trader.create_order(market("buy", "0.1", client_order_id="lost"))

    assert look.load("paper") == before
    with pytest.raises(errors.OrderNotFound):  # the engine took the rows back too
        await trader.fetch_order(SYM, client_order_id="lost")
    execute(sqlite_url, "DROP TRIGGER no_fills")
    again = await trader.create_order(market("buy", "0.1", client_order_id="lost"))
    assert again.status is OrderStatus.FILLED
    [position] = await (await paper(look)).fetch_positions()
    assert position.quantity == D("0.2")


async def test_a_commit_that_fails_leaves_the_order_unknown_then_settled_as_never_sent(
    sqlite_stores: list[PaperStateStore], sqlite_url: str
) -> None:
    look, one, _ = sqlite_stores
    trader = await paper(one)
    await trader.create_order(market("buy", "0.1"))
    before = look.load("paper")
    # a deferred foreign key is checked at COMMIT: every statement succeeds, the commit fails
    execute(
        sqlite_url,
        "CREATE TABLE tripwire (ref TEXT REFERENCES paper_state(account) "
        "DEFERRABLE INITIALLY DEFERRED)",
        "CREATE TRIGGER trip AFTER UPDATE ON paper_state "
        "BEGIN INSERT INTO tripwire VALUES ('nowhere'); END",
    )

    with pytest.raises(errors.OrderOutcomeUnknown):
        await trader.create_order(stop("sell", "0.1", 60000, client_order_id="sl-1"))

    assert look.load("paper") == before
    execute(sqlite_url, "DROP TRIGGER trip")
    with pytest.raises(errors.OrderNotFound):  # asked by its client id: it never happened
        await trader.fetch_order(SYM, client_order_id="sl-1")
    placed = await trader.create_order(stop("sell", "0.1", 60000, client_order_id="sl-1"))
    assert placed.status is OrderStatus.SUBMITTED


# ------------------------------------------------------------- a store from before the split


async def test_an_account_saved_whole_before_the_split_trades_on_after_the_upgrade(
    sqlite_url: str,
) -> None:
    old = PaperTrader("paper", starting_balance=D(10000))  # in memory: its export is the row
    await old.connect()
    await old.create_order(market("buy", "0.1"))
    resting = await old.create_order(stop("sell", "0.1", 60000, client_order_id="sl-1"))
    whole = old.engine.export_account("paper", closed_orders=500, fills=1000)
    upgrade(sqlite_url, "0004")  # the schema the whole-state row was written under
    execute_with(
        sqlite_url,
        "INSERT INTO paper_state (account, version, venue, state, updated_at) "
        "VALUES ('paper', 3, 'binance', :state, CURRENT_TIMESTAMP)",
        {"state": json.dumps(whole)},
    )
    upgrade(sqlite_url)
    store = PaperStateStore.open(sqlite_url)
    try:
        trader = await paper(store)

        assert trader.engine.export_account("paper") == old.engine.export_account("paper")
        [position] = await trader.fetch_positions()
        assert position.quantity == D("0.1")
        [open_order] = await trader.fetch_open_orders()
        assert (open_order.id, open_order.client_order_id) == (resting.id, "sl-1")
        later = await trader.create_order(market("buy", "0.01"))
        assert int(later.id) > int(resting.id)
        assert store.version("paper") == 4  # counted on from the old row's version
        assert [p.quantity for p in await (await paper(store)).fetch_positions()] == [D("0.11")]
    finally:
        store.close()
