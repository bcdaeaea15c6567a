"""Changes held back by the safety limits, and when each result was recorded (the suspension budget).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("results") as results:
        results.add_column(sa.Column("recorded_at", sa.DateTime(timezone=True)))
    op.create_index("ix_results_recorded_at", "results", ["recorded_at"])
    op.create_table(
        "held",
        sa.Column("key", sa.String(800), primary_key=True),
        sa.Column("scope", sa.String(64), nullable=False, index=True),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("object", sa.String(700), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("held")
    op.drop_index("ix_results_recorded_at", "results")
    with op.batch_alter_table("results") as results:
        results.drop_column("recorded_at")
