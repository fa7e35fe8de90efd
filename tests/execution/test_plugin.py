"""The plugin API of the original plan, over paper, Binance (sim) and Hyperliquid (sim).

Every case of the original plan: init (plain, with credentials, failing), the convenience
constructor, market and limit orders with TP/SL, the confidence gate, use before init, an
exchange refusal, market data, balance, cancel, fetch order, name, health check and close.
"""

from __future__ import annotations

import gc
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tradeexec import errors
from tradeexec.exchanges.factory import create_trader
from tradeexec.plugin import CCXTPlugin, ExecutionPlugin, create_ccxt_plugin
from tradeexec.sim.engine import OrderKind, OrderStatus
from tradeexec.sim.faults import FaultRule

if TYPE_CHECKING:
    from collections.abc import Callable

    from tradeexec.sim.server import SimServer
    from tradeexec.testing import PluginHarness

    MakePlugin = Callable[[str], PluginHarness]

SETTLE = {"paper": "USDT", "binance": "USDT", "hyperliquid": "USDC"}
VENUE_SYMBOL = {
    "paper": "BTC/USDT:USDT",
    "binance": "BTC/USDT:USDT",
    "hyperliquid": "BTC/USDC:USDC",
}


def order(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "symbol": "BTC/USDT",
        "side": "buy",
        "order_type": "market",
        "quantity": 0.1,
        "confidence": 0.85,
    }
    base.update(fields)
    return base


# ------------------------------------------------------------------ the §4 example


async def test_design_example_end_to_end(plugin_venue: PluginHarness) -> None:
    """DESIGN.md §4 as written (testnet=True, min_confidence=0.7), pointed at the venue."""
    kwargs = plugin_venue.kwargs()
    if plugin_venue.name == "binance":
        kwargs["testnet"] = True  # becomes demo trading, then pointed at the simulator
    plugin = plugin_venue.create(min_confidence=0.7, **kwargs)
    await plugin.init()
    if plugin_venue.name == "paper":
        plugin_venue.adopt_paper_trader(await plugin.service.manager.get(plugin.account))
    plugin_venue.set_mark(plugin_venue.start_mark)

    result = await plugin.execute_order(
        {
            "symbol": "BTC/USDT",
            "side": "buy",
            "order_type": "market",
            "quantity": 0.1,
            "confidence": 0.85,
            "stop_loss": 66000.0,
            "take_profit": 69000.0,
        }
    )

    assert result["success"] is True, result
    assert result["status"] == "filled"
    assert isinstance(result["order_id"], str) and result["order_id"]
    assert type(result["filled_quantity"]) is float and result["filled_quantity"] == 0.1
    assert type(result["average_price"]) is float
    assert 67500.0 <= result["average_price"] <= 67500.0 * 1.001  # bought at the ask
    assert type(result["timestamp"]) is int and result["timestamp"] > 1_600_000_000_000

    orders = plugin_venue.engine_orders()
    entry, stop, target = orders
    assert str(entry.order_id) == result["order_id"]
    assert entry.status is OrderStatus.FILLED and entry.filled_qty == Decimal("0.1")
    assert stop.spec.kind is OrderKind.STOP_MARKET and stop.status is OrderStatus.NEW
    assert stop.spec.trigger_price == Decimal(66000) and stop.spec.qty == Decimal("0.1")
    assert target.spec.kind is OrderKind.TAKE_PROFIT_MARKET and target.status is OrderStatus.NEW
    assert target.spec.trigger_price == Decimal(69000) and target.spec.qty == Decimal("0.1")
    assert stop.spec.reduce_only and target.spec.reduce_only
    assert stop.spec.side.value == target.spec.side.value == "SELL"
    assert result["stop_loss_order_id"] == str(stop.order_id)
    assert result["take_profit_order_id"] == str(target.order_id)
    assert plugin_venue.engine_position() == Decimal("0.1")


# ------------------------------------------------------------------------- init


async def test_init_without_credentials_gives_market_data_only(
    plugin_venue: PluginHarness,
) -> None:
    kwargs = plugin_venue.kwargs()
    for key in ("api_key", "api_secret", "wallet_address", "private_key"):
        kwargs.pop(key, None)
    plugin = plugin_venue.create(**kwargs)
    assert not plugin.initialized
    await plugin.init()
    assert plugin.initialized
    data = await plugin.fetch_data("BTC/USDT")
    assert data["success"] is True and data["symbol"] == VENUE_SYMBOL[plugin_venue.name]
    if plugin_venue.name != "paper":  # paper needs no credentials to trade
        result = await plugin.execute_order(order())
        assert result["success"] is False and result["status"] == "failed"
        if plugin_venue.name == "binance":
            assert result["reason"] == "authentication_failed", result["error"]
        assert plugin_venue.engine_orders() == []


async def test_init_with_credentials_and_balance(plugin_venue: PluginHarness) -> None:
    plugin = await plugin_venue.start(balance=Decimal(2500))
    assert plugin.initialized
    assert await plugin.health_check() is True
    balance = await plugin.fetch_balance()
    settle = SETTLE[plugin_venue.name]
    assert balance["success"] is True
    assert balance[settle] == {"total": 2500.0, "free": 2500.0, "used": 0.0}
    await plugin.execute_order(order(quantity=0.01))
    after = (await plugin.fetch_balance())[settle]
    assert after["used"] > 0 and after["free"] < after["total"] < 2500.0  # margin and fee


async def test_init_twice_keeps_one_connection(plugin_venue: PluginHarness) -> None:
    plugin = await plugin_venue.start()
    service = plugin.service
    before = len(open_ccxt_sessions())
    await plugin.init()  # e.g. an agent framework calling init on every run
    assert plugin.service is service
    assert len(open_ccxt_sessions()) == before
    assert (await plugin.execute_order(order()))["status"] == "filled"


@pytest.mark.parametrize("name", ["binance", "hyperliquid"])
async def test_init_failure_unreachable_venue_raises_and_stays_uninitialised(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    plugin = create_ccxt_plugin(
        name,
        api_url="http://127.0.0.1:9",  # the discard port: connection refused
        store_url=f"sqlite:///{tmp_path}/t.db",
        timeout_ms=500,
    )
    with pytest.raises(errors.NetworkError):
        await plugin.init()
    assert not plugin.initialized
    result = await plugin.execute_order(order())
    assert result["success"] is False and result["reason"] == "not_initialized"


async def test_init_failure_bad_credentials_raises(plugin_harness: MakePlugin) -> None:
    """Binance signs every private read, so a wrong secret is caught by init's balance read."""
    harness = plugin_harness("binance")
    kwargs = harness.kwargs()
    kwargs["api_secret"] = "not-the-secret"
    plugin = harness.create(**kwargs)
    with pytest.raises(errors.AuthenticationError):
        await plugin.init()
    assert not plugin.initialized
    assert await plugin.health_check() is False
    report = await plugin.health_report()
    assert report["reason"] == "not_initialized" and "init()" in report["error"]


def test_convenience_constructor() -> None:
    plugin = create_ccxt_plugin(
        "binance", api_key="xxx", api_secret="yyy", testnet=True, min_confidence=0.7
    )
    assert isinstance(plugin, CCXTPlugin) and isinstance(plugin, ExecutionPlugin)
    assert plugin.name() == "ccxt:binance" and not plugin.initialized
    account = plugin.config.accounts[plugin.account]
    assert account.type == "binance"  # Binance USD-M futures
    # the futures testnet is gone: the Binance trader takes `testnet` as demo trading (one
    # meaning for the plugin, the configuration and BINANCE_TESTNET)
    trader = create_trader(plugin.account, account)
    assert trader.demo is True and trader.testnet is False
    assert account.api_key is not None and account.api_key.get_secret_value() == "xxx"
    assert plugin.config.risk_for(plugin.account).min_confidence == 0.7
    default = create_ccxt_plugin("hyperliquid", wallet_address="0x" + "a" * 40)
    assert default.config.risk_for(default.account).min_confidence == 0.6
    assert default.name() == "ccxt:hyperliquid"
    other = create_ccxt_plugin("kraken")
    assert other.config.accounts["kraken"].type == "ccxt"
    assert other.config.accounts["kraken"].exchange_id == "kraken"


# ------------------------------------------------------------------------ orders


async def test_market_order(plugin_venue: PluginHarness) -> None:
    plugin = await plugin_venue.start()
    result = await plugin.execute_order(order(side="sell", quantity=0.05))
    assert result["success"] is True and result["status"] == "filled", result
    assert result["filled_quantity"] == 0.05
    assert 67500.0 * 0.999 <= result["average_price"] <= 67500.0  # sold at the bid
    assert "stop_loss_order_id" not in result and "take_profit_order_id" not in result
    (entry,) = plugin_venue.engine_orders()
    assert str(entry.order_id) == result["order_id"]
    assert entry.spec.client_id == result["client_order_id"]
    assert plugin_venue.engine_position() == Decimal("-0.05")


async def test_limit_order_with_take_profit_and_stop_loss(plugin_venue: PluginHarness) -> None:
    plugin = await plugin_venue.start()
    result = await plugin.execute_order(
        order(order_type="limit", price=67000.0, stop_loss=66000.0, take_profit=69000.0)
    )
    assert result["success"] is True and result["status"] == "accepted", result
    assert result["filled_quantity"] == 0.0 and result["average_price"] is None
    # a resting entry gets its stop and target when (and for as much as) it fills: legs
    # placed beside it could expire or be cancelled before the fill, unseen
    (entry,) = plugin_venue.engine_orders()
    assert entry.spec.kind is OrderKind.LIMIT and entry.spec.price == Decimal(67000)
    assert entry.status is OrderStatus.NEW
    assert "stop_loss_order_id" not in result and "take_profit_order_id" not in result

    plugin_venue.set_mark(66900)  # the limit fills; the next reconcile protects it
    assert entry.status is OrderStatus.FILLED and plugin_venue.engine_position() == Decimal("0.1")
    await plugin.service.reconcile()
    legs = {o.spec.kind: o for o in plugin_venue.engine_orders() if o.spec.kind.is_trigger}
    stop, target = legs[OrderKind.STOP_MARKET], legs[OrderKind.TAKE_PROFIT_MARKET]
    assert (stop.spec.kind, stop.spec.trigger_price) == (OrderKind.STOP_MARKET, Decimal(66000))
    assert (target.spec.kind, target.spec.trigger_price) == (
        OrderKind.TAKE_PROFIT_MARKET,
        Decimal(69000),
    )
    assert stop.status is OrderStatus.NEW and target.status is OrderStatus.NEW
    assert stop.spec.qty == target.spec.qty == Decimal("0.1")
    timeline = await plugin.service.signal_timeline(result["signal_id"])
    assert timeline.signal.status == "filled"
    fetched = await plugin.fetch_order(result["order_id"], "BTC/USDT")
    assert fetched["status"] == "filled" and fetched["filled_quantity"] == 0.1


# -------------------------------------------------------------------- confidence


async def test_confidence_below_at_and_above_the_threshold(plugin_venue: PluginHarness) -> None:
    plugin = await plugin_venue.start(min_confidence=0.7)
    below = await plugin.execute_order(order(confidence=0.69))
    assert below["success"] is False and below["status"] == "rejected"
    assert below["reason"] == "low_confidence"
    assert below["confidence"] == 0.69 and below["min_confidence"] == 0.7
    assert plugin_venue.engine_orders() == []  # refused before anything was sent

    at = await plugin.execute_order(order(confidence=0.7))
    above = await plugin.execute_order(order(confidence=0.71))
    assert at["success"] is True and at["status"] == "filled", at
    assert above["success"] is True and above["status"] == "filled", above
    assert "min_confidence" not in at and "reason" not in at
    assert len(plugin_venue.engine_orders()) == 2


async def test_default_threshold_and_missing_confidence(plugin_venue: PluginHarness) -> None:
    plugin = await plugin_venue.start()  # min_confidence not given: 0.6
    below = await plugin.execute_order(order(confidence=0.59))
    assert (below["reason"], below["confidence"], below["min_confidence"]) == (
        "low_confidence",
        0.59,
        0.6,
    )
    missing = await plugin.execute_order({k: v for k, v in order().items() if k != "confidence"})
    assert missing["success"] is False and missing["reason"] == "missing_confidence"
    assert missing["confidence"] is None and missing["min_confidence"] == 0.6
    assert plugin_venue.engine_orders() == []
    at = await plugin.execute_order(order(confidence=0.6))
    assert at["success"] is True, at
    assert len(plugin_venue.engine_orders()) == 1


@pytest.mark.parametrize("exchange_id", ["binance", "hyperliquid", "paper"])
async def test_execute_before_init_is_a_structured_failure(exchange_id: str) -> None:
    plugin = create_ccxt_plugin(exchange_id, min_confidence=0.7)
    result = await plugin.execute_order(order())
    assert result["success"] is False
    assert result["reason"] == "not_initialized"
    assert "init()" in result["error"]
    assert (await plugin.fetch_data("BTC/USDT"))["reason"] == "not_initialized"
    assert (await plugin.fetch_balance())["reason"] == "not_initialized"
    assert (await plugin.cancel_order("1", "BTC/USDT"))["reason"] == "not_initialized"
    assert (await plugin.fetch_order("1", "BTC/USDT"))["reason"] == "not_initialized"
    assert await plugin.health_check() is False  # a bool, as the original plan has it


async def test_exchange_refusal_is_a_structured_failure(plugin_venue: PluginHarness) -> None:
    """A resting limit holds most of the margin; the venue refuses the next order for lack
    of it (the gate judges equity, the venue free margin): a result, not a raise."""
    plugin = await plugin_venue.start(balance=Decimal(500))
    resting = await plugin.execute_order(order(order_type="limit", price=64500.0))
    assert resting["status"] == "accepted", resting
    result = await plugin.execute_order(order(stop_loss=66000.0))
    assert result["success"] is False and result["status"] == "failed"
    assert result["reason"] == "insufficient_funds", result["error"]
    assert "margin" in result["error"].lower()
    assert plugin_venue.engine_position() == 0
    (only,) = plugin_venue.engine_orders()  # the resting limit; no stop was placed
    assert str(only.order_id) == resting["order_id"]
    timeline = await plugin.service.signal_timeline(result["signal_id"])
    # the entry refused; its stop, recorded with it, ended as never sent
    entry, stop = timeline.orders
    assert entry.order.status == "rejected" and entry.order.exchange_order_id is None
    assert [h.to_status for h in entry.history] == ["pending_submit", "rejected"]
    assert (stop.order.role, stop.order.status) == ("stop_loss", "canceled")
    assert [h.event for h in stop.history] == ["intent", "never_sent"]


# ------------------------------------------------------------------- market data


async def test_fetch_data(plugin_venue: PluginHarness) -> None:
    plugin = await plugin_venue.start()
    data = await plugin.fetch_data("BTC/USDT")
    assert data["success"] is True
    assert data["exchange"] == plugin_venue.name
    assert data["symbol"] == VENUE_SYMBOL[plugin_venue.name]
    assert data["last"] == 67500.0
    assert type(data["timestamp"]) is int
    assert data["mark"] == 67500.0
    assert type(data["bid"]) is float and type(data["ask"]) is float
    assert data["bid"] < 67500.0 < data["ask"]


@pytest.mark.parametrize(("own", "other"), [("binance", "hyperliquid"), ("hyperliquid", "binance")])
async def test_fetch_data_from_another_exchange(
    own: str, other: str, plugin_harness: MakePlugin, sim_server: SimServer
) -> None:
    """Keyless market data from another venue, at the same base URL (here: the simulator)."""
    plugin = await plugin_harness(own).start()
    sim_server.simulator.set_price("BTC", Decimal(67000), venue=other)
    data = await plugin.fetch_data("BTC/USDT", exchange=other)
    assert data["success"] is True and data["exchange"] == other
    assert data["symbol"] == VENUE_SYMBOL[other]
    assert data["last"] == 67000.0
    assert (await plugin.fetch_data("BTC/USDT"))["last"] == 67500.0  # own venue unchanged
    unknown = await plugin.fetch_data("NOPE/USDT", exchange=other)
    assert unknown["success"] is False and unknown["reason"] == "unknown_symbol"


# ------------------------------------------------------------- cancel and fetch


async def test_cancel_and_fetch_order(plugin_venue: PluginHarness) -> None:
    plugin = await plugin_venue.start()
    placed = await plugin.execute_order(order(order_type="limit", price=66000.0))
    assert placed["status"] == "accepted", placed
    oid = placed["order_id"]

    fetched = await plugin.fetch_order(oid, "BTC/USDT")
    assert fetched["success"] is True
    assert (fetched["order_id"], fetched["status"], fetched["type"]) == (oid, "submitted", "limit")
    assert (fetched["price"], fetched["quantity"], fetched["side"]) == (66000.0, 0.1, "buy")

    cancelled = await plugin.cancel_order(oid, "BTC/USDT")
    assert cancelled["success"] is True and cancelled["status"] == "canceled", cancelled
    (resting,) = plugin_venue.engine_orders()
    assert resting.status is OrderStatus.CANCELED
    assert (await plugin.fetch_order(oid, "BTC/USDT"))["status"] == "canceled"

    again = await plugin.cancel_order(oid, "BTC/USDT")  # already gone: success, no raise
    assert again["success"] is True
    missing = await plugin.fetch_order("999999", "BTC/USDT")
    assert missing["success"] is False and missing["reason"] == "order_not_found"


async def test_cancel_and_fetch_a_stop_leg(plugin_venue: PluginHarness) -> None:
    """Trigger orders live apart on Binance (algo orders): cancel and fetch find them by
    the id the result gave, also from another plugin that never placed them."""
    plugin = await plugin_venue.start()
    placed = await plugin.execute_order(order(stop_loss=66000.0, take_profit=69000.0))
    assert placed["status"] == "filled", placed
    stop_id = placed["stop_loss_order_id"]

    fetched = await plugin.fetch_order(stop_id, "BTC/USDT")
    assert (fetched["order_id"], fetched["status"]) == (stop_id, "submitted")
    assert fetched["type"] == "stop_market" and fetched["trigger_price"] == 66000.0

    cancelled = await plugin.cancel_order(stop_id, "BTC/USDT")
    assert cancelled["success"] is True and cancelled["status"] == "canceled", cancelled
    stop = next(o for o in plugin_venue.engine_orders() if str(o.order_id) == stop_id)
    assert stop.status is OrderStatus.CANCELED
    target_id = placed["take_profit_order_id"]
    target = next(o for o in plugin_venue.engine_orders() if str(o.order_id) == target_id)
    assert target.status is OrderStatus.NEW  # only the stop was cancelled
    if plugin_venue.sim is None:
        return  # a paper venue lives inside its plugin
    other = plugin_venue.create(**plugin_venue.account_kwargs())  # same venue account
    await other.init()
    assert (await other.fetch_order(target_id, "BTC/USDT"))["status"] == "submitted"
    assert (await other.cancel_order(target_id, "BTC/USDT"))["status"] == "canceled"
    assert target.status is OrderStatus.CANCELED


# ------------------------------------------------------- name, health, close


def test_name() -> None:
    for exchange_id in ("binance", "hyperliquid", "paper", "kraken"):
        assert create_ccxt_plugin(exchange_id).name() == f"ccxt:{exchange_id}"


async def test_health_check_success_and_failure(plugin_venue: PluginHarness) -> None:
    """``is_healthy = await plugin.health_check()`` is a bool (a dict was always truthy);
    `health_report` has the details, with the failure's reason code."""
    plugin = await plugin_venue.start()
    assert await plugin.health_check() is True
    healthy = await plugin.health_report()
    assert healthy["healthy"] is True and healthy["exchange"] == plugin_venue.name
    assert healthy["error"] is None and healthy["latency_ms"] >= 0
    assert healthy["credentials"] == ("not needed" if plugin_venue.sim is None else "accepted")

    if plugin_venue.sim is not None:  # the venue answers 503 to everything
        plugin_venue.add_fault(f"{plugin_venue.name}.*", kind="status", status=503)
    else:  # the paper venue has no wire: its trader is disconnected instead
        await (await plugin.service.manager.get(plugin.account)).close()
    assert await plugin.health_check() is False
    sick = await plugin.health_report()
    assert sick["healthy"] is False and sick["exchange"] == plugin_venue.name
    assert sick["error"] and sick["reason"] in ("exchange_unavailable", "not_initialized")


async def test_health_check_is_false_when_the_venue_refuses_the_keys(
    plugin_harness: MakePlugin,
) -> None:
    """The balance read is signed: the simulator verifies the signature, so keys revoked
    after init (here: a simulator reset forgets every key) make the plugin unhealthy with
    the venue's authentication refusal, not a healthy public ping."""
    harness = plugin_harness("binance")
    plugin = await harness.start()
    assert await plugin.health_check() is True
    assert harness.sim is not None
    harness.sim.simulator.binance.keys.clear()  # the venue no longer knows this key
    assert await plugin.health_check() is False
    report = await plugin.health_report()
    assert report["reason"] == "authentication_failed", report
    assert report["credentials"] == "refused"


async def test_close(plugin_venue: PluginHarness) -> None:
    plugin = await plugin_venue.start()
    trader = await plugin.service.manager.get(plugin.account)
    await plugin.close()
    assert not plugin.initialized
    assert (await trader.health_check()).ok is False  # the connection is closed
    result = await plugin.execute_order(order())
    assert result["success"] is False and result["reason"] == "not_initialized"
    assert await plugin.health_check() is False
    await plugin.close()  # idempotent
    assert plugin_venue.engine_orders() == []


def open_ccxt_sessions(exchange_id: str | None = None) -> list[object]:
    """ccxt instances (of ``exchange_id``) still holding an HTTP session (never closed)."""
    import ccxt.async_support as ccxt

    gc.collect()
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, ccxt.Exchange) and exchange_id in (None, o.id) and o.session is not None
    ]


async def test_fetch_data_from_an_unreachable_exchange_fails_cleanly(
    plugin_harness: MakePlugin, sim_server: SimServer
) -> None:
    """A failed connection to another venue is a result, leaks no ccxt session, and is
    retried (not cached) on the next call."""
    plugin = await plugin_harness("hyperliquid").start()
    before = {id(o) for o in open_ccxt_sessions("binanceusdm")}
    refuse = FaultRule(route="binance.*", kind="status", status=401)  # connect reads the time
    sim_server.simulator.ctx.faults.add(refuse)
    failed = await plugin.fetch_data("BTC/USDT", exchange="binance")
    assert failed["success"] is False and failed["reason"] == "authentication_failed"
    assert refuse.fired >= 1
    assert [o for o in open_ccxt_sessions("binanceusdm") if id(o) not in before] == []
    sim_server.simulator.ctx.faults.clear()
    data = await plugin.fetch_data("BTC/USDT", exchange="binance")
    assert data["success"] is True and data["symbol"] == "BTC/USDT:USDT"
