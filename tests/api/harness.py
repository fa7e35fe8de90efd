"""The service under test: real uvicorn on a free port in a thread, real HTTP, two
accounts (Binance USD-M and Hyperliquid) on the session's simulator, a SQLite store in a
temp dir. The fixtures are in conftest.py.

Every response a test reads through ``live.client`` and every log line emitted while the
service runs is kept; at teardown none of them may contain a configured secret."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tradeexec.api import ApiSettings, create_app
from tradeexec.config import AppConfig
from tradeexec.service import TradingService
from tradeexec.sim.server import SimServer
from tradeexec.store.repository import Store

ADMIN = "admin-token-0123456789abcdef"
READER = "reader-token-0123456789abcdef"
TRADER = "trader-token-0123456789abcdef"
TV_SECRET = "tv-secret-0123456789abcdef"
NARROW_SECRET = "narrow-secret-0123456789abcdef"
PRICE = Decimal(67500)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def service_config(sim: SimServer, tmp: Path, creds: dict[str, dict[str, str]],
                   **service: Any) -> AppConfig:  # fmt: skip
    bn, hl = creds["bn"], creds["hl"]
    return AppConfig.model_validate(
        {
            "accounts": {
                "bn": {
                    "type": "binance", "api_url": sim.base_url, "api_key": bn["apiKey"],
                    "api_secret": bn["secret"], "timeout_ms": 8000,
                },
                "hl": {
                    "type": "hyperliquid", "api_url": sim.base_url,
                    "wallet_address": hl["walletAddress"], "private_key": hl["privateKey"],
                    "timeout_ms": 8000,
                },
            },
            "default_account": "bn",
            "store_url": f"sqlite:///{tmp / 'service.db'}",
            "market_cache_dir": str(tmp / "markets"),
            "risk": {"max_order_notional": 30000, "max_orders_per_minute": 1000},
            "service": {
                "tokens": {
                    "admin": {"token": ADMIN, "scopes": ["admin"]},
                    "reader": {"token": READER, "scopes": ["read"]},
                    "trader": {"token": TRADER, "scopes": ["trade"]},
                },
                "webhooks": {
                    "main": {"secret": TV_SECRET, "accounts": ["bn", "hl"], "account": "bn"},
                    "narrow": {"secret": NARROW_SECRET, "accounts": ["hl"], "account": "hl"},
                },
                **service,
            },
        }
    )  # fmt: skip


class LiveServer:
    """``create_app`` on uvicorn in a thread with its own event loop."""

    def __init__(self, config: AppConfig, *, reconcile_interval_s: float = 0.0) -> None:
        self.config = config
        self.settings = ApiSettings.from_config(config.service, None)
        self.reconcile_interval_s = reconcile_interval_s
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server: uvicorn.Server | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="tradeexec-api")

    def _run(self) -> None:
        async def main() -> None:
            service = TradingService(self.config, reconcile_interval_s=self.reconcile_interval_s)
            service.retry_delays = (0.01, 0.01)
            app = create_app(service, self.settings, poll_interval_s=0.05, gauge_interval_s=0.5)
            config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
            self.server = uvicorn.Server(config)
            await self.server.serve(sockets=[self.sock])

        asyncio.run(main())

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while self.server is None or not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


@dataclass
class Live:
    """A running service and what a test needs around it."""

    sim: SimServer
    server: LiveServer
    tmp: Path
    creds: dict[str, dict[str, str]]
    responses: list[str] = field(default_factory=list)
    keys: int = 0

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def client(self, token: str | None = ADMIN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            base_url=self.base_url, headers=headers, timeout=30,
            event_hooks={"response": [self._keep]},
        )  # fmt: skip

    def async_client(self, token: str | None = ADMIN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}

        async def keep(response: httpx.Response) -> None:
            await response.aread()
            self.responses.append(response.text)

        return httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=30,
            event_hooks={"response": [keep]},
        )  # fmt: skip

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        self.responses.append(response.text)

    def store(self) -> Store:
        return Store.from_url(self.server.config.store_url, migrate=False)

    def alert(self, **fields: Any) -> dict[str, Any]:
        """A TradingView-style alert for bn: buy 0.01 BTC, 2 % stop, 3 % target, now."""
        self.keys += 1
        alert: dict[str, Any] = {
            "passphrase": TV_SECRET, "ticker": "BTCUSDT", "action": "buy",
            "contracts": "0.01", "price": str(PRICE), "stop_loss_pct": 0.02,
            "take_profit_pct": 0.03, "order_id": f"Long {self.keys}",
            "time": datetime.now(UTC).isoformat(),
        }  # fmt: skip
        alert.update(fields)
        return {k: v for k, v in alert.items() if v is not None}

    def position(self, account: str = "bn", coin: str = "BTC") -> Decimal:
        face = self.sim.simulator.binance if account == "bn" else self.sim.simulator.hyperliquid
        engine_account = self.creds[account]["account"]
        return sum(
            (p.qty for p in face.engine.positions(engine_account) if p.coin == coin), Decimal(0)
        )

    def open_orders(self, account: str = "bn") -> list[Any]:
        face = self.sim.simulator.binance if account == "bn" else self.sim.simulator.hyperliquid
        return list(face.engine.open_orders(self.creds[account]["account"]))

    def wait_for_signal(
        self, client: httpx.Client, signal_id: int | str, timeout: float = 30
    ) -> dict[str, Any]:
        """The signal's story once its status is terminal."""
        deadline = time.monotonic() + timeout
        while True:
            story = client.get(f"/signals/{signal_id}").json()
            status = story["signal"]["status"]
            if status not in ("received", "deciding", "executing"):
                return dict(story)
            if time.monotonic() > deadline:
                raise AssertionError(f"signal {signal_id} still {status}")
            time.sleep(0.1)


def funded(sim: SimServer) -> dict[str, dict[str, str]]:
    sim.simulator.set_price("BTC", PRICE)
    return {
        "bn": dict(sim.simulator.binance.create_account(Decimal(10000))),
        "hl": dict(sim.simulator.hyperliquid.create_account(Decimal(10000))),
    }


def configured_secrets(config: AppConfig) -> list[str]:
    return [s for s in config.secret_values() if len(s) >= 8]
