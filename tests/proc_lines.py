"""Helpers for tests that drive a ``tradeexec`` subprocess: no dependence on how the suite was
started, and no read that can hang.

- `tradeexec_argv`: the command for ``python -m tradeexec ...`` with Python's own SIGINT
  handler installed first. A process started with SIGINT ignored (``nohup``, a background
  job of a non-interactive shell, some CI runners) passes that on to its children, and
  Python then leaves SIGINT ignored, so Ctrl-C (our ``send_signal(SIGINT)``) would do
  nothing.
- `Lines`: a subprocess's output read by a thread, so a test waits for a line with a
  timeout instead of blocking in ``readline()`` forever.
"""

from __future__ import annotations

import queue
import sys
import threading
from typing import IO

_MAIN = (
    "import runpy, signal, sys; "
    "signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'tradeexec'; "
    "runpy.run_module('tradeexec', run_name='__main__', alter_sys=True)"
)


def tradeexec_argv(*args: str) -> list[str]:
    """``python -m tradeexec *args``, with SIGINT raising KeyboardInterrupt in the child."""
    return [sys.executable, "-c", _MAIN, *args]


class Lines:
    """The lines of a text stream, read in a daemon thread."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        try:
            for line in stream:
                self._lines.put(line)
        except ValueError:  # closed under us
            pass
        finally:
            self._lines.put(None)

    def next(self, timeout: float = 60.0) -> str:
        """The next line; AssertionError if none comes within ``timeout`` seconds or the
        stream ends."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output line within {timeout} s") from None
        if line is None:
            raise AssertionError("the output ended before the expected line")
        return line
