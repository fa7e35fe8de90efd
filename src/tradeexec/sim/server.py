"""Running the simulator: in the foreground (``tradeexec sim``) or in a thread (tests, demos)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from tradeexec.sim.app import SimConfig, Simulator


def _server(sim: Simulator, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        sim.app, host=host, port=port, log_level="warning", access_log=False, lifespan="on"
    )
    return uvicorn.Server(config)


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound socket with TCP_NODELAY, which the accepted connections inherit (Linux).

    Without it, a response written in two pieces (headers, body) can wait for the client's
    delayed ACK: a ~40 ms stall (Nagle) that would distort every latency measured here.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    # listening before anyone is told the address: a client that connects between the banner
    # and the server's start waits in the backlog instead of being refused
    sock.listen(2048)
    return sock


def banner(sim: Simulator, base_url: str) -> dict[str, Any]:
    """The first line ``tradeexec sim`` prints: where it listens, funded demo credentials, and
    which Hyperliquid network's signatures it accepts (``hl_network``: mainnet, testnet or
    both; the official SDK signs as testnet at any URL but mainnet's)."""
    return {
        "base_url": base_url,
        "hl_network": sim.hyperliquid.network,
        "accounts": sim.demo_credentials(),
    }


def serve(port: int, *, host: str = "127.0.0.1", config: SimConfig | None = None) -> None:
    """Serve both faces on host:port until interrupted; print the banner line first."""
    sim = Simulator(config)
    server = _server(sim, host, port)
    sock = listening_socket(host, port)
    bound = sock.getsockname()[1]
    print(json.dumps(banner(sim, f"http://{host}:{bound}")), flush=True)
    asyncio.run(server.serve(sockets=[sock]))


class SimServer:
    """A simulator on a free loopback port in a background thread.

    >>> with SimServer() as srv:
    ...     srv.base_url  # doctest: +SKIP
    """

    def __init__(self, config: SimConfig | None = None, host: str = "127.0.0.1") -> None:
        self.simulator = Simulator(config)
        self.host = host
        self._sock = listening_socket(host, 0)
        self.port: int = self._sock.getsockname()[1]
        self.base_url = f"http://{host}:{self.port}"
        self._server = _server(self.simulator, host, self.port)
        self._thread = threading.Thread(target=self._run, name="tradeexec-sim", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self) -> SimServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
