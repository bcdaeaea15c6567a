"""An index on results.object: the console reads the last result of each object from it, not every result of every run.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_results_object", "results", ["object"])


def downgrade() -> None:
    op.drop_index("ix_results_object", table_name="results")
