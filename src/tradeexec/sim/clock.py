"""The simulator's clock: the wall clock until told otherwise, then the wall clock plus an offset.

Everything the venues write (order and fill times, funding, income records) reads
`SimClock.now_ms`. ``POST /_sim/time`` moves it forward (``advance_s``) or to a moment
(``set_ms``); it never goes back, so an order's times and funding stamps stay ordered
(only ``/_sim/reset``, which starts a fresh simulator, puts it back on the wall clock). After
a move the clock keeps running with the wall clock, ahead by the offset.

What it does not move: the windows that check a *client's* clock (Binance ``recvWindow``,
-1021; Hyperliquid's nonce window). Clients sign with their own, real clocks, so those
checks read `wall_ms` (see `SimContext.request_now`): advancing the simulator three days
must not lock every client out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from tradeexec.sim.orders import wall_clock_ms

__all__ = ["ClockError", "SimClock"]


class ClockError(ValueError):
    """A move the clock refuses (backwards)."""


class SimClock:
    """Milliseconds since the epoch; callable (``clock()``) where a plain clock function is
    expected. Monotonic: it never answers less than it answered before, even if the wall
    clock steps back."""

    def __init__(self, wall: Callable[[], int] = wall_clock_ms) -> None:
        self._wall = wall
        self._offset_ms = 0
        self._last_ms = 0
        self._last_wall_ms = 0
        self._lock = threading.Lock()  # the app thread moves it, test threads read it

    def __call__(self) -> int:
        return self.now_ms()

    def now_ms(self) -> int:
        """The simulator's time."""
        with self._lock:
            wall = max(self._wall(), self._last_wall_ms)
            self._last_wall_ms = wall
            now = max(wall + self._offset_ms, self._last_ms)
            self._last_ms = now
            return now

    def wall_ms(self) -> int:
        """The real time (monotonic too): what a client's timestamps are checked against."""
        with self._lock:
            now = max(self._wall(), self._last_wall_ms)
            self._last_wall_ms = now
            return now

    @property
    def offset_ms(self) -> int:
        """How far ahead of the wall clock the simulator runs (0 until moved)."""
        return self._offset_ms

    def advance(self, ms: int) -> int:
        """Move forward by ``ms`` (>= 0); returns the new time."""
        if ms < 0:
            raise ClockError(f"the clock only moves forward; advance by {ms} ms refused")
        with self._lock:
            self._offset_ms += ms
        return self.now_ms()

    def reset(self) -> None:
        """Back on the wall clock (``/_sim/reset``: a fresh simulator, nothing left to
        order against the time it had)."""
        with self._lock:
            self._offset_ms = 0
            self._last_ms = self._last_wall_ms

    def set_ms(self, when_ms: int) -> int:
        """Move to ``when_ms`` (not before now); returns the new time."""
        now = self.now_ms()
        if when_ms < now:
            raise ClockError(f"the clock only moves forward: {when_ms} is before now ({now})")
        return self.advance(when_ms - now)
