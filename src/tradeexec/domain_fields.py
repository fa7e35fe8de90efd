"""How the domain's value types take their fields: exactly, or not at all.

Decimal fields accept ``Decimal``, ``str`` and ``int`` (converted exactly) and refuse
``float`` and non-finite values; enum fields accept their string values; ``params`` /
``info`` mappings are stored as read-only `FrozenMap` copies. The value types call these
from ``__post_init__`` (they are frozen, hence `set_field`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NoReturn, TypeVar

__all__ = [
    "ZERO",
    "FrozenMap",
    "convert_decimals",
    "enum_value",
    "exact_decimal",
    "frozen_mapping",
    "optional_decimal",
    "set_field",
]

ZERO = Decimal(0)


def exact_decimal(value: object, name: str) -> Decimal:
    """``value`` as a finite Decimal; a float or another type is a TypeError naming the
    field, a non-number or a non-finite one a ValueError."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        if isinstance(value, float):
            raise TypeError(
                f"{name}: float {value!r} is not exact; pass a Decimal, str or int "
                "(or convert with tradeexec.domain.to_decimal)"
            )
        raise TypeError(f"{name}: expected Decimal, str or int, got {type(value).__name__}")
    try:
        if isinstance(value, Decimal):
            result = value
        else:
            result = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f"{name}: {value!r} is not a number") from None
    if not result.is_finite():
        raise ValueError(f"{name}: {value!r} is not a finite number")
    return result


def optional_decimal(value: object, name: str) -> Decimal | None:
    return None if value is None else exact_decimal(value, name)


_E = TypeVar("_E", bound=StrEnum)


def enum_value(enum: type[_E], value: object, name: str) -> _E:
    """``value`` as a member of ``enum``; else a ValueError naming the allowed values."""
    if isinstance(value, enum):
        return value
    try:
        return enum(value)  # type: ignore[arg-type]  # _missing_ handles any object
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ValueError(f"{name}: {value!r} is not one of {allowed}") from None


def set_field(obj: object, name: str, value: object) -> None:
    """Set a field of a frozen dataclass (from its ``__post_init__``)."""
    object.__setattr__(obj, name, value)


def convert_decimals(
    obj: object, decimals: tuple[str, ...], optional: tuple[str, ...] = ()
) -> None:
    """Make the ``decimals`` fields of ``obj`` exact Decimals, and the ``optional`` ones
    too where they are not None."""
    for name in decimals:
        set_field(obj, name, exact_decimal(getattr(obj, name), name))
    for name in optional:
        set_field(obj, name, optional_decimal(getattr(obj, name), name))


class FrozenMap(dict[str, Any]):
    """A read-only dict: what ``params`` / ``info`` hold. Unlike ``MappingProxyType`` it
    survives ``pickle``, ``copy.deepcopy`` and ``dataclasses.asdict``."""

    __slots__ = ()

    def _readonly(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(f"{type(self).__name__} is read-only")

    __setitem__ = __delitem__ = _readonly
    clear = pop = popitem = setdefault = update = _readonly
    __ior__ = _readonly

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenMap({dict.__repr__(self)})"


def frozen_mapping(value: Mapping[str, object]) -> Mapping[str, Any]:
    return value if isinstance(value, FrozenMap) else FrozenMap(value)
