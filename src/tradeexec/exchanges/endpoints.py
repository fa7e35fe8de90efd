"""Point a ccxt exchange instance at the simulator (or any other base URL).

Every entry of ``exchange.urls['api']`` becomes ``base_url + <its original path>``; websocket
entries (``ws://`` / ``wss://``, which ``ccxt.pro`` classes carry under ``urls['api']['ws']``)
become ``ws://<base_url's host and port> + <their path>`` (``wss://`` for an ``https`` base).
Call it after any sandbox / demo switch, because those replace ``urls['api']``.

Binance chooses its per-market error table (spot / linear / inverse ...) by the request URL's
host (``https://fapi.binance.com/...`` means linear). So that the same error codes raise the
same ccxt exceptions against the simulator, the instance's URL-to-error-table lookup is given
the original URL back; nothing else in ccxt is touched.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def _websocket_base(base: str) -> str:
    """``http://host:port`` -> ``ws://host:port`` (``https`` -> ``wss``)."""
    return "ws" + base[len("http") :] if base.startswith("http") else base


def _rewrite(value: Any, base: str, originals: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _rewrite(item, base, originals) for key, item in value.items()}
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        parts = urlsplit(value)
        new = base + parts.path
        originals.setdefault(new, value)
        return new
    if isinstance(value, str) and value.startswith(("ws://", "wss://")):
        return _websocket_base(base) + urlsplit(value).path
    return value


def point_ccxt_at(exchange: Any, base_url: str) -> Any:
    """Rewrite ``exchange.urls['api']`` to ``base_url``; returns the same exchange."""
    base = base_url.rstrip("/")
    hostname = getattr(exchange, "hostname", None)
    originals: dict[str, str] = {}
    api = exchange.urls["api"]
    if isinstance(api, str):
        api = api.replace("{hostname}", hostname) if hostname else api
        exchange.urls["api"] = _rewrite(api, base, originals)
    else:
        if hostname:
            api = {
                k: v.replace("{hostname}", hostname) if isinstance(v, str) else v
                for k, v in api.items()
            }
        exchange.urls["api"] = _rewrite(api, base, originals)

    by_url = getattr(exchange, "get_exceptions_by_url", None)
    if by_url is not None:
        # longest simulator prefix first, so /fapi/v2 wins over /fapi
        prefixes = sorted(originals.items(), key=lambda item: len(item[0]), reverse=True)

        def exceptions_by_original_url(url: str | None, exact_or_broad: str) -> Any:
            if url is not None:
                for new, original in prefixes:
                    if url.startswith(new):
                        url = original + url[len(new) :]
                        break
            return by_url(url, exact_or_broad)

        exchange.get_exceptions_by_url = exceptions_by_original_url
    return exchange
