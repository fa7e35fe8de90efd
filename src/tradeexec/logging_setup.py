"""Logging for the command line and the service: readable or JSON, to stderr and a file,
and never a secret.

``configure(verbosity, fmt, log_file)`` sets standard ``logging`` up once per process (a
second call replaces what the first installed):

- verbosity 0: warnings and errors; 1 (``-v``): tradeexec's debug details; 2 (``-vv``):
  every library's debug output too (ccxt logs each request with its headers there);
- ``fmt``: ``text`` (``LEVEL logger: message``) or ``json`` (one object per line: ``ts``,
  ``level``, ``logger``, ``message``, and ``exc`` when there is a traceback);
- ``log_file``: the same records appended to a file, at debug detail whatever the verbosity
  on the terminal (the file is for finding out later what happened).

Secrets: the configured secrets (`register_secrets`, called with every credential the
loaded configuration holds) and anything shaped like a signature or a key (``signature=...``,
``X-MBX-APIKEY``, a 32-byte hex private key) are masked when a record is made
(`install_redaction`: a log record factory), so no handler sees them, whoever installed it
(pytest's, an embedding application's); our own handlers mask their final lines again.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

__all__ = ["LogFormat", "configure", "install_redaction", "redact", "register_secrets"]

LogFormat = Literal["text", "json"]

_LOCK = threading.Lock()
_SECRETS: set[str] = set()
_MIN_SECRET_LEN = 4  # shorter values would blank out ordinary words
_MASK = "***"

# key=value / "key": "value" / header: value forms of things that must never be written
_SECRETISH = re.compile(
    r"""(?ix)
    (signature|sign|secret|api[_-]?key|apikey|x-mbx-apikey|ok-access-key|ok-access-sign
      |ok-access-passphrase|kc-api-key|kc-api-sign|kc-api-passphrase|access-key|access-sign
      |access-passphrase|passphrase|password|private[_-]?key|privatekey|token|authorization)
    (["']?\s*[:=]\s*["']?)
    ([^"'\s,&}]+)
    """
)
_PRIVATE_KEY = re.compile(r"\b(0x)?[0-9a-fA-F]{64}\b")


def register_secrets(values: Iterable[str | None]) -> None:
    """Values that no log line may contain (credentials from the configuration)."""
    with _LOCK:
        _SECRETS.update(v for v in values if v and len(v) >= _MIN_SECRET_LEN)


def redact(text: str) -> str:
    """``text`` with every registered secret and every secret-shaped value masked."""
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)  # longest first: no partial leaks
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    text = _SECRETISH.sub(lambda m: f"{m.group(1)}{m.group(2)}{_MASK}", text)
    return _PRIVATE_KEY.sub(_MASK, text)


_INSTALLED: list[bool] = []


def install_redaction() -> None:
    """Mask secrets in every log record as it is made (message, arguments, traceback)."""
    with _LOCK:
        if _INSTALLED:
            return
        _INSTALLED.append(True)
        make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            record.msg, record.args = redact(record.getMessage()), None
            if record.exc_info and not record.exc_text:
                record.exc_text = redact(_PLAIN.formatException(record.exc_info))
        except Exception:  # a record that cannot be formatted is left for logging to report
            pass
        return record

    logging.setLogRecordFactory(factory)


_PLAIN = logging.Formatter()


class _TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _TimedTextFormatter(_TextFormatter):
    """For files: the same line with a timestamp in front."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        return f"{stamp} {super().format(record)}"


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # logging must never break the command
            self.handleError(record)


class _OwnFileHandler(logging.FileHandler):
    """A file handler `configure` installed (and so may replace)."""


def _formatter(fmt: LogFormat, *, timed: bool = False) -> logging.Formatter:
    if fmt == "json":
        return _JsonFormatter()
    return _TimedTextFormatter() if timed else _TextFormatter()


def configure(verbosity: int = 0, fmt: LogFormat = "text", log_file: Path | None = None) -> None:
    """Install tradeexec's handlers on the root logger (replacing ones installed before)."""
    install_redaction()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, StderrHandler | _OwnFileHandler):
            root.removeHandler(handler)
            handler.close()
    terminal_level = logging.WARNING if verbosity <= 0 else logging.DEBUG
    stderr = StderrHandler(terminal_level)
    stderr.setFormatter(_formatter(fmt))
    root.addHandler(stderr)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = _OwnFileHandler(log_file, encoding="utf-8", delay=True)
        to_file.setLevel(logging.DEBUG)
        to_file.setFormatter(_formatter(fmt, timed=True))
        root.addHandler(to_file)
    # tradeexec's own records in detail when asked (or for the file); others at -vv only
    detail = verbosity >= 1 or log_file is not None
    logging.getLogger("tradeexec").setLevel(logging.DEBUG if detail else logging.WARNING)
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
