"""Signal lifecycle: a reason beside each signal's status, and the plan of an approved decision.

`signals.status_reason` says why a signal is in its status (every terminal status has one);
`risk_decisions.plan` holds what the decision asked for (quantity, position before, stop and
target), so a signal interrupted by a crash can be resumed with the same orders and ids.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signals") as batch:
        batch.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("risk_decisions") as batch:
        batch.add_column(sa.Column("plan", sa.JSON(), nullable=True))
    # signals recovery looks for: the few that are not terminal
    op.create_index(op.f("ix_signals_status"), "signals", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_signals_status"), table_name="signals")
    with op.batch_alter_table("risk_decisions") as batch:
        batch.drop_column("plan")
    with op.batch_alter_table("signals") as batch:
        batch.drop_column("status_reason")
