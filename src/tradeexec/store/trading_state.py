"""Each account's trading state (ACTIVE / REDUCING / HALTED) and why."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from tradeexec.store.base import (
    _ACCOUNT_STATE,
    DEFAULT_TRADING_STATE,
    StoreBase,
    _text,
)
from tradeexec.store.models import (
    TRADING_STATES,
    utcnow,
)

_TRADING_STATE = select(_ACCOUNT_STATE.c.trading_state, _ACCOUNT_STATE.c.reason).where(
    _ACCOUNT_STATE.c.account == bindparam("b_account")
)
_UPDATE_TRADING_STATE = update(_ACCOUNT_STATE).where(
    _ACCOUNT_STATE.c.account == bindparam("b_account")
)
_INSERT_TRADING_STATE = insert(_ACCOUNT_STATE)


class TradingStateStore(StoreBase):
    def get_trading_state(self, account: str) -> tuple[str, str | None]:
        """`(state, reason)`; an account never set is ACTIVE with no reason."""
        with self._querying() as connection:
            row = connection.execute(_TRADING_STATE, {"b_account": account}).one_or_none()
        if row is None:
            return DEFAULT_TRADING_STATE, None
        return row.trading_state, row.reason

    def set_trading_state(self, account: str, state: str, reason: str | None = None) -> None:
        """Set the account's state; any case is accepted ("halted", `TradingState.HALTED`),
        stored and returned as upper case ("HALTED")."""
        state = _text(state).strip().upper()
        if state not in TRADING_STATES:
            raise ValueError(f"unknown trading state {state!r}; expected one of {TRADING_STATES}")
        with self._writing() as connection:
            changed = {"trading_state": state, "reason": reason, "updated_at": utcnow()}
            updating = {"b_account": account, **changed}
            if connection.execute(_UPDATE_TRADING_STATE, updating).rowcount:
                return
            # The account's first state. On PostgreSQL another writer may create the row first
            # (SQLite serialises writers): then update that row. The savepoint keeps this
            # transaction, or the batch it belongs to, usable after the duplicate.
            try:
                with connection.begin_nested():
                    connection.execute(_INSERT_TRADING_STATE, {"account": account, **changed})
            except IntegrityError:
                if not connection.execute(_UPDATE_TRADING_STATE, updating).rowcount:
                    raise
