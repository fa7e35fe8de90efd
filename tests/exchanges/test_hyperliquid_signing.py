"""Hyperliquid signing with a C keccak: byte-identical to ccxt as shipped (issue 12)."""

from __future__ import annotations

import ccxt.async_support as ccxt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeexec.exchanges.hyperliquid_trader import _no_surprise_fees_class, fast_keccak

CREDS = {"walletAddress": "0x" + "ab" * 20, "privateKey": "0x" + "11" * 32}
# built once: building a ccxt exchange changes the recursion limit, which hypothesis warns of
OURS, THEIRS = _no_surprise_fees_class()(CREDS), ccxt.hyperliquid(CREDS)
AGENT_TYPES = {
    "HyperliquidTransaction:ApproveAgent": [
        {"name": "hyperliquidChain", "type": "string"},
        {"name": "agentAddress", "type": "address"},
        {"name": "agentName", "type": "string"},
        {"name": "nonce", "type": "uint64"},
    ]
}


def test_fast_keccak_is_keccak_256() -> None:
    # the empty input's KECCAK-256 (not SHA3-256, whose padding differs)
    empty = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert fast_keccak(b"").hex() == empty


# ccxt raises the recursion limit when it signs; hypothesis notes it will not reset it
@pytest.mark.filterwarnings("ignore:The recursion limit will not be reset")
@settings(max_examples=25, deadline=None)
@given(
    price=st.integers(min_value=1, max_value=99_999),
    size=st.integers(min_value=1, max_value=10_000),
    nonce=st.integers(min_value=1_700_000_000_000, max_value=1_900_000_000_000),
    buy=st.booleans(),
)
def test_signatures_are_byte_identical_to_ccxt(
    price: int, size: int, nonce: int, buy: bool
) -> None:
    ours, theirs = OURS, THEIRS
    order = {"a": 0, "b": buy, "p": str(price), "s": str(size / 1000), "r": False,
             "t": {"limit": {"tif": "Ioc"}}, "c": "0x" + "0" * 32}  # fmt: skip
    action = {"type": "order", "orders": [order], "grouping": "na"}
    assert ours.sign_l1_action(action, nonce) == theirs.sign_l1_action(action, nonce)
    message = {"hyperliquidChain": "Mainnet", "agentAddress": "0x" + "cd" * 20,
               "agentName": "bot", "nonce": nonce}  # fmt: skip
    assert ours.sign_user_signed_action(AGENT_TYPES, message) == theirs.sign_user_signed_action(
        AGENT_TYPES, message
    )
