"""Every exception tradeexec raises, in one tree.

Third-party errors (ccxt, httpx, pydantic) are translated into these at the edge, once,
with ``raise OurError(...) from exc``. Each class has a stable ``code`` (snake_case) that
API results carry as their machine ``reason``; the message is for humans. Messages must
never contain secrets (keys, private keys, signatures).

::

    TradeExecError                      trade_exec_error
    ├── ConfigError                     config_error
    ├── NotInitializedError             not_initialized
    ├── InvalidTransitionError          invalid_transition   (order state machine)
    ├── InvalidSignal                   invalid_signal       (bad input: unrendered
    │                                                         placeholder, missing field)
    ├── RiskRejected                    risk_rejected        (+ reason_code, detail)
    └── ExchangeError                   exchange_error
        ├── AuthenticationError         authentication_failed
        ├── InsufficientFunds           insufficient_funds
        ├── InvalidOrder                invalid_order
        │   ├── BelowMinimum            below_minimum        (min amount / min notional)
        │   ├── PrecisionError          precision_error
        │   └── ReduceOnlyRejected      reduce_only_rejected
        ├── OrderNotFound               order_not_found
        ├── UnknownSymbol               unknown_symbol       (+ close_matches)
        ├── NotSupported                not_supported
        ├── OrderOutcomeUnknown         order_outcome_unknown (reconcile by client id;
        │                                                      never resend blindly)
        └── NetworkError                network_error        (reads may be retried)
            ├── RateLimited             rate_limited
            ├── RequestTimeout          request_timeout
            └── ExchangeUnavailable     exchange_unavailable

Only reads are retried, and only on ``NetworkError`` (see ``is_retryable_read``). An order
create or cancel whose answer was lost raises ``OrderOutcomeUnknown``, which is *not* a
``NetworkError`` on purpose: retrying it could place a second order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "AuthenticationError",
    "BelowMinimum",
    "ConfigError",
    "ExchangeError",
    "ExchangeUnavailable",
    "InsufficientFunds",
    "InvalidOrder",
    "InvalidSignal",
    "InvalidTransitionError",
    "NetworkError",
    "NotInitializedError",
    "NotSupported",
    "OrderNotFound",
    "OrderOutcomeUnknown",
    "PrecisionError",
    "RateLimited",
    "ReduceOnlyRejected",
    "RequestTimeout",
    "RiskRejected",
    "TradeExecError",
    "UnknownSymbol",
    "is_retryable_read",
]


def _restore(cls: type[TradeExecError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    # Keyword-only context would be lost by BaseException's default pickling.
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class TradeExecError(Exception):
    """Base of every tradeexec error.

    ``exchange``, ``symbol`` and ``client_order_id`` are optional context; they are shown in
    ``str(exc)`` after the message, and returned by ``to_dict()``.
    """

    code: str = "trade_exec_error"

    def __init__(
        self,
        message: str = "",
        *,
        exchange: str | None = None,
        symbol: str | None = None,
        client_order_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message or self.__class__.__name__
        self.exchange = exchange
        self.symbol = symbol
        self.client_order_id = client_order_id

    def __str__(self) -> str:
        context = [
            f"{name}={value}"
            for name, value in (
                ("exchange", self.exchange),
                ("symbol", self.symbol),
                ("client_order_id", self.client_order_id),
            )
            if value is not None
        ]
        if not context:
            return self.message
        return f"{self.message} [{', '.join(context)}]"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, dict(self.__dict__)))

    def to_dict(self) -> dict[str, Any]:
        """The structured form API results use: ``reason`` (stable code) and ``error`` (text)."""
        out: dict[str, Any] = {"reason": self.code, "error": str(self)}
        for key in ("exchange", "symbol", "client_order_id"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


class ConfigError(TradeExecError):
    """The configuration is missing, malformed or inconsistent (raised at start-up)."""

    code = "config_error"


class NotInitializedError(TradeExecError):
    """A component was used before its ``init()`` / ``connect()`` completed."""

    code = "not_initialized"


class InvalidTransitionError(TradeExecError):
    """An order event that is impossible from the order's current status."""

    code = "invalid_transition"


class InvalidSignal(TradeExecError):
    """A signal (webhook body, agent request, CLI input) is malformed; answered with a 4xx."""

    code = "invalid_signal"


class RiskRejected(TradeExecError):
    """A pre-trade check refused the order; ``reason_code`` says which one."""

    code = "risk_rejected"

    def __init__(
        self,
        reason_code: str,
        detail: str = "",
        *,
        exchange: str | None = None,
        symbol: str | None = None,
        client_order_id: str | None = None,
    ) -> None:
        message = f"risk check {reason_code!r} refused the order"
        if detail:
            message = f"{message}: {detail}"
        super().__init__(message, exchange=exchange, symbol=symbol, client_order_id=client_order_id)
        self.args = (reason_code, detail)
        self.reason_code = reason_code
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["reason_code"] = self.reason_code
        return out


class ExchangeError(TradeExecError):
    """The exchange (or the way to it) failed or refused the request."""

    code = "exchange_error"


class AuthenticationError(ExchangeError):
    """Credentials are missing, wrong, expired or lack permission. Never retried."""

    code = "authentication_failed"


class InsufficientFunds(ExchangeError):
    """Not enough margin or balance for the order. Never retried."""

    code = "insufficient_funds"


class InvalidOrder(ExchangeError):
    """The order itself is wrong (fields, values, venue rules). Never retried."""

    code = "invalid_order"


class BelowMinimum(InvalidOrder):
    """Quantity below the market's minimum amount, or value below its minimum notional."""

    code = "below_minimum"


class PrecisionError(InvalidOrder):
    """Quantity or price does not fit the market's step / significant-figure rules."""

    code = "precision_error"


class ReduceOnlyRejected(InvalidOrder):
    """A reduce-only order would open or increase a position (or there is nothing to reduce)."""

    code = "reduce_only_rejected"


class OrderNotFound(ExchangeError):
    """The exchange does not know the order (by id or client id)."""

    code = "order_not_found"


class UnknownSymbol(ExchangeError):
    """The symbol is not listed on the venue; ``close_matches`` holds suggestions."""

    code = "unknown_symbol"

    def __init__(
        self,
        message: str = "",
        *,
        close_matches: Iterable[str] = (),
        exchange: str | None = None,
        symbol: str | None = None,
        client_order_id: str | None = None,
    ) -> None:
        matches = tuple(close_matches)
        if not message:
            message = f"unknown symbol {symbol!r}" if symbol else "unknown symbol"
        if matches:
            message = f"{message}; did you mean: {', '.join(matches)}?"
        super().__init__(message, exchange=exchange, symbol=symbol, client_order_id=client_order_id)
        self.close_matches = matches

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["close_matches"] = list(self.close_matches)
        return out


class NotSupported(ExchangeError):
    """The venue (or its tradeexec adapter) cannot do this."""

    code = "not_supported"


class OrderOutcomeUnknown(ExchangeError):
    """A create or cancel was sent but its answer was lost (timeout, disconnect, 5xx).

    The order may or may not exist. Resolve it by looking the order up by its client order
    id; never by sending it again. Deliberately not a ``NetworkError``, so generic retry
    logic cannot resend it.
    """

    code = "order_outcome_unknown"


class NetworkError(ExchangeError):
    """A transport-level failure before the exchange could act. Reads may be retried."""

    code = "network_error"


class RateLimited(NetworkError):
    """The venue throttled us (HTTP 429 / 418, DDoS protection). Back off before retrying."""

    code = "rate_limited"


class RequestTimeout(NetworkError):
    """A read did not get an answer in time."""

    code = "request_timeout"


class ExchangeUnavailable(NetworkError):
    """The venue is down, in maintenance, or answered 5xx to a read."""

    code = "exchange_unavailable"


def is_retryable_read(exc: BaseException) -> bool:
    """True if a *read* that failed with ``exc`` may be retried (``NetworkError`` family only).

    Writes (create / cancel) are never retried automatically, whatever this returns.
    """
    return isinstance(exc, NetworkError)
