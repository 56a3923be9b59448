"""The review store: every read and write of the review app, over SQLAlchemy 2 (tables in ``schema.py``).

One class, :class:`ReviewStore`, made of four parts, one module each:

- ``database.py``: engines (SQLite by default, PostgreSQL by URL), write / read / snapshot transactions, schema
  upgrades (Alembic);
- ``items.py``: projects, items, the append-only label events, decisions with optimistic concurrency, the queue,
  and with several reviewers per item, who answers what;
- ``accounts.py``: reviewers of a project, login links and browser sessions, their lifetimes;
- ``snapshot.py``: what an export writes, read as one snapshot.
"""

from __future__ import annotations

from labelwise.errors import ConflictError
from labelwise.review.accounts import LINK_MAX_AGE, Accounts, SessionPolicy
from labelwise.review.database import MIGRATIONS, upgrade_schema
from labelwise.review.items import (
    DECISIONS, MAX_LABEL, MAX_REASON, MAX_REVIEWERS_PER_ITEM, SOURCES, ItemView, Items, QueueFilter,
)
from labelwise.review.snapshot import ExportSnapshot, Snapshots

__all__ = ["ConflictError", "DECISIONS", "ExportSnapshot", "ItemView", "LINK_MAX_AGE", "MAX_LABEL", "MAX_REASON",
           "MAX_REVIEWERS_PER_ITEM", "MIGRATIONS", "QueueFilter", "ReviewStore", "SOURCES", "SessionPolicy",
           "upgrade_schema"]


class ReviewStore(Items, Accounts, Snapshots):
    """All reads and writes of the review app go through here. url: SQLAlchemy URL (``sqlite:///path.db`` or
    ``postgresql+psycopg://user@host/db``); the schema is created or upgraded on open."""

    def issue_token(self, project_id: int, name: str, **options) -> str:
        """:meth:`Accounts.issue_token`, then, with several reviewers per item, the items are re-assigned so that a
        new reviewer gets their share (:meth:`Items.assign`)."""
        return self.issue_tokens(project_id, [name], **options)[name]

    def issue_tokens(self, project_id: int, names, **options) -> dict[str, str]:
        """name -> a new login token for each of ``names`` (:meth:`Accounts.issue_token`), then the items assigned
        once for all of them (with several reviewers per item), so no item moves between the new accounts."""
        tokens = {name: super(ReviewStore, self).issue_token(project_id, name, **options) for name in names}
        self.assign(project_id)
        return tokens
