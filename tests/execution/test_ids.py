"""Client order ids: deterministic, venue-valid, and distinct per role."""

from __future__ import annotations

import re
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeexec.execution.ids import ROLE_LETTERS, ClientIdFormat, derive_client_order_id

BINANCE = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
HYPERLIQUID = re.compile(r"0x[0-9a-f]{32}")
GENERIC = re.compile(r"[A-Za-z0-9]{1,32}")
PATTERNS = {"binance": BINANCE, "hyperliquid": HYPERLIQUID, "generic": GENERIC}
FORMATS: tuple[ClientIdFormat, ...] = get_args(ClientIdFormat)

keys = st.text(min_size=1, max_size=200)
roles = st.one_of(
    st.sampled_from(sorted(ROLE_LETTERS)),
    st.from_regex(r"[a-z0-9][a-z0-9_-]{0,31}", fullmatch=True),
)
formats = st.sampled_from(FORMATS)


@given(key=keys, role=roles, fmt=formats)
def test_ids_match_the_venue_format(key: str, role: str, fmt: ClientIdFormat) -> None:
    assert PATTERNS[fmt].fullmatch(derive_client_order_id(key, role, fmt))


@given(key=keys, role=roles, fmt=formats)
def test_same_inputs_give_the_same_id(key: str, role: str, fmt: ClientIdFormat) -> None:
    assert derive_client_order_id(key, role, fmt) == derive_client_order_id(key, role, fmt)


@given(key=keys, fmt=formats, pair=st.lists(roles, min_size=2, max_size=2, unique=True))
def test_different_roles_give_different_ids(key: str, fmt: ClientIdFormat, pair: list[str]) -> None:
    first, second = pair
    assert derive_client_order_id(key, first, fmt) != derive_client_order_id(key, second, fmt)


@given(pair=st.lists(keys, min_size=2, max_size=2, unique=True), role=roles, fmt=formats)
def test_different_keys_give_different_ids(pair: list[str], role: str, fmt: ClientIdFormat) -> None:
    first, second = pair
    assert derive_client_order_id(first, role, fmt) != derive_client_order_id(second, role, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_all_known_roles_of_one_signal_are_distinct(fmt: ClientIdFormat) -> None:
    ids = {derive_client_order_id("sig-1", role, fmt) for role in ROLE_LETTERS}
    assert len(ids) == len(ROLE_LETTERS)


def test_binance_id_shows_the_role() -> None:
    cid = derive_client_order_id("tv-abc", "sl", "binance")
    assert cid.startswith("tes") and len(cid) == 35
    assert cid == derive_client_order_id("tv-abc", "sl", "binance")
    assert derive_client_order_id("tv-abc", "entry", "binance").startswith("tee")
    assert derive_client_order_id("tv-abc", "tp2", "binance").startswith("tex")


def test_pinned_values() -> None:
    # Changing the derivation would orphan every order placed before an upgrade.
    assert derive_client_order_id("key", "entry", "hyperliquid") == (
        "0x74bc1c5a6678e599efa1c2aa52cdc1a7"
    )
    assert derive_client_order_id("key", "entry", "binance") == (
        "tee74bc1c5a6678e599efa1c2aa52cdc1a7"
    )
    assert derive_client_order_id("key", "sl", "generic") == "tesdc9bb011a3f97141bdc0030d6d487"


@pytest.mark.parametrize(
    ("key", "role", "fmt"),
    [
        ("", "entry", "binance"),
        ("k", "", "binance"),
        ("k", "Entry", "binance"),
        ("k", "a\0b", "binance"),
        ("k", "x" * 33, "binance"),
        ("k", "entry", "ftx"),
    ],
)
def test_bad_inputs_are_refused(key: str, role: str, fmt: str) -> None:
    with pytest.raises(ValueError):
        derive_client_order_id(key, role, fmt)  # type: ignore[arg-type]
