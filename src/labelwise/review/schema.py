"""The review database's tables (SQLAlchemy 2 ORM). Alembic migrations in ``migrations/versions/`` create them;
this module must describe the schema at the newest revision (``tests/review/test_migrations.py`` checks that).

- ``projects``: one per reviewed dataset (its classes).
- ``items``: one per row of the data: payload (fields shown to the reviewer), label quality, the audit's suggestion
  with its top probabilities, the given class and issue flags (for filters), and a version (the count of human
  decisions so far, the optimistic-concurrency token).
- ``label_events``: the append-only log. Every label an item ever had, with source (given / audit / llm / human),
  author, time and reason. Nothing is updated in place; the current label is derived from this log.
- ``users``, ``access_tokens``, ``sessions``: reviewer accounts, their login tokens (stored as SHA-256 hashes, never
  in clear) and their browser sessions (hashed too, so a copied database logs nobody in).
"""

from __future__ import annotations

import datetime as _dt
from typing import Optional

from labelwise.errors import MissingExtraError

try:
    from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("sqlalchemy", "review", "the review store") from err

# bits of Item.issue_flags: why the audit put the row in front of a reviewer
ISSUE_FLAGS = {"label": 1, "duplicate": 2, "outlier": 4}


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(1000), unique=True)
    classes: Mapped[list] = mapped_column(JSON)
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


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))


class AccessToken(Base):
    """A login token of a user, as its SHA-256 hex digest. A user may hold several; revoking sets ``revoked_at``."""

    __tablename__ = "access_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[Optional[_dt.datetime]] = mapped_column(DateTime(timezone=True), nullable=True)


class ReviewSession(Base):
    """A logged-in browser: the SHA-256 of its cookie value, its user and its CSRF token."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))
