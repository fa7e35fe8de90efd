"""Observing every HTTP request a ccxt client makes, for the service's metrics.

`observe_requests` wraps one client instance's ``fetch`` (ccxt's one door to the network) so
that each request is timed and its error, if any, named with our error code; the observers
in `request_observers` (the service's metrics attach one) hear about every request of every
ccxt trader in the process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tradeexec.exchanges.ccxt_errors import translate

__all__ = ["RequestObserver", "observe_requests", "request_observers"]

#: Observers of every HTTP request a ccxt trader makes (the service's metrics):
#: ``(account, method, seconds, error_code)``, where ``method`` is ``"GET /fapi/v1/order"``
#: and ``error_code`` the tradeexec code of the error, or None. An observer must not raise.
RequestObserver = Callable[[str, str, float, str | None], None]
request_observers: list[RequestObserver] = []


def observe_requests(exchange: Any, *, account: str, exchange_id: str) -> None:
    """Time every HTTP request ``exchange`` makes for ``account``, and count its errors, for
    the observers (wraps this instance's ``fetch``; free while nobody observes)."""
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
