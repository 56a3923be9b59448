"""The first schema: projects, items and the append-only label-event log.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(1000), nullable=False, unique=True),
        sa.Column("classes", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("label_quality", sa.Float, nullable=False),
        sa.Column("suggestion", sa.JSON, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("project_id", "row"),
    )
    op.create_index("ix_items_queue", "items", ["project_id", "label_quality", "id"])
    op.create_index("ix_items_reviewed", "items", ["project_id", "version"])
    op.create_table(
        "label_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("item_id", "version", "source", name="uq_event_version"),
    )
    op.create_index("ix_events_item", "label_events", ["item_id", "id"])


def downgrade() -> None:
    op.drop_table("label_events")
    op.drop_table("items")
    op.drop_table("projects")
