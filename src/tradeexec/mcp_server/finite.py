"""Numbers that are not finite never reach a tool as "not given".

JSON has no NaN or Infinity, yet Python's and pydantic's parsers read the tokens ``NaN``,
``Infinity``, ``-Infinity`` and an out-of-range ``1e400`` as floats, and the ``mcp`` SDK then
re-serialises each incoming request in JSON mode, where a non-finite float becomes ``null``:
``"quantity": NaN`` would arrive as no quantity at all, and the configured sizing would pick
one. So each transport spells such a number as text before the SDK sees it (``"NaN"``,
``"Infinity"``, ``"1e400"``), and the tools' number type refuses it by name ("Input should
be a finite number").

- `finite_body`: for the HTTP transport, a request body with every non-finite number token
  turned into a string (None when there is none: the body passes untouched);
- `finite_message`: for stdio, the same on a parsed request's params.
"""

from __future__ import annotations

import json
import math
from typing import Any

from mcp.shared.message import SessionMessage
from mcp.types import JSONRPCMessage, JSONRPCRequest

__all__ = ["finite_body", "finite_message", "spell_non_finite"]


def spell_non_finite(value: Any) -> tuple[Any, bool]:
    """``value`` with every non-finite float replaced by its spelling; whether any was."""
    if isinstance(value, float) and not math.isfinite(value):
        return ("NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"), True
    if isinstance(value, dict):
        pairs = [(k, *spell_non_finite(v)) for k, v in value.items()]
        return {k: v for k, v, _ in pairs}, any(c for _, _, c in pairs)
    if isinstance(value, list):
        items = [spell_non_finite(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    return value, False


def finite_body(body: bytes) -> bytes | None:
    """The body with non-finite number tokens as strings, or None if it has none (or is not
    JSON at all: the SDK answers that itself)."""
    found = False

    def constant(token: str) -> str:  # NaN, Infinity, -Infinity
        nonlocal found
        found = True
        return token

    def number(token: str) -> float | str:
        nonlocal found
        parsed = float(token)
        if math.isfinite(parsed):
            return parsed
        found = True
        return token

    try:
        data = json.loads(body, parse_constant=constant, parse_float=number)
    except (ValueError, RecursionError):
        return None
    return json.dumps(data).encode() if found else None


def finite_message(message: SessionMessage | Exception) -> SessionMessage | Exception:
    """A parsed request whose params hold non-finite floats, with them spelt as text."""
    if not isinstance(message, SessionMessage):
        return message
    root = message.message.root
    if not isinstance(root, JSONRPCRequest) or root.params is None:
        return message
    params, changed = spell_non_finite(root.params)
    if not changed:
        return message
    fixed = JSONRPCMessage(root.model_copy(update={"params": params}))
    return SessionMessage(fixed, metadata=message.metadata)
