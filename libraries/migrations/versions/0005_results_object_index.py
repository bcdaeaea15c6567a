"""An index on results.object: the console reads the last result of each object from it, not every result of every run.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_results_object", "results", ["object"])


def downgrade() -> None:
    op.drop_index("ix_results_object", table_name="results")
