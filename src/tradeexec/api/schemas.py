"""Request bodies of the REST API and the JSON form of what routes answer.

Money is an exact decimal string everywhere (``"67500.5"``), times ISO 8601 UTC.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from tradeexec.json_values import jsonable as jsonable

__all__ = ["HaltRequest", "ResumeRequest", "SignalRequest", "jsonable"]

#: a number as JSON gives it, or as text; never a boolean (pydantic would read true as 1)
Number = StrictFloat | StrictInt | str


class SignalRequest(BaseModel):
    """A signal from an agent (the plugin API's dict shape). ``confidence`` is required for
    agents; ``idempotency_key`` makes re-sending safe."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "symbol": "BTC",
                "side": "buy",
                "confidence": 0.85,
                "stop_loss": "66000",
                "take_profit": "69000",
                "idempotency_key": "agent-run-42",
            }
        },
    )

    symbol: str = Field(max_length=64)
    side: str | None = Field(default=None, max_length=16)
    account: str | None = Field(default=None, max_length=64)
    order_type: str | None = Field(default=None, max_length=16)
    quantity: Number | None = None
    notional: Number | None = None
    target_position: Number | None = None
    sizing_mode: str | None = Field(default=None, max_length=32)
    price: Number | None = None
    stop_loss: Number | None = None
    take_profit: Number | None = None
    leverage: StrictInt | None = None
    confidence: StrictFloat | StrictInt | None = None
    idempotency_key: str | None = Field(default=None, max_length=128)
    client_order_id: str | None = Field(default=None, max_length=128)
    reduce_only: bool | None = None
    reverse: bool | None = None
    comment: str | None = Field(default=None, max_length=500)
    timestamp: Number | None = None


HaltTier = Literal["pause_entries", "halt", "close_only", "flatten"]


class HaltRequest(BaseModel):
    """The kill switch. ``pause_entries``: REDUCING (no new exposure; exits pass);
    ``halt``: HALTED (only cancels and operator closes pass); ``close_only``: HALTED and
    every open order cancelled; ``flatten``: HALTED, orders cancelled, positions closed."""

    model_config = ConfigDict(extra="forbid")

    account: str | None = Field(default=None, max_length=64, description="None: every account")
    tier: HaltTier = "halt"
    reason: str = Field(default="kill switch (api)", max_length=500)


class ResumeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str | None = Field(default=None, max_length=64, description="None: every account")
    reason: str = Field(default="resumed (api)", max_length=500)
