"""Exchange client order ids derived from a signal's idempotency key.

The id an order carries on the exchange is a pure function of (idempotency key, role), so a
retried or re-delivered signal, or a restart after a crash, reproduces exactly the same ids
and the exchange (or our lookup by client id) sees the earlier order instead of a new one.
Each order a signal can produce has its own *role*, so the entry, its stop-loss, its
take-profit and a closing order never share an id.

Formats (the digest is SHA-256 over a versioned namespace, the role and the key):

==============  ===========================================  =====================================
``fmt``         shape                                        venue rule
==============  ===========================================  =====================================
``binance``     ``te`` + role letter + 32 hex (35 chars)     ``newClientOrderId``: at most 36 of
                                                             ``[.A-Z:/a-z0-9_-]``
``hyperliquid`` ``0x`` + 32 lowercase hex (128 bits)         ``cloid``: exactly 16 bytes, hex
``generic``     ``te`` + role letter + 29 hex (32 chars)     conservative: 32 alphanumerics
==============  ===========================================  =====================================

Known roles and their letters are in ``ROLE_LETTERS`` (the letter only makes an id readable
on the exchange; spellings sharing a letter still give different ids). Other roles (``'tp2'``,
``'sl-replace-1'``) are accepted if they match ``[a-z0-9][a-z0-9_-]{0,31}`` and get the letter
``x``; the role is always part of the digest, so ids stay distinct whatever the letter.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from tradeexec.exchanges.interface import ClientIdFormat

__all__ = ["ROLE_LETTERS", "ClientIdFormat", "derive_client_order_id"]

#: each format: (``te`` + the role's letter in front, else ``0x``; how many hex digits)
_FORMATS: Final[dict[str, tuple[bool, int]]] = {
    "binance": (True, 32),
    "hyperliquid": (False, 32),
    "generic": (True, 29),
}

ROLE_LETTERS: Final[dict[str, str]] = {
    "entry": "e",
    "sl": "s",
    "stop_loss": "s",
    "tp": "t",
    "take_profit": "t",
    "close": "c",
    "flatten": "c",
    "flip-close": "f",
}
_OTHER_ROLE_LETTER: Final = "x"
_ROLE_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_NAMESPACE: Final = b"tradeexec/client-order-id/v1"
_PREFIX: Final = "te"


def derive_client_order_id(idempotency_key: str, role: str, fmt: ClientIdFormat) -> str:
    """The client order id for the order playing ``role`` for the signal ``idempotency_key``.

    Deterministic: the same inputs always give the same id. Raises ``ValueError`` for an
    empty key, a malformed role or an unknown format.
    """
    if not idempotency_key:
        raise ValueError("idempotency_key is empty")
    if _ROLE_PATTERN.fullmatch(role) is None:
        raise ValueError(f"role {role!r} must match {_ROLE_PATTERN.pattern}")
    # The role cannot contain NUL, so (role, key) -> bytes is unambiguous.
    message = b"\0".join((_NAMESPACE, role.encode(), idempotency_key.encode("utf-8")))
    digest = hashlib.sha256(message).hexdigest()
    try:
        lettered, hex_digits = _FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown client order id format {fmt!r}") from None
    prefix = f"{_PREFIX}{ROLE_LETTERS.get(role, _OTHER_ROLE_LETTER)}" if lettered else "0x"
    return prefix + digest[:hex_digits]
