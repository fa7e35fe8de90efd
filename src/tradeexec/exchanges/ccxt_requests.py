"""Every HTTP request a ccxt client makes: observed for the metrics, paced under the limits.

Both wrap one client instance's ``fetch`` (ccxt's one door to the network):

- `observe_requests` times each request and names its error, if any, with our error code;
  the observers in `request_observers` (the service's metrics attach one) hear about every
  request of every ccxt trader in the process;
- `pace_requests` runs each request through a `backoff.RateGate`: it waits while the venue's
  limits say so, then reads the answer's rate-limit headers (ccxt keeps them in
  ``last_response_headers``, set just before ``fetch`` returns or raises).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tradeexec.exchanges.backoff import RateGate
from tradeexec.exchanges.ccxt_errors import is_rate_limited, translate

__all__ = ["RequestObserver", "observe_requests", "pace_requests", "request_observers"]

#: Observers of every HTTP request a ccxt trader makes (the service's metrics):
#: ``(account, method, seconds, error_code)``, where ``method`` is ``"GET /fapi/v1/order"``
#: and ``error_code`` the tradeexec code of the error, or None. An observer must not raise.
RequestObserver = Callable[[str, str, float, str | None], None]
request_observers: list[RequestObserver] = []


def observe_requests(
    exchange: Any, *, account: str, exchange_id: str, gate: RateGate | None = None
) -> None:
    """Time every HTTP request ``exchange`` makes for ``account``, and count its errors, for
    the observers (wraps this instance's ``fetch``; free while nobody observes); with a
    ``gate``, pace them too (`pace_requests`, outside the timing)."""
    fetch = exchange.fetch

    async def observed(url: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
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
