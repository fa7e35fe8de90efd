"""The venues' own clients, unchanged, against the running simulator over HTTP.

- Hyperliquid's official ``hyperliquid-python-sdk``: it signs L1 actions as *testnet*
  (phantom agent source "b") for every base URL but mainnet's, so these pass only because
  the simulator serves both networks by default (``SimConfig.hl_network``).
- ccxt's hyperliquid in sandbox mode (testnet signatures too), pointed at the simulator.
- Binance's ``binance-futures-connector`` (``binance.um_futures.UMFutures``): its own query
  encoding and signing (everything in the query string, ``urlencode`` of Python values).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import pytest
from binance.error import ClientError as BinanceClientError
from binance.um_futures import UMFutures
from ccxt.base.errors import InvalidOrder
from eth_account import Account
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from typer.testing import CliRunner

from tradeexec.cli import app
from tradeexec.exchanges.endpoints import point_ccxt_at
from tradeexec.sim.app import SimConfig
from tradeexec.sim.server import SimServer, banner

HL_SYMBOL = "BTC/USDC:USDC"


def _key(wallet: Any) -> str:
    return "0x" + bytes(wallet.key).hex()


@pytest.fixture
def hl_account(sim_server: SimServer) -> dict[str, str]:
    return sim_server.simulator.hyperliquid.create_account(Decimal(10000))


@pytest.fixture
def info(sim_server: SimServer) -> Info:
    return Info(sim_server.base_url, skip_ws=True, timeout=10)


@pytest.fixture
def sdk(sim_server: SimServer, hl_account: dict[str, str]) -> Exchange:
    wallet = Account.from_key(hl_account["privateKey"])
    return Exchange(wallet, sim_server.base_url, account_address=hl_account["walletAddress"])


# ------------------------------------------------------------------ Hyperliquid SDK, reads
def test_sdk_info_reads_meta_mids_and_user_state(
    sim_server: SimServer, info: Info, hl_account: dict[str, str]
) -> None:
    universe = info.meta()["universe"]
    assert [asset["name"] for asset in universe][:3] == ["BTC", "ETH", "SOL"]
    assert info.name_to_asset("BTC") == 0 and info.asset_to_sz_decimals[0] == 5
    sim_server.simulator.set_price("BTC", Decimal("66000"))
    assert Decimal(info.all_mids()["BTC"]) == Decimal("66000")
    state = info.user_state(hl_account["account"])
    assert Decimal(state["marginSummary"]["accountValue"]) == Decimal("10000")
    assert state["assetPositions"] == []


# ----------------------------------------------------------------- Hyperliquid SDK, trades
def test_sdk_order_rests_and_cancels(
    sim_server: SimServer, sdk: Exchange, info: Info, hl_account: dict[str, str]
) -> None:
    answer = sdk.order("BTC", True, 0.001, 60000, {"limit": {"tif": "Gtc"}})
    assert answer["status"] == "ok", answer
    [status] = answer["response"]["data"]["statuses"]
    oid = status["resting"]["oid"]
    [listed] = info.open_orders(hl_account["account"])
    assert (listed["oid"], listed["coin"], listed["limitPx"]) == (oid, "BTC", "60000.0")
    engine = sim_server.simulator.hyperliquid.engine
    assert [o.order_id for o in engine.open_orders(hl_account["account"])] == [oid]

    cancelled = sdk.cancel("BTC", oid)
    assert cancelled["response"]["data"]["statuses"] == ["success"], cancelled
    assert info.open_orders(hl_account["account"]) == []
    assert info.query_order_by_oid(hl_account["account"], oid)["order"]["status"] == "canceled"


def test_sdk_market_open_then_close(
    sim_server: SimServer, sdk: Exchange, info: Info, hl_account: dict[str, str]
) -> None:
    opened = sdk.market_open("BTC", True, 0.002)
    [status] = opened["response"]["data"]["statuses"]
    assert Decimal(status["filled"]["totalSz"]) == Decimal("0.002"), opened
    [position] = info.user_state(hl_account["account"])["assetPositions"]
    assert Decimal(position["position"]["szi"]) == Decimal("0.002")

    closed = sdk.market_close("BTC")
    [status] = closed["response"]["data"]["statuses"]
    assert Decimal(status["filled"]["totalSz"]) == Decimal("0.002"), closed
    assert info.user_state(hl_account["account"])["assetPositions"] == []
    dirs = [fill["dir"] for fill in info.user_fills(hl_account["account"])]
    assert sorted(dirs) == ["Close Long", "Open Long"]


def test_sdk_foreign_signer_is_refused_as_live(
    sim_server: SimServer, hl_account: dict[str, str]
) -> None:
    stranger = Account.create()  # never approved as an agent of hl_account
    sdk = Exchange(stranger, sim_server.base_url, account_address=hl_account["walletAddress"])
    answer = sdk.order("BTC", True, 0.001, 60000, {"limit": {"tif": "Gtc"}})
    assert answer["status"] == "err"
    # under "both" the refusal names the mainnet recovery of the testnet signature, as the
    # live mainnet would: some address, never an account's
    assert re.fullmatch(
        r"L1 error: User or API Wallet 0x[0-9a-f]{40} does not exist\.", answer["response"]
    )
    sim_server.simulator.hyperliquid.network = "testnet"  # the SDK's own network: its address
    answer = sdk.order("BTC", True, 0.001, 60000, {"limit": {"tif": "Gtc"}})
    assert answer == {
        "status": "err",
        "response": f"L1 error: User or API Wallet {stranger.address.lower()} does not exist.",
    }
    assert sim_server.simulator.hyperliquid.engine.open_orders(hl_account["account"]) == []


def test_sdk_is_refused_by_a_mainnet_only_simulator(
    sim_server: SimServer, sdk: Exchange, hl_account: dict[str, str]
) -> None:
    sim_server.simulator.hyperliquid.network = "mainnet"
    answer = sdk.order("BTC", True, 0.001, 60000, {"limit": {"tif": "Gtc"}})
    assert answer["status"] == "err" and "does not exist" in answer["response"]
    sim_server.simulator.reset()  # reset goes back to SimConfig.hl_network
    assert sim_server.simulator.hyperliquid.network == "both"


def test_sdk_approves_an_agent_with_a_testnet_user_signature(
    sim_server: SimServer, sdk: Exchange, hl_account: dict[str, str]
) -> None:
    answer, agent_key = sdk.approve_agent("bot")  # user-signed, hyperliquidChain "Testnet"
    assert answer == {"status": "ok", "response": {"type": "default"}}
    agent = Exchange(
        Account.from_key(agent_key), sim_server.base_url, account_address=hl_account["account"]
    )
    placed = agent.order("BTC", False, 0.001, 80000, {"limit": {"tif": "Gtc"}})
    assert "resting" in placed["response"]["data"]["statuses"][0], placed
    engine = sim_server.simulator.hyperliquid.engine
    assert len(engine.open_orders(hl_account["account"])) == 1


def test_sdk_trades_for_a_sub_account_as_its_vault(
    sim_server: SimServer, hl_account: dict[str, str]
) -> None:
    face = sim_server.simulator.hyperliquid
    sub = face.create_sub_account(hl_account["account"], Decimal(5000))["account"]
    wallet = Account.from_key(hl_account["privateKey"])
    as_vault = Exchange(wallet, sim_server.base_url, vault_address=sub)
    placed = as_vault.order("BTC", True, 0.001, 60000, {"limit": {"tif": "Gtc"}})
    assert "resting" in placed["response"]["data"]["statuses"][0], placed
    assert len(face.engine.open_orders(sub)) == 1
    assert face.engine.open_orders(hl_account["account"]) == []
    stranger_sub = face.create_sub_account(
        face.create_account(Decimal(10))["account"], Decimal(10)
    )["account"]
    refused = Exchange(wallet, sim_server.base_url, vault_address=stranger_sub).order(
        "BTC", True, 0.001, 60000, {"limit": {"tif": "Gtc"}}
    )
    assert refused == {"status": "err", "response": f"Vault not registered: {stranger_sub}"}


def test_banner_help_and_config_name_the_network() -> None:
    help_text = CliRunner().invoke(app, ["sim", "--help"], terminal_width=200).output
    assert "--hl-network" in help_text and "mainnet|testnet|both" in help_text
    with SimServer(SimConfig(hl_network="testnet")) as srv:
        assert banner(srv.simulator, srv.base_url)["hl_network"] == "testnet"
        assert srv.simulator.hyperliquid.network == "testnet"
    with pytest.raises(ValueError, match="hl network"):
        SimServer(SimConfig(hl_network="devnet"))


# ----------------------------------------------------------------------- ccxt sandbox mode
async def test_ccxt_in_sandbox_mode_trades(
    sim_server: SimServer, hl_account: dict[str, str]
) -> None:
    ex = ccxt_async.hyperliquid(
        {
            "walletAddress": hl_account["walletAddress"],
            "privateKey": hl_account["privateKey"],
            "enableRateLimit": False,
            "timeout": 10_000,
        }
    )
    ex.set_sandbox_mode(True)  # testnet signatures (source "b", chain "Testnet")
    point_ccxt_at(ex, sim_server.base_url)
    try:
        await ex.load_markets()
        order = await ex.create_order(HL_SYMBOL, "market", "buy", 0.001, 67500)
        assert order["filled"] == 0.001
        [position] = await ex.fetch_positions([HL_SYMBOL])
        assert Decimal(str(position["contracts"])) == Decimal("0.001")
        sim_server.simulator.hyperliquid.network = "mainnet"
        with pytest.raises(InvalidOrder, match="does not exist"):
            await ex.create_order(HL_SYMBOL, "market", "sell", 0.001, 67500)
    finally:
        await ex.close()


# ------------------------------------------------------------ Binance futures connector
@pytest.fixture
def binance_creds(sim_server: SimServer) -> dict[str, str]:
    return sim_server.simulator.binance.create_account(Decimal(10000))


@pytest.fixture
def um(sim_server: SimServer, binance_creds: dict[str, str]) -> Iterator[UMFutures]:
    client = UMFutures(
        binance_creds["apiKey"], binance_creds["secret"], base_url=sim_server.base_url
    )
    yield client
    client.session.close()


def test_connector_reads_exchange_info_and_balance(um: UMFutures) -> None:
    symbols = {s["symbol"]: s for s in um.exchange_info()["symbols"]}
    assert {"BTCUSDT", "ETHUSDT", "SOLUSDT"} <= set(symbols)
    assert symbols["BTCUSDT"]["contractType"] == "PERPETUAL"
    usdt = next(b for b in um.balance() if b["asset"] == "USDT")
    assert usdt["balance"] == "10000.00000000"  # 8 decimals, as the venue writes money
    assert Decimal(um.account()["availableBalance"]) == Decimal(10000)


def test_connector_places_queries_and_cancels(sim_server: SimServer, um: UMFutures) -> None:
    placed = um.new_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        quantity=0.01,
        price=60000,
        timeInForce="GTC",
        newClientOrderId="connector-1",
        reduceOnly=False,  # the connector sends Python's "False"
    )
    assert (placed["status"], placed["clientOrderId"]) == ("NEW", "connector-1")
    got = um.query_order(symbol="BTCUSDT", orderId=placed["orderId"])
    assert (got["status"], got["price"], got["origQty"]) == ("NEW", "60000.00", "0.010")
    assert [o["orderId"] for o in um.get_orders(symbol="BTCUSDT")] == [placed["orderId"]]
    one = um.get_open_orders(symbol="BTCUSDT", orderId=placed["orderId"])  # GET openOrder
    assert one["clientOrderId"] == "connector-1"
    cancelled = um.cancel_order(symbol="BTCUSDT", origClientOrderId="connector-1")
    assert cancelled["status"] == "CANCELED"
    assert um.get_orders(symbol="BTCUSDT") == []
    with pytest.raises(BinanceClientError) as gone:  # no longer open: "Order does not exist."
        um.get_open_orders(symbol="BTCUSDT", origClientOrderId="connector-1")
    assert gone.value.error_code == -2013
    taken = um.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.01)
    assert um.query_order(symbol="BTCUSDT", orderId=taken["orderId"])["status"] == "FILLED"
    [position] = [p for p in um.get_position_risk(symbol="BTCUSDT") if p["positionAmt"] != "0"]
    assert Decimal(position["positionAmt"]) == Decimal("0.01")


def test_connector_wrong_key_or_secret_is_refused(
    sim_server: SimServer, binance_creds: dict[str, str]
) -> None:
    wrong_key = UMFutures("x" * 64, binance_creds["secret"], base_url=sim_server.base_url)
    with pytest.raises(BinanceClientError) as refused:
        wrong_key.balance()
    assert (refused.value.status_code, refused.value.error_code) == (401, -2015)
    wrong_secret = UMFutures(binance_creds["apiKey"], "y" * 64, base_url=sim_server.base_url)
    with pytest.raises(BinanceClientError) as refused:
        wrong_secret.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.01)
    assert (refused.value.status_code, refused.value.error_code) == (400, -1022)
    assert sim_server.simulator.binance.engine.open_orders(binance_creds["account"]) == []
