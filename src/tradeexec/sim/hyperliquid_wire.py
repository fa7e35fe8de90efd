"""Hyperliquid wire format for the simulator: request parsing, canonical actions, messages.

Parsing follows what Hyperliquid's server does before it looks at a signature:

- a body that is not JSON is HTTP 400 ``Failed to parse the request body as JSON`` (plain text);
- a body of the wrong shape (unknown action or info type, missing or mistyped field, a price or
  size that is not a plain decimal string, a nonzero ninth decimal) is HTTP 422 ``Failed to
  deserialize the JSON body into the target type`` (plain text);
- a known action is re-serialised in its canonical field order with canonical numbers (trailing
  zeros dropped, cloid lowercase) before it is hashed, so key order and zero padding in the JSON
  do not change the recovered signer. ccxt already sends the canonical form.

`Msg` holds Hyperliquid's own error texts; `reject_message` maps an engine `Reject` to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeexec.sim.engine import Reject

PARSE_ERROR = "Failed to parse the request body as JSON"
DESERIALIZE_ERROR = "Failed to deserialize the JSON body into the target type"

L1_ACTIONS = frozenset(
    {"order", "cancel", "cancelByCloid", "updateLeverage", "updateIsolatedMargin", "setReferrer",
     "scheduleCancel", "modify", "batchModify", "twapOrder", "twapCancel"}
)  # fmt: skip
USER_SIGNED_ACTIONS = frozenset(
    {"approveAgent", "approveBuilderFee", "usdSend", "withdraw3", "usdClassTransfer"}
)
INFO_TYPES = frozenset(
    {"meta", "spotMeta", "metaAndAssetCtxs", "spotMetaAndAssetCtxs", "perpDexs", "allMids",
     "l2Book", "clearinghouseState", "spotClearinghouseState", "openOrders",
     "frontendOpenOrders", "orderStatus", "historicalOrders", "userFills", "userFillsByTime",
     "userRole", "extraAgents", "maxBuilderFee", "referral", "userAbstraction",
     "exchangeStatus", "userFees", "userRateLimit", "marginTable", "userFunding",
     "fundingHistory"}
)  # fmt: skip

_WIRE_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_CLOID = re.compile(r"^0x[0-9a-fA-F]{32}$")
_TIFS = {"Gtc", "Ioc", "Alo", "FrontendMarket"}
_GROUPINGS = {"na", "normalTpsl", "positionTpsl"}


class Msg:
    """Hyperliquid's texts (``{asset}`` is the asset index)."""

    USER_MISSING = "L1 error: User or API Wallet {address} does not exist."
    MUST_DEPOSIT = "Must deposit before performing actions. User: {address}"
    NO_SIGNER = "Unable to recover signer."
    NONCE_DUPLICATE = "Invalid nonce: duplicate nonce {nonce}"
    NONCE_LOW = "Invalid nonce: nonce too low {nonce} < {bound}"
    NONCE_HIGH = "Invalid nonce: nonce too high {nonce} > {bound}"
    NONCE_MISMATCH = "Nonce mismatch."
    EXPIRED = "Action already expired"
    WRONG_CHAIN = "Mainnet and testnet require different signature."
    VAULT_UNKNOWN = "Vault not registered: {address}"
    BUILDER_NOT_APPROVED = "Builder fee has not been approved."
    INSUFFICIENT_MARGIN = "Insufficient margin to place order. asset={asset}"
    MIN_VALUE = "Order must have minimum value of $10. asset={asset}"
    TICK = "Price must be divisible by tick size. asset={asset}"
    BAD_SIZE = "Order has invalid size."
    ZERO_SIZE = "Order has zero size."
    PRICE_BAND = "Order price cannot be more than 80% away from the reference price"
    REDUCE_ONLY = "Reduce only order would increase position. asset={asset}"
    POST_ONLY = "Post only order would have immediately matched, bbo was {bid}@{ask}. asset={asset}"
    IOC = "Order could not immediately match against any resting orders. asset={asset}"
    NOT_OPEN = "Order was never placed, already canceled, or filled. asset={asset}"
    # inferred: no recorded venue answer; public clients' mocks disagree on the wording
    DUPLICATE_CLOID = "Duplicate cloid. asset={asset}"
    BAD_ASSET = "Invalid asset. asset={asset}"  # not observed on the venue
    BAD_LEVERAGE = "Invalid leverage value"
    # lowering leverage without the margin for it: the isolated text is quoted as an observed
    # response by public client code; the cross text is from the node binary's strings (as
    # third-party notes list them), not from a recorded response
    LEVERAGE_MARGIN_CROSS = (
        "Cross position does not have sufficient margin available to "
        "decrease leverage. To decrease leverage, deposit more collateral."
    )
    LEVERAGE_MARGIN_ISOLATED = (
        "Isolated position does not have sufficient margin available "
        "to decrease leverage. To decrease leverage, add margin to the "
        "position."
    )
    # the documented value caps ("Contract specifications"); the text is inferred, not observed
    ORDER_VALUE = "Order value exceeds the maximum {kind} order value of ${cap}. asset={asset}"
    # confirmed: the venue's answer as quoted by several public clients and testnet logs
    LEVERAGE_TYPE = "Cannot switch leverage type with open position."
    REFERRER_SET = "Referrer already set."  # not observed
    UNSUPPORTED = "Action {type} is not supported by the simulator."


# engine Reject -> (message template, orderStatus status when the venue keeps a record)
_REJECTS: dict[Reject, tuple[str, str | None]] = {
    Reject.BAD_PRICE: (Msg.TICK, "tickRejected"),
    Reject.BAD_QTY: (Msg.BAD_SIZE, None),
    Reject.BELOW_MIN_QTY: (Msg.BAD_SIZE, None),
    Reject.ABOVE_MAX_QTY: (Msg.BAD_SIZE, None),
    Reject.BELOW_MIN_NOTIONAL: (Msg.MIN_VALUE, "minTradeNtlRejected"),
    Reject.INSUFFICIENT_MARGIN: (Msg.INSUFFICIENT_MARGIN, "perpMarginRejected"),
    Reject.REDUCE_ONLY: (Msg.REDUCE_ONLY, "reduceOnlyRejected"),
    Reject.POST_ONLY_WOULD_CROSS: (Msg.POST_ONLY, "badAloPxRejected"),
    Reject.IOC_NO_MATCH: (Msg.IOC, "iocCancelRejected"),
    Reject.DUPLICATE_CLIENT_ID: (Msg.DUPLICATE_CLOID, None),
    Reject.UNKNOWN_SYMBOL: (Msg.BAD_ASSET, None),
    Reject.UNKNOWN_ORDER: (Msg.NOT_OPEN, None),
    Reject.ORDER_NOT_OPEN: (Msg.NOT_OPEN, None),
    Reject.MISSING_PRICE: (Msg.TICK, None),
    Reject.MISSING_TRIGGER: (Msg.TICK, None),
    Reject.WOULD_TRIGGER_IMMEDIATELY: (Msg.TICK, "badTriggerPxRejected"),
}

# why the engine expired an open order -> Hyperliquid's final order status
EXPIRE_STATUS: dict[Reject, str] = {
    Reject.IOC_NO_MATCH: "iocCancelRejected",
    Reject.REDUCE_ONLY: "reduceOnlyCanceled",
    Reject.INSUFFICIENT_MARGIN: "marginCanceled",
}


def reject_message(reason: Reject, asset: int, bid: str = "", ask: str = "") -> str:
    template = _REJECTS.get(reason, ("Order rejected: " + reason.value, None))[0]
    return template.format(asset=asset, bid=bid, ask=ask)


def reject_status(reason: Reject) -> str | None:
    """The ``orderStatus`` status under which Hyperliquid keeps a rejected order, if it does."""
    return _REJECTS.get(reason, ("", None))[1]


class WireError(ValueError):
    """The request does not deserialize: HTTP 422 on the venue."""


# ----------------------------------------------------------------------------- numbers
def wire_decimal(value: Any) -> Decimal:
    """A price/size wire string: plain digits, at most 8 significant decimals."""
    if not isinstance(value, str) or not _WIRE_DECIMAL.match(value):
        raise WireError(f"not a wire decimal: {value!r}")
    number = Decimal(value)
    if number != number.quantize(Decimal("1e-8")):
        raise WireError(f"more than 8 decimals: {value!r}")
    return number


def canonical_decimal(value: Any) -> str:
    """The form Hyperliquid hashes: trailing zeros (and a bare point) dropped."""
    text = format(wire_decimal(value).normalize(), "f")
    return text


def fmt(value: Decimal, places: int | None = None) -> str:
    """Hyperliquid's rendering of a number in responses: ``"67500.0"``, ``"0.0123"``."""
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    if value == 0:
        return "0.0"
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def decimals_of(value: Decimal) -> int:
    exponent = int(value.normalize().as_tuple().exponent)
    return max(0, -exponent)


# ------------------------------------------------------------------------- envelopes
def _require(mapping: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise WireError(f"missing {key!r}")
    value = mapping[key]
    if kind is int and isinstance(value, bool):
        raise WireError(f"{key!r} must be an integer")
    if not isinstance(value, kind):
        raise WireError(f"{key!r} has the wrong type")
    return value


def _int(mapping: Any, key: str) -> int:
    value = _require(mapping, key, int)
    if value < 0:
        raise WireError(f"{key!r} must not be negative")
    return int(value)


def _bool(mapping: Any, key: str) -> bool:
    return bool(_require(mapping, key, bool))


def _str(mapping: Any, key: str) -> str:
    return str(_require(mapping, key, str))


def _cloid(value: Any) -> str:
    if not isinstance(value, str) or not _CLOID.match(value):
        raise WireError(f"bad cloid {value!r}")
    return value.lower()


def _address(value: Any) -> str:
    if not isinstance(value, str):
        raise WireError("address must be a string")
    text = value[2:] if value.startswith("0x") else value
    if not re.fullmatch(r"[0-9a-fA-F]{40}", text):
        raise WireError(f"bad address {value!r}")
    return "0x" + text.lower()


def _order_wire(raw: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "a": _int(raw, "a"),
        "b": _bool(raw, "b"),
        "p": canonical_decimal(_require(raw, "p", str)),
        "s": canonical_decimal(_require(raw, "s", str)),
        "r": _bool(raw, "r"),
    }
    kind = _require(raw, "t", dict)
    if "limit" in kind and "trigger" not in kind:
        tif = _str(kind["limit"], "tif")
        if tif not in _TIFS:
            raise WireError(f"bad tif {tif!r}")
        order["t"] = {"limit": {"tif": tif}}
    elif "trigger" in kind and "limit" not in kind:
        trig = kind["trigger"]
        tpsl = _str(trig, "tpsl")
        if tpsl not in ("tp", "sl"):
            raise WireError(f"bad tpsl {tpsl!r}")
        order["t"] = {
            "trigger": {
                "isMarket": _bool(trig, "isMarket"),
                "triggerPx": canonical_decimal(_require(trig, "triggerPx", str)),
                "tpsl": tpsl,
            }
        }
    else:
        raise WireError("t must be limit or trigger")
    if raw.get("c") is not None:
        order["c"] = _cloid(raw["c"])
    return order


def canonical_action(action: Any) -> dict[str, Any]:
    """Validate an action and return it in the canonical form that is hashed and executed."""
    kind = _str(action, "type")
    if kind == "order":
        orders = _require(action, "orders", list)
        grouping = _str(action, "grouping")
        if grouping not in _GROUPINGS:
            raise WireError(f"bad grouping {grouping!r}")
        result: dict[str, Any] = {
            "type": "order",
            "orders": [_order_wire(o) for o in orders],
            "grouping": grouping,
        }
        if action.get("builder") is not None:
            builder = action["builder"]
            result["builder"] = {
                "b": _address(_require(builder, "b", str)),
                "f": _int(builder, "f"),
            }
        return result
    if kind == "cancel":
        cancels = _require(action, "cancels", list)
        return {"type": kind, "cancels": [{"a": _int(c, "a"), "o": _int(c, "o")} for c in cancels]}
    if kind == "cancelByCloid":
        cancels = _require(action, "cancels", list)
        return {
            "type": kind,
            "cancels": [
                {"asset": _int(c, "asset"), "cloid": _cloid(c.get("cloid"))} for c in cancels
            ],
        }
    if kind == "updateLeverage":
        return {
            "type": kind,
            "asset": _int(action, "asset"),
            "isCross": _bool(action, "isCross"),
            "leverage": _int(action, "leverage"),
        }
    if kind == "setReferrer":
        return {"type": kind, "code": _str(action, "code")}
    if kind == "approveAgent":
        result = {
            "type": kind,
            "hyperliquidChain": _str(action, "hyperliquidChain"),
            "signatureChainId": _str(action, "signatureChainId"),
            "agentAddress": _address(_require(action, "agentAddress", str)),
            "nonce": _int(action, "nonce"),
        }
        if action.get("agentName") is not None:
            result["agentName"] = _str(action, "agentName")
        return result
    if kind == "approveBuilderFee":
        return {
            "type": kind,
            "hyperliquidChain": _str(action, "hyperliquidChain"),
            "signatureChainId": _str(action, "signatureChainId"),
            "maxFeeRate": _str(action, "maxFeeRate"),
            "builder": _address(_require(action, "builder", str)),
            "nonce": _int(action, "nonce"),
        }
    if kind in L1_ACTIONS or kind in USER_SIGNED_ACTIONS:
        return dict(action)  # known to the venue, not simulated: hashed as sent
    raise WireError(f"unknown action type {kind!r}")


@dataclass(frozen=True, slots=True)
class Envelope:
    """One ``/exchange`` request body, parsed."""

    action: dict[str, Any]
    raw_action: dict[str, Any]
    nonce: int
    signature: dict[str, Any]
    vault_address: str | None
    expires_after: int | None

    @property
    def type(self) -> str:
        return str(self.action["type"])

    @property
    def user_signed(self) -> bool:
        return self.type in USER_SIGNED_ACTIONS


def parse_envelope(body: Any) -> Envelope:
    if not isinstance(body, dict):
        raise WireError("body must be an object")
    raw_action = _require(body, "action", dict)
    action = canonical_action(raw_action)
    nonce = _int(body, "nonce")
    signature = _require(body, "signature", dict)
    for part in ("r", "s", "v"):
        if part not in signature:
            raise WireError(f"signature lacks {part!r}")
    vault = body.get("vaultAddress")
    expires = body.get("expiresAfter")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int)):
        raise WireError("expiresAfter must be an integer")
    return Envelope(
        action=action,
        raw_action=raw_action,
        nonce=nonce,
        signature=signature,
        vault_address=_address(vault) if vault is not None else None,
        expires_after=expires,
    )


def percent_to_tenths_bps(rate: str) -> int:
    """``"0.01%"`` -> 10 (Hyperliquid counts builder fees in tenths of a basis point)."""
    text = rate.strip()
    if not text.endswith("%"):
        raise WireError(f"maxFeeRate must end with %: {rate!r}")
    number = Decimal(text[:-1]) * 1000
    if number < 0 or number != number.to_integral_value():
        raise WireError(f"bad maxFeeRate {rate!r}")
    return int(number)
