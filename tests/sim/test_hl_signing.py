"""Hyperliquid signature recovery is the exact inverse of ccxt's signer."""

from __future__ import annotations

import copy
from typing import Any

import ccxt
import pytest
from eth_account import Account

from tradeexec.sim import hl_signing as hs

FIXED_KEY = "0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
FIXED_ADDRESS = "0xfcad0b19bb29d4674531d6f115237e16afce377c"
NONCE = 1733000000123
BUILDER = "0x6530512A6c89C7cfCEbC3BA7fcD9aDa5f30827a6"
ORDER: dict[str, Any] = {
    "type": "order",
    "orders": [
        {
            "a": 0,
            "b": True,
            "p": "67500",
            "s": "0.001",
            "r": False,
            "t": {"limit": {"tif": "Gtc"}},
            "c": "0x" + "ab" * 16,
        }
    ],
    "grouping": "na",
}
# produced by ccxt 4.5.90's hyperliquid.sign_l1_action / build_approve_builder_fee_sig
CCXT_ORDER_SIG = {
    "r": "0xbac99d0c51a5b24e3b6fe37aff0c074aa4227494d0d6dc13541006f7400f65a5",
    "s": "0x38c755899357cbde3564b8fda381e73878e729dd70ac52ff0fdc2e66e98dfdf1",
    "v": 28,
}
CCXT_ORDER_VAULT_SIG = {
    "r": "0x937998f1d9ad7a9095ff785e2f98a1ee3d839b71745b21340754aeb2ca9846e5",
    "s": "0x7ef4cf5a4f40c61f00431f1d9a90abfce12ef1e456b6ce09478b9a640abcc9aa",
    "v": 28,
}
CCXT_BUILDER_SIG = {
    "r": "0x4ad44c05cd2cee6999c460a5bc702123348e8d4525f085e139b440fc68388ffa",
    "s": "0x084a5b875284c31b656f0031ddda35dd980b6e9079421e7de8a10499e0142e91",
    "v": 28,
}
VAULT = "1234567890abcdef1234567890abcdef12345678"


def builder_action(nonce: int = NONCE) -> dict[str, Any]:
    return {
        "hyperliquidChain": "Mainnet",
        "signatureChainId": "0x66eee",
        "maxFeeRate": "0.01%",
        "builder": BUILDER,
        "nonce": nonce,
        "type": "approveBuilderFee",
    }


def ccxt_signer(key: str, sandbox: bool = False) -> Any:
    ex = ccxt.hyperliquid({"walletAddress": Account.from_key(key).address, "privateKey": key})
    if sandbox:
        ex.set_sandbox_mode(True)
    return ex


def test_fixed_ccxt_vectors_recover_the_key_address() -> None:
    assert hs.recover_l1_signer(ORDER, NONCE, CCXT_ORDER_SIG) == FIXED_ADDRESS
    assert hs.recover_l1_signer(ORDER, NONCE, CCXT_ORDER_VAULT_SIG, VAULT) == FIXED_ADDRESS
    assert hs.recover_l1_signer(ORDER, NONCE, CCXT_ORDER_VAULT_SIG, "0x" + VAULT) == FIXED_ADDRESS
    assert hs.recover_user_signer(builder_action(), CCXT_BUILDER_SIG) == FIXED_ADDRESS


def test_our_signer_reproduces_ccxt_bytes_for_bytes() -> None:
    assert hs.sign_l1_action(FIXED_KEY, ORDER, NONCE) == CCXT_ORDER_SIG
    assert hs.sign_l1_action(FIXED_KEY, ORDER, NONCE, VAULT) == CCXT_ORDER_VAULT_SIG
    assert hs.sign_user_signed_action(FIXED_KEY, builder_action()) == CCXT_BUILDER_SIG


@pytest.mark.parametrize("sandbox", [False, True])
def test_fresh_key_live_ccxt_signatures_recover(sandbox: bool) -> None:
    wallet = Account.create()
    key = "0x" + bytes(wallet.key).hex()
    ex = ccxt_signer(key, sandbox)
    address = str(wallet.address).lower()
    sig = ex.sign_l1_action(ORDER, NONCE)
    assert hs.recover_l1_signer(ORDER, NONCE, sig, is_mainnet=not sandbox) == address
    # the other network's phantom agent recovers someone else
    assert hs.recover_l1_signer(ORDER, NONCE, sig, is_mainnet=sandbox) != address
    expiring = ex.sign_l1_action(ORDER, NONCE, None, NONCE + 60_000)
    assert (
        hs.recover_l1_signer(ORDER, NONCE, expiring, None, NONCE + 60_000, is_mainnet=not sandbox)
        == address
    )


def test_user_signed_approve_agent_with_and_without_name() -> None:
    wallet = Account.create()
    key = "0x" + bytes(wallet.key).hex()
    ex = ccxt_signer(key)
    agent = Account.create().address
    types = {"HyperliquidTransaction:ApproveAgent": hs.USER_SIGNED_TYPES["approveAgent"][1]}
    for name in ("bot", ""):
        message = {
            "hyperliquidChain": "Mainnet",
            "agentAddress": agent,
            "agentName": name,
            "nonce": NONCE,
        }
        sig = ex.sign_user_signed_action(types, message)
        action = {"type": "approveAgent", "signatureChainId": "0x66eee", **message}
        if not name:
            del action["agentName"]  # the SDKs drop an empty name from the action
        assert hs.recover_user_signer(action, sig) == str(wallet.address).lower()


def test_any_change_to_the_signed_content_changes_the_signer() -> None:
    tampered = copy.deepcopy(ORDER)
    tampered["orders"][0]["s"] = "0.002"
    assert hs.recover_l1_signer(tampered, NONCE, CCXT_ORDER_SIG) != FIXED_ADDRESS
    assert hs.recover_l1_signer(ORDER, NONCE + 1, CCXT_ORDER_SIG) != FIXED_ADDRESS
    assert hs.recover_l1_signer(ORDER, NONCE, CCXT_ORDER_SIG, VAULT) != FIXED_ADDRESS
    assert hs.recover_user_signer(builder_action(NONCE + 1), CCXT_BUILDER_SIG) != FIXED_ADDRESS
    testnet = {**builder_action(), "signatureChainId": "0x1"}
    assert hs.recover_user_signer(testnet, CCXT_BUILDER_SIG) != FIXED_ADDRESS


def test_action_hash_layout() -> None:
    import msgpack
    from eth_utils.crypto import keccak

    packed = msgpack.packb(ORDER)
    assert hs.action_hash(ORDER, None, NONCE) == keccak(packed + NONCE.to_bytes(8, "big") + b"\x00")
    assert hs.action_hash(ORDER, VAULT, NONCE, 7) == keccak(
        packed
        + NONCE.to_bytes(8, "big")
        + b"\x01"
        + bytes.fromhex(VAULT)
        + b"\x00"
        + (7).to_bytes(8, "big")
    )


@pytest.mark.parametrize(
    "signature",
    [
        {"r": "0x0", "s": "0x0", "v": 27},
        {"r": "0x1", "s": "0x1", "v": 30},
        {"r": "zz", "s": "0x1", "v": 27},
        {"s": "0x1", "v": 27},
    ],
)
def test_unrecoverable_signatures_raise(signature: dict[str, Any]) -> None:
    with pytest.raises(hs.SignatureError):
        hs.recover_l1_signer(ORDER, NONCE, signature)


def test_user_signed_needs_its_fields_and_a_known_type() -> None:
    with pytest.raises(hs.SignatureError):
        hs.user_signed_signing_hash({"type": "order"})
    action = builder_action()
    del action["maxFeeRate"]
    with pytest.raises(hs.SignatureError):
        hs.user_signed_signing_hash(action)


def test_addresses_normalise() -> None:
    assert hs.normalize_address(BUILDER) == BUILDER.lower()
    assert hs.normalize_address(BUILDER[2:]) == BUILDER.lower()
    with pytest.raises(hs.SignatureError):
        hs.normalize_address("0x1234")
