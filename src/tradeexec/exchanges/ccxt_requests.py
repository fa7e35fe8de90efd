"""Every HTTP request a ccxt client makes: observed for the metrics, paced under the limits.

Both wrap one client instance's ``fetch`` (ccxt's one door to the network):

- `observe_requests` times each request and names its error, if any, with our error code;
  the observers in `request_observers` (the service's metrics attach one) hear about every
  request of every ccxt trader in the process;
- `pace_requests` runs each request through a `backoff.RateGate`: it waits while the venue's
  limits say so, then reads the answer's rate-limit headers (ccxt keeps them in
  ``last_response_headers``, set just before ``fetch`` returns or raises).

Inside both, right before the request goes out, the trader's ``send_gate`` is consulted for
a request that may change something on the venue (any method but GET, except Hyperliquid's
``/info`` reads): after ccxt's own reads and any wait for the rate limits, so a replica whose
lease ran out during them (or that was paused there) sends nothing (`RequestWithheld`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from tradeexec.exchanges.backoff import RateGate
from tradeexec.exchanges.ccxt_errors import is_rate_limited, translate

__all__ = [
    "RequestObserver",
    "observe_requests",
    "pace_requests",
    "request_observers",
    "wrap_requests",
]

#: Observers of every HTTP request a ccxt trader makes (the service's metrics):
#: ``(account, method, seconds, error_code)``, where ``method`` is ``"GET /fapi/v1/order"``
#: and ``error_code`` the tradeexec code of the error, or None. An observer must not raise.
RequestObserver = Callable[[str, str, float, str | None], None]
request_observers: list[RequestObserver] = []


class _Trader(Protocol):
    account: str
    exchange_id: str
    rate_gate: RateGate | None
    send_gate: Callable[[], None] | None


def wrap_requests(exchange: Any, trader: _Trader) -> None:
    """`observe_requests` for one trader: its account, its rate gate, and its send gate as
    it is at each request (the journal sets it once it knows the account is leased)."""
    observe_requests(
        exchange,
        account=trader.account,
        exchange_id=trader.exchange_id,
        gate=trader.rate_gate,
        send_gate=lambda: trader.send_gate,
    )


def _writes(url: str, method: str) -> bool:
    return method.upper() != "GET" and not urlsplit(url).path.endswith("/info")


def observe_requests(
    exchange: Any,
    *,
    account: str,
    exchange_id: str,
    gate: RateGate | None = None,
    send_gate: Callable[[], Callable[[], None] | None] = lambda: None,
) -> None:
    """Time every HTTP request ``exchange`` makes for ``account``, and count its errors, for
    the observers (wraps this instance's ``fetch``; free while nobody observes); with a
    ``gate``, pace them too (`pace_requests`, outside the timing). ``send_gate`` gives the
    send gate of the moment, if any (see the module docstring)."""
    fetch = exchange.fetch

    async def observed(url: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
        check = send_gate()
        if check is not None and _writes(url, method):
            check()  # raises RequestWithheld: nothing leaves
        if not request_observers:
            return await fetch(url, method, *args, **kwargs)
        started, code = time.perf_counter(), None
        try:
            return await fetch(url, method, *args, **kwargs)
        except Exception as exc:
            code = translate(exc, exchange=exchange_id).code
            raise
        finally:
            path = urlsplit(url).path or "/"
            for observe in list(request_observers):
                observe(account, f"{method} {path}", time.perf_counter() - started, code)

    exchange.fetch = observed
    if gate is not None:
        pace_requests(exchange, gate)


def pace_requests(exchange: Any, gate: RateGate) -> None:
    """Send every HTTP request of ``exchange`` through ``gate`` (wraps this instance's
    ``fetch``; wrap it after `observe_requests`, so waiting is not timed as latency)."""
    fetch = exchange.fetch

    async def paced(url: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        body = args[1] if len(args) > 1 else kwargs.get("body")
        await gate.before(method, parts.path or "/", parts.query, body)
        try:
            result = await fetch(url, method, *args, **kwargs)
        except Exception as exc:
            refused = is_rate_limited(exc)
            # a failure without an answer (timeout, refused connection) has no headers
            gate.after(exchange.last_response_headers if refused else None, refused=refused)
            raise
        gate.after(exchange.last_response_headers)
        gate.learn(result)
        return result

    exchange.fetch = paced
