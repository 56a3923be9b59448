"""Projects found by a key stored in their audit folder; reviewer accounts, login links and sessions of one project.

- ``projects.key`` (unique): the id in the folder's ``review_project.json``. Existing projects get theirs when their
  folder is next opened (found once more by its path, as before).
- ``reviewers``, ``login_links``, ``browser_sessions`` replace ``users``, ``access_tokens``, ``sessions``. Accounts
  used to be global to a database, so a reviewer of one project could log into another project's server. In a
  database with one project, every account, link and session moves to that project unchanged (nobody has to log in
  again). In a database with several, nobody can tell which project an old account was meant for: the old accounts
  are dropped, and ``labelwise review`` prints new links as it always does. Old sessions keep their login time as
  their last use, so the idle lifetime applies to them at once.

New tables rather than altered ones: SQLite changes a constraint only by copying a table, and copying ``users``
under ``PRAGMA foreign_keys=ON`` would delete every token and session through their ``ON DELETE CASCADE``.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("key", sa.String(64), nullable=True))
    op.create_index("ix_projects_key", "projects", ["key"], unique=True)
    op.create_table(
        "reviewers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_reviewer_name"),
    )
    op.create_table(
        "login_links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("reviewers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("single_use", sa.Boolean, nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "browser_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("reviewers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_browser_sessions_reviewer_id", "browser_sessions", ["reviewer_id"])
    conn = op.get_bind()
    projects = [p for (p,) in conn.execute(sa.text("SELECT id FROM projects"))]
    if len(projects) == 1:
        conn.execute(sa.text("INSERT INTO reviewers (id, project_id, name, created_at) "
                             "SELECT id, :p, name, created_at FROM users"), {"p": projects[0]})
        conn.execute(sa.text("INSERT INTO login_links (id, reviewer_id, token_hash, created_at, single_use, "
                             "revoked_at) SELECT id, user_id, token_hash, created_at, :no, revoked_at "
                             "FROM access_tokens"), {"no": False})
        conn.execute(sa.text("INSERT INTO browser_sessions (id, reviewer_id, csrf, created_at, last_seen_at) "
                             "SELECT id, user_id, csrf, created_at, created_at FROM sessions"))
        if conn.dialect.name == "postgresql":  # explicit ids were inserted: move the sequences past them
            for table in ("reviewers", "login_links"):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"))
    op.drop_table("sessions")
    op.drop_table("access_tokens")
    op.drop_table("users")


def downgrade() -> None:
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
    op.drop_table("browser_sessions")
    op.drop_table("login_links")
    op.drop_table("reviewers")
    op.drop_index("ix_projects_key", "projects")
    op.drop_column("projects", "key")
