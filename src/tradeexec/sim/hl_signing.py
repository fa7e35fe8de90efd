"""Hyperliquid request signatures: hashing, signing and signer recovery, as pure functions.

Hyperliquid has two kinds of signed ``/exchange`` actions:

**L1 actions** (``order``, ``cancel``, ``cancelByCloid``, ``updateLeverage``, ``setReferrer`` ...)
are signed as a *phantom agent*::

    connectionId = keccak(msgpack(action)
                          + nonce as 8 bytes big-endian
                          + (0x00 if no vault else 0x01 + the 20 vault address bytes)
                          [+ 0x00 + expiresAfter as 8 bytes big-endian, if given])
    EIP-712 domain {name "Exchange", version "1", chainId 1337, verifyingContract 0x0}
    primaryType Agent(string source, bytes32 connectionId), source "a" mainnet / "b" testnet

**User-signed actions** (``approveAgent``, ``approveBuilderFee``, ``usdSend`` ...) sign the
action's own fields under the domain {name "HyperliquidSignTransaction", version "1",
chainId = int(action.signatureChainId), verifyingContract 0x0} with primaryType
``HyperliquidTransaction:<Name>`` and the field list in `USER_SIGNED_TYPES`.

This is the exact inverse of ccxt 4.5.x (``hyperliquid.action_hash`` / ``sign_l1_action`` /
``sign_user_signed_action``) and of Hyperliquid's Python SDK. The signing helpers exist for
tests and tools; the simulator only recovers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_utils.crypto import keccak

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
L1_CHAIN_ID = 1337

# The networks a simulator accepts signatures for (``SimConfig.hl_network``) -> the
# ``is_mainnet`` values tried, in order. Mainnet and testnet sign the same action differently
# (phantom agent source "a" / "b"; user-signed ``hyperliquidChain`` "Mainnet" / "Testnet"), and
# the official Python SDK signs as testnet for every base URL but mainnet's, so "both" lets
# ccxt (mainnet or sandbox) and the SDK trade against one simulator.
HL_NETWORKS: dict[str, tuple[bool, ...]] = {
    "mainnet": (True,),
    "testnet": (False,),
    "both": (True, False),
}


def chain_name(is_mainnet: bool) -> str:
    """The ``hyperliquidChain`` a user-signed action names on that network."""
    return "Mainnet" if is_mainnet else "Testnet"


_DOMAIN_TYPES = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_AGENT_TYPES = [
    {"name": "source", "type": "string"},
    {"name": "connectionId", "type": "bytes32"},
]


def _fields(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "type": kind} for name, kind in pairs]


# action type -> (EIP-712 primaryType, fields signed in this order)
USER_SIGNED_TYPES: dict[str, tuple[str, list[dict[str, str]]]] = {
    "approveAgent": (
        "HyperliquidTransaction:ApproveAgent",
        _fields(("hyperliquidChain", "string"), ("agentAddress", "address"),
                ("agentName", "string"), ("nonce", "uint64")),
    ),
    "approveBuilderFee": (
        "HyperliquidTransaction:ApproveBuilderFee",
        _fields(("hyperliquidChain", "string"), ("maxFeeRate", "string"),
                ("builder", "address"), ("nonce", "uint64")),
    ),
    "usdSend": (
        "HyperliquidTransaction:UsdSend",
        _fields(("hyperliquidChain", "string"), ("destination", "string"),
                ("amount", "string"), ("time", "uint64")),
    ),
    "withdraw3": (
        "HyperliquidTransaction:Withdraw",
        _fields(("hyperliquidChain", "string"), ("destination", "string"),
                ("amount", "string"), ("time", "uint64")),
    ),
    "usdClassTransfer": (
        "HyperliquidTransaction:UsdClassTransfer",
        _fields(("hyperliquidChain", "string"), ("amount", "string"),
                ("toPerp", "bool"), ("nonce", "uint64")),
    ),
}  # fmt: skip


class SignatureError(ValueError):
    """The signature is malformed or no signer can be recovered from it."""


def address_bytes(address: str) -> bytes:
    """The 20 bytes of an address given with or without ``0x`` (any case)."""
    text = address[2:] if address[:2] in ("0x", "0X") else address
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise SignatureError(f"not a hex address: {address!r}") from None
    if len(raw) != 20:
        raise SignatureError(f"not a 20-byte address: {address!r}")
    return raw


def normalize_address(address: str) -> str:
    """``0x`` + 40 lowercase hex digits."""
    return "0x" + address_bytes(address).hex()


# ------------------------------------------------------------------------------- L1 actions
def action_hash(
    action: Mapping[str, Any],
    vault_address: str | None,
    nonce: int,
    expires_after: int | None = None,
) -> bytes:
    """The phantom agent's ``connectionId`` for an L1 action."""
    data = msgpack.packb(action)
    data += nonce.to_bytes(8, "big")
    if vault_address is None:
        data += b"\x00"
    else:
        data += b"\x01" + address_bytes(vault_address)
    if expires_after is not None:
        data += b"\x00" + expires_after.to_bytes(8, "big")
    return bytes(keccak(data))


def phantom_agent(connection_id: bytes, is_mainnet: bool) -> dict[str, Any]:
    return {"source": "a" if is_mainnet else "b", "connectionId": connection_id}


def l1_typed_data(connection_id: bytes, is_mainnet: bool) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": _DOMAIN_TYPES, "Agent": _AGENT_TYPES},
        "primaryType": "Agent",
        "domain": {
            "name": "Exchange",
            "version": "1",
            "chainId": L1_CHAIN_ID,
            "verifyingContract": ZERO_ADDRESS,
        },
        "message": phantom_agent(connection_id, is_mainnet),
    }


def l1_signing_hash(
    action: Mapping[str, Any],
    nonce: int,
    vault_address: str | None = None,
    expires_after: int | None = None,
    *,
    is_mainnet: bool = True,
) -> bytes:
    """The 32-byte EIP-712 digest an L1 action's signature covers."""
    connection_id = action_hash(action, vault_address, nonce, expires_after)
    return _typed_hash(l1_typed_data(connection_id, is_mainnet))


# ---------------------------------------------------------------------- user-signed actions
def user_signed_typed_data(action: Mapping[str, Any]) -> dict[str, Any]:
    """The EIP-712 message of a user-signed action (its type picks the field list)."""
    action_type = action.get("type")
    if action_type not in USER_SIGNED_TYPES:
        raise SignatureError(f"not a user-signed action type: {action_type!r}")
    primary, fields = USER_SIGNED_TYPES[str(action_type)]
    try:
        chain_id = int(str(action["signatureChainId"]), 16)
    except (KeyError, ValueError):
        raise SignatureError("signatureChainId missing or not hex") from None
    message: dict[str, Any] = {}
    for field in fields:
        name = field["name"]
        if name == "agentName":  # the SDKs sign "" and drop the field when there is no name
            message[name] = action.get(name) or ""
        elif name not in action:
            raise SignatureError(f"{action_type} action lacks {name!r}")
        else:
            message[name] = action[name]
    return {
        "types": {"EIP712Domain": _DOMAIN_TYPES, primary: fields},
        "primaryType": primary,
        "domain": {
            "name": "HyperliquidSignTransaction",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": ZERO_ADDRESS,
        },
        "message": message,
    }


def user_signed_signing_hash(action: Mapping[str, Any]) -> bytes:
    return _typed_hash(user_signed_typed_data(action))


# ------------------------------------------------------------------------ sign and recover
def _typed_hash(full_message: dict[str, Any]) -> bytes:
    try:
        signable = encode_typed_data(full_message=full_message)
    except Exception as exc:  # eth_account raises several kinds for bad field values
        raise SignatureError(f"cannot encode typed data: {exc}") from exc
    return bytes(_hash_eip191_message(signable))


def _signature_parts(signature: Mapping[str, Any]) -> tuple[int, int, int]:
    try:
        r = int(str(signature["r"]), 16)
        s = int(str(signature["s"]), 16)
        v = int(signature["v"])
    except (KeyError, TypeError, ValueError):
        raise SignatureError("signature must have hex r, s and integer v") from None
    if v in (0, 1):
        v += 27
    return r, s, v


def recover_signer(digest: bytes, signature: Mapping[str, Any]) -> str:
    """The lowercase address that produced ``signature`` over ``digest``."""
    r, s, v = _signature_parts(signature)
    if r == 0 or s == 0 or v not in (27, 28):
        raise SignatureError("Unable to recover signer.")
    try:
        address = Account._recover_hash(digest, vrs=(v, r, s))
    except Exception as exc:
        raise SignatureError("Unable to recover signer.") from exc
    return str(address).lower()


def sign_digest(digest: bytes, private_key: str) -> dict[str, Any]:
    """``{"r": "0x..", "s": "0x..", "v": 27|28}`` as ccxt and the SDKs send it."""
    signed = Account.unsafe_sign_hash(digest, private_key)
    return {"r": f"0x{signed.r:064x}", "s": f"0x{signed.s:064x}", "v": int(signed.v)}


def sign_l1_action(
    private_key: str,
    action: Mapping[str, Any],
    nonce: int,
    vault_address: str | None = None,
    expires_after: int | None = None,
    *,
    is_mainnet: bool = True,
) -> dict[str, Any]:
    digest = l1_signing_hash(action, nonce, vault_address, expires_after, is_mainnet=is_mainnet)
    return sign_digest(digest, private_key)


def sign_user_signed_action(private_key: str, action: Mapping[str, Any]) -> dict[str, Any]:
    return sign_digest(user_signed_signing_hash(action), private_key)


def recover_l1_signer(
    action: Mapping[str, Any],
    nonce: int,
    signature: Mapping[str, Any],
    vault_address: str | None = None,
    expires_after: int | None = None,
    *,
    is_mainnet: bool = True,
) -> str:
    digest = l1_signing_hash(action, nonce, vault_address, expires_after, is_mainnet=is_mainnet)
    return recover_signer(digest, signature)


def recover_user_signer(action: Mapping[str, Any], signature: Mapping[str, Any]) -> str:
    return recover_signer(user_signed_signing_hash(action), signature)
