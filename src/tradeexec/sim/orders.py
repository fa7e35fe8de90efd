"""The simulator's order vocabulary: sides, kinds, statuses, refusals, and order records.

Shared by the engine, both exchange faces and `PaperTrader`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from tradeexec.sim.accounting import ZERO, PositionSide


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderKind(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"
    STOP_LIMIT = "STOP_LIMIT"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"

    @property
    def is_trigger(self) -> bool:
        return self not in (OrderKind.MARKET, OrderKind.LIMIT)

    @property
    def is_stop(self) -> bool:
        return self in (OrderKind.STOP_MARKET, OrderKind.STOP_LIMIT)

    @property
    def needs_price(self) -> bool:
        return self in (OrderKind.LIMIT, OrderKind.STOP_LIMIT, OrderKind.TAKE_PROFIT_LIMIT)


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "POST_ONLY"
    # Binance conditionals: good till the position closes (then EXPIRED) or cancelled; what a
    # closePosition order carries (`Engine._expire_with_position`)
    GTE_GTC = "GTE_GTC"


class TriggerSource(StrEnum):
    """The price a trigger order watches: the mark, or the last trade price. Binance picks
    per order (``workingType`` MARK_PRICE / CONTRACT_PRICE, the default being CONTRACT_PRICE,
    i.e. the last price: "New Order (TRADE)", developers.binance.com); Hyperliquid triggers on
    the mark (docs, Trading > "Take profit and stop loss orders (TP/SL)" and "Order types";
    one third-party adapter, nautilus_trader, says last trade: we follow the venue's docs)."""

    MARK = "MARK"
    LAST = "LAST"


class OrderStatus(StrEnum):
    NEW = "NEW"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"

    @property
    def is_open(self) -> bool:
        return self is OrderStatus.NEW


class Reject(StrEnum):
    """Why the engine refused something; each face maps these to its own codes and messages."""

    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    BAD_PRICE = "BAD_PRICE"  # not on the price grid / too many significant figures
    BAD_QTY = "BAD_QTY"  # not a multiple of the step
    BELOW_MIN_QTY = "BELOW_MIN_QTY"
    ABOVE_MAX_QTY = "ABOVE_MAX_QTY"
    BELOW_MIN_NOTIONAL = "BELOW_MIN_NOTIONAL"
    MISSING_PRICE = "MISSING_PRICE"
    MISSING_TRIGGER = "MISSING_TRIGGER"
    INSUFFICIENT_MARGIN = "INSUFFICIENT_MARGIN"
    ABOVE_MAX_NOTIONAL = "ABOVE_MAX_NOTIONAL"  # the position would exceed the leverage's bracket
    REDUCE_ONLY = "REDUCE_ONLY"  # would not reduce the position
    POST_ONLY_WOULD_CROSS = "POST_ONLY_WOULD_CROSS"
    IOC_NO_MATCH = "IOC_NO_MATCH"
    WOULD_TRIGGER_IMMEDIATELY = "WOULD_TRIGGER_IMMEDIATELY"
    DUPLICATE_CLIENT_ID = "DUPLICATE_CLIENT_ID"
    POSITION_SIDE_MISMATCH = "POSITION_SIDE_MISMATCH"
    BAD_LEVERAGE = "BAD_LEVERAGE"
    MARGIN_MODE_UNCHANGED = "MARGIN_MODE_UNCHANGED"
    POSITION_EXISTS = "POSITION_EXISTS"  # margin/position mode change refused
    ORDER_NOT_OPEN = "ORDER_NOT_OPEN"
    LIQUIDATED = "LIQUIDATED"  # cancelled because the account was liquidated


class SimError(Exception):
    def __init__(self, reason: Reject, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """What a client asked for, already parsed by a face."""

    coin: str
    side: Side
    kind: OrderKind
    qty: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    close_position: bool = False  # Binance closePosition=true: close whatever is open on fire
    position_side: PositionSide = PositionSide.BOTH
    client_id: str | None = None
    parent_id: int | None = None  # armed only once this order has filled (HL normalTpsl)
    trigger_on: TriggerSource = TriggerSource.MARK


@dataclass(slots=True)
class SimOrder:
    order_id: int
    account_id: str
    spec: OrderSpec
    created_ms: int
    updated_ms: int
    status: OrderStatus = OrderStatus.NEW
    filled_qty: Decimal = ZERO
    avg_price: Decimal = ZERO
    fee_paid: Decimal = ZERO
    triggered_ms: int | None = None
    armed: bool = True
    expire_reason: Reject | None = None
    trade_ids: list[int] = field(default_factory=list)
    # the id of the order a fired trigger placed, numbered apart from the trigger's own (the
    # Binance face shows it as ``actualOrderId``; Hyperliquid keeps one oid); None until then
    placed_id: int | None = None

    @property
    def remaining(self) -> Decimal:
        return self.spec.qty - self.filled_qty

    @property
    def is_untriggered(self) -> bool:
        return self.spec.kind.is_trigger and self.triggered_ms is None


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: int
    order_id: int
    client_id: str | None
    account_id: str
    coin: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal
    maker: bool
    time_ms: int
    position_side: PositionSide


def trigger_hit(spec: OrderSpec, mark: Decimal, last: Decimal) -> bool:
    """Whether a trigger order's price has been reached: a stop BUY (take-profit SELL) fires
    at or above its trigger, a stop SELL (take-profit BUY) at or below, watching the price
    its `TriggerSource` names."""
    assert spec.trigger_price is not None
    price = last if spec.trigger_on is TriggerSource.LAST else mark
    fires_above = (spec.side is Side.BUY) == spec.kind.is_stop
    return price >= spec.trigger_price if fires_above else price <= spec.trigger_price


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000
