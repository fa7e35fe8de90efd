"""Numbers from the outside world (JSON, TradingView, the CLI, the Python API), parsed exactly
and only within a sane range. ``tradeexec.domain`` re-exports ``to_decimal`` and
``InvalidNumber``; every parser of outside input goes through ``to_decimal``.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Final

from tradeexec.errors import InvalidSignal

__all__ = ["MAX_DIGITS", "MAX_NUMBER", "MIN_NUMBER", "InvalidNumber", "decimal_text", "to_decimal"]

#: The sane range of a number from outside: magnitudes above ``MAX_NUMBER`` or (non-zero)
#: below ``MIN_NUMBER`` are refused, as are more significant digits than ``MAX_DIGITS``
#: (arithmetic would no longer be exact at the default 28-digit precision, and a quantize
#: on such a value raises ``decimal.InvalidOperation``).
MAX_NUMBER: Final = Decimal("1e15")
MIN_NUMBER: Final = Decimal("1e-12")
MAX_DIGITS: Final = 28
# Plain ASCII decimal notation with an optional exponent: no thousands separators, no
# underscores ("1_000" is valid Python), no non-ASCII digits, no NaN / Infinity.
_NUMBER_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_MAX_TEXT: Final = 64


class InvalidNumber(InvalidSignal, ValueError, TypeError):
    """A number from outside is malformed, not finite or out of the sane range.

    An ``InvalidSignal`` (code ``invalid_signal``: bad input, answered 4xx), and also the
    ``ValueError`` / ``TypeError`` that ``to_decimal`` has always raised, so existing
    callers that catch those keep working.
    """


def to_decimal(value: object) -> Decimal:
    """Convert a number from the outside world (JSON, user input) exactly.

    Floats go through ``str()`` so ``0.1`` stays ``0.1``. Text must be plain decimal
    notation (``"1000"``, ``"0.5"``, ``"1e-5"``); a positive exponent is normalised away
    (``"1e3"`` is ``Decimal("1000")``). Raises ``InvalidNumber`` (an ``InvalidSignal``, also
    a ``ValueError`` and ``TypeError``) for non-numbers (including ``bool``), unparseable
    text (``"1,000"``, ``"1_000"``, ``""``), non-finite values, magnitudes above
    ``MAX_NUMBER`` or, other than zero, below ``MIN_NUMBER``, and more than ``MAX_DIGITS``
    significant digits.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise InvalidNumber(f"expected a number, got {type(value).__name__}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidNumber(f"{value!r} is not a number")
        value = str(value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_TEXT or not _NUMBER_TEXT.fullmatch(text):
            raise InvalidNumber(f"{_shown(value)} is not a number")
        value = Decimal(text)
    elif isinstance(value, int):
        if abs(value) > MAX_NUMBER:
            raise InvalidNumber(f"{_shown(value)} is out of range (at most {MAX_NUMBER:E})")
        value = Decimal(value)
    return _sane(value)


def _sane(number: Decimal) -> Decimal:
    """``number`` checked against the sane range, a positive exponent normalised away."""
    if not number.is_finite():
        raise InvalidNumber(f"{_shown(number)} is not a finite number")
    if number.is_zero():  # no negative zero, and no exponent ("0e1" is Decimal("0E+1"))
        exponent = number.as_tuple().exponent
        return Decimal(0) if isinstance(exponent, int) and exponent > 0 else abs(number)
    magnitude = abs(number)
    if magnitude > MAX_NUMBER:
        raise InvalidNumber(f"{_shown(number)} is out of range (at most {MAX_NUMBER:E})")
    if magnitude < MIN_NUMBER:
        raise InvalidNumber(f"{_shown(number)} is out of range (at least {MIN_NUMBER:E})")
    significant = bytes(number.as_tuple().digits).rstrip(b"\0")  # trailing zeros are exact
    if len(significant) > MAX_DIGITS:
        raise InvalidNumber(f"{_shown(number)} has more than {MAX_DIGITS} significant digits")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        number = number.quantize(Decimal(1))
    return number


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def decimal_text(value: Decimal) -> str:
    """The one way money and quantities are written in JSON: plain positional notation,
    exact, never an exponent (``str(Decimal("1E-7"))`` is ``"1E-7"``; this is ``"0.0000001"``),
    with the precision the value carries (``"0.100"`` stays ``"0.100"``)."""
    return format(value, "f")
