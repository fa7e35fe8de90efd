"""Exchange failover (opt-in): an account may name a ``fallback`` account.

When a signal's venue cannot be reached *before anything was sent* - the connection fails, or
the pre-trade reads (ticker, balance, positions) fail with a network error, a 5xx or a timeout
after their retries - the signal is moved to the fallback account and executed there, with
that account's own risk checks and symbol mapping, recorded as a ``signal_failover`` event
with the reason. Never on a refusal (the venue answered), and never once an order was sent to
the primary (its outcome there may be unknown; the order may exist). One hop only.
"""

from __future__ import annotations

from tradeexec import errors


class Failover(Exception):
    """The venue was unreachable before anything was sent; run on ``fallback`` instead."""

    def __init__(self, fallback: str, cause: errors.TradeExecError) -> None:
        super().__init__(fallback)
        self.fallback, self.cause = fallback, cause


def raise_failover(fallback: str | None, exc: errors.TradeExecError) -> None:
    """Raise `Failover` if there is a ``fallback`` and ``exc`` means "unreachable"."""
    if fallback and isinstance(exc, errors.NetworkError):
        raise Failover(fallback, exc) from exc
