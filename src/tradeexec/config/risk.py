"""Risk limits and position sizing: the application-wide settings and an account's overrides."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, get_args

from pydantic import Field, model_validator

from tradeexec.config.frozen import Frozen

__all__ = ["RiskConfig", "RiskOverrides", "SizingConfig", "SizingMode", "SizingOverrides"]

SizingMode = Literal["fixed_quantity", "fixed_notional", "percent_equity", "risk"]


class SizingConfig(Frozen):
    """How big an order is when the signal does not say.

    ``value`` is the quantity (``fixed_quantity``), the notional in settlement currency
    (``fixed_notional``) or the fraction of equity (``percent_equity``; 0.1 = 10 %).
    ``risk`` sizes so that hitting the stop loses ``risk_pct`` of equity.
    """

    mode: SizingMode = "risk"
    value: Decimal | None = Field(default=None, gt=0)
    risk_pct: Decimal = Field(default=Decimal("0.01"), gt=0, le=1)
    scale_by_confidence: bool = False

    @model_validator(mode="after")
    def _value_when_needed(self) -> SizingConfig:
        if self.mode != "risk" and self.value is None:
            raise ValueError(f"sizing mode {self.mode!r} needs a 'value'")
        return self


class RiskConfig(Frozen):
    """Pre-trade limits. ``None`` switches an optional limit off."""

    min_confidence: float = Field(default=0.6, ge=0, le=1)
    # For sources that carry no confidence (TradingView, CLI). Agent signals without a
    # confidence are always refused: an agent that does not say how sure it is, is not sure.
    default_confidence: float = Field(default=1.0, ge=0, le=1)
    max_signal_age_s: float = Field(default=60, gt=0)
    max_order_notional: Decimal | None = Field(default=Decimal(10000), gt=0)
    max_position_notional: Decimal | None = Field(default=Decimal(50000), gt=0)
    max_open_positions: int | None = Field(default=5, ge=1)
    max_leverage: int = Field(default=20, ge=1)
    price_band_pct: Decimal = Field(default=Decimal("0.05"), gt=0, le=1)
    max_orders_per_minute: int = Field(default=30, ge=1)
    daily_loss_limit: Decimal | None = Field(default=None, gt=0)
    max_drawdown_pct: Decimal | None = Field(default=None, gt=0, le=1)
    sizing: SizingConfig = SizingConfig()
    on_stop_failure: Literal["flatten", "keep"] = "flatten"
    require_stop_loss: bool = False

    def merged(self, overrides: RiskOverrides | None) -> RiskConfig:
        """These limits with an account's own ``risk:`` fields laid over them, key by key
        (``sizing`` too). An explicit ``null`` switches an optional limit off."""
        if overrides is None or not overrides.model_fields_set:
            return self
        data = self.model_dump()
        for name in overrides.model_fields_set:
            value = getattr(overrides, name)
            if name == "sizing" and isinstance(value, SizingOverrides):
                sizing = data["sizing"]
                sizing.update({k: getattr(value, k) for k in value.model_fields_set})
                if "mode" in value.model_fields_set and "value" not in value.model_fields_set:
                    sizing["value"] = None  # a new mode's value means something else
            else:
                data[name] = value
        return RiskConfig.model_validate(data)


class SizingOverrides(Frozen):
    """An account's partial ``risk.sizing`` (only the keys it sets are applied)."""

    mode: SizingMode | None = None
    value: Decimal | None = Field(default=None, gt=0)
    risk_pct: Decimal | None = Field(default=None, gt=0, le=1)
    scale_by_confidence: bool | None = None


class RiskOverrides(Frozen):
    """An account's partial ``risk:`` section: the same keys as ``RiskConfig``, all optional."""

    min_confidence: float | None = Field(default=None, ge=0, le=1)
    default_confidence: float | None = Field(default=None, ge=0, le=1)
    max_signal_age_s: float | None = Field(default=None, gt=0)
    max_order_notional: Decimal | None = Field(default=None, gt=0)
    max_position_notional: Decimal | None = Field(default=None, gt=0)
    max_open_positions: int | None = Field(default=None, ge=1)
    max_leverage: int | None = Field(default=None, ge=1)
    price_band_pct: Decimal | None = Field(default=None, gt=0, le=1)
    max_orders_per_minute: int | None = Field(default=None, ge=1)
    daily_loss_limit: Decimal | None = Field(default=None, gt=0)
    max_drawdown_pct: Decimal | None = Field(default=None, gt=0, le=1)
    sizing: SizingOverrides | None = None
    on_stop_failure: Literal["flatten", "keep"] | None = None
    require_stop_loss: bool | None = None

    @model_validator(mode="after")
    def _null_only_where_allowed(self) -> RiskOverrides:
        for name in self.model_fields_set:
            if getattr(self, name) is None and not _nullable(name):
                raise ValueError(f"{name} cannot be null (it has no 'off' setting)")
        return self


def _nullable(field_name: str) -> bool:
    return type(None) in get_args(RiskConfig.model_fields[field_name].annotation)
