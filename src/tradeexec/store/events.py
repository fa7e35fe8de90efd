"""Events, and the whole story of one signal (its timeline)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select

from tradeexec.store.base import (
    _EVENTS,
    StoreBase,
    _aware,
    _decisions,
    _fills,
    _history,
    _insert,
    _json_object,
    _orders_of_signal,
    _record,
    _text,
)
from tradeexec.store.models import (
    EventRow,
    SignalRow,
)
from tradeexec.store.records import (
    DecisionRecord,
    EventRecord,
    FillRecord,
    OrderRecord,
    OrderTimeline,
    OrderTransitionRecord,
    SignalRecord,
    SignalTimeline,
)

_INSERT_EVENT = insert(_EVENTS)


class EventStore(StoreBase):
    def append_event(
        self,
        kind: str,
        account: str | None,
        data: Mapping[str, Any] | None = None,
        signal_id: int | None = None,
        order_id: int | None = None,
        *,
        at: datetime | None = None,
    ) -> int:
        """Append to the event log (never updated or deleted). Decimals in `data` become
        strings and datetimes ISO-8601 strings, so the JSON stays exact."""
        values = {
            "at": _aware(at, "at"),
            "account": account,
            "kind": _text(kind),
            "signal_id": signal_id,
            "order_id": order_id,
            "data": _json_object(data or {}),
        }
        with self._writing() as connection:
            return _insert(connection, _INSERT_EVENT, values)

    def events(
        self,
        signal_id: int | None = None,
        account: str | None = None,
        *,
        order_id: int | None = None,
        kind: str | None = None,
        limit: int = 100,
    ) -> list[EventRecord]:
        """The latest `limit` events matching every given filter, in the order they were
        appended (oldest first)."""
        stmt = select(EventRow).order_by(EventRow.id.desc()).limit(limit)
        if signal_id is not None:
            stmt = stmt.where(EventRow.signal_id == signal_id)
        if account is not None:
            stmt = stmt.where(EventRow.account == account)
        if order_id is not None:
            stmt = stmt.where(EventRow.order_id == order_id)
        if kind is not None:
            stmt = stmt.where(EventRow.kind == _text(kind))
        with self._reading() as session:
            newest_first = [_record(EventRecord, r) for r in session.scalars(stmt)]
        return newest_first[::-1]

    # -- what happened to a signal -------------------------------------------------------------

    def signal_timeline(self, signal_id: int) -> SignalTimeline | None:
        """The signal, its risk decisions, its orders (each with state history and fills)
        and the events tagged with the signal or its orders; one consistent read."""
        with self._reading() as session:
            signal = session.get(SignalRow, signal_id)
            if signal is None:
                return None
            decisions = _decisions(session, signal_id)
            orders = _orders_of_signal(session, signal_id)
            order_ids = [o.id for o in orders]
            history = _history(session, order_ids)
            fills = _fills(session, order_ids)
            tagged = [EventRow.signal_id == signal_id]
            if order_ids:
                tagged.append(EventRow.order_id.in_(order_ids))
            events = session.scalars(
                select(EventRow).where(or_(*tagged)).order_by(EventRow.id)
            ).all()
            return SignalTimeline(
                signal=_record(SignalRecord, signal),
                decisions=tuple(_record(DecisionRecord, d) for d in decisions),
                orders=tuple(
                    OrderTimeline(
                        order=_record(OrderRecord, o),
                        history=tuple(
                            _record(OrderTransitionRecord, h) for h in history if h.order_id == o.id
                        ),
                        fills=tuple(_record(FillRecord, f) for f in fills if f.order_id == o.id),
                    )
                    for o in orders
                ),
                events=tuple(_record(EventRecord, e) for e in events),
            )
