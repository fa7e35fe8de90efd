"""Create the store's tables.

Money columns are text holding `str(Decimal)` (exact on every backend; see
`models.DecimalString`); timestamps are UTC.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _money(name: str, *, nullable: bool) -> sa.Column[str]:
    return sa.Column(name, sa.String(), nullable=nullable)


def _timestamp(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _money("confidence", nullable=True),
        _timestamp("created_at"),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_signals_idempotency_key")),
    )
    op.create_index(op.f("ix_signals_account_created_at"), "signals", ["account", "created_at"])

    op.create_table(
        "risk_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("sizing", sa.JSON(), nullable=True),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signals.id"], name=op.f("fk_risk_decisions_signal_id_signals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_decisions")),
    )
    op.create_index(op.f("ix_risk_decisions_signal_id"), "risk_decisions", ["signal_id"])

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=True),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=128), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("order_type", sa.String(length=32), nullable=False),
        _money("quantity", nullable=False),
        _money("price", nullable=True),
        _money("trigger_price", nullable=True),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        _money("filled_quantity", nullable=False),
        _money("average_price", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint(
            "role IN ('entry', 'stop_loss', 'take_profit', 'close', 'adopted')",
            name=op.f("ck_orders_role"),
        ),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signals.id"], name=op.f("fk_orders_signal_id_signals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint(
            "account", "client_order_id", name=op.f("uq_orders_account_client_order_id")
        ),
    )
    op.create_index(op.f("ix_orders_signal_id"), "orders", ["signal_id"])
    op.create_index(op.f("ix_orders_account_status"), "orders", ["account", "status"])
    op.create_index(
        op.f("ix_orders_account_exchange_order_id"), "orders", ["account", "exchange_order_id"]
    )

    op.create_table(
        "order_state_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        _timestamp("at"),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_state_history_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_state_history")),
    )
    op.create_index(op.f("ix_order_state_history_order_id"), "order_state_history", ["order_id"])

    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("exchange_trade_id", sa.String(length=128), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        _money("quantity", nullable=False),
        _money("price", nullable=False),
        _money("fee", nullable=True),
        sa.Column("fee_currency", sa.String(length=16), nullable=True),
        _money("realized_pnl", nullable=True),
        _timestamp("at"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_fills_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
        sa.UniqueConstraint(
            "account", "exchange_trade_id", name=op.f("uq_fills_account_exchange_trade_id")
        ),
    )
    op.create_index(op.f("ix_fills_order_id"), "fills", ["order_id"])
    op.create_index(op.f("ix_fills_account_at"), "fills", ["account", "at"])

    op.create_table(
        "position_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        _money("quantity", nullable=False),
        _money("entry_price", nullable=True),
        _money("mark_price", nullable=True),
        _money("unrealized_pnl", nullable=True),
        _timestamp("at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position_snapshots")),
    )
    op.create_index(
        op.f("ix_position_snapshots_account_symbol_at"),
        "position_snapshots",
        ["account", "symbol", "at"],
    )

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        _timestamp("at"),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_events_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signals.id"], name=op.f("fk_events_signal_id_signals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_signal_id"), "events", ["signal_id"])
    op.create_index(op.f("ix_events_order_id"), "events", ["order_id"])
    op.create_index(op.f("ix_events_account_at"), "events", ["account", "at"])

    op.create_table(
        "account_state",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("trading_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _timestamp("updated_at"),
        sa.CheckConstraint(
            "trading_state IN ('ACTIVE', 'REDUCING', 'HALTED')",
            name=op.f("ck_account_state_trading_state"),
        ),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_account_state")),
    )


def downgrade() -> None:
    # Dependents first; dropping a table drops its indexes.
    for table in (
        "account_state",
        "events",
        "position_snapshots",
        "fills",
        "order_state_history",
        "orders",
        "risk_decisions",
        "signals",
    ):
        op.drop_table(table)
