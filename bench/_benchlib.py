"""Shared pieces of the benchmarks: statistics, machine facts, a simulator in its own process.

Nothing here times anything by itself; the benchmark modules do, and only they decide what is
inside a timed section. Every network call goes to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.request import Request, urlopen

LOOPBACK = "127.0.0.1"


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample: always a real sample."""
    if not values:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def summarize(values: Sequence[float]) -> dict[str, float | int]:
    """n, median, p90, p99, min, max of a sample (same unit as the input)."""
    return {
        "n": len(values),
        "median": median(values),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "min": min(values),
        "max": max(values),
    }


# --------------------------------------------------------------------------- machine


def machine_facts() -> dict[str, Any]:
    """What a reader needs to judge the numbers: cores, load, Python and ccxt versions."""
    try:
        from importlib.metadata import version

        ccxt_version = version("ccxt")
    except Exception:  # pragma: no cover - ccxt is a dependency
        ccxt_version = "unknown"
    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover
        load = (float("nan"),) * 3
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "ccxt": ccxt_version,
        "loadavg": [round(x, 2) for x in load],
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
    }


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# --------------------------------------------------------------------------- simulator

_SIM_SCRIPT = "import sys\nfrom tradeexec.sim.server import serve\nserve(0, host=sys.argv[1])\n"


class SimProcess:
    """The simulator in a separate Python process, so its CPU work (HTTP parsing, HMAC and
    EIP-712 signature checks, matching) does not share the client's event loop or GIL.

    Controlled over its ``/_sim`` HTTP API. ``mark()`` and ``requests_since()`` find out
    which exchange requests an operation made, from the simulator's request log.
    """

    def __init__(self, start_timeout_s: float = 30.0) -> None:
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.banner: dict[str, Any] = {}

    def __enter__(self) -> SimProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SIM_SCRIPT, LOOPBACK],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the banner; serve() prints it before listening
        if not line:
            self.__exit__(None, None, None)
            raise RuntimeError("simulator process exited before printing its banner")
        self.banner = json.loads(line)
        self.base_url = self.banner["base_url"]
        if not self.base_url.startswith(f"http://{LOOPBACK}:"):
            self.__exit__(None, None, None)
            raise RuntimeError(f"simulator is not on loopback: {self.base_url}")
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            try:
                self.control("GET", "/_sim/health")
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.__exit__(None, None, None)
                    raise RuntimeError("simulator did not become healthy") from None
                time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()  # only the process we started, by its own handle
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()

    # -------------------------------------------------------------- control
    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def create_account(self, venue: str, balance: str | int) -> dict[str, str]:
        result: dict[str, str] = self.control(
            "POST", "/_sim/accounts", {"venue": venue, "balance": str(balance)}
        )
        return result

    def set_price(self, coin: str, price: str | int) -> None:
        self.control("POST", "/_sim/prices", {"coin": coin, "price": str(price)})

    def mark(self) -> str:
        """Put a unique marker into the request log (an unrouted path: logged, answered 404)."""
        marker = uuid.uuid4().hex
        req = Request(f"{self.base_url}/bench-marker/{marker}", method="GET")
        try:
            with urlopen(req, timeout=10):
                pass
        except OSError:
            pass  # the 404 is expected; the middleware logged the path either way
        return marker

    def requests_since(self, marker: str, limit: int = 500) -> list[dict[str, Any]]:
        """Exchange requests logged after ``mark()`` returned ``marker`` (oldest first)."""
        rows: list[dict[str, Any]] = self.control("GET", f"/_sim/requests?limit={limit}")[
            "requests"
        ]
        for i in range(len(rows) - 1, -1, -1):
            if rows[i]["path"] == f"/bench-marker/{marker}":
                return rows[i + 1 :]
        raise RuntimeError(f"marker {marker} is not in the last {limit} logged requests")


def simulator(existing: SimProcess | None = None) -> contextlib.AbstractContextManager[SimProcess]:
    """``existing`` as is (the caller owns it), else a new simulator process for this block."""
    return contextlib.nullcontext(existing) if existing is not None else SimProcess()


def describe_request(entry: dict[str, Any]) -> str:
    """``GET /fapi/v1/ticker/bookTicker`` or ``POST /exchange order`` (Hyperliquid's body
    type names the operation, as all its calls share two paths)."""
    text = f"{entry['method']} {entry['path']}"
    body = entry.get("body")
    if isinstance(body, dict):
        action = body.get("action")
        kind = action.get("type") if isinstance(action, dict) else body.get("type")
        if kind:
            text += f" {kind}"
    return text
