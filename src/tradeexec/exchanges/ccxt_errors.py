"""The one place where ccxt's exceptions become tradeexec's.

``translate`` picks our class from ccxt's class (most specific first), then refines by the
venue's message where ccxt's class is too coarse or wrong: several distinct refusals
(reduce-only, minimum notional, precision) share ccxt's ``InvalidOrder``, and Hyperliquid's
"User or API Wallet ... does not exist" (an unknown signer) arrives as ``InvalidOrder`` too.

``is_ambiguous`` says whether a failed *write* may still have taken effect on the venue
(timeout, dropped connection, 5xx): those are reconciled by client order id, never resent.
A 429/418 or a clock-skew refusal is definite: the venue did not act.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import ccxt.async_support as ccxt

from tradeexec import errors
from tradeexec.exchanges.interface import RequestWithheld

# (ccxt class, our class); order matters: subclasses before their parents.
_BY_CLASS: tuple[tuple[type[BaseException], type[errors.TradeExecError]], ...] = (
    (ccxt.OrderNotFound, errors.OrderNotFound),
    (ccxt.BadSymbol, errors.UnknownSymbol),
    (ccxt.InsufficientFunds, errors.InsufficientFunds),
    (ccxt.AuthenticationError, errors.AuthenticationError),
    (ccxt.InvalidNonce, errors.AuthenticationError),  # clock skew: refused, not executed
    (ccxt.InvalidOrder, errors.InvalidOrder),
    (ccxt.NotSupported, errors.NotSupported),
    (ccxt.ArgumentsRequired, errors.InvalidOrder),
    (ccxt.BadRequest, errors.InvalidOrder),
    (ccxt.RateLimitExceeded, errors.RateLimited),
    (ccxt.DDoSProtection, errors.RateLimited),
    (ccxt.RequestTimeout, errors.RequestTimeout),
    (ccxt.ExchangeNotAvailable, errors.ExchangeUnavailable),
    (ccxt.NetworkError, errors.NetworkError),
    # the server failed without saying more (Binance -1000 unknown error, -1008 overloaded, a bad
    # response body): transient, so reads retry it
    (ccxt.OperationFailed, errors.ExchangeUnavailable),
)

# ccxt InvalidOrder refined by the venue's own message (Binance and Hyperliquid texts).
# Minimums come first: Binance's -4164 reads "notional must be no smaller than 100 (unless
# you choose reduce only)", which is a minimum refusal, not a reduce-only one.
_INVALID_ORDER_BY_MESSAGE: tuple[tuple[re.Pattern[str], type[errors.InvalidOrder]], ...] = (
    (
        re.compile(r"notional|minimum value|min(imum)? (order )?(size|qty|amount)", re.I),
        errors.BelowMinimum,
    ),
    (re.compile(r"reduce.?only", re.I), errors.ReduceOnlyRejected),
    (
        re.compile(r"precision|tick size|invalid (price|size)|divisible|decimal", re.I),
        errors.PrecisionError,
    ),
)

# Refusals ccxt files under another class that are really about who is signing.
_AUTH_BY_MESSAGE = re.compile(
    r"User or API Wallet \S+ does not exist|Invalid API-key|Signature for this request"
    r"|requires .*walletAddress|walletAddress.* required",
    re.I,
)

_DEFINITE_NETWORK = (ccxt.DDoSProtection, ccxt.RateLimitExceeded, ccxt.InvalidNonce)

_SECRETISH = re.compile(r"(signature|apiKey|secret|privateKey)=([^&\s\"']+)", re.I)


def _clean(message: str) -> str:
    """Never let a signature or key that a venue echoes back reach our messages."""
    return _SECRETISH.sub(r"\1=<redacted>", message)[:500]


def translate(
    exc: BaseException,
    *,
    exchange: str,
    symbol: str | None = None,
    client_order_id: str | None = None,
) -> errors.TradeExecError:
    """Our error for a ccxt (or transport) exception; the caller raises it ``from exc``.
    A request our own send gate withheld is no venue error: it is raised again as it is."""
    if isinstance(exc, RequestWithheld):
        raise exc
    if isinstance(exc, errors.TradeExecError):
        return exc
    message = _clean(str(exc)) or type(exc).__name__
    target: type[errors.TradeExecError] = errors.ExchangeError
    for ccxt_class, ours in _BY_CLASS:
        if isinstance(exc, ccxt_class):
            target = ours
            break
    else:
        if isinstance(exc, TimeoutError):
            target = errors.RequestTimeout
        elif isinstance(exc, OSError):
            target = errors.NetworkError
    if _broken_transport(exc):
        target = errors.NetworkError
    if _AUTH_BY_MESSAGE.search(message):
        target = errors.AuthenticationError
    if target is errors.InvalidOrder:
        for pattern, refined in _INVALID_ORDER_BY_MESSAGE:
            if pattern.search(message):
                target = refined
                break
    if target is errors.UnknownSymbol:
        return errors.UnknownSymbol(message, exchange=exchange, symbol=symbol)
    return target(message, exchange=exchange, symbol=symbol, client_order_id=client_order_id)


def is_ambiguous(exc: BaseException) -> bool:
    """True when a create/cancel may have reached the venue although we got no answer."""
    if isinstance(exc, _DEFINITE_NETWORK):
        return False
    if isinstance(exc, ccxt.OperationFailed | TimeoutError | ConnectionError):
        return True  # OperationFailed: every NetworkError, and server failures that say no more
    if _broken_transport(exc):
        return True
    return isinstance(exc, ccxt.ExchangeError) and _looks_like_5xx(exc)


def _broken_transport(exc: BaseException) -> bool:
    """ccxt raises a bare ``ExchangeError`` when aiohttp fails in a way that is not a
    connection error, e.g. the connection closes in the middle of the answer's body: that
    is a network failure, and the request may well have been handled."""
    return isinstance(exc, ccxt.ExchangeError) and isinstance(exc.__cause__, aiohttp.ClientError)


def _looks_like_5xx(exc: Any) -> bool:
    return bool(re.search(r"\b5\d\d\b", str(exc)[:40]))


def is_rate_limited(exc: BaseException) -> bool:
    """A 429 / 418 (or a venue's own "too many requests" answer): the venue refused it."""
    return isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded)


def is_no_change(exc: BaseException) -> bool:
    """Setting what is already set (margin mode, position mode) is success."""
    return isinstance(exc, ccxt.NoChange)
