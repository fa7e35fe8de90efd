"""The normalised trading vocabulary every part of tradeexec speaks.

All values are frozen, slotted dataclasses. Money and quantities are ``decimal.Decimal``:
constructors also accept ``str`` and ``int`` (converted exactly) but refuse ``float`` with a
``TypeError``, because a float has usually already lost the value the user meant. At the
dict-shaped API boundary, where floats arrive from JSON, convert them with ``to_decimal``,
which goes through ``str()`` (``0.1`` becomes ``Decimal('0.1')``, not
``Decimal('0.1000000000000000055511151231257827')``).

Enum-typed fields accept their string values too, case-insensitively
(``'BUY'`` -> ``OrderSide.BUY``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Literal, NoReturn, TypeVar

from tradeexec.errors import InvalidOrder

# numbers from outside: re-exported here, where callers have always found to_decimal
from tradeexec.numeric import InvalidNumber, to_decimal

__all__ = [
    "Balance",
    "Fill",
    "FrozenMap",
    "InvalidNumber",
    "MarginMode",
    "Market",
    "Order",
    "OrderRequest",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Position",
    "SignalSource",
    "Ticker",
    "TimeInForce",
    "TradingState",
    "to_decimal",
]

ZERO = Decimal(0)


class _LenientStrEnum(StrEnum):
    """A StrEnum whose lookup by value ignores case and surrounding whitespace."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            wanted = value.strip().lower()
            for member in cls:
                if member.value.lower() == wanted or member.name.lower() == wanted:
                    return member
        return None


class OrderSide(_LenientStrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(_LenientStrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    TAKE_PROFIT_MARKET = "take_profit_market"
    STOP_LIMIT = "stop_limit"
    TAKE_PROFIT_LIMIT = "take_profit_limit"

    @property
    def is_trigger(self) -> bool:
        """Rests until the mark/last price reaches ``trigger_price``."""
        return self not in (OrderType.MARKET, OrderType.LIMIT)

    @property
    def needs_price(self) -> bool:
        """Carries a limit price."""
        return self in (OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT)

    @property
    def is_stop(self) -> bool:
        return self in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)

    @property
    def is_take_profit(self) -> bool:
        return self in (OrderType.TAKE_PROFIT_MARKET, OrderType.TAKE_PROFIT_LIMIT)


class TimeInForce(_LenientStrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "PO"  # ccxt's spelling; Binance GTX, Hyperliquid Alo


class OrderStatus(_LenientStrEnum):
    PENDING_SUBMIT = "pending_submit"  # recorded, not yet sent
    SUBMITTED = "submitted"  # accepted by the exchange, open, nothing filled
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCEL_PENDING = "cancel_pending"  # cancel sent, not yet confirmed
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # sent, answer lost: reconcile by client order id

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        """Live on the exchange (may still fill)."""
        return self in _OPEN


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)
_OPEN = frozenset({OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.CANCEL_PENDING})


class MarginMode(_LenientStrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


class TradingState(_LenientStrEnum):
    ACTIVE = "active"  # everything allowed
    REDUCING = "reducing"  # only orders that reduce exposure (and cancels)
    HALTED = "halted"  # only cancels


class SignalSource(_LenientStrEnum):
    AGENT = "agent"
    TRADINGVIEW = "tradingview"
    CLI = "cli"
    MCP = "mcp"
    API = "api"


# --------------------------------------------------------------------------- conversion


def _decimal(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        if isinstance(value, float):
            raise TypeError(
                f"{name}: float {value!r} is not exact; pass a Decimal, str or int "
                "(or convert with tradeexec.domain.to_decimal)"
            )
        raise TypeError(f"{name}: expected Decimal, str or int, got {type(value).__name__}")
    try:
        if isinstance(value, Decimal):
            result = value
        else:
            result = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f"{name}: {value!r} is not a number") from None
    if not result.is_finite():
        raise ValueError(f"{name}: {value!r} is not a finite number")
    return result


def _optional_decimal(value: object, name: str) -> Decimal | None:
    return None if value is None else _decimal(value, name)


_E = TypeVar("_E", bound=StrEnum)


def _enum(enum: type[_E], value: object, name: str) -> _E:
    if isinstance(value, enum):
        return value
    try:
        return enum(value)  # type: ignore[arg-type]  # _missing_ handles any object
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ValueError(f"{name}: {value!r} is not one of {allowed}") from None


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _convert(obj: object, decimals: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    for name in decimals:
        _set(obj, name, _decimal(getattr(obj, name), name))
    for name in optional:
        _set(obj, name, _optional_decimal(getattr(obj, name), name))


class FrozenMap(dict[str, Any]):
    """A read-only dict: what ``params`` / ``info`` hold. Unlike ``MappingProxyType`` it
    survives ``pickle``, ``copy.deepcopy`` and ``dataclasses.asdict``."""

    __slots__ = ()

    def _readonly(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(f"{type(self).__name__} is read-only")

    __setitem__ = __delitem__ = _readonly
    clear = pop = popitem = setdefault = update = _readonly
    __ior__ = _readonly

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenMap({dict.__repr__(self)})"


def _frozen_mapping(value: Mapping[str, object]) -> Mapping[str, Any]:
    return value if isinstance(value, FrozenMap) else FrozenMap(value)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What we ask an exchange to do. Validated on construction (raises ``InvalidOrder``).

    ``price`` is required exactly for limit-type orders and ``trigger_price`` exactly for
    trigger (stop / take-profit) orders. ``stop_loss`` / ``take_profit`` are protective
    trigger prices to place after (or attached to) the entry. ``position_side`` is for
    hedge mode only: ``'long'`` / ``'short'`` (``'both'`` means one-way).
    ``params`` are venue-specific extras, passed through; stored as a read-only copy.
    """

    symbol: str
    side: OrderSide
    type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    client_order_id: str | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    position_side: str | None = None
    params: Mapping[str, object] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        try:
            _set(self, "side", _enum(OrderSide, self.side, "side"))
            _set(self, "type", _enum(OrderType, self.type, "type"))
            _set(self, "time_in_force", _enum(TimeInForce, self.time_in_force, "time_in_force"))
            _convert(
                self,
                ("quantity",),
                ("price", "trigger_price", "stop_loss", "take_profit"),
            )
        except ValueError as exc:
            raise InvalidOrder(str(exc), symbol=self.symbol or None) from None
        _set(self, "params", _frozen_mapping(self.params))
        problem = self._problem()
        if problem:
            raise InvalidOrder(
                f"invalid {self.type.value} {self.side.value} order: {problem}",
                symbol=self.symbol or None,
                client_order_id=self.client_order_id,
            )
        if self.position_side is not None:
            _set(self, "position_side", self.position_side.lower())

    def _problem(self) -> str | None:
        kind = self.type.value
        if not self.symbol or not self.symbol.strip():
            return "symbol is empty"
        if self.quantity <= 0:
            return f"quantity must be > 0, got {self.quantity}"
        if self.type.needs_price and self.price is None:
            return f"a {kind} order needs a price"
        if not self.type.needs_price and self.price is not None:
            return f"a {kind} order takes no price (got {self.price})"
        if self.type.is_trigger and self.trigger_price is None:
            return f"a {kind} order needs a trigger_price"
        if not self.type.is_trigger and self.trigger_price is not None:
            return f"a {kind} order takes no trigger_price (got {self.trigger_price})"
        for name in ("price", "trigger_price", "stop_loss", "take_profit"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                return f"{name} must be > 0, got {value}"
        if self.time_in_force is TimeInForce.POST_ONLY and not self.type.needs_price:
            return "post-only needs a limit price"
        if self.client_order_id is not None and not self.client_order_id.strip():
            return "client_order_id is empty"
        if self.position_side is not None and self.position_side.lower() not in (
            "long",
            "short",
            "both",
        ):
            return f"position_side must be long, short or both, got {self.position_side!r}"
        if self.stop_loss is not None and self.take_profit is not None:
            # A long's stop is below its target, a short's above.
            wrong = (
                self.stop_loss >= self.take_profit
                if self.side is OrderSide.BUY
                else self.stop_loss <= self.take_profit
            )
            if wrong:
                return (
                    f"stop_loss {self.stop_loss} and take_profit {self.take_profit} are on the "
                    f"wrong sides for a {self.side.value}"
                )
        return None


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the exchange reports it, normalised. ``info`` is the raw venue payload."""

    id: str
    client_order_id: str | None
    symbol: str
    side: OrderSide
    type: OrderType
    status: OrderStatus
    quantity: Decimal
    filled_quantity: Decimal = ZERO
    average_price: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    reduce_only: bool = False
    timestamp: int = 0  # ms since the epoch
    fee: Decimal | None = None
    fee_currency: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        _set(self, "side", _enum(OrderSide, self.side, "side"))
        _set(self, "type", _enum(OrderType, self.type, "type"))
        _set(self, "status", _enum(OrderStatus, self.status, "status"))
        _convert(
            self,
            ("quantity", "filled_quantity"),
            ("average_price", "price", "trigger_price", "fee"),
        )
        _set(self, "info", _frozen_mapping(self.info))

    @property
    def remaining(self) -> Decimal:
        return max(self.quantity - self.filled_quantity, ZERO)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution (trade) of an order. ``trade_id`` is unique per venue."""

    trade_id: str
    order_id: str
    client_order_id: str | None
    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal | None = None
    fee_currency: str | None = None
    realized_pnl: Decimal | None = None
    timestamp: int = 0  # ms since the epoch

    def __post_init__(self) -> None:
        _set(self, "side", _enum(OrderSide, self.side, "side"))
        _convert(self, ("quantity", "price"), ("fee", "realized_pnl"))

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price


@dataclass(frozen=True, slots=True)
class Position:
    """An open (or flat) position. ``quantity`` is signed: > 0 long, < 0 short."""

    symbol: str
    quantity: Decimal
    entry_price: Decimal | None = None
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal = ZERO
    leverage: int | None = None
    margin_mode: MarginMode | None = None
    liquidation_price: Decimal | None = None

    def __post_init__(self) -> None:
        _convert(
            self,
            ("quantity", "unrealized_pnl"),
            ("entry_price", "mark_price", "liquidation_price"),
        )
        if self.margin_mode is not None:
            _set(self, "margin_mode", _enum(MarginMode, self.margin_mode, "margin_mode"))

    @property
    def side(self) -> Literal["long", "short", "flat"]:
        if self.quantity > 0:
            return "long"
        if self.quantity < 0:
            return "short"
        return "flat"

    @property
    def notional(self) -> Decimal:
        """abs(quantity) x mark price (the entry price when no mark is known; 0 if neither)."""
        price = self.mark_price if self.mark_price is not None else self.entry_price
        return abs(self.quantity) * (price if price is not None else ZERO)


@dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    total: Decimal
    free: Decimal
    used: Decimal = ZERO

    def __post_init__(self) -> None:
        _convert(self, ("total", "free", "used"))


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    mark: Decimal | None = None
    timestamp: int = 0  # ms since the epoch

    def __post_init__(self) -> None:
        _convert(self, (), ("bid", "ask", "last", "mark"))

    @property
    def mid(self) -> Decimal | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2

    @property
    def reference_price(self) -> Decimal | None:
        """The best single price to value things at: mark, else mid, else last."""
        if self.mark is not None:
            return self.mark
        return self.mid if self.mid is not None else self.last


@dataclass(frozen=True, slots=True)
class Market:
    """One tradable contract and the venue's rules for it.

    ``price_step`` is None when the venue constrains prices by significant figures instead
    (Hyperliquid: ``price_sig_figs=5`` and at most ``price_max_decimals`` decimals).
    """

    symbol: str
    base: str
    quote: str
    settle: str | None
    amount_step: Decimal
    price_step: Decimal | None
    min_amount: Decimal | None = None
    min_notional: Decimal | None = None
    max_leverage: int | None = None
    contract_size: Decimal = Decimal(1)
    active: bool = True
    price_sig_figs: int | None = None
    price_max_decimals: int | None = None

    def __post_init__(self) -> None:
        _convert(
            self,
            ("amount_step", "contract_size"),
            ("price_step", "min_amount", "min_notional"),
        )

    def round_amount(self, amount: Decimal, rounding: str = ROUND_DOWN) -> Decimal:
        """``amount`` on the amount grid (rounded down by default: never size up)."""
        return _to_step(amount, self.amount_step, rounding)

    def round_price(self, price: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        """``price`` as the venue accepts it: on the tick grid, or to significant figures."""
        if self.price_step is not None:
            return _to_step(price, self.price_step, rounding)
        result = price
        if self.price_sig_figs is not None and price != 0:
            exponent = price.adjusted() - self.price_sig_figs + 1
            if exponent > 0:
                exponent = 0  # integers are always allowed
            result = price.quantize(Decimal(1).scaleb(exponent), rounding=rounding)
        if self.price_max_decimals is not None:
            limit = Decimal(1).scaleb(-self.price_max_decimals)
            if -result.as_tuple().exponent > self.price_max_decimals:  # type: ignore[operator]
                result = result.quantize(limit, rounding=rounding)
        return result


def _to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:
        return value
    return (value / step).quantize(Decimal(1), rounding=rounding) * step
