"""The exchange simulator: a matching engine behind the real Binance USD-M and Hyperliquid
HTTP APIs, so unmodified ccxt code runs offline. See the README, section "Simulator".

Only light names are exported here; import `tradeexec.sim.app` / `tradeexec.sim.server` for
the HTTP parts.
"""

from tradeexec.sim.pointing import point_ccxt_at

__all__ = ["point_ccxt_at"]
