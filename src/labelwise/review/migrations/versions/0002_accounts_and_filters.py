"""Reviewer accounts (users, hashed login tokens, sessions) and the columns the queue filters on.

Revision ID: 0002
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("given_class", sa.String(1000), nullable=True))
        batch.add_column(sa.Column("issue_flags", sa.Integer, nullable=False, server_default="0"))
    # items created before this revision: their given class from their first "given" event (read in Python,
    # because extracting from JSON is spelt differently by every database)
    conn = op.get_bind()
    first: dict = {}
    for item_id, labels in conn.execute(sa.text("SELECT item_id, labels FROM label_events "
                                                "WHERE source = 'given' ORDER BY id")):
        labels = json.loads(labels) if isinstance(labels, str) else labels
        first.setdefault(item_id, str(labels[0]) if labels else None)
    if first:
        conn.execute(sa.text("UPDATE items SET given_class = :c WHERE id = :i"),
                     [{"c": c, "i": i} for i, c in first.items()])
    op.create_index("ix_items_class", "items", ["project_id", "given_class", "label_quality", "id"])


def downgrade() -> None:
    op.drop_index("ix_items_class", "items")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("issue_flags")
        batch.drop_column("given_class")
    op.drop_table("sessions")
    op.drop_table("access_tokens")
    op.drop_table("users")
