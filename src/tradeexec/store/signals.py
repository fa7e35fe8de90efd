"""Signals and risk decisions."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from tradeexec.store.base import (
    _DECISIONS,
    _SIGNALS,
    DEFAULT_SIGNAL_STATUS,
    RecordNotFound,
    StoreBase,
    _aware,
    _confidence,
    _decisions,
    _insert,
    _json_object,
    _record,
    _text,
    _texts,
)
from tradeexec.store.models import (
    SignalRow,
)
from tradeexec.store.records import (
    DecisionRecord,
    SignalRecord,
)

_INSERT_SIGNAL = insert(_SIGNALS)
_SIGNAL_ID_BY_KEY = select(_SIGNALS.c.id).where(_SIGNALS.c.idempotency_key == bindparam("b_key"))
_UPDATE_SIGNAL = update(_SIGNALS).where(_SIGNALS.c.id == bindparam("b_id"))
# built once: an expanding IN keeps one cached statement whatever the expected statuses
_UPDATE_SIGNAL_IF = _UPDATE_SIGNAL.where(
    _SIGNALS.c.status.in_(bindparam("b_expect", expanding=True))
)
_SIGNAL_EXISTS = select(_SIGNALS.c.id).where(_SIGNALS.c.id == bindparam("b_id"))
_INSERT_DECISION = insert(_DECISIONS)


class SignalStore(StoreBase):
    def record_signal(
        self,
        *,
        idempotency_key: str,
        account: str,
        symbol: str,
        source: str,
        payload: Mapping[str, Any],
        confidence: Decimal | float | None = None,
        status: str = DEFAULT_SIGNAL_STATUS,
        created_at: datetime | None = None,
    ) -> tuple[int, bool]:
        """Record a signal once per idempotency key: `(signal_id, created)`.

        A key seen before returns the existing signal's id with `created=False`, also when
        concurrent deliveries race (the unique constraint decides, the losers read the winner).
        """
        values = {
            "idempotency_key": idempotency_key,
            "account": account,
            "symbol": symbol,
            "source": source,
            "payload": _json_object(payload),
            "confidence": _confidence(confidence),
            "status": _text(status),
            "created_at": _aware(created_at, "created_at"),
        }
        return self._insert_once(
            _INSERT_SIGNAL, values, _SIGNAL_ID_BY_KEY, {"b_key": idempotency_key}
        )

    def get_signal(self, signal_id: int) -> SignalRecord | None:
        with self._reading() as session:
            row = session.get(SignalRow, signal_id)
            return None if row is None else _record(SignalRecord, row)

    def get_signal_by_key(self, idempotency_key: str) -> SignalRecord | None:
        with self._reading() as session:
            row = session.scalar(
                select(SignalRow).where(SignalRow.idempotency_key == idempotency_key)
            )
            return None if row is None else _record(SignalRecord, row)

    def set_signal_status(
        self,
        signal_id: int,
        status: str,
        reason: str | None = None,
        *,
        expect: Collection[str] | None = None,
    ) -> bool:
        """Move a signal to ``status`` with its ``reason``.

        With ``expect`` (the statuses it may be in now; see `signal_state.predecessors`) the
        update is conditional, in the same statement: False when the signal was elsewhere
        (already ended by another path), so two writers can never both end one signal.
        """
        values = {"b_id": signal_id, "status": _text(status), "status_reason": reason}
        with self._writing() as connection:
            if expect is None:
                if connection.execute(_UPDATE_SIGNAL, values).rowcount == 0:
                    raise RecordNotFound(f"no signal {signal_id}")
                return True
            guarded = {**values, "b_expect": _texts(expect)}
            if connection.execute(_UPDATE_SIGNAL_IF, guarded).rowcount == 1:
                return True
            if connection.execute(_SIGNAL_EXISTS, {"b_id": signal_id}).first() is None:
                raise RecordNotFound(f"no signal {signal_id}")
            return False

    def set_signal_account(self, signal_id: int, account: str) -> None:
        """Move a signal to another account (a failover, before anything was sent)."""
        with self._writing() as connection:
            values = {"b_id": signal_id, "account": _text(account)}
            if connection.execute(_UPDATE_SIGNAL, values).rowcount == 0:
                raise RecordNotFound(f"no signal {signal_id}")

    def unfinished_signals(
        self, statuses: Collection[str], account: str | None = None, limit: int = 500
    ) -> list[SignalRecord]:
        """Signals in one of ``statuses`` (the non-terminal ones), oldest first."""
        query = select(SignalRow).where(SignalRow.status.in_(_texts(statuses)))
        if account is not None:
            query = query.where(SignalRow.account == account)
        with self._reading() as session:
            rows = session.scalars(query.order_by(SignalRow.id).limit(limit))
            return [_record(SignalRecord, r) for r in rows]

    def record_decision(
        self,
        signal_id: int,
        approved: bool,
        reason_code: str | None = None,
        detail: str = "",
        sizing: Mapping[str, Any] | None = None,
        *,
        at: datetime | None = None,
        plan: Mapping[str, Any] | None = None,
    ) -> int:
        """Record the risk verdict on a signal (with the reason code when refused); ``plan``
        is what an approved verdict asked for, kept so an interrupted signal can resume."""
        values = {
            "signal_id": signal_id,
            "approved": approved,
            "reason_code": None if reason_code is None else _text(reason_code),
            "detail": detail,
            "sizing": None if sizing is None else _json_object(sizing),
            "plan": None if plan is None else _json_object(plan),
            "created_at": _aware(at, "at"),
        }
        with self._writing() as connection:
            return _insert(connection, _INSERT_DECISION, values)

    def decisions_for_signal(self, signal_id: int) -> list[DecisionRecord]:
        with self._reading() as session:
            return [_record(DecisionRecord, r) for r in _decisions(session, signal_id)]
