"""Both venues' websocket faces behind one object, so the app wires them in a few lines."""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute

from tradeexec.sim.binance_api import BinanceFace
from tradeexec.sim.hyperliquid_api import HyperliquidFace
from tradeexec.sim.ws_binance import BinanceStreams
from tradeexec.sim.ws_hub import SyncAfterRequest, WsHub
from tradeexec.sim.ws_hyperliquid import HyperliquidStreams

__all__ = ["SyncAfterRequest", "WebsocketFaces"]


class WebsocketFaces(WsHub):
    """`BinanceStreams` and `HyperliquidStreams` over the app's two faces (`sim.ws_hub`)."""

    def __init__(
        self, binance: BinanceFace, hyperliquid: HyperliquidFace, clock: Callable[[], int]
    ) -> None:
        self.binance = BinanceStreams(binance)
        self.hyperliquid = HyperliquidStreams(hyperliquid)
        super().__init__([self.binance, self.hyperliquid], clock)

    def routes(self) -> list[BaseRoute]:
        return self.binance.routes() + self.hyperliquid.routes()

    def reset(self) -> None:
        self.binance.reset()
        self.hyperliquid.reset()
