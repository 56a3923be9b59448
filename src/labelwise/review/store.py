"""The review store: projects, items and an append-only log of label events (SQLAlchemy 2).

Nothing is ever updated in place. Every label a row has had is an event: the given label when the project is
created, the audit's suggestion, and each reviewer's decision. The current label is derived from the log as its
latest event of source ``given`` or ``human``. Each item carries a version, the number of human events so far. A
reviewer submits the version they saw, and a stale version is refused with :class:`ConflictError` instead of
silently overwriting someone else's decision (optimistic concurrency). Undo is an event too.

SQLite by default (WAL journal, foreign keys on), PostgreSQL by URL. The review queue is paged with keyset
pagination on an index of (project, label quality, item id), so a page costs the same at 100 rows or 100,000.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

from labelwise.errors import LabelwiseError, MissingExtraError

try:
    from sqlalchemy import (
        JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, create_engine, event,
        func, insert, select,
    )
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("sqlalchemy", "review", "the review store") from err

SOURCES = ("given", "audit", "llm", "human")
DECISIONS = ("relabel", "keep", "ambiguous", "several", "skip", "undo")


class ConflictError(LabelwiseError):
    """Someone else changed this item since you loaded it; reload it and decide again."""


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    classes: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True))


class Item(Base):
    """One row of the user's data. ``row`` is its 0-based row in the input; ``payload`` its fields for display."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("project_id", "row"),
        Index("ix_items_queue", "project_id", "label_quality", "id"),
        Index("ix_items_reviewed", "project_id", "version"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    row: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict] = mapped_column(JSON)
    label_quality: Mapped[float] = mapped_column(Float)
    suggestion: Mapped[Optional[dict]] = mapped_column(JSON, nullable=True)  # suggested label, top probabilities
    version: Mapped[int] = mapped_column(Integer, default=0)  # count of human events; the concurrency token


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


@dataclass(frozen=True)
class ItemView:
    """An item with its derived current label, for the queue and the item page."""

    id: int
    row: int
    payload: dict
    label_quality: float
    suggestion: Optional[dict]
    version: int
    current_labels: list
    reviewed: bool


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


class ReviewStore:
    """All reads and writes of the review app go through here. url: SQLAlchemy URL (``sqlite:///path.db``)."""

    def __init__(self, url: str):
        self.url = url
        sqlite = url.startswith("sqlite")
        options = {"connect_args": {"timeout": 30}} if sqlite else {}  # wait for the write lock, do not fail
        self.engine = create_engine(url, future=True, **options)
        self.read_engine = self.engine
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # writers take the lock when their transaction begins, so a version check always sees the last commit
            # (a deferred transaction would instead fail with "database is locked" when it tries to write);
            # readers use their own engine with plain transactions, which WAL never blocks
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
            self.read_engine = create_engine(url, future=True, **options)
            event.listen(self.read_engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)

    # ---- projects and items -----------------------------------------------------------------------------------

    def create_project(self, name: str, classes: Sequence[str]) -> int:
        """A new project, or the existing one of that name (re-opening the same data resumes it)."""
        with self._session.begin() as s:
            found = s.scalar(select(Project).where(Project.name == name))
            if found is not None:
                return found.id
            project = Project(name=name, classes=list(classes), created_at=_now())
            s.add(project)
            s.flush()
            return project.id

    def add_items(self, project_id: int, rows: Iterable[dict], *, author: str = "labelwise",
                  batch_size: int = 5000) -> int:
        """Add items with their given label (and audit suggestion) as the first events. Each row dict has
        ``row``, ``payload``, ``given`` (list of labels), ``label_quality`` and optionally ``suggestion``
        ({"labels": [...], "probabilities": {...}}). Rows already present are skipped. Returns how many were added.
        Inserts run in batches (multi-row INSERT ... RETURNING), so 100,000 rows take seconds, not minutes.
        """
        with self._read() as s:
            existing = set(s.scalars(select(Item.row).where(Item.project_id == project_id)))
        added, batch = 0, []
        for r in rows:
            if int(r["row"]) in existing:
                continue
            existing.add(int(r["row"]))
            batch.append(r)
            if len(batch) >= batch_size:
                added += self._insert_batch(project_id, batch, author)
                batch = []
        if batch:
            added += self._insert_batch(project_id, batch, author)
        return added

    def _insert_batch(self, project_id: int, batch: list[dict], author: str) -> int:
        now = _now()
        with self._session.begin() as s:
            ids = s.execute(
                insert(Item).returning(Item.id, sort_by_parameter_order=True),
                [{"project_id": project_id, "row": int(r["row"]), "payload": r.get("payload", {}),
                  "label_quality": float(r.get("label_quality", 1.0)), "suggestion": r.get("suggestion"),
                  "version": 0} for r in batch],
            ).scalars().all()
            events = []
            for item_id, r in zip(ids, batch):
                events.append({"item_id": item_id, "version": 0, "labels": list(r["given"]), "decision": "keep",
                               "source": "given", "author": author, "reason": "label in the input data",
                               "created_at": now})
                if r.get("suggestion"):
                    events.append({"item_id": item_id, "version": 0, "labels": list(r["suggestion"]["labels"]),
                                   "decision": "relabel", "source": "audit", "author": author,
                                   "reason": "suggested by the audit", "created_at": now})
            s.execute(insert(LabelEvent), events)
        return len(batch)

    # ---- decisions ----------------------------------------------------------------------------------------------

    def decide(self, item_id: int, *, labels: Sequence[str], decision: str, author: str, expected_version: int,
               reason: str = "") -> int:
        """Record a reviewer's decision; returns the item's new version.

        Raises ConflictError when the item's version is no longer ``expected_version`` (someone else decided in
        between). The version check and the event are one transaction; the unique (item, version, source)
        constraint makes two concurrent writers of the same version impossible even across processes.
        """
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}; got {decision!r}.")
        try:
            with self._session.begin() as s:
                item = s.get(Item, item_id)
                if item is None:
                    raise LabelwiseError(f"No item {item_id}.")
                if item.version != expected_version:
                    raise ConflictError(f"Item {item_id} was changed by someone else (version {item.version}, you "
                                        f"saw {expected_version}). Reload it and decide again.")
                project = s.get(Project, item.project_id)
                unknown = [label for label in labels if label not in project.classes]
                if unknown:
                    raise LabelwiseError(f"Unknown label(s) {unknown}; choose from the project's classes.")
                new_version = expected_version + 1
                s.add(LabelEvent(item_id=item_id, version=new_version, labels=list(labels), decision=decision,
                                 source="human", author=author, reason=reason, created_at=_now()))
                item.version = new_version
            return new_version
        except IntegrityError:
            raise ConflictError(f"Item {item_id} was changed by someone else at the same moment. Reload it.") from None

    def undo(self, item_id: int, *, author: str, expected_version: int) -> int:
        """Undo the latest human decision by recording the label it replaced, as a new event."""
        history = [e for e in self.history(item_id) if e["source"] in ("given", "human") and e["decision"] != "skip"]
        if len(history) < 2:
            raise LabelwiseError(f"Item {item_id} has no decision to undo.")
        previous = _current(history[:-1])
        return self.decide(item_id, labels=previous, decision="undo", author=author, expected_version=expected_version,
                           reason=f"undo of event {history[-1]['id']}")

    # ---- reads --------------------------------------------------------------------------------------------------

    def history(self, item_id: int) -> list[dict]:
        """Every event of an item, oldest first."""
        with self._read() as s:
            events = s.scalars(select(LabelEvent).where(LabelEvent.item_id == item_id).order_by(LabelEvent.id))
            return [
                {"id": e.id, "version": e.version, "labels": e.labels, "decision": e.decision, "source": e.source,
                 "author": e.author, "reason": e.reason, "created_at": e.created_at.isoformat()}
                for e in events
            ]

    def item(self, item_id: int) -> ItemView:
        with self._read() as s:
            item = s.get(Item, item_id)
            if item is None:
                raise LabelwiseError(f"No item {item_id}.")
            return self._view(s, item)

    def queue(self, project_id: int, *, after: Optional[tuple[float, int]] = None, limit: int = 50,
              reviewed: Optional[bool] = None) -> list[ItemView]:
        """Items worst first (lowest label quality, then id). ``after``: the (label_quality, id) of the last item of
        the previous page (keyset pagination). ``reviewed``: only items with / without a human decision."""
        with self._read() as s:
            query = select(Item).where(Item.project_id == project_id)
            if after is not None:
                quality, last_id = after
                query = query.where((Item.label_quality > quality)
                                    | ((Item.label_quality == quality) & (Item.id > last_id)))
            if reviewed is not None:
                query = query.where((Item.version > 0) if reviewed else (Item.version == 0))
            query = query.order_by(Item.label_quality, Item.id).limit(limit)
            return [self._view(s, item) for item in s.scalars(query)]

    def progress(self, project_id: int) -> tuple[int, int]:
        """(items with a human decision, all items)."""
        with self._read() as s:
            total = s.scalar(select(func.count()).select_from(Item).where(Item.project_id == project_id))
            done = s.scalar(select(func.count()).select_from(Item).where(Item.project_id == project_id,
                                                                          Item.version > 0))
            return int(done or 0), int(total or 0)

    def current_labels(self, project_id: int) -> dict[int, list]:
        """row -> current labels for every item, derived from the event log."""
        with self._read() as s:
            rows = s.execute(
                select(Item.row, LabelEvent.labels, LabelEvent.source, LabelEvent.decision)
                .join(LabelEvent, LabelEvent.item_id == Item.id)
                .where(Item.project_id == project_id)
                .order_by(Item.row, LabelEvent.id)
            )
            out: dict[int, list] = {}
            for row, labels, source, decision in rows:
                if source in ("given", "human") and decision != "skip":
                    out[row] = list(labels)
            return out

    def human_events(self, project_id: int) -> list[dict]:
        """Every reviewer decision of the project, oldest first: row, created_at, author, decision, labels, reason."""
        with self._read() as s:
            rows = s.execute(
                select(Item.row, LabelEvent.created_at, LabelEvent.author, LabelEvent.decision, LabelEvent.labels,
                       LabelEvent.reason)
                .join(LabelEvent, LabelEvent.item_id == Item.id)
                .where(Item.project_id == project_id, LabelEvent.source == "human")
                .order_by(LabelEvent.id)
            )
            return [{"row": r, "created_at": t.isoformat(), "author": a, "decision": d, "labels": list(lab),
                     "reason": why} for r, t, a, d, lab, why in rows]

    def _view(self, s: Session, item: Item) -> ItemView:
        events = s.execute(select(LabelEvent.labels, LabelEvent.source, LabelEvent.decision)
                           .where(LabelEvent.item_id == item.id).order_by(LabelEvent.id)).all()
        history = [{"labels": labels, "source": source, "decision": decision} for labels, source, decision in events]
        return ItemView(item.id, item.row, item.payload, item.label_quality, item.suggestion, item.version,
                        _current([h for h in history if h["source"] in ("given", "human") and h["decision"] != "skip"]),
                        item.version > 0)


def _current(events: list[dict]) -> list:
    """The current label: the labels of the latest given-or-human event that is not a skip."""
    return list(events[-1]["labels"]) if events else []


def _sqlite_pragmas(connection, _record) -> None:
    connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE itself
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()

