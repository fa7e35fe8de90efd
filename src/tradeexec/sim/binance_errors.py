"""Binance USD-M error answers: codes, messages and HTTP statuses as the real API sends them.

Every refusal leaves the face as ``{"code": <negative int>, "msg": <text>}`` with the HTTP
status Binance uses (400 for request and order problems, 401 for API-key problems, 429/418 for
rate limits, 5xx for server trouble). The codes are chosen so that ccxt's ``binanceusdm``
raises the same exception class it raises against fapi.binance.com (its ``exceptions['linear']``
table, then ``exceptions['exact']``); the table in `REJECT_ANSWERS` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from starlette.responses import JSONResponse

from tradeexec.sim.engine import Reject


@dataclass(frozen=True, slots=True)
class Answer:
    """A fixed Binance error answer; `error()` makes a fresh exception to raise."""

    code: int
    msg: str
    status: int = 400

    def error(self) -> BinanceError:
        return BinanceError(self.code, self.msg, self.status)


class BinanceError(Exception):
    """An error answer in Binance's own shape."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status

    def response(self) -> JSONResponse:
        return JSONResponse({"code": self.code, "msg": self.msg}, status_code=self.status)


# --------------------------------------------------------------------- request problems
def mandatory(name: str) -> BinanceError:
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def illegal_chars(name: str, legal: str) -> BinanceError:
    return BinanceError(
        -1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'."
    )


def invalid_param(name: str) -> BinanceError:
    return BinanceError(-1130, f"Data sent for parameter '{name}' is not valid.")


def not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


INVALID_SYMBOL = Answer(-1121, "Invalid symbol.")
INVALID_SIDE = Answer(-1117, "Invalid side.")
INVALID_ORDER_TYPE = Answer(-1116, "Invalid orderType.")
INVALID_TIF = Answer(-1115, "Invalid timeInForce.")
INVALID_POSITION_SIDE = Answer(-4060, "Invalid position side.")
BAD_PRECISION = Answer(-1111, "Precision is over the maximum defined for this asset.")
PRICE_NOT_POSITIVE = Answer(-4001, "Price less than 0.")
QTY_NOT_POSITIVE = Answer(-4003, "Quantity less than or equal to zero.")
BAD_CLIENT_ID = Answer(-4015, "Client order id is not valid.")
CLOSE_POSITION_QTY = Answer(-4137, "Quantity must be zero with closePosition equals true")
ALGO_ENDPOINT_REQUIRED = Answer(
    -4120,
    "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
)
UNKNOWN_ORDER_SENT = Answer(-2011, "Unknown order sent.")
ORDER_DOES_NOT_EXIST = Answer(-2013, "Order does not exist.")
FOK_REJECTED = Answer(
    -5021, "Due to the order could not be filled immediately, the FOK order has been rejected."
)
POSITION_SIDE_UNCHANGED = Answer(-4059, "No need to change position side.")
POSITION_SIDE_OPEN_ORDERS = Answer(
    -4067, "Position side cannot be changed if there exists open orders."
)
POSITION_SIDE_POSITION = Answer(-4068, "Position side cannot be changed if there exists position.")
MARGIN_TYPE_OPEN_ORDERS = Answer(
    -4047, "Margin type cannot be changed if there exists open orders."
)
MARGIN_TYPE_POSITION = Answer(-4048, "Margin type cannot be changed if there exists position.")
ABOVE_MAX_NOTIONAL = Answer(-2027, "Exceeded the maximum allowable position at current leverage.")
LEVERAGE_MARGIN = Answer(-2028, "Leverage is smaller than permitted: insufficient margin balance")

# --------------------------------------------------------------------------- auth
API_KEY_FORMAT = Answer(-2014, "API-key format invalid.", 401)
REJECTED_API_KEY = Answer(-2015, "Invalid API-key, IP, or permissions for action.", 401)
BAD_SIGNATURE = Answer(-1022, "Signature for this request is not valid.")
OUTSIDE_RECV_WINDOW = Answer(-1021, "Timestamp for this request is outside of the recvWindow.")
AHEAD_OF_SERVER = Answer(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")


def price_above_cap(cap: str) -> BinanceError:
    return BinanceError(-4016, f"Limit price can't be higher than {cap}.")


def price_below_floor(floor: str) -> BinanceError:
    return BinanceError(-4024, f"Limit price can't be lower than {floor}.")


def bad_leverage(leverage: str) -> BinanceError:
    return BinanceError(-4028, f"Leverage {leverage} is not valid")


def min_notional(notional: Decimal) -> BinanceError:
    shown = format(notional.normalize(), "f")
    return BinanceError(
        -4164,
        f"Order's notional must be no smaller than {shown} (unless you choose reduce only).",
    )


# ----------------------------------------------------------------- engine refusals
#: engine `Reject` -> (code, message). ``None`` entries need context (see `from_reject`).
#: The ccxt class noted is what binanceusdm raises for the code on fapi.binance.com.
REJECT_ANSWERS: dict[Reject, tuple[int, str]] = {
    Reject.UNKNOWN_ACCOUNT: (-2015, REJECTED_API_KEY.msg),  # AuthenticationError
    Reject.UNKNOWN_SYMBOL: (-1121, INVALID_SYMBOL.msg),  # BadSymbol
    Reject.UNKNOWN_ORDER: (-2013, ORDER_DOES_NOT_EXIST.msg),  # OrderNotFound
    Reject.ORDER_NOT_OPEN: (-2011, UNKNOWN_ORDER_SENT.msg),  # OrderNotFound
    Reject.BAD_PRICE: (-4014, "Price not increased by tick size."),  # BadRequest
    Reject.BAD_QTY: (-4023, "Qty not increased by step size."),  # BadRequest
    Reject.BELOW_MIN_QTY: (-4004, "Quantity less than min quantity."),  # BadRequest
    Reject.ABOVE_MAX_QTY: (-4005, "Quantity greater than max quantity."),  # BadRequest
    Reject.MISSING_PRICE: (-1102, mandatory("price").msg),  # BadRequest
    Reject.MISSING_TRIGGER: (-1102, mandatory("triggerPrice").msg),  # BadRequest
    Reject.INSUFFICIENT_MARGIN: (-2019, "Margin is insufficient."),  # InsufficientFunds
    Reject.ABOVE_MAX_NOTIONAL: (-2027, ABOVE_MAX_NOTIONAL.msg),  # OperationRejected
    Reject.REDUCE_ONLY: (-2022, "ReduceOnly Order is rejected."),  # InvalidOrder
    Reject.POST_ONLY_WOULD_CROSS: (  # OrderNotFillable (an InvalidOrder)
        -5022,
        "Due to the order could not be executed as maker, the Post Only order will be rejected.",
    ),
    Reject.IOC_NO_MATCH: (-5021, FOK_REJECTED.msg),  # InvalidOrder (FOK only; IOC expires)
    Reject.WOULD_TRIGGER_IMMEDIATELY: (  # OrderImmediatelyFillable (an InvalidOrder)
        -2021,
        "Order would immediately trigger.",
    ),
    Reject.DUPLICATE_CLIENT_ID: (-4116, "ClientOrderId is duplicated."),  # InvalidOrder
    Reject.POSITION_SIDE_MISMATCH: (  # OperationRejected
        -4061,
        "Order's position side does not match user's setting.",
    ),
    Reject.BAD_LEVERAGE: (-4028, "Leverage is not valid"),  # BadRequest
    Reject.MARGIN_MODE_UNCHANGED: (-4046, "No need to change margin type."),  # MarginModeAlreadySet
    Reject.POSITION_EXISTS: (-4048, MARGIN_TYPE_POSITION.msg),  # OperationRejected
    # the reason an order was cancelled by a liquidation; -2023 is fapi's answer to an order
    # sent while the account is being liquidated (never sent here: liquidation is one step)
    Reject.LIQUIDATED: (-2023, "User in liquidation mode now."),
}


def from_reject(reason: Reject, *, min_notional_value: Decimal | None = None) -> BinanceError:
    """The Binance answer for an engine refusal."""
    if reason is Reject.BELOW_MIN_NOTIONAL:
        return min_notional(min_notional_value or Decimal(0))  # InvalidOrder
    code, msg = REJECT_ANSWERS[reason]
    status = 401 if code in (-2014, -2015) else 400
    return BinanceError(code, msg, status)


# ------------------------------------------------------------- injected HTTP statuses
def status_error(status: int, now_ms: int) -> BinanceError:
    """What Binance answers with a bare HTTP status (rate limits, bans, server trouble)."""
    if status == 429:
        return BinanceError(
            -1003,
            "Too many requests; current limit is 2400 requests per minute. Please use the "
            "websocket for live updates to avoid polling the API.",
            429,
        )
    if status == 418:
        return BinanceError(
            -1003,
            f"Way too many requests; IP banned until {now_ms + 120_000}. Please use the "
            "websocket for live updates to avoid bans.",
            418,
        )
    if status == 503:
        return BinanceError(
            -1008,
            "Server is currently overloaded with other requests. Please try again in a few "
            "minutes.",
            503,
        )
    if status == 504:
        return BinanceError(
            -1007,
            "Timeout waiting for response from backend server. Send status unknown; execution "
            "status unknown.",
            504,
        )
    if status == 401:
        return BinanceError(REJECTED_API_KEY.code, REJECTED_API_KEY.msg, 401)
    if status == 400:
        return BinanceError(-1000, "An unknown error occured while processing the request.")
    return BinanceError(-1000, "An unknown error occured while processing the request.", status)
