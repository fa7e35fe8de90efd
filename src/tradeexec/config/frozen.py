"""The base of every configuration model, and the one rule for blank values."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

__all__ = ["Frozen", "blank_to_none"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def blank_to_none(value: Any) -> Any:
    """``api_key: ${BINANCE_API_KEY:-}`` with the variable unset means "no key"."""
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, SecretStr) and not value.get_secret_value().strip():
        return None
    return value
