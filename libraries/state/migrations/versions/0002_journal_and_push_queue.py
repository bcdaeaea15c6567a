"""The apply journal, the durable push queue, and runs that show when they were last seen.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        runs.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True)))
        runs.add_column(sa.Column("pid", sa.Integer, nullable=False, server_default="0"))
        runs.add_column(sa.Column("host", sa.String(255), nullable=False, server_default=""))
    with op.batch_alter_table("results") as results:
        results.add_column(sa.Column("data", sa.Text, nullable=False, server_default="{}"))
    op.create_table(
        "journal",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("object", sa.String(700), nullable=False),
        sa.Column("proof", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "push_queue",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("name", sa.String(320), nullable=False),
        sa.Column("uuid", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("claimed_by", sa.String(300), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("push_queue")
    op.drop_table("journal")
    with op.batch_alter_table("results") as results:
        results.drop_column("data")
    with op.batch_alter_table("runs") as runs:
        for column in ("host", "pid", "last_seen_at"):
            runs.drop_column(column)
