"""What [offboarding] did to each leaver, and its scheduled data transfer (durable: a restart loses no transfer).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leavers",
        sa.Column("google_id", sa.String(64), primary_key=True),
        sa.Column("uuid", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("steps", sa.Text, nullable=False),
        sa.Column("hidden", sa.Boolean, nullable=False),
        sa.Column("moved_from", sa.String(400), nullable=False),
        sa.Column("moved_to", sa.String(400), nullable=False),
        sa.Column("transfer_to", sa.String(320), nullable=False),
        sa.Column("transfer_to_id", sa.String(64), nullable=False),
        sa.Column("transfer_applications", sa.String(100), nullable=False),
        sa.Column("transfer_privacy", sa.String(100), nullable=False),
        sa.Column("transfer_due_at", sa.DateTime(timezone=True), index=True),
        sa.Column("transfer_status", sa.String(20), nullable=False),
        sa.Column("transfer_id", sa.String(200), nullable=False),
        sa.Column("transfer_attempts", sa.Integer, nullable=False),
        sa.Column("transfer_error", sa.Text, nullable=False),
        sa.Column("transfer_done_at", sa.DateTime(timezone=True)),
        sa.Column("returned_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leavers")
