"""A small open-loop HTTP/1.1 load for bench/service.py: raw keep-alive connections on asyncio
(httpx costs more CPU per request than the server's acknowledgement does), alerts due at
``i / rate`` whatever came back, latency counted from each alert's due time."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

__all__ = ["Conn", "Load"]


class Conn:
    """One keep-alive HTTP/1.1 connection (Content-Length bodies only: what uvicorn sends)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, token: str
    ) -> None:
        self.reader, self.writer, self.host, self.token = reader, writer, host, token

    @classmethod
    async def open(cls, host: str, port: int, token: str) -> Conn:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, host, token)

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        self.writer.write(head.encode() + data)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


class Load:
    """Open-loop alerts on a pool of keep-alive connections to ``host:port``."""

    def __init__(self, host: str, port: int, token: str, secret: str, run: str) -> None:
        self.host, self.port, self.token, self.secret, self.run = host, port, token, secret, run
        self.idle: list[Conn] = []
        self.count = 0
        self.accepted: list[str] = []
        self.statuses: dict[int, int] = {}
        self.reconnects = 0

    def alert(self) -> dict[str, Any]:
        self.count += 1
        return {"passphrase": self.secret, "ticker": "BTCUSDT", "action": "buy",
                "contracts": "0.001", "price": "67500", "account": "paper",
                "idempotency_key": f"bench-{self.run}-{self.count}"}  # fmt: skip

    async def one(self, due: float, latencies: list[float]) -> None:
        alert = self.alert()
        reused = bool(self.idle)
        conn = self.idle.pop() if reused else await Conn.open(self.host, self.port, self.token)
        try:
            status, _ = await conn.request("POST", "/webhooks/tradingview", alert)
        except (OSError, asyncio.IncompleteReadError):
            conn.close()
            if not reused:
                raise
            # the server closed a kept-alive connection (its idle timeout): send again on a
            # new one, as any HTTP client does (the same idempotency key: safe to re-send)
            self.reconnects += 1
            conn = await Conn.open(self.host, self.port, self.token)
            status, _ = await conn.request("POST", "/webhooks/tradingview", alert)
        latencies.append(time.perf_counter() - due)
        self.idle.append(conn)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if 200 <= status < 300:
            self.accepted.append(alert["idempotency_key"])

    async def at_rate(self, rate: float, seconds: float) -> tuple[list[float], float]:
        """Send ``rate`` alerts/s for ``seconds``; (latencies, seconds until the last answer)."""
        latencies: list[float] = []
        tasks = []
        total = int(rate * seconds)
        start = time.perf_counter()
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(due, latencies)))
        await asyncio.gather(*tasks)
        return latencies, time.perf_counter() - start

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()
