"""Parsing and checking Binance USD-M request parameters, in fapi's order and with its codes.

`parse_new_order` turns ``POST /fapi/v1/order`` and ``POST /fapi/v1/algoOrder`` parameters into
an engine `OrderSpec`, refusing what fapi refuses before the matching engine sees it: missing or
malformed parameters (-1102 / -1100), unknown enums (-1116 / -1117 / -1115 / -4060),
precision beyond the symbol's pricePrecision / quantityPrecision (-1111), conditional types on
the plain endpoint (-4120), parameters fapi does not accept in that combination (-1106), the
PERCENT_PRICE band (-4016 / -4024). Everything else (tick, step, notional, margin, reduce-only,
position side, duplicate client id) is the engine's to refuse.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tradeexec.sim import binance_errors as err
from tradeexec.sim import binance_render as render
from tradeexec.sim.accounting import PositionSide
from tradeexec.sim.engine import Engine, OrderKind, OrderSpec, Side, TimeInForce
from tradeexec.sim.markets import MarketSpec
from tradeexec.sim.orders import TriggerSource

DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
DECIMAL_LEGAL = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_ID_ALPHABET = string.ascii_letters + string.digits
PLAIN_TYPES = frozenset({"LIMIT", "MARKET"})
ALGO_TYPES = frozenset({"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"})
WORKING_TYPES = frozenset({"MARK_PRICE", "CONTRACT_PRICE"})
STP_MODES = frozenset({"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"})


def new_client_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))


class Params:
    """A request's parameters (query string and body merged; the query string wins)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value not in (None, "") else None

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise err.mandatory(name)
        return value

    def decimal(self, name: str) -> Decimal | None:
        raw = self.get(name)
        if raw is None:
            return None
        if not DECIMAL_RE.match(raw):
            raise err.illegal_chars(name, DECIMAL_LEGAL)
        try:
            return Decimal(raw)
        except InvalidOperation:
            raise err.illegal_chars(name, DECIMAL_LEGAL) from None

    def boolean(self, name: str) -> bool | None:
        raw = self.get(name)
        if raw is None:
            return None
        if raw.lower() not in ("true", "false"):
            raise err.invalid_param(name)
        return raw.lower() == "true"

    def integer(self, name: str) -> int | None:
        raw = self.get(name)
        if raw is None:
            return None
        if not raw.lstrip("-").isdigit():
            raise err.illegal_chars(name, "^-?[0-9]{1,20}$")
        return int(raw)

    def order_ref(self, id_name: str, client_name: str) -> tuple[int | None, str | None]:
        """(id, client id) of an order reference; one of them must be sent."""
        order_id = self.integer(id_name)
        client_id = self.get(client_name)
        if order_id is None and client_id is None:
            raise err.BinanceError(
                -1102,
                f"Param '{id_name}' or '{client_name}' must be sent, but both were empty/null!",
            )
        return order_id, client_id


def market_for(engine: Engine, symbol: str | None) -> MarketSpec:
    for spec in engine.markets.values():
        if render.symbol_of(spec) == symbol:
            return spec
    raise err.INVALID_SYMBOL.error()


def _decimals(value: Decimal) -> int:
    return max(0, -int(value.normalize().as_tuple().exponent))


def _check_price(spec: MarketSpec, value: Decimal) -> None:
    if value <= 0:
        raise err.PRICE_NOT_POSITIVE.error()
    if _decimals(value) > render.price_precision(spec):
        raise err.BAD_PRECISION.error()


def _check_qty(spec: MarketSpec, value: Decimal) -> None:
    if value <= 0:
        raise err.QTY_NOT_POSITIVE.error()
    if _decimals(value) > render.qty_precision(spec):
        raise err.BAD_PRECISION.error()


@dataclass
class NewOrder:
    spec: OrderSpec
    market: MarketSpec
    extras: dict[str, Any] = field(default_factory=dict)
    resp_type: str = "ACK"


def parse_new_order(params: Params, engine: Engine, hedge_mode: bool, *, algo: bool) -> NewOrder:
    """Check a new-order request the way fapi does and build the engine's order."""
    if algo:
        algo_type = params.required("algoType")
        if algo_type != "CONDITIONAL":
            raise err.invalid_param("algoType")
    market = market_for(engine, params.required("symbol"))
    side_raw = params.required("side")
    if side_raw not in ("BUY", "SELL"):
        raise err.INVALID_SIDE.error()
    side = Side(side_raw)
    type_raw = params.required("type")
    if algo and type_raw not in ALGO_TYPES:
        raise err.INVALID_ORDER_TYPE.error()  # TRAILING_STOP_MARKET is not simulated
    if not algo and type_raw not in PLAIN_TYPES:
        if type_raw in ALGO_TYPES or type_raw == "TRAILING_STOP_MARKET":
            raise err.ALGO_ENDPOINT_REQUIRED.error()
        raise err.INVALID_ORDER_TYPE.error()
    kind = render.TYPE_TO_KIND[type_raw]

    position_raw = params.get("positionSide") or "BOTH"
    if position_raw not in ("BOTH", "LONG", "SHORT"):
        raise err.INVALID_POSITION_SIDE.error()
    position_side = PositionSide(position_raw)

    reduce_only = params.boolean("reduceOnly") or False
    if reduce_only and hedge_mode:
        raise err.not_required("reduceOnly")
    close_position = params.boolean("closePosition") or False
    if close_position and kind not in (OrderKind.STOP_MARKET, OrderKind.TAKE_PROFIT_MARKET):
        raise err.not_required("closePosition")
    if close_position and reduce_only:
        raise err.not_required("reduceOnly")

    quantity = params.decimal("quantity")
    if close_position:
        if quantity is not None:
            raise err.CLOSE_POSITION_QTY.error()
        quantity = Decimal(0)
    else:
        if quantity is None:
            raise err.mandatory("quantity")
        _check_qty(market, quantity)

    price = params.decimal("price")
    if kind.needs_price:
        if price is None:
            raise err.mandatory("price")
        _check_price(market, price)
    elif price is not None and price != 0:
        raise err.not_required("price")
    else:
        price = None

    trigger_name = "triggerPrice" if algo else "stopPrice"
    trigger = params.decimal(trigger_name)
    if kind.is_trigger:
        if trigger is None:
            raise err.mandatory(trigger_name)
        _check_price(market, trigger)
    elif trigger is not None and trigger != 0:
        raise err.not_required(trigger_name)
    else:
        trigger = None

    tif = TimeInForce.GTE_GTC if close_position else TimeInForce.GTC
    tif_raw = params.get("timeInForce")
    if algo and tif_raw == "GTE_GTC":  # good till the position closes (see TimeInForce)
        tif = TimeInForce.GTE_GTC
    elif kind.needs_price:
        if tif_raw is None and kind is OrderKind.LIMIT:
            raise err.mandatory("timeInForce")
        if tif_raw is not None:
            if tif_raw not in render.BINANCE_TO_TIF:  # GTD is not simulated
                raise err.INVALID_TIF.error()
            tif = render.BINANCE_TO_TIF[tif_raw]

    client_name = "clientAlgoId" if algo else "newClientOrderId"
    client_id = params.get(client_name)
    if client_id is not None and not CLIENT_ID_RE.match(client_id):
        raise err.BAD_CLIENT_ID.error()

    extras: dict[str, Any] = {}
    working_type = params.get("workingType")
    if working_type is not None:
        if working_type not in WORKING_TYPES:
            raise err.BinanceError(-4031, f"Invalid parameter working type: {working_type}")
        extras["workingType"] = working_type
    trigger_on = TriggerSource.MARK if working_type == "MARK_PRICE" else TriggerSource.LAST
    price_protect = params.boolean("priceProtect")
    if price_protect is not None:
        extras["priceProtect"] = price_protect
    stp = params.get("selfTradePreventionMode")
    if stp is not None:
        if stp not in STP_MODES:  # -1130 inferred: no recorded refusal of a bad STP mode
            raise err.invalid_param("selfTradePreventionMode")
        extras["selfTradePreventionMode"] = stp
    price_match = params.get("priceMatch")
    if price_match not in (None, "NONE"):
        raise err.invalid_param("priceMatch")  # price matching is not simulated
    resp_type = params.get("newOrderRespType") or "ACK"
    if resp_type not in ("ACK", "RESULT"):
        raise err.BinanceError(-1136, "Invalid newOrderRespType.")

    if kind is OrderKind.LIMIT and price is not None:
        floor, cap = render.percent_price_band(market, engine.marks[market.coin])
        if side is Side.BUY and price > cap:
            raise err.price_above_cap(render.px(market, cap))
        if side is Side.SELL and price < floor:
            raise err.price_below_floor(render.px(market, floor))

    # hedge mode: an order against its own side (SELL LONG, BUY SHORT) can only reduce
    closing = (position_side is PositionSide.LONG and side is Side.SELL) or (
        position_side is PositionSide.SHORT and side is Side.BUY
    )
    spec = OrderSpec(
        coin=market.coin,
        side=side,
        kind=kind,
        qty=quantity,
        price=price,
        trigger_price=trigger,
        tif=tif,
        reduce_only=reduce_only or (closing and not close_position),
        close_position=close_position,
        position_side=position_side,
        client_id=client_id or new_client_id(),
        trigger_on=trigger_on,
    )
    return NewOrder(spec, market, extras, resp_type)
