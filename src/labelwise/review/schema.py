"""The review database's tables (SQLAlchemy 2 ORM). Alembic migrations in ``migrations/versions/`` create them;
this module must describe the schema at the newest revision (``tests/review/test_migrations.py`` checks that).

- ``projects``: one per reviewed dataset (its classes). ``key`` is the id written in the audit folder
  (``review_project.json``), so a moved or copied folder finds its project; ``name`` is the folder's path when the
  project was made (how projects were found before they had keys).
- ``items``: one per row of the data: payload (fields shown to the reviewer), label quality, the audit's suggestion
  with its top probabilities, the given class and issue flags (for filters), and a version (the count of human
  decisions so far, the optimistic-concurrency token).
- ``label_events``: the append-only log. Every label an item ever had, with source (given / audit / llm / human),
  author, time and reason. Nothing is updated in place; the current label is derived from this log.
- ``assignments``: with several reviewers per item (``projects.reviewers_per_item`` > 1), which reviewer answers
  which item, with that reviewer's own version of the item (their count of decisions on it, their optimistic-
  concurrency token) and whether they have a current answer (derived from their events, like ``items.version``).
- ``reviewers``, ``login_links``, ``browser_sessions``: reviewer accounts of one project, their login tokens (stored
  as SHA-256 hashes, never in clear; optionally expiring or single-use) and their browser sessions (hashed too, so a
  copied database logs nobody in; with the time they were last used, for the idle lifetime).
"""

from __future__ import annotations

import datetime as _dt
from typing import Optional

from labelwise.errors import MissingExtraError

try:
    from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("sqlalchemy", "review", "the review store") from err

# bits of Item.issue_flags: why the audit put the row in front of a reviewer
ISSUE_FLAGS = {"label": 1, "duplicate": 2, "outlier": 4}


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_key", "key", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(1000), unique=True)
    key: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    classes: Mapped[list] = mapped_column(JSON)
    reviewers_per_item: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))


class Item(Base):
    """One row of the user's data. ``row`` is its 0-based row in the input; ``payload`` its fields for display."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("project_id", "row"),
        Index("ix_items_queue", "project_id", "label_quality", "id"),
        Index("ix_items_reviewed", "project_id", "version"),
        Index("ix_items_class", "project_id", "given_class", "label_quality", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    row: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict] = mapped_column(JSON)
    label_quality: Mapped[float] = mapped_column(Float)
    suggestion: Mapped[Optional[dict]] = mapped_column(JSON, nullable=True)  # {"labels": [...], "probabilities": {}}
    version: Mapped[int] = mapped_column(Integer, default=0)
    given_class: Mapped[Optional[str]] = mapped_column(String(1000), nullable=True)  # first given label (filter)
    issue_flags: Mapped[int] = mapped_column(Integer, default=0)  # ISSUE_FLAGS bits


class LabelEvent(Base):
    """An append-only record: which label an item has, according to whom, when and why."""

    __tablename__ = "label_events"
    __table_args__ = (
        UniqueConstraint("item_id", "version", "source", name="uq_event_version"),
        Index("ix_events_item", "item_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)  # the item version this event creates (0 for given/audit)
    labels: Mapped[list] = mapped_column(JSON)  # one label, or several for "several"
    decision: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(10))
    author: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))


class Reviewer(Base):
    """A reviewer's account in one project: a reviewer of another project cannot log in here."""

    __tablename__ = "reviewers"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_reviewer_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))


class Assignment(Base):
    """Item ``item_id`` is one of reviewer ``reviewer_id``'s items (projects with several reviewers per item).
    ``version``: the reviewer's count of decisions on the item; ``answered``: they have an answer now (not skipped,
    not undone)."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("item_id", "reviewer_id", name="uq_assignment"),
        Index("ix_assignments_queue", "reviewer_id", "answered", "item_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))


class LoginLink(Base):
    """A login token of a reviewer, as its SHA-256 hex digest. It stops working when revoked, after ``expires_at``,
    or once used when ``single_use``."""

    __tablename__ = "login_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[Optional[_dt.datetime]] = mapped_column(DateTime(timezone=True), nullable=True)
    single_use: Mapped[bool] = mapped_column(Boolean, default=False)
    used_at: Mapped[Optional[_dt.datetime]] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[Optional[_dt.datetime]] = mapped_column(DateTime(timezone=True), nullable=True)


class BrowserSession(Base):
    """A logged-in browser: the SHA-256 of its cookie value, its reviewer, its CSRF token, when it logged in and when
    it was last used (kept to within a minute)."""

    __tablename__ = "browser_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))
