"""Paper state in parts: each order and fill of a paper account in a row of its own.

A paper account's state was one JSON document rewritten whole at every change (every order,
cancel and mark move), growing with its history (up to 500 closed orders and 1000 fills).
Now ``paper_state`` holds the rest (balances, positions, settings, marks, the next ids) and a
change writes only that row and the orders and fills it touched (``paper_orders``,
``paper_fills``). Existing rows are split in place; their version is kept, so a process still
holding one sees nothing change. The downgrade joins them back.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the tables as this revision sees them (never the models: they move on)
_meta = sa.MetaData()
_state = sa.Table(
    "paper_state",
    _meta,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("state", sa.JSON()),
)
_orders = sa.Table(
    "paper_orders",
    _meta,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("order_id", sa.BigInteger(), primary_key=True),
    sa.Column("data", sa.JSON()),
)
_fills = sa.Table(
    "paper_fills",
    _meta,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("trade_id", sa.BigInteger(), primary_key=True),
    sa.Column("data", sa.JSON()),
)


def _child(name: str, key: str) -> None:
    op.create_table(
        name,
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column(key, sa.BigInteger(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account"], ["paper_state.account"], name=op.f(f"fk_{name}_account_paper_state")
        ),
        sa.PrimaryKeyConstraint("account", key, name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    _child("paper_orders", "order_id")
    _child("paper_fills", "trade_id")
    bind = op.get_bind()
    for account, state in bind.execute(sa.select(_state.c.account, _state.c.state)).all():
        whole: dict[str, Any] = dict(state)
        orders = whole.pop("orders", [])
        fills = whole.pop("fills", [])
        if orders:
            bind.execute(
                _orders.insert(),
                [{"account": account, "order_id": int(o["order_id"]), "data": o} for o in orders],
            )
        if fills:
            bind.execute(
                _fills.insert(),
                [{"account": account, "trade_id": int(f["trade_id"]), "data": f} for f in fills],
            )
        bind.execute(_state.update().where(_state.c.account == account).values(state=whole))


def downgrade() -> None:
    bind = op.get_bind()
    for account, state in bind.execute(sa.select(_state.c.account, _state.c.state)).all():
        orders = bind.execute(
            sa.select(_orders.c.data)
            .where(_orders.c.account == account)
            .order_by(_orders.c.order_id)
        ).scalars()
        fills = bind.execute(
            sa.select(_fills.c.data).where(_fills.c.account == account).order_by(_fills.c.trade_id)
        ).scalars()
        whole = {**dict(state), "orders": list(orders), "fills": list(fills)}
        bind.execute(_state.update().where(_state.c.account == account).values(state=whole))
    op.drop_table("paper_fills")
    op.drop_table("paper_orders")
