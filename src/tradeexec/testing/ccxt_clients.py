"""A funded, unmodified ccxt client on the simulator: what a bot's own code would hold.

``async with sim_ccxt(sim_server, "binance") as (exchange, account): ...`` creates a fresh
funded account on the running simulator, builds ``ccxt.async_support.binanceusdm`` (or
``hyperliquid``) with its credentials, points it at the simulator (`point_ccxt_at`), loads the
markets and closes the client afterwards. ``account`` is the simulator's account id (for
``/_sim/accounts/...`` and the engine). Extra ``config`` is passed to the ccxt constructor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from tradeexec.exchanges.endpoints import point_ccxt_at

if TYPE_CHECKING:
    from tradeexec.sim.server import SimServer

__all__ = ["sim_ccxt"]


@asynccontextmanager
async def sim_ccxt(
    sim_server: SimServer,
    venue: Literal["binance", "hyperliquid"],
    balance: Decimal | int | str = 10_000,
    **config: Any,
) -> AsyncIterator[tuple[Any, str]]:
    import ccxt.async_support as ccxt  # heavy: only when a client is built

    simulator = sim_server.simulator
    if venue == "binance":
        creds = simulator.binance.create_account(Decimal(balance))
        ex = ccxt.binanceusdm(
            {"apiKey": creds["apiKey"], "secret": creds["secret"], "enableRateLimit": False}
            | config
        )
    else:
        creds = simulator.hyperliquid.create_account(Decimal(balance))
        ex = ccxt.hyperliquid(
            {
                "walletAddress": creds["walletAddress"],
                "privateKey": creds["privateKey"],
                "enableRateLimit": False,
            }
            | config
        )
    point_ccxt_at(ex, sim_server.base_url)
    try:
        await ex.load_markets()
        yield ex, creds["account"]
    finally:
        await ex.close()
