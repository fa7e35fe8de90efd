"""Paper trading survives the process: the paper venue's state lives in the store.

Each "process" here is a fresh `PaperTrader` (or a fresh `TradingService` / `ExchangeManager`)
on the same store file, with nothing shared in memory: what the next one sees came from the
store. Every test runs on the paper venue itself (the simulator engine), no mocks.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tradeexec import errors
from tradeexec.config import AccountConfig, AppConfig, RiskConfig
from tradeexec.domain import (
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    SignalSource,
)
from tradeexec.exchanges.factory import ExchangeManager
from tradeexec.exchanges.paper import PaperTrader
from tradeexec.execution.signals import Signal
from tradeexec.service import TradingService
from tradeexec.sim.engine import Engine, OrderKind, OrderSpec, Side
from tradeexec.sim.markets import BINANCE_MARKETS
from tradeexec.store import Store
from tradeexec.store.paper_state import PaperChange, PaperStateConflict, PaperStateStore

D = Decimal
SYM = "BTC/USDT:USDT"
START = D(67500)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'te.db'}"


@pytest.fixture
def states(url: str) -> Iterator[PaperStateStore]:
    store = PaperStateStore.open(url)
    yield store
    store.close()


async def paper(states: PaperStateStore | None, account: str = "paper") -> PaperTrader:
    """A paper venue as a new process builds it: nothing in memory but the configuration."""
    trader = PaperTrader(account, starting_balance=D(10000), state_store=states)
    await trader.connect()
    return trader


def market(side: str, qty: str, **kw: Any) -> OrderRequest:
    return OrderRequest(
        symbol=SYM, side=OrderSide(side), type=OrderType.MARKET, quantity=D(qty), **kw
    )


def stop(side: str, qty: str, trigger: int, **kw: Any) -> OrderRequest:
    return OrderRequest(
        symbol=SYM,
        side=OrderSide(side),
        type=OrderType.STOP_MARKET,
        quantity=D(qty),
        trigger_price=D(trigger),
        reduce_only=True,
        **kw,
    )


# ------------------------------------------------------------- the engine's snapshots


def _engine() -> Engine:
    engine = Engine(BINANCE_MARKETS, collateral="USDT", clock=lambda: 1_700_000_000_000)
    engine.create_account("a", D(10000))
    engine.set_mark("BTC", START)
    return engine


def test_an_engine_snapshot_round_trips_through_json_exactly() -> None:
    engine = _engine()
    engine.place_order("a", OrderSpec("BTC", Side.BUY, OrderKind.MARKET, D("0.013")))
    engine.place_order(
        "a",
        OrderSpec("BTC", Side.SELL, OrderKind.STOP_MARKET, D("0.013"), trigger_price=D(66000),
                  reduce_only=True, client_id="sl-1"),
    )  # fmt: skip
    engine.set_leverage("a", "BTC", 7)
    data = json.loads(json.dumps(engine.export_account("a")))  # JSON-ready: nothing lost

    other = _engine()
    other.import_account(data)

    assert other.export_account("a") == engine.export_account("a")
    assert other.summary("a") == engine.summary("a")  # every Decimal exact
    assert other.get_order("a", client_id="sl-1").spec.trigger_price == D(66000)
    assert other.leverage("a", "BTC") == 7
    # ids continue where the snapshot left off: never reused
    nxt = other.place_order("a", OrderSpec("BTC", Side.BUY, OrderKind.MARKET, D("0.002")))
    assert nxt.order_id == data["next_order_id"]
    assert nxt.trade_ids == [data["next_trade_id"]]


def test_an_imported_resting_stop_fires_when_the_mark_crosses_it() -> None:
    engine = _engine()
    engine.place_order("a", OrderSpec("BTC", Side.BUY, OrderKind.MARKET, D("0.1")))
    engine.place_order(
        "a",
        OrderSpec("BTC", Side.SELL, OrderKind.STOP_MARKET, D("0.1"), trigger_price=D(66000),
                  reduce_only=True),
    )  # fmt: skip
    other = _engine()  # the mark at START: no trigger on import
    other.import_account(engine.export_account("a"))
    assert other.positions("a")[0].qty == D("0.1")

    fills = other.set_mark("BTC", D(65900))

    assert [f.side for f in fills] == [Side.SELL]
    assert other.positions("a") == []
    assert other.summary("a").realized_pnl < 0


def test_a_snapshot_keeps_every_open_order_and_only_the_latest_history() -> None:
    engine = _engine()
    for _ in range(5):
        engine.place_order("a", OrderSpec("BTC", Side.BUY, OrderKind.MARKET, D("0.002")))
    resting = engine.place_order(
        "a", OrderSpec("BTC", Side.BUY, OrderKind.LIMIT, D("0.002"), price=D(60000))
    )
    data = engine.export_account("a", closed_orders=2, fills=3)

    assert [o["order_id"] for o in data["orders"]] == [1_000_004, 1_000_005, resting.order_id]
    assert len(data["fills"]) == 3
    assert _engine().import_account(data) == "a"


def test_a_bad_snapshot_leaves_the_engine_as_it_was() -> None:
    engine = _engine()
    engine.place_order("a", OrderSpec("BTC", Side.BUY, OrderKind.MARKET, D("0.01")))
    before = engine.export_account("a")
    broken = json.loads(json.dumps(before))
    broken["orders"][0]["spec"]["qty"] = "not a number"
    with pytest.raises(ArithmeticError):
        engine.import_account(broken)
    with pytest.raises(ValueError, match="format"):
        engine.import_account({**before, "format": 99})
    assert engine.export_account("a") == before


# ------------------------------------------------------------- the paper trader


async def test_without_a_store_the_paper_venue_lives_in_memory_as_before() -> None:
    first = await paper(None)
    await first.create_order(market("buy", "0.1"))
    assert len(await first.fetch_positions()) == 1
    assert await (await paper(None)).fetch_positions() == []


async def test_positions_orders_and_balance_survive_a_restart(states: PaperStateStore) -> None:
    first = await paper(states)
    await first.create_order(market("buy", "0.1"))
    placed = await first.create_order(stop("sell", "0.1", 66000, client_order_id="sl-1"))
    balance = await first.fetch_balance()
    await first.close()

    second = await paper(states)  # a new process: only the store is shared

    [position] = await second.fetch_positions()
    assert position.quantity == D("0.1") and position.symbol == SYM
    [resting] = await second.fetch_open_orders()
    assert (resting.id, resting.client_order_id) == (placed.id, "sl-1")
    assert resting.trigger_price == D(66000) and resting.reduce_only
    assert await second.fetch_balance() == balance
    assert (await second.fetch_order(SYM, client_order_id="sl-1")).status is OrderStatus.SUBMITTED


async def test_a_resting_stop_fires_after_a_restart_and_the_pnl_survives(
    states: PaperStateStore,
) -> None:
    first = await paper(states)
    first.set_mark(SYM, START)
    await first.create_order(market("buy", "0.1"))
    await first.create_order(stop("sell", "0.1", 66000, client_order_id="sl-1"))

    second = await paper(states)
    second.set_mark(SYM, D(65900))  # through the stop: it fires here, in the new process

    assert await second.fetch_positions() == []
    assert (await second.fetch_order(SYM, client_order_id="sl-1")).status is OrderStatus.FILLED
    realized = second.engine.summary("paper").realized_pnl
    assert realized < 0
    third = await paper(states)
    assert third.engine.summary("paper").realized_pnl == realized
    assert await third.fetch_balance() == await second.fetch_balance()
    trades = await third.fetch_my_trades(SYM)
    assert [t.side for t in trades] == [OrderSide.BUY, OrderSide.SELL]
    assert sum((t.realized_pnl or 0 for t in trades), D(0)) == realized
    assert (await third.fetch_ticker(SYM)).mark == D(65900)  # the last price too


async def test_order_ids_never_repeat_across_restarts(states: PaperStateStore) -> None:
    ids: list[int] = []
    for _ in range(3):
        trader = await paper(states)
        for side in ("buy", "sell"):
            ids.append(int((await trader.create_order(market(side, "0.01"))).id))
        await trader.close()
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    trader = await paper(states)
    trades = await trader.fetch_my_trades(SYM)
    assert len({t.trade_id for t in trades}) == len(trades) == 6


async def test_a_cancel_in_one_process_is_seen_by_the_next(states: PaperStateStore) -> None:
    first = await paper(states)
    await first.create_order(market("buy", "0.1"))
    placed = await first.create_order(stop("sell", "0.1", 66000))
    second = await paper(states)
    cancelled = await second.cancel_order(SYM, order_id=placed.id)
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELED
    assert await (await paper(states)).fetch_open_orders() == []


async def test_leverage_survives_a_restart(states: PaperStateStore) -> None:
    await (await paper(states)).set_leverage(SYM, 3)
    trader = await paper(states)
    await trader.create_order(market("buy", "0.1"))
    [position] = await trader.fetch_positions()
    assert position.leverage == 3


async def test_a_refused_order_changes_nothing_in_the_store(states: PaperStateStore) -> None:
    trader = await paper(states)
    await trader.create_order(market("buy", "0.1"))
    version = states.version("paper")
    with pytest.raises(errors.InsufficientFunds):
        await trader.create_order(market("buy", "100"))
    assert states.version("paper") == version
    assert len(await (await paper(states)).fetch_positions()) == 1
    await trader.create_order(market("sell", "0.1"))  # and the trader goes on
    assert await (await paper(states)).fetch_positions() == []


async def test_a_paper_account_is_not_restored_as_another_venue(states: PaperStateStore) -> None:
    await (await paper(states)).create_order(market("buy", "0.1"))
    other = PaperTrader("paper", venue="hyperliquid", state_store=states)
    with pytest.raises(errors.ConfigError, match="hyperliquid"):
        await other.connect()


async def test_accounts_keep_separate_rows(states: PaperStateStore) -> None:
    await (await paper(states, "one")).create_order(market("buy", "0.1"))
    assert await (await paper(states, "two")).fetch_positions() == []
    assert len(await (await paper(states, "one")).fetch_positions()) == 1


# ------------------------------------------------------------- two processes at once


async def test_two_live_traders_on_one_account_see_each_others_changes(
    states: PaperStateStore, url: str
) -> None:
    """A running service and a CLI command on one paper account: each read sees what the
    other committed, and each change starts from it."""
    other_states = PaperStateStore.open(url)  # its own engine, as another process has
    try:
        service_side = await paper(states)
        cli_side = await paper(other_states)
        await cli_side.create_order(market("buy", "0.1"))
        assert [p.quantity for p in await service_side.fetch_positions()] == [D("0.1")]
        placed = await service_side.create_order(stop("sell", "0.1", 66000))
        assert [o.id for o in await cli_side.fetch_open_orders()] == [placed.id]
        await cli_side.cancel_order(SYM, order_id=placed.id)
        assert await service_side.fetch_open_orders() == []
        again = await service_side.create_order(market("buy", "0.1"))
        assert int(again.id) > int(placed.id)
        assert [p.quantity for p in await cli_side.fetch_positions()] == [D("0.2")]
    finally:
        other_states.close()


async def test_concurrent_orders_from_two_processes_lose_nothing(
    states: PaperStateStore, url: str
) -> None:
    other_states = PaperStateStore.open(url)
    try:
        a, b = await paper(states), await paper(other_states)
        n = 8
        placed = await asyncio.gather(
            *(t.create_order(market("buy", "0.01")) for _ in range(n) for t in (a, b))
        )
        ids = [int(o.id) for o in placed]
        assert len(set(ids)) == 2 * n  # no id handed out twice
        for view in (a, b, await paper(states)):
            [position] = await view.fetch_positions()
            assert position.quantity == D("0.01") * 2 * n  # no order lost
            assert len(await view.fetch_my_trades(SYM)) == 2 * n
        # each trader commits the calls made together in one change: a version per batch
        assert 2 <= states.version("paper") <= 2 * n
    finally:
        other_states.close()


async def test_threads_writing_one_account_take_turns(states: PaperStateStore, url: str) -> None:
    """Separate engines (as separate processes) writing through separate connections."""
    traders = [await paper(PaperStateStore.open(url)) for _ in range(3)]
    barrier = threading.Barrier(len(traders))

    def work(trader: PaperTrader) -> None:
        barrier.wait()
        for step in range(5):
            trader.set_mark(SYM, START + step)

    threads = [threading.Thread(target=work, args=(t,)) for t in traders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert states.version("paper") == 15
    for trader in traders:
        assert trader._sync.store is not None
        trader._sync.store.close()


def _core(n: int) -> PaperChange:
    return PaperChange({"n": n})


def test_a_write_on_a_stale_version_is_refused(states: PaperStateStore) -> None:
    with states.transaction("x") as tx:
        tx.save("binance", 0, _core(1))
    with states.transaction("x") as tx:
        tx.save("binance", 1, _core(2))
    with states.transaction("x") as tx, pytest.raises(PaperStateConflict):
        tx.save("binance", 1, _core(3))  # as if version 1 were still the latest
    loaded = states.load("x")
    assert loaded is not None and (loaded.version, loaded.state["n"]) == (2, 2)


def test_money_is_stored_as_exact_strings(states: PaperStateStore, url: str) -> None:
    async def go() -> None:
        trader = await paper(states)
        await trader.create_order(market("buy", "0.013"))

    asyncio.run(go())
    engine = Store.from_url(url, migrate=False).engine
    with engine.connect() as connection:
        raw = connection.execute(text("SELECT state FROM paper_state")).scalar_one()
        [fill] = connection.execute(text("SELECT data FROM paper_fills")).scalars()
    engine.dispose()
    data = json.loads(raw) if isinstance(raw, str) else raw
    assert isinstance(data["account"]["wallet_balance"], str)
    assert D(data["account"]["fees_paid"]) > 0
    fill = json.loads(fill) if isinstance(fill, str) else fill
    assert isinstance(fill["price"], str) and D(fill["qty"]) == D("0.013")


# ------------------------------------------------------------- through the service


def _config(url: str) -> AppConfig:
    return AppConfig(
        accounts={"paper": AccountConfig(type="paper", starting_balance=D(10000))},
        store_url=url,
        risk=RiskConfig(max_order_notional=D(30000), max_position_notional=D(60000)),
    )


def _signal(**fields: Any) -> Signal:
    values: dict[str, Any] = {
        "symbol": "BTC/USDT",
        "source": SignalSource.AGENT,
        "idempotency_key": f"k-{datetime.now(UTC).timestamp()}",
        "created_at": datetime.now(UTC),
        "account": "paper",
        "confidence": 0.9,
    }
    return Signal(**{**values, **fields})


async def test_a_restarted_service_reconciles_the_paper_account_without_a_mismatch(
    url: str,
) -> None:
    first = TradingService(_config(url))
    await first.start()
    report = await first.submit_signal(
        _signal(side="buy", quantity=D("0.1"), stop_loss=D(66000), take_profit=D(69000))
    )
    assert report.status == "filled", report
    await first.stop()

    second = TradingService(_config(url))
    started = await second.start()  # reconciles: the venue still knows every order
    try:
        result = await second.reconcile("paper")
        assert result.mismatches == [] and result.failures == []
        assert started["paper"].mismatches == []
        timeline = await second.signal_timeline(report.idempotency_key)
        statuses = sorted(o.order.status for o in timeline.orders)
        assert statuses == ["filled", "submitted", "submitted"]  # nothing "not found"
        assert all(
            t.detail != "not found on the exchange" for o in timeline.orders for t in o.history
        )
        [position] = await second.positions("paper")
        assert position.quantity == D("0.1")
        assert len(await second.orders("paper")) == 2
        # the stop fires in this process; the next reconcile settles it and its sibling
        trader = await second.manager.get("paper")
        assert isinstance(trader, PaperTrader)
        trader.set_mark(SYM, D(65900))
        await second.reconcile("paper")
        assert await second.positions("paper") == []
        assert await second.orders("paper") == []
    finally:
        await second.stop()


async def test_a_manager_without_a_store_engine_reads_the_configured_store(
    url: str, tmp_path: Path
) -> None:
    """What `tradeexec positions` does: no service, the configured store only read."""
    missing = f"sqlite:///{tmp_path / 'nothing-here' / 'te.db'}"
    manager = ExchangeManager(_config(missing))
    assert await (await manager.get("paper")).fetch_positions() == []
    await manager.close_all()
    assert not (tmp_path / "nothing-here").exists()  # a read never creates a store

    service = TradingService(_config(url))
    await service.start()
    await service.submit_signal(_signal(side="buy", quantity=D("0.1"), stop_loss=D(66000)))
    await service.stop()
    reader = ExchangeManager(_config(url))
    try:
        trader = await reader.get("paper")
        assert [p.quantity for p in await trader.fetch_positions()] == [D("0.1")]
        assert len(await trader.fetch_open_orders()) == 1
    finally:
        await reader.close_all()


async def test_an_in_memory_store_keeps_paper_state_in_memory() -> None:
    service = TradingService(_config("sqlite://"))
    await service.start()
    try:
        report = await service.submit_signal(_signal(side="buy", quantity=D("0.1")))
        assert report.status == "filled", report
        assert service.manager.paper_state() is None
    finally:
        await service.stop()
