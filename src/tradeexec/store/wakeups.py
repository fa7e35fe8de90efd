"""Wake the owner of an account at once: PostgreSQL ``LISTEN`` / ``NOTIFY``.

A replica that records a signal for an account another replica owns does not execute it; it
sends ``NOTIFY tradeexec_signals, '<account>'`` in the transaction that recorded it (the
notification is delivered when, and only if, that transaction commits), and the owner, which
``LISTEN``s on a connection of its own, picks the signal up without waiting for a polling
interval. A lost notification (the listener reconnecting) costs latency, never a signal: the
owner's periodic recovery still finds every unfinished signal in the table.

SQLite has no such channel, and needs none: one process records and executes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Connection, Engine, func, select

CHANNEL = "tradeexec_signals"


def notify_account(connection: Connection, account: str) -> None:
    """Queue a wake-up for ``account``'s owner, sent when ``connection``'s transaction commits
    (nothing on SQLite)."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_notify(CHANNEL, account)))


class WakeupListener:
    """Calls ``on_wakeup(account)`` from a background thread for each notification; `close`
    stops it. ``on_wakeup`` must be quick and thread-safe (e.g. ``loop.call_soon_threadsafe``).
    """

    def __init__(self, engine: Engine, on_wakeup: Callable[[str], None]) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("LISTEN/NOTIFY needs PostgreSQL")
        self._engine = engine
        self._on_wakeup = on_wakeup
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tradeexec-wakeups", daemon=True)

    def start(self, timeout_s: float = 10.0) -> WakeupListener:
        """Start listening; returns once the ``LISTEN`` is in place."""
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError("the wake-up listener did not start")
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self._engine.raw_connection()
            except Exception:  # the database is away: retry, recovery covers the gap
                self._stop.wait(1.0)
                continue
            try:
                driver = raw.driver_connection
                assert driver is not None
                driver.autocommit = True
                driver.execute(f"LISTEN {CHANNEL}")
                self._ready.set()
                while not self._stop.is_set():
                    for note in driver.notifies(timeout=0.5, stop_after=1):
                        self._on_wakeup(note.payload)
            except Exception:
                self._stop.wait(1.0)
            finally:
                raw.invalidate()  # a LISTENing session is not handed back to the pool

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
