"""Values as JSON data, one way for every surface (the CLI's ``--json``, the REST API, MCP).

Dataclasses become objects (the venue's raw ``info`` / ``raw`` payloads left out: large,
venue-specific, not ours to show), Decimals exact strings in plain notation (`decimal_text`),
enums their values, datetimes ISO 8601.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from tradeexec.numeric import decimal_text

__all__ = ["jsonable"]

_SKIPPED_FIELDS = frozenset({"info", "raw"})


def jsonable(value: Any) -> Any:
    """``value`` as JSON data (see the module docstring)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in _SKIPPED_FIELDS
        }
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [jsonable(v) for v in value]
    return str(value)
