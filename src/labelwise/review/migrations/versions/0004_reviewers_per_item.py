"""Several independent reviewers per item: ``projects.reviewers_per_item`` (1 for every existing project: nothing
changes for them) and the ``assignments`` table (which reviewer answers which item, with that reviewer's own version
of the item and whether they have answered it).

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (SQLite takes NOT NULL with a default in place; no table copy, which would cascade deletes)
    op.add_column("projects", sa.Column("reviewers_per_item", sa.Integer, nullable=False, server_default="1"))
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("reviewers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("answered", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("item_id", "reviewer_id", name="uq_assignment"),
    )
    op.create_index("ix_assignments_queue", "assignments", ["reviewer_id", "answered", "item_id"])


def downgrade() -> None:
    op.drop_index("ix_assignments_queue", "assignments")
    op.drop_table("assignments")
    op.drop_column("projects", "reviewers_per_item")
