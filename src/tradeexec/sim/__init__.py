"""The exchange simulator: a matching engine behind the real Binance USD-M and Hyperliquid
HTTP APIs, so unmodified ccxt code runs offline. See the README, section "Simulator".

Import `tradeexec.sim.app` / `tradeexec.sim.server` for the HTTP parts. `point_ccxt_at`
(rewrite a ccxt exchange's API URLs to another base URL) lives in
`tradeexec.exchanges.endpoints`; it is still importable from here for older scripts.
"""

from typing import Any

__all__ = ["point_ccxt_at"]


def __getattr__(name: str) -> Any:
    if name == "point_ccxt_at":  # kept for scripts written against the older location
        from tradeexec.exchanges.endpoints import point_ccxt_at

        return point_ccxt_at
    raise AttributeError(f"module 'tradeexec.sim' has no attribute {name!r}")
