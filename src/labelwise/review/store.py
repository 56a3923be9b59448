"""The review store: every read and write of the review app, over SQLAlchemy 2 (tables in ``schema.py``).

One class, :class:`ReviewStore`, made of four parts, one module each:

- ``database.py``: engines (SQLite by default, PostgreSQL by URL), write / read / snapshot transactions, schema
  upgrades (Alembic);
- ``items.py``: projects, items, the append-only label events, decisions with optimistic concurrency, the queue;
- ``accounts.py``: reviewers of a project, login links and browser sessions, their lifetimes;
- ``snapshot.py``: what an export writes, read as one snapshot.
"""

from __future__ import annotations

from labelwise.errors import ConflictError
from labelwise.review.accounts import LINK_MAX_AGE, Accounts, SessionPolicy
from labelwise.review.database import MIGRATIONS, upgrade_schema
from labelwise.review.items import DECISIONS, MAX_LABEL, MAX_REASON, SOURCES, ItemView, Items, QueueFilter
from labelwise.review.snapshot import ExportSnapshot, Snapshots

__all__ = ["ConflictError", "DECISIONS", "ExportSnapshot", "ItemView", "LINK_MAX_AGE", "MAX_LABEL", "MAX_REASON",
           "MIGRATIONS", "QueueFilter", "ReviewStore", "SOURCES", "SessionPolicy", "upgrade_schema"]


class ReviewStore(Items, Accounts, Snapshots):
    """All reads and writes of the review app go through here. url: SQLAlchemy URL (``sqlite:///path.db`` or
    ``postgresql+psycopg://user@host/db``); the schema is created or upgraded on open."""
