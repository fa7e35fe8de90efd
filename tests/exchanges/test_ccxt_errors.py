"""ccxt's errors become tradeexec's in one place: first by class, then as the simulator
provokes them through unmodified ccxt (auth, funds, invalid orders, not found, 429, 418,
5xx, timeouts)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import aiohttp
import ccxt.async_support as ccxt
import pytest

from tradeexec import errors
from tradeexec.domain import OrderRequest, TimeInForce
from tradeexec.exchanges.binance_futures import BinanceFuturesTrader
from tradeexec.exchanges.ccxt_errors import is_ambiguous, is_no_change, translate
from tradeexec.exchanges.ccxt_trader import CCXTTrader
from tradeexec.exchanges.hyperliquid_trader import HyperliquidTrader
from tradeexec.sim.faults import FaultRule

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

# ----------------------------------------------------------------------- by class


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ccxt.OrderNotFound, errors.OrderNotFound),  # before its parent InvalidOrder
        (ccxt.BadSymbol, errors.UnknownSymbol),  # before its parent BadRequest
        (ccxt.InsufficientFunds, errors.InsufficientFunds),
        (ccxt.AuthenticationError, errors.AuthenticationError),
        (ccxt.PermissionDenied, errors.AuthenticationError),
        (ccxt.AccountSuspended, errors.AuthenticationError),
        (ccxt.InvalidNonce, errors.AuthenticationError),  # refused, not a network failure
        (ccxt.InvalidOrder, errors.InvalidOrder),
        (ccxt.OrderImmediatelyFillable, errors.InvalidOrder),
        (ccxt.NotSupported, errors.NotSupported),
        (ccxt.ArgumentsRequired, errors.InvalidOrder),
        (ccxt.BadRequest, errors.InvalidOrder),
        (ccxt.RateLimitExceeded, errors.RateLimited),
        (ccxt.DDoSProtection, errors.RateLimited),
        (ccxt.RequestTimeout, errors.RequestTimeout),
        (ccxt.ExchangeNotAvailable, errors.ExchangeUnavailable),
        (ccxt.OnMaintenance, errors.ExchangeUnavailable),
        (ccxt.NetworkError, errors.NetworkError),
        (ccxt.OperationFailed, errors.ExchangeUnavailable),  # Binance -1008 "overloaded"
        (ccxt.BadResponse, errors.ExchangeUnavailable),
        (ccxt.ExchangeError, errors.ExchangeError),
        (TimeoutError, errors.RequestTimeout),
        (ConnectionResetError, errors.NetworkError),
        (ValueError, errors.ExchangeError),
    ],
)
def test_class_mapping(raised: type[Exception], expected: type[errors.TradeExecError]) -> None:
    ours = translate(raised("boom"), exchange="x", symbol="BTC/USDT:USDT", client_order_id="c1")
    assert type(ours) is expected
    assert (ours.exchange, ours.symbol) == ("x", "BTC/USDT:USDT")
    if expected is not errors.UnknownSymbol:
        assert ours.client_order_id == "c1"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            'binanceusdm {"code":-2022,"msg":"ReduceOnly Order is rejected."}',
            errors.ReduceOnlyRejected,
        ),
        (
            'binanceusdm {"code":-4164,"msg":"Order\'s notional must be no smaller than 100'
            ' (unless you choose reduce only)."}',
            errors.BelowMinimum,
        ),
        (
            "hyperliquid Reduce only order would increase position. asset=0",
            errors.ReduceOnlyRejected,
        ),
        ("hyperliquid Order must have minimum value of $10. asset=0", errors.BelowMinimum),
        ("hyperliquid Price must be divisible by tick size. asset=0", errors.PrecisionError),
        ("hyperliquid Order has invalid size.", errors.PrecisionError),
        (
            "hyperliquid L1 error: User or API Wallet 0xabc does not exist.",
            errors.AuthenticationError,
        ),
        (
            'binanceusdm {"code":-5022,"msg":"Post Only order will be rejected."}',
            errors.InvalidOrder,
        ),
    ],
)
def test_invalid_order_is_refined_by_the_venue_message(
    message: str, expected: type[errors.TradeExecError]
) -> None:
    assert type(translate(ccxt.InvalidOrder(message), exchange="x")) is expected


def test_ours_pass_through_and_secrets_never_reach_the_message() -> None:
    already = errors.InsufficientFunds("no", exchange="x")
    assert translate(already, exchange="y") is already
    leaky = ccxt.ExchangeError("GET /x?signature=deadbeef&apiKey=k123&privateKey=0xabc failed")
    text = str(translate(leaky, exchange="x"))
    assert "deadbeef" not in text and "k123" not in text and "0xabc" not in text
    assert "signature=<redacted>" in text


@pytest.mark.parametrize(
    ("exc", "ambiguous"),
    [
        (ccxt.RequestTimeout("t"), True),
        (ccxt.NetworkError("reset"), True),
        (ccxt.ExchangeNotAvailable("binanceusdm 503 Service Unavailable"), True),
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (ccxt.ExchangeError("binanceusdm 502 Bad Gateway"), True),
        (ccxt.OperationFailed('binanceusdm {"code":-1000}'), True),
        (ccxt.RateLimitExceeded("429"), False),  # refused before acting
        (ccxt.DDoSProtection("418"), False),
        (ccxt.InvalidNonce("-1021"), False),
        (ccxt.InsufficientFunds("-2019"), False),
        (ccxt.InvalidOrder("-2022"), False),
        (ccxt.ExchangeError('binanceusdm {"code":-1000}'), False),
    ],
)
def test_which_write_failures_may_have_taken_effect(exc: Exception, ambiguous: bool) -> None:
    assert is_ambiguous(exc) is ambiguous


def test_a_connection_broken_mid_answer_is_a_network_failure() -> None:
    """ccxt turns aiohttp's ClientPayloadError into a bare ExchangeError."""
    exc = ccxt.ExchangeError("binanceusdm POST http://127.0.0.1/fapi/v1/order")
    exc.__cause__ = aiohttp.ClientPayloadError("Response payload is not completed")
    assert type(translate(exc, exchange="x")) is errors.NetworkError  # reads retry it
    assert is_ambiguous(exc)  # a write may have been handled: look it up


def test_setting_what_is_already_set_is_no_change() -> None:
    assert is_no_change(ccxt.MarginModeAlreadySet("x"))
    assert is_no_change(ccxt.NoChange("x"))
    assert not is_no_change(ccxt.ExchangeError("x"))


# ------------------------------------------------------- provoked by the simulator

VENUES = ("binance", "hyperliquid")
MakeTrader = Callable[..., Awaitable[CCXTTrader]]


def build(sim: SimServer, venue: str, creds: dict[str, str], **kw: Any) -> CCXTTrader:
    common: dict[str, Any] = {"api_url": sim.base_url, "retry_backoff_s": 0.01, "timeout_ms": 2000}
    common.update(kw)
    if venue == "binance":
        keys = {"apiKey": creds["apiKey"], "secret": creds["secret"]}
        return BinanceFuturesTrader("bn", credentials=keys, **common)
    keys = {"walletAddress": creds["walletAddress"], "privateKey": creds["privateKey"]}
    return HyperliquidTrader("hl", credentials=keys, **common)


def face(sim: SimServer, venue: str) -> Any:
    return sim.simulator.binance if venue == "binance" else sim.simulator.hyperliquid


@pytest.fixture
async def make_trader(sim_server: SimServer) -> AsyncIterator[MakeTrader]:
    """``await make_trader(venue, balance=..., creds=..., **trader_kwargs)``: connected."""
    made: list[CCXTTrader] = []

    async def make(
        venue: str,
        balance: Decimal = Decimal("10000"),
        creds: dict[str, str] | None = None,
        **kw: Any,
    ) -> CCXTTrader:
        trader = build(
            sim_server, venue, creds or face(sim_server, venue).create_account(balance), **kw
        )
        made.append(trader)
        await trader.connect()
        return trader

    yield make
    for trader in made:
        await trader.close()


def symbol(trader: CCXTTrader) -> str:
    return trader.resolve_symbol("BTC")


def requests_to(sim: SimServer, path: str) -> list[dict[str, Any]]:
    return [e for e in sim.simulator.log.recent(10_000) if e["path"] == path]


async def test_binance_wrong_secret_is_an_authentication_error(
    sim_server: SimServer, make_trader: MakeTrader
) -> None:
    creds = sim_server.simulator.binance.create_account(Decimal("100"))
    trader = await make_trader("binance", creds={**creds, "secret": "not-the-secret"})
    with pytest.raises(errors.AuthenticationError) as caught:
        await trader.fetch_balance()
    assert isinstance(caught.value.__cause__, ccxt.AuthenticationError)
    assert "not-the-secret" not in str(caught.value)
    assert len(requests_to(sim_server, "/fapi/v3/account")) == 1  # auth is never retried


async def test_binance_unknown_api_key_is_an_authentication_error(
    sim_server: SimServer, make_trader: MakeTrader
) -> None:
    creds = sim_server.simulator.binance.create_account(Decimal("100"))
    trader = await make_trader("binance", creds={**creds, "apiKey": "unknown-key"})
    with pytest.raises(errors.AuthenticationError):
        await trader.fetch_positions()


async def test_hyperliquid_unknown_signer_is_an_authentication_error(
    sim_server: SimServer, make_trader: MakeTrader
) -> None:
    """A key that is neither the wallet's nor an approved agent's: ccxt says InvalidOrder."""
    creds = sim_server.simulator.hyperliquid.create_account(Decimal("1000"))
    stranger = "0x" + "11" * 32
    trader = await make_trader("hyperliquid", creds={**creds, "privateKey": stranger})
    with pytest.raises(errors.AuthenticationError) as caught:
        await trader.create_order(OrderRequest(symbol(trader), "buy", "market", Decimal("0.001")))
    assert isinstance(caught.value.__cause__, ccxt.InvalidOrder)
    assert sim_server.simulator.hyperliquid.engine.orders == {}


@pytest.mark.parametrize("venue", VENUES)
async def test_insufficient_margin_is_insufficient_funds(
    venue: str, make_trader: MakeTrader
) -> None:
    trader = await make_trader(venue, Decimal("50"))
    with pytest.raises(errors.InsufficientFunds) as caught:
        await trader.create_order(OrderRequest(symbol(trader), "buy", "market", Decimal("0.1")))
    assert isinstance(caught.value.__cause__, ccxt.InsufficientFunds)
    assert caught.value.client_order_id  # which attempt was refused


@pytest.mark.parametrize("venue", VENUES)
async def test_post_only_that_would_cross_is_invalid_order(
    venue: str, make_trader: MakeTrader
) -> None:
    trader = await make_trader(venue)
    request = OrderRequest(
        symbol(trader),
        "buy",
        "limit",
        Decimal("0.002"),
        price=Decimal("68000"),
        time_in_force=TimeInForce.POST_ONLY,
    )
    with pytest.raises(errors.InvalidOrder) as caught:
        await trader.create_order(request)
    assert type(caught.value) is errors.InvalidOrder
    assert isinstance(caught.value.__cause__, ccxt.InvalidOrder)


@pytest.mark.parametrize("venue", VENUES)
async def test_unknown_order_is_order_not_found(venue: str, make_trader: MakeTrader) -> None:
    trader = await make_trader(venue)
    with pytest.raises(errors.OrderNotFound) as caught:
        await trader.fetch_order(symbol(trader), order_id="424242")
    assert isinstance(caught.value.__cause__, ccxt.OrderNotFound)


READ_ROUTES = {"binance": "binance.balance", "hyperliquid": "hyperliquid.info.clearinghouseState"}


@pytest.mark.parametrize("venue", VENUES)
async def test_a_single_429_on_a_read_is_retried_transparently(
    venue: str, sim_server: SimServer, make_trader: MakeTrader
) -> None:
    trader = await make_trader(venue, Decimal("1234"))
    rule = FaultRule(route=READ_ROUTES[venue], kind="status", status=429, times=1)
    sim_server.simulator.ctx.faults.add(rule)
    balances = await trader.fetch_balance()
    assert balances[trader.capabilities.settle_currency].total == Decimal("1234")
    assert rule.fired == 1


@pytest.mark.parametrize(
    ("status", "expected"),
    [(429, errors.RateLimited), (418, errors.RateLimited), (503, errors.ExchangeUnavailable)],
)
@pytest.mark.parametrize("venue", VENUES)
async def test_a_read_failing_every_time_raises_after_the_retries(
    venue: str,
    status: int,
    expected: type[errors.NetworkError],
    sim_server: SimServer,
    make_trader: MakeTrader,
) -> None:
    trader = await make_trader(venue, read_retries=2)
    rule = FaultRule(route=READ_ROUTES[venue], kind="status", status=status)
    sim_server.simulator.ctx.faults.add(rule)
    with pytest.raises(expected):
        await trader.fetch_balance()
    assert rule.fired == 3  # the first try and two retries, then it gives up


@pytest.mark.parametrize("venue", VENUES)
async def test_a_read_that_times_out_is_request_timeout(
    venue: str, sim_server: SimServer, make_trader: MakeTrader
) -> None:
    trader = await make_trader(venue, read_retries=1, timeout_ms=500)
    rule = FaultRule(route=READ_ROUTES[venue], kind="timeout", seconds=1.5)
    sim_server.simulator.ctx.faults.add(rule)
    with pytest.raises(errors.RequestTimeout) as caught:
        await trader.fetch_balance()
    assert isinstance(caught.value.__cause__, ccxt.RequestTimeout)
    assert rule.fired == 2
