"""Orders and their state history."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tradeexec.store.base import (
    _HISTORY,
    _ORDERS,
    DEFAULT_ORDER_STATUS,
    IN_FLIGHT_STATUSES,
    DuplicateClientOrderId,
    RecordNotFound,
    StoreBase,
    _aware,
    _decimal,
    _decimal_or_none,
    _history,
    _insert,
    _orders_of_signal,
    _record,
    _text,
    _texts,
)
from tradeexec.store.leases import Fence, check_fence
from tradeexec.store.models import (
    ORDER_ROLES,
    OrderRow,
)
from tradeexec.store.records import (
    OrderRecord,
    OrderTransitionRecord,
)

_INSERT_ORDER = insert(_ORDERS)
# The current row under the write lock: FOR UPDATE on PostgreSQL; SQLite renders no clause, its
# write transactions (BEGIN IMMEDIATE) already hold the database's single write lock.
_ORDER_FOR_UPDATE = select(_ORDERS).where(_ORDERS.c.id == bindparam("b_id")).with_for_update()
_UPDATE_ORDER = update(_ORDERS).where(_ORDERS.c.id == bindparam("b_id"))
_UPDATE_ORDER_IN = _UPDATE_ORDER.where(_ORDERS.c.status == bindparam("b_was"))
_INSERT_HISTORY = insert(_HISTORY)
_ORDER_ID_BY_CLIENT_ID = select(_ORDERS.c.id).where(
    _ORDERS.c.account == bindparam("b_account"),
    _ORDERS.c.client_order_id == bindparam("b_client_order_id"),
)
_COUNT_ORDERS = (
    select(func.count())
    .select_from(_ORDERS)
    .where(
        _ORDERS.c.account == bindparam("b_account"), _ORDERS.c.created_at >= bindparam("b_since")
    )
)
_COUNT_ORDERS_OF_ROLES = _COUNT_ORDERS.where(
    _ORDERS.c.role.in_(bindparam("b_roles", expanding=True))
)


class OrderStore(StoreBase):
    def record_order_intent(
        self,
        *,
        account: str,
        symbol: str,
        client_order_id: str,
        role: str,
        side: str,
        order_type: str,
        quantity: Decimal,
        signal_id: int | None = None,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        reduce_only: bool = False,
        status: str = DEFAULT_ORDER_STATUS,
        exchange_order_id: str | None = None,
        event: str = "intent",
        detail: str | None = None,
        at: datetime | None = None,
        fence: Fence | None = None,
    ) -> int:
        """Record an order before it is sent; its first state-history row says so.

        Raises `DuplicateClientOrderId` (carrying the existing order id) if the account
        already has an order with this client order id. With ``fence`` (the lease the order
        was decided under, on a shared database) raises `StaleLease` unless that lease is
        still the account's current one, checked in the same transaction.
        """
        role = _text(role)
        if role not in ORDER_ROLES:
            raise ValueError(f"unknown order role {role!r}; expected one of {ORDER_ROLES}")
        when = _aware(at, "at")
        values = {
            "signal_id": signal_id,
            "account": account,
            "symbol": symbol,
            "client_order_id": client_order_id,
            "exchange_order_id": exchange_order_id,
            "role": role,
            "side": _text(side),
            "order_type": _text(order_type),
            "quantity": _decimal(quantity, "quantity"),
            "price": _decimal_or_none(price, "price"),
            "trigger_price": _decimal_or_none(trigger_price, "trigger_price"),
            "reduce_only": reduce_only,
            "status": _text(status),
            "filled_quantity": Decimal(0),
            "average_price": None,
            "created_at": when,
            "updated_at": when,
        }
        first = {
            "from_status": None,
            "to_status": values["status"],
            "event": _text(event),
            "at": when,
            "detail": detail,
        }
        try:
            # No savepoint: a duplicate raises, and inside a batch that ends the batch.
            with self._writing() as connection:
                if fence is not None:
                    check_fence(connection, fence)
                order_id = _insert(connection, _INSERT_ORDER, values)
                connection.execute(_INSERT_HISTORY, {"order_id": order_id, **first})
                return order_id
        except IntegrityError as exc:
            key = {"b_account": account, "b_client_order_id": client_order_id}
            batch = self._batch_connection()
            if batch is not None and batch.dialect.name == "sqlite":
                # SQLite undid only the failed INSERT, so the batch can still read (and it is
                # the only connection to an in-memory database); it sees its own rows too.
                existing = batch.execute(_ORDER_ID_BY_CLIENT_ID, key).scalar()
            else:  # PostgreSQL aborts the whole transaction: read what is committed
                with self._reading_committed() as connection:
                    existing = connection.execute(_ORDER_ID_BY_CLIENT_ID, key).scalar()
            if existing is None:
                raise
            raise DuplicateClientOrderId(account, client_order_id, int(existing)) from exc

    def update_order(
        self,
        order_id: int,
        *,
        status: str | None = None,
        exchange_order_id: str | None = None,
        filled_quantity: Decimal | None = None,
        average_price: Decimal | None = None,
        event: str | None = None,
        detail: str | None = None,
        at: datetime | None = None,
    ) -> OrderRecord:
        """Apply what was learned about an order; `None` leaves a field unchanged.

        A status different from the recorded one appends a state-history row
        (`event` names the cause, default "update"). The transition is not validated here.
        """
        changes: dict[str, Any] = {}
        if exchange_order_id is not None:
            changes["exchange_order_id"] = exchange_order_id
        if filled_quantity is not None:
            changes["filled_quantity"] = _decimal(filled_quantity, "filled_quantity")
        if average_price is not None:
            changes["average_price"] = _decimal(average_price, "average_price")
        new_status = None if status is None else _text(status)
        with self._writing() as connection:
            row = connection.execute(_ORDER_FOR_UPDATE, {"b_id": order_id}).one_or_none()
            when = _aware(at, "at")  # after the lock, so default times follow the history
            if row is None:
                raise RecordNotFound(f"no order {order_id}")
            current = row._asdict()
            if new_status is not None and new_status != current["status"]:
                changes["status"] = new_status
            changes["updated_at"] = when
            connection.execute(_UPDATE_ORDER, {"b_id": order_id, **changes})
            if "status" in changes:
                connection.execute(
                    _INSERT_HISTORY,
                    {
                        "order_id": order_id,
                        "from_status": current["status"],
                        "to_status": new_status,
                        "event": _text(event) if event is not None else "update",
                        "at": when,
                        "detail": detail,
                    },
                )
        return OrderRecord(**{**current, **changes})

    def record_answer(
        self,
        order_id: int,
        *,
        was: str,
        status: str,
        exchange_order_id: str | None = None,
        filled_quantity: Decimal | None = None,
        average_price: Decimal | None = None,
        event: str = "acknowledged",
        detail: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """`update_order` for a caller that knows the order's status (``was``: e.g. the
        intent it just recorded): no read first, one UPDATE guarded by that status and the
        history row. An order found elsewhere (another writer got there first) falls back to
        `update_order`, which reads it."""
        changes: dict[str, Any] = {"status": _text(status)}
        if exchange_order_id is not None:
            changes["exchange_order_id"] = exchange_order_id
        if filled_quantity is not None:
            changes["filled_quantity"] = _decimal(filled_quantity, "filled_quantity")
        if average_price is not None:
            changes["average_price"] = _decimal(average_price, "average_price")
        was = _text(was)
        with self._writing() as connection:
            when = _aware(at, "at")
            changes["updated_at"] = when
            guarded = {"b_id": order_id, "b_was": was, **changes}
            if connection.execute(_UPDATE_ORDER_IN, guarded).rowcount == 1:
                if changes["status"] != was:
                    history = {
                        "order_id": order_id,
                        "from_status": was,
                        "to_status": changes["status"],
                        "event": _text(event),
                        "at": when,
                        "detail": detail,
                    }
                    connection.execute(_INSERT_HISTORY, history)
                return
        self.update_order(
            order_id,
            status=status,
            exchange_order_id=exchange_order_id,
            filled_quantity=filled_quantity,
            average_price=average_price,
            event=event,
            detail=detail,
            at=at,
        )

    def resize_intent(self, order_id: int, quantity: Decimal, *, was: str) -> int:
        """Give an intent not yet sent (status ``was``) the size it will be sent with: a
        bracket leg recorded before its entry filled, sized as planned. An order in another
        status was sent already and keeps the size it was sent with (`RecordNotFound` if
        there is no such order). Returns ``order_id``."""
        changes = {"quantity": _decimal(quantity, "quantity"), "updated_at": _aware(None, "at")}
        with self._writing() as connection:
            guarded = {"b_id": order_id, "b_was": _text(was), **changes}
            if connection.execute(_UPDATE_ORDER_IN, guarded).rowcount == 1:
                return order_id
            if connection.execute(_ORDER_FOR_UPDATE, {"b_id": order_id}).one_or_none() is None:
                raise RecordNotFound(f"no order {order_id}")
        return order_id

    def get_order(self, order_id: int) -> OrderRecord | None:
        with self._reading() as session:
            row = session.get(OrderRow, order_id)
            return None if row is None else _record(OrderRecord, row)

    def get_order_by_client_id(self, account: str, client_order_id: str) -> OrderRecord | None:
        with self._reading() as session:
            row = session.scalar(
                select(OrderRow).where(
                    OrderRow.account == account, OrderRow.client_order_id == client_order_id
                )
            )
            return None if row is None else _record(OrderRecord, row)

    def get_order_by_exchange_id(self, account: str, exchange_order_id: str) -> OrderRecord | None:
        with self._reading() as session:
            row = session.scalars(
                select(OrderRow)
                .where(OrderRow.account == account, OrderRow.exchange_order_id == exchange_order_id)
                .order_by(OrderRow.id.desc())
            ).first()
            return None if row is None else _record(OrderRecord, row)

    def orders_for_signal(self, signal_id: int) -> list[OrderRecord]:
        """The signal's orders, oldest first."""
        with self._reading() as session:
            return [_record(OrderRecord, r) for r in _orders_of_signal(session, signal_id)]

    def list_orders(
        self,
        account: str | None = None,
        statuses: Iterable[str] | None = None,
        limit: int = 100,
    ) -> list[OrderRecord]:
        """The most recent orders (newest first), optionally for one account / some statuses."""
        stmt = select(OrderRow).order_by(OrderRow.id.desc()).limit(limit)
        if account is not None:
            stmt = stmt.where(OrderRow.account == account)
        if statuses is not None:
            stmt = stmt.where(OrderRow.status.in_(_texts(statuses)))
        with self._reading() as session:
            return [_record(OrderRecord, r) for r in session.scalars(stmt)]

    def count_orders_since(
        self, account: str, since: datetime, roles: Iterable[str] | None = None
    ) -> int:
        """How many orders (of these roles) the account recorded since a time (rate limits)."""
        params: dict[str, Any] = {"b_account": account, "b_since": _aware(since, "since")}
        stmt = _COUNT_ORDERS
        if roles is not None:
            stmt = _COUNT_ORDERS_OF_ROLES
            params["b_roles"] = _texts(roles)
        with self._querying() as connection:
            return int(connection.execute(stmt, params).scalar() or 0)

    def orders_in_flight(
        self, account: str, statuses: Iterable[str] | None = None
    ) -> list[OrderRecord]:
        """The account's orders in `statuses` (default `IN_FLIGHT_STATUSES`: not terminal),
        oldest first."""
        wanted = _texts(IN_FLIGHT_STATUSES if statuses is None else statuses)
        stmt = (
            select(OrderRow)
            .where(OrderRow.account == account, OrderRow.status.in_(wanted))
            .order_by(OrderRow.id)
        )
        with self._reading() as session:
            return [_record(OrderRecord, r) for r in session.scalars(stmt)]

    def order_history(self, order_id: int) -> list[OrderTransitionRecord]:
        """The order's status changes in the order they were recorded."""
        with self._reading() as session:
            return [_record(OrderTransitionRecord, r) for r in _history(session, [order_id])]
