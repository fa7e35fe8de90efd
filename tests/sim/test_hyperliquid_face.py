"""The Hyperliquid face over HTTP (Starlette TestClient): parsing, signatures, nonces, shapes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tradeexec.sim import hl_signing as hs
from tradeexec.sim.accounting import settle
from tradeexec.sim.engine import Engine
from tradeexec.sim.face import SimContext
from tradeexec.sim.hyperliquid_api import HyperliquidFace
from tradeexec.sim.hyperliquid_state import DAY_MS
from tradeexec.sim.markets import HYPERLIQUID_MARKETS

NOW = 1_750_000_000_000
BUILDER = "0x6530512a6c89c7cfcebc3ba7fcd9ada5f30827a6"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        self.now += 1
        return self.now


class Harness:
    def __init__(self, *, network: str = "mainnet") -> None:
        self.clock = Clock()
        self.ctx = SimContext(clock=self.clock)
        engine = Engine(
            HYPERLIQUID_MARKETS,
            collateral="USDC",
            maker_fee=Decimal("0.00015"),
            taker_fee=Decimal("0.00045"),
            reject_immediate_trigger=False,
            clock=self.clock,
        )
        self.face = HyperliquidFace(engine, self.ctx, network=network)
        self.client = TestClient(Starlette(routes=self.face.routes()))
        self.nonce = NOW

    def account(self, balance: str = "10000") -> dict[str, str]:
        return self.face.create_account(Decimal(balance))

    def next_nonce(self) -> int:
        self.nonce += 1
        return self.nonce

    def info(self, body: dict[str, Any]) -> Any:
        response = self.client.post("/info", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def l1(
        self,
        key: str,
        action: dict[str, Any],
        *,
        nonce: int | None = None,
        vault: str | None = None,
        expires: int | None = None,
        sign_as: dict[str, Any] | None = None,
        mainnet: bool = True,
    ) -> Any:
        nonce = self.next_nonce() if nonce is None else nonce
        sig = hs.sign_l1_action(key, sign_as or action, nonce, vault, expires, is_mainnet=mainnet)
        body: dict[str, Any] = {"action": action, "nonce": nonce, "signature": sig}
        if vault is not None:
            body["vaultAddress"] = vault
        if expires is not None:
            body["expiresAfter"] = expires
        response = self.client.post("/exchange", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def user_signed(self, key: str, action: dict[str, Any]) -> Any:
        sig = hs.sign_user_signed_action(key, action)
        body = {"action": action, "nonce": action["nonce"], "signature": sig, "vaultAddress": None}
        return self.client.post("/exchange", json=body).json()

    def approve_agent(self, key: str, agent: str, name: str | None = None) -> Any:
        action: dict[str, Any] = {
            "type": "approveAgent",
            "hyperliquidChain": "Mainnet",
            "signatureChainId": "0x66eee",
            "agentAddress": agent,
            "nonce": self.next_nonce(),
        }
        if name:
            action["agentName"] = name
        return self.user_signed(key, action)


def order(
    p: str = "67000",
    s: str = "0.01",
    *,
    buy: bool = True,
    tif: str = "Gtc",
    cloid: str | None = None,
    reduce: bool = False,
) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "a": 0,
        "b": buy,
        "p": p,
        "s": s,
        "r": reduce,
        "t": {"limit": {"tif": tif}},
    }
    if cloid:
        wire["c"] = cloid
    return {"type": "order", "orders": [wire], "grouping": "na"}


@pytest.fixture
def hl() -> Harness:
    return Harness()


# --------------------------------------------------------------------------- parsing
def test_non_json_is_400_and_bad_shapes_are_422(hl: Harness) -> None:
    r = hl.client.post("/exchange", content=b"{nope")
    assert (r.status_code, r.text) == (400, "Failed to parse the request body as JSON")
    r = hl.client.post("/info", json={"type": "noSuchThing"})
    assert (r.status_code, r.text) == (
        422,
        "Failed to deserialize the JSON body into the target type",
    )
    acct = hl.account()
    for bad in ("6.75e4", "-1", "67500.000000001", "", "0x10"):
        action = order(p=bad)
        sig = hs.sign_l1_action(acct["privateKey"], order(), hl.next_nonce())
        r = hl.client.post(
            "/exchange", json={"action": action, "nonce": hl.nonce, "signature": sig}
        )
        assert r.status_code == 422, bad
    r = hl.client.post("/info", json={"type": "clearinghouseState"})
    assert r.status_code == 422  # no user


def test_canonical_form_is_hashed_so_key_order_and_zero_padding_do_not_matter(hl: Harness) -> None:
    acct = hl.account()
    canonical = order(p="67000", s="0.01")
    wire = canonical["orders"][0]
    reordered = {
        "grouping": "na",
        "orders": [
            {"t": wire["t"], "s": "0.0100", "r": False, "p": "67000.00000", "b": True, "a": 0}
        ],
        "type": "order",
    }
    answer = hl.l1(acct["privateKey"], reordered, sign_as=canonical)
    assert "resting" in answer["response"]["data"]["statuses"][0], answer


def test_zero_signature_cannot_recover(hl: Harness) -> None:
    hl.account()
    body = {
        "action": order(),
        "nonce": hl.next_nonce(),
        "signature": {"r": "0x0", "s": "0x0", "v": 27},
    }
    assert hl.client.post("/exchange", json=body).json() == {
        "status": "err",
        "response": "Unable to recover signer.",
    }


# ----------------------------------------------------------------------- who may act
def test_unknown_signer_and_testnet_signature_are_refused(hl: Harness) -> None:
    acct = hl.account()
    stranger = "0x" + bytes(Account.create().key).hex()
    answer = hl.l1(stranger, order())
    stranger_address = str(Account.from_key(stranger).address).lower()
    assert answer == {
        "status": "err",
        "response": f"L1 error: User or API Wallet {stranger_address} does not exist.",
    }
    # a testnet-signed action recovers some other address on mainnet
    answer = hl.l1(acct["privateKey"], order(), mainnet=False)
    assert answer["status"] == "err" and "does not exist" in answer["response"]
    assert hl.face.engine.open_orders(acct["account"]) == []


def test_testnet_face_accepts_testnet_signatures() -> None:
    hl = Harness(network="testnet")
    acct = hl.account()
    answer = hl.l1(acct["privateKey"], order(), mainnet=False)
    assert "resting" in answer["response"]["data"]["statuses"][0]


def test_agents_act_for_their_master_but_cannot_approve(hl: Harness) -> None:
    master = hl.account()
    agent = Account.create()
    agent_key = "0x" + bytes(agent.key).hex()
    agent_address = str(agent.address).lower()
    assert hl.approve_agent(master["privateKey"], agent.address, "bot") == {
        "status": "ok",
        "response": {"type": "default"},
    }
    assert hl.face.approved_agents(master["account"]) == {"bot": agent_address}
    answer = hl.l1(agent_key, order(cloid="0x" + "1" * 32))
    assert "resting" in answer["response"]["data"]["statuses"][0]
    [placed] = hl.face.engine.open_orders(master["account"])
    assert placed.spec.client_id == "0x" + "1" * 32
    # an agent key signs user-signed actions as itself, an address with no account
    builder = {
        "type": "approveBuilderFee",
        "hyperliquidChain": "Mainnet",
        "signatureChainId": "0x66eee",
        "maxFeeRate": "0.01%",
        "builder": BUILDER,
        "nonce": hl.next_nonce(),
    }
    assert hl.user_signed(agent_key, builder) == {
        "status": "err",
        "response": f"Must deposit before performing actions. User: {agent_address}",
    }
    assert hl.face.approved_builders(master["account"]) == {}
    assert hl.info({"type": "userRole", "user": agent_address}) == {
        "role": "agent",
        "data": {"user": master["account"]},
    }
    assert hl.info({"type": "extraAgents", "user": master["account"]}) == [
        {"name": "bot", "address": agent_address, "validUntil": None}
    ]


def test_a_new_unnamed_agent_replaces_the_old_one(hl: Harness) -> None:
    master = hl.account()
    first, second = Account.create(), Account.create()
    hl.approve_agent(master["privateKey"], first.address)
    hl.approve_agent(master["privateKey"], second.address)
    assert hl.face.approved_agents(master["account"]) == {"": str(second.address).lower()}
    answer = hl.l1("0x" + bytes(first.key).hex(), order())
    assert answer["status"] == "err" and "does not exist" in answer["response"]


def test_user_signed_actions_check_chain_and_nonce(hl: Harness) -> None:
    acct = hl.account()
    action = {
        "type": "approveBuilderFee",
        "hyperliquidChain": "Testnet",
        "signatureChainId": "0x66eee",
        "maxFeeRate": "0.01%",
        "builder": BUILDER,
        "nonce": hl.next_nonce(),
    }
    assert hl.user_signed(acct["privateKey"], action)["response"] == (
        "Mainnet and testnet require different signature."
    )
    action = {**action, "hyperliquidChain": "Mainnet"}
    sig = hs.sign_user_signed_action(acct["privateKey"], action)
    body = {"action": action, "nonce": action["nonce"] + 1, "signature": sig}
    assert hl.client.post("/exchange", json=body).json()["response"] == "Nonce mismatch."
    assert hl.user_signed(acct["privateKey"], action)["status"] == "ok"
    assert hl.face.approved_builders(acct["account"]) == {BUILDER: 10}
    assert hl.info({"type": "maxBuilderFee", "user": acct["account"], "builder": BUILDER}) == 10


def test_vault_address_must_be_a_sub_account_of_the_signer(hl: Harness) -> None:
    master, other = hl.account(), hl.account()
    sub = hl.face.create_sub_account(master["account"], Decimal(1000))
    answer = hl.l1(master["privateKey"], order(), vault=sub["account"][2:])
    assert "resting" in answer["response"]["data"]["statuses"][0]
    assert len(hl.face.engine.open_orders(sub["account"])) == 1
    assert hl.face.engine.open_orders(master["account"]) == []
    answer = hl.l1(other["privateKey"], order(), vault=sub["account"])
    assert answer == {"status": "err", "response": f"Vault not registered: {sub['account']}"}
    answer = hl.l1(master["privateKey"], order(), vault=master["account"])
    assert answer == {"status": "err", "response": f"Vault not registered: {master['account']}"}
    assert hl.info({"type": "userRole", "user": sub["account"]}) == {
        "role": "subAccount",
        "data": {"master": master["account"]},
    }


# ---------------------------------------------------------------------------- nonces
def test_nonce_rules(hl: Harness) -> None:
    acct = hl.account()
    key = acct["privateKey"]
    nonce = hl.next_nonce()
    assert hl.l1(key, order(), nonce=nonce)["status"] == "ok"
    assert hl.l1(key, order(), nonce=nonce) == {
        "status": "err",
        "response": f"Invalid nonce: duplicate nonce {nonce}",
    }
    assert len(hl.face.engine.open_orders(acct["account"])) == 1  # the replay did nothing
    old = hl.clock.now - 2 * DAY_MS - 10
    answer = hl.l1(key, order(), nonce=old)
    assert answer["response"].startswith(f"Invalid nonce: nonce too low {old} < ")
    future = hl.clock.now + DAY_MS + 10
    answer = hl.l1(key, order(), nonce=future)
    assert answer["response"].startswith(f"Invalid nonce: nonce too high {future} > ")


def test_nonce_must_beat_the_smallest_of_the_100_highest(hl: Harness) -> None:
    acct = hl.account()
    cancel = {"type": "cancel", "cancels": [{"a": 0, "o": 1}]}
    base = hl.clock.now
    for i in range(100):
        hl.l1(acct["privateKey"], cancel, nonce=base + 1000 + i)
    answer = hl.l1(acct["privateKey"], cancel, nonce=base + 500)
    assert answer["response"] == f"Invalid nonce: nonce too low {base + 500} < {base + 1000}"
    assert hl.l1(acct["privateKey"], cancel, nonce=base + 5000)["status"] == "ok"


def test_expired_action_uses_its_nonce(hl: Harness) -> None:
    acct = hl.account()
    nonce = hl.next_nonce()
    expired = hl.clock.now - 1
    answer = hl.l1(acct["privateKey"], order(), nonce=nonce, expires=expired)
    assert answer == {"status": "err", "response": "Action already expired"}
    answer = hl.l1(acct["privateKey"], order(), nonce=nonce, expires=hl.clock.now + 60_000)
    assert answer["response"] == f"Invalid nonce: duplicate nonce {nonce}"


# ---------------------------------------------------------------------------- orders
def test_order_rejections_carry_hyperliquid_texts(hl: Harness) -> None:
    acct = hl.account("100")
    key = acct["privateKey"]

    def first_status(action: dict[str, Any]) -> Any:
        return hl.l1(key, action)["response"]["data"]["statuses"][0]

    assert first_status(order(p="67000.5")) == {
        "error": "Price must be divisible by tick size. asset=0"
    }
    assert first_status(order(s="0.000001")) == {"error": "Order has invalid size."}
    assert first_status(order(s="0")) == {"error": "Order has zero size."}
    assert first_status(order(s="0.0001")) == {
        "error": "Order must have minimum value of $10. asset=0"
    }
    assert first_status(order(s="1")) == {"error": "Insufficient margin to place order. asset=0"}
    assert first_status(order(p="200000")) == {
        "error": "Order price cannot be more than 80% away from the reference price"
    }
    assert first_status(order(buy=False, reduce=True)) == {
        "error": "Reduce only order would increase position. asset=0"
    }
    bid, ask = hl.face.engine.bid_ask("BTC")
    assert first_status(order(p="68000", tif="Alo")) == {
        "error": f"Post only order would have immediately matched, bbo was {bid}.0@{ask}.0. asset=0"
    }
    assert first_status(order(p="60000", tif="Ioc")) == {
        "error": "Order could not immediately match against any resting orders. asset=0"
    }
    bad_asset = order()
    bad_asset["orders"][0]["a"] = 99
    assert "error" in first_status(bad_asset)


def test_rejected_order_is_remembered_by_cloid(hl: Harness) -> None:
    acct = hl.account()
    cloid = "0x" + "c" * 32
    hl.l1(acct["privateKey"], order(s="0.0001", cloid=cloid))
    answer = hl.info({"type": "orderStatus", "user": acct["account"], "oid": cloid})
    assert answer["status"] == "order"
    assert answer["order"]["status"] == "minTradeNtlRejected"
    assert answer["order"]["order"]["cloid"] == cloid
    # the cloid is free again: a valid order takes it over
    hl.l1(acct["privateKey"], order(cloid=cloid))
    answer = hl.info(
        {"type": "orderStatus", "user": acct["account"], "oid": "0x" + cloid[2:].upper()}
    )
    assert answer["order"]["status"] == "open"
    assert hl.info({"type": "orderStatus", "user": acct["account"], "oid": 123}) == {
        "status": "unknownOid"
    }


def test_builder_orders_need_an_approval_and_pay_the_fee(hl: Harness) -> None:
    acct = hl.account()
    action = order(p="70000")
    action["builder"] = {"b": BUILDER, "f": 10}
    assert hl.l1(acct["privateKey"], action) == {
        "status": "err",
        "response": "Builder fee has not been approved.",
    }
    approve = {
        "type": "approveBuilderFee",
        "hyperliquidChain": "Mainnet",
        "signatureChainId": "0x66eee",
        "maxFeeRate": "0.005%",
        "builder": BUILDER,
        "nonce": hl.next_nonce(),
    }
    assert hl.user_signed(acct["privateKey"], approve)["status"] == "ok"
    assert hl.l1(acct["privateKey"], action)["response"] == "Builder fee has not been approved."
    approve = {**approve, "maxFeeRate": "0.01%", "nonce": hl.next_nonce()}
    assert hl.user_signed(acct["privateKey"], approve)["status"] == "ok"
    status = hl.l1(acct["privateKey"], action)["response"]["data"]["statuses"][0]
    assert "filled" in status
    engine = hl.face.engine
    [fill] = engine.account_fills(acct["account"])
    builder_fee = settle(fill.qty * fill.price * Decimal("0.0001"))
    assert hl.face.builder_fees_charged(acct["account"]) == builder_fee
    wallet = engine.account(acct["account"])
    assert wallet.wallet_balance == Decimal(10000) - fill.fee - builder_fee
    assert wallet.wallet_balance == wallet.deposits + wallet.realized_pnl - wallet.fees_paid
    [row] = hl.info({"type": "userFills", "user": acct["account"]})
    assert Decimal(row["builderFee"]) == builder_fee


def test_position_tpsl_closes_the_whole_position(hl: Harness) -> None:
    acct = hl.account()
    hl.l1(acct["privateKey"], order(p="70000", s="0.03", tif="Ioc"))
    stop = {
        "a": 0,
        "b": False,
        "p": "60000",
        "s": "0",
        "r": True,
        "t": {"trigger": {"isMarket": True, "triggerPx": "65000", "tpsl": "sl"}},
    }
    action = {"type": "order", "orders": [stop], "grouping": "positionTpsl"}
    [status] = hl.l1(acct["privateKey"], action)["response"]["data"]["statuses"]
    assert "resting" in status
    hl.l1(acct["privateKey"], order(p="70000", s="0.02", tif="Ioc"))  # the position grows
    [listed] = hl.info({"type": "frontendOpenOrders", "user": acct["account"]})
    assert listed["isPositionTpsl"] and listed["triggerCondition"] == "Price below 65000.0"
    hl.face.engine.set_mark("BTC", Decimal(64000))
    assert hl.face.engine.positions(acct["account"]) == []
    last = hl.info({"type": "userFills", "user": acct["account"]})[0]
    assert (last["sz"], last["dir"], last["startPosition"]) == ("0.05", "Close Long", "0.05")


def test_normal_tpsl_children_wait_for_the_parent(hl: Harness) -> None:
    acct = hl.account()
    entry = order(p="66000", s="0.01")["orders"][0]
    tp = {
        "a": 0,
        "b": False,
        "p": "70000",
        "s": "0.01",
        "r": True,
        "t": {"trigger": {"isMarket": False, "triggerPx": "70000", "tpsl": "tp"}},
    }
    action = {"type": "order", "orders": [entry, tp], "grouping": "normalTpsl"}
    statuses = hl.l1(acct["privateKey"], action)["response"]["data"]["statuses"]
    assert "resting" in statuses[0] and statuses[1] == "waitingForFill"
    assert [o["oid"] for o in hl.info({"type": "openOrders", "user": acct["account"]})] == [
        statuses[0]["resting"]["oid"]
    ]
    # cancelling the parent cancels the child that was waiting for it
    hl.l1(
        acct["privateKey"],
        {"type": "cancel", "cancels": [{"a": 0, "o": statuses[0]["resting"]["oid"]}]},
    )
    assert hl.face.engine.open_orders(acct["account"]) == []
    market_entry = order(p="70000", s="0.01", tif="Ioc")["orders"][0]
    action = {"type": "order", "orders": [market_entry, tp], "grouping": "normalTpsl"}
    statuses = hl.l1(acct["privateKey"], action)["response"]["data"]["statuses"]
    assert "filled" in statuses[0] and statuses[1] == "waitingForTrigger"
    failed_entry = order(p="60000", s="0.01", tif="Ioc")["orders"][0]
    action = {"type": "order", "orders": [failed_entry, tp], "grouping": "normalTpsl"}
    statuses = hl.l1(acct["privateKey"], action)["response"]["data"]["statuses"]
    assert "could not immediately match" in statuses[0]["error"]
    assert "error" in statuses[1]


def test_set_referrer_once(hl: Harness) -> None:
    acct = hl.account()
    action = {"type": "setReferrer", "code": "CCXT1"}
    assert hl.l1(acct["privateKey"], action)["status"] == "ok"
    assert hl.face.referrer(acct["account"]) == "CCXT1"
    assert hl.l1(acct["privateKey"], {"type": "setReferrer", "code": "OTHER"})["status"] == "err"
    assert hl.face.referrer(acct["account"]) == "CCXT1"
    referral = hl.info({"type": "referral", "user": acct["account"]})
    assert referral["referredBy"]["code"] == "CCXT1"


# ------------------------------------------------------------------------------ info
def test_meta_universe_indexes_are_asset_ids(hl: Harness) -> None:
    meta, ctxs = hl.info({"type": "metaAndAssetCtxs"})
    assert [u["name"] for u in meta["universe"]] == ["BTC", "ETH", "SOL"]
    assert [u["szDecimals"] for u in meta["universe"]] == [5, 4, 2]
    assert ctxs[0]["markPx"] == "67500.0"
    bid, ask = hl.face.engine.bid_ask("BTC")
    assert ctxs[0]["impactPxs"] == [f"{bid}.0", f"{ask}.0"]
    assert hl.info({"type": "spotMeta"})["tokens"][0]["name"] == "USDC"
    assert hl.info({"type": "perpDexs"}) == [None]
    assert hl.info({"type": "l2Book", "coin": "BTC"})["levels"][0][0]["px"] == f"{bid}.0"
    assert hl.info({"type": "userRole", "user": "0x" + "9" * 40}) == {"role": "missing"}


def test_clearinghouse_state_shape_for_a_position(hl: Harness) -> None:
    acct = hl.account()
    hl.l1(
        acct["privateKey"], {"type": "updateLeverage", "asset": 0, "isCross": False, "leverage": 10}
    )
    hl.l1(acct["privateKey"], order(p="70000", s="0.1", tif="Ioc"))
    state = hl.info({"type": "clearinghouseState", "user": acct["account"]})
    [entry] = state["assetPositions"]
    position = entry["position"]
    assert entry["type"] == "oneWay"
    assert position["szi"] == "0.1"
    assert position["leverage"]["type"] == "isolated" and position["leverage"]["value"] == 10
    assert Decimal(position["positionValue"]) == Decimal("0.1") * Decimal(67500)
    assert Decimal(state["marginSummary"]["totalMarginUsed"]) == Decimal("675")
    summary = hl.face.engine.summary(acct["account"])
    assert Decimal(state["marginSummary"]["accountValue"]) == summary.equity.quantize(
        Decimal("1e-6")
    )


def test_injected_status_uses_hyperliquid_body(hl: Harness) -> None:
    from tradeexec.sim.faults import FaultRule

    hl.ctx.faults.add(FaultRule(route="hyperliquid.info.allMids", kind="status", status=429))
    r = hl.client.post("/info", json={"type": "allMids"})
    assert (r.status_code, r.text) == (429, "null")
    assert hl.client.post("/info", json={"type": "meta"}).status_code == 200
