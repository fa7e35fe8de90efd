"""Money in JSON has one format everywhere: exact, positional, never an exponent."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tradeexec.cli.render import jsonable
from tradeexec.execution.signals import json_safe
from tradeexec.numeric import decimal_text


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**15), max_value=10**15))
def test_decimal_text_is_exact_and_never_an_exponent(value: Decimal) -> None:
    text = decimal_text(value)
    assert "E" not in text.upper() and Decimal(text) == value


def test_every_json_writer_uses_it() -> None:
    tiny, round_ = Decimal("1E-7"), Decimal("5E+2")
    assert str(tiny) == "1E-7"  # what str() would have written
    for writer in (jsonable, json_safe):
        assert json.loads(json.dumps(writer({"a": tiny, "b": round_}))) == {
            "a": "0.0000001",
            "b": "500",
        }
