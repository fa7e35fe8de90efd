"""The store's tables, as SQLAlchemy 2 typed ORM classes. No queries live here (see repository.py).

Two column types carry the rules that matter for money and time:

- `DecimalString` keeps a `Decimal` exactly, as its canonical `str()` in a text column. A
  `Numeric` column would not do: SQLite stores NUMERIC through a float, so
  `Decimal("0.000123456789012345678")` would come back rounded.
- `UTCDateTime` accepts only timezone-aware datetimes, stores them in UTC and always returns
  them aware (SQLite has no timezone support and would otherwise hand back naive values).

Order statuses, signal statuses, sides and order types are plain strings: their vocabulary and
transitions belong to `domain.py` / `order_state.py`; the store records what it is told.
Order roles and trading states are small closed sets, so the database checks them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

ORDER_ROLES: tuple[str, ...] = ("entry", "stop_loss", "take_profit", "close", "adopted")
TRADING_STATES: tuple[str, ...] = ("ACTIVE", "REDUCING", "HALTED")

# Named constraints, so later migrations (SQLite batch mode included) can refer to them.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class DecimalString(TypeDecorator[Decimal]):
    """An exact Decimal, stored as its canonical string (`str(Decimal)` round-trips exactly).

    Floats are refused rather than converted: a float has already lost the exact value, and
    silently storing its nearest decimal is the kind of error that shows up in a reconciliation
    months later. NaN and infinities are refused too; they are never a price or a quantity.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"expected Decimal (or int), got {type(value).__name__}: {value!r}")
        exact = Decimal(value)
        if not exact.is_finite():
            raise ValueError(f"refusing to store a non-finite decimal: {exact}")
        return str(exact)

    def process_literal_param(self, value: Any, dialect: Dialect) -> str:
        bound = self.process_bind_param(value, dialect)
        return "NULL" if bound is None else f"'{bound}'"

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing a naive datetime (give it a timezone): {value!r}")
        utc = value.astimezone(UTC)
        # SQLite keeps text; store naive UTC so every row compares correctly as a string.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        Decimal: DecimalString(),
        datetime: UTCDateTime(),
    }


def _role_check() -> CheckConstraint:
    roles = ", ".join(f"'{role}'" for role in ORDER_ROLES)
    return CheckConstraint(f"role IN ({roles})", name="role")


def _trading_state_check() -> CheckConstraint:
    states = ", ".join(f"'{state}'" for state in TRADING_STATES)
    return CheckConstraint(f"trading_state IN ({states})", name="trading_state")


class SignalRow(Base):
    """A received trading intent; `idempotency_key` makes a re-delivery the same signal."""

    __tablename__ = "signals"
    __table_args__ = (Index(None, "account", "created_at"), Index(None, "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    account: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    confidence: Mapped[Decimal | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(32))
    # why it is in its status (a terminal status always has one; see signal_state.py)
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)


class RiskDecisionRow(Base):
    """The risk engine's verdict on a signal, with the reason code when it refused."""

    __tablename__ = "risk_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id"), index=True)
    approved: Mapped[bool] = mapped_column(Boolean)
    reason_code: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    sizing: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # what an approved decision asked for (quantity, position before, stop, target): enough to
    # rebuild the same orders, with the same client ids, when the signal is resumed
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderRow(Base):
    """One order as we intended and then learned it; written before it is sent."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("account", "client_order_id"),
        Index(None, "account", "status"),
        Index(None, "account", "exchange_order_id"),
        _role_check(),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[int | None] = mapped_column(ForeignKey("signals.id"), index=True)
    account: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    client_order_id: Mapped[str] = mapped_column(String(64))
    exchange_order_id: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    side: Mapped[str] = mapped_column(String(8))
    order_type: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[Decimal]
    price: Mapped[Decimal | None]
    trigger_price: Mapped[Decimal | None]
    reduce_only: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(32))
    filled_quantity: Mapped[Decimal]
    average_price: Mapped[Decimal | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderStateHistoryRow(Base):
    """One status change of an order (the first row has no `from_status`)."""

    __tablename__ = "order_state_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[str | None] = mapped_column(Text)


class FillRow(Base):
    """One execution reported by the exchange; unique per (account, exchange trade id)."""

    __tablename__ = "fills"
    __table_args__ = (
        UniqueConstraint("account", "exchange_trade_id"),
        Index(None, "account", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    account: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    exchange_trade_id: Mapped[str] = mapped_column(String(128))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal]
    price: Mapped[Decimal]
    fee: Mapped[Decimal | None]
    fee_currency: Mapped[str | None] = mapped_column(String(16))
    realized_pnl: Mapped[Decimal | None]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class PositionSnapshotRow(Base):
    """A position as seen at one moment; `quantity` is signed (negative is short)."""

    __tablename__ = "position_snapshots"
    __table_args__ = (Index(None, "account", "symbol", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[Decimal]
    entry_price: Mapped[Decimal | None]
    mark_price: Mapped[Decimal | None]
    unrealized_pnl: Mapped[Decimal | None]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class EventRow(Base):
    """The append-only log of everything that happened, for operators and post-mortems."""

    __tablename__ = "events"
    __table_args__ = (Index(None, "account", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    account: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    signal_id: Mapped[int | None] = mapped_column(ForeignKey("signals.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class AccountStateRow(Base):
    """Per-account trading state (ACTIVE / REDUCING / HALTED); no row means ACTIVE."""

    __tablename__ = "account_state"
    __table_args__ = (_trading_state_check(),)

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    trading_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaperStateRow(Base):
    """A paper account's venue state without its orders and fills (balances, positions,
    settings, marks, the next ids) as the simulator engine exports it, Decimals as strings;
    see `store/paper_state.py`. `version` goes up by one with every committed change
    (optimistic concurrency between processes)."""

    __tablename__ = "paper_state"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    venue: Mapped[str] = mapped_column(String(32))
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaperOrderRow(Base):
    """One order of a paper account's venue (the engine's record of it), written when it
    changes; the open ones and the latest closed ones are kept."""

    __tablename__ = "paper_orders"

    account: Mapped[str] = mapped_column(
        String(64), ForeignKey("paper_state.account"), primary_key=True
    )
    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class PaperFillRow(Base):
    """One fill of a paper account's venue, written once; the latest ones are kept."""

    __tablename__ = "paper_fills"

    account: Mapped[str] = mapped_column(
        String(64), ForeignKey("paper_state.account"), primary_key=True
    )
    trade_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class AccountLeaseRow(Base):
    """Which replica executes for an account (DESIGN.md section 9; see `store/leases.py`).

    `epoch` goes up by one each time the lease changes hands (or is taken again after it
    lapsed); every order intent carries the epoch it was decided under and is refused when
    the row has moved on, so a replica that was paused past its lease cannot act on it.
    """

    __tablename__ = "account_leases"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    epoch: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    renewed_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(default=utcnow)
