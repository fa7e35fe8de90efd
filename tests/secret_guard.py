"""The suite-wide secret guard (issue 12): no registered canary secret in any log record.

``tests/conftest.py`` installs `GUARD` (a handler on the root logger, for the whole session)
and checks, at the end of every test, what was logged during it: a test whose run logged a
canary fails at teardown, naming the logger and the secret's first characters (never the
secret). What is logged outside any test (session fixtures) is checked when the session ends.

Canaries are the secrets the tests configure: `register_canaries` (call it wherever a test
configures a credential), plus, collected automatically, every credential the session's
simulator handed out during a test, and the tokens and secrets of the service and MCP
harnesses once those modules are loaded. Values shorter than 8 characters are ignored: they
would match ordinary text.

``tradeexec``'s own loggers run at DEBUG for the session (unless a test sets them otherwise),
so every record of ours is made and checked, not only warnings.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable

__all__ = ["GUARD", "CanaryGuard", "register_canaries"]

MIN_LEN = 8
# modules whose constants are configured secrets, and the names of those constants
HARNESS_SECRETS = {
    "api.harness": ("ADMIN", "READER", "TRADER", "TV_SECRET", "NARROW_SECRET"),
    "mcp.mcp_harness": ("ADMIN", "TRADER", "READER"),
    "mcp_harness": ("ADMIN", "TRADER", "READER"),
    "reliability.http_soak": ("TRADER_TOKEN", "WEBHOOK_SECRET"),
}


class CanaryGuard(logging.Handler):
    """Keeps the text of every record (message, traceback, stack) until `check` scans it."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.canaries: set[str] = set()
        self._texts: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def register(self, values: Iterable[str | None]) -> None:
        with self._lock:
            self.canaries.update(v for v in values if isinstance(v, str) and len(v) >= MIN_LEN)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            parts = [record.getMessage()]
        except Exception:  # a record that cannot be formatted: its raw parts
            parts = [str(record.msg), repr(record.args)]
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
        parts += [record.exc_text or "", record.stack_info or ""]
        with self._lock:
            self._texts.append((record.name, "\n".join(parts)))

    def check(self) -> list[str]:
        """One line per (logger, canary) found since the last check; forgets what it read."""
        self._register_harnesses()
        with self._lock:
            texts, self._texts = self._texts, []
            canaries = sorted(self.canaries, key=len, reverse=True)
        found: set[str] = set()
        for name, text in texts:
            for canary in canaries:
                if canary in text:
                    found.add(f"logger {name!r} wrote a configured secret {canary[:4]}...")
        return sorted(found)

    def _register_harnesses(self) -> None:
        for module_name, names in HARNESS_SECRETS.items():
            module = sys.modules.get(module_name)
            if module is not None:
                self.register(getattr(module, n, None) for n in names)


GUARD = CanaryGuard()


def register_canaries(*values: str | None) -> None:
    """Secrets a test configured: no log line of the session may contain them."""
    GUARD.register(values)


def simulator_credentials(simulator: object) -> list[str]:
    """Every credential the simulator handed out since its last reset (keys and secrets of
    the Binance face, private keys of the Hyperliquid face)."""
    out: list[str] = []
    faces = getattr(simulator, "faces", {})
    for face in faces.values():
        store = getattr(getattr(face, "keys", None), "_by_key", None)  # Binance: KeyStore
        if isinstance(store, dict):
            for cred in store.values():
                out += [cred.api_key, cred.secret]
        state_keys = getattr(getattr(face, "state", None), "keys", None)  # Hyperliquid
        if isinstance(state_keys, dict):
            out += [str(k) for k in state_keys.values()]
    return out
