"""Paper state: each paper account's venue state, so paper trading survives between processes.

One row per paper account: the simulator engine's export of the account (balances,
positions, orders with their specs and ids, fills, marks, the next ids) as JSON with every
Decimal a string, and a version that every write raises by one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paper_state",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("venue", sa.String(length=32), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_paper_state")),
    )


def downgrade() -> None:
    op.drop_table("paper_state")
