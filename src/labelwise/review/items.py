"""Projects, items and their append-only label events: decisions, undo, the queue and its filters.

Nothing is ever updated in place. Every label a row has had is an event: the given label when the project is
created, the audit's suggestion, and each reviewer's decision. The current label is derived from the log as its
latest event of source ``given`` or ``human`` (skips excluded). Each item carries a version, the number of human
events so far. A reviewer submits the version they saw, and a stale version is refused with
:class:`ConflictError` instead of silently overwriting someone else's decision (optimistic concurrency). Undo is an
event too.

The queue is paged with keyset pagination on indexes of (project, label quality, id) and (project, given class, label
quality, id), so a page costs the same at 100 rows or 100,000.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

from labelwise.errors import ConflictError, LabelwiseError, ParameterError
from labelwise.review.database import Database, now as _now
from labelwise.review.schema import ISSUE_FLAGS, Item, LabelEvent, Project

# SQLAlchemy after labelwise.review.database, which turns its absence into a MissingExtraError
from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

SOURCES = ("given", "audit", "llm", "human")
DECISIONS = ("relabel", "keep", "ambiguous", "several", "skip", "undo")
MAX_REASON = 2000  # characters of a reviewer's reason
MAX_LABEL = 1000  # characters of a class name (the width of the given-class column)


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
    given_class: Optional[str] = None
    issues: tuple = ()


@dataclass(frozen=True)
class QueueFilter:
    """Which items a queue shows: ``given_class`` (the label in the data), ``issue`` (one of ISSUE_FLAGS:
    label, duplicate, outlier) and ``reviewed`` (True: decided by a person; False: not yet; None: both)."""

    given_class: Optional[str] = None
    issue: Optional[str] = None
    reviewed: Optional[bool] = None

    def __post_init__(self):
        if self.issue is not None and self.issue not in ISSUE_FLAGS:
            raise LabelwiseError(f"issue filter must be one of {', '.join(ISSUE_FLAGS)}; got {self.issue!r}.")


class Items(Database):
    """The projects-and-items part of :class:`labelwise.review.store.ReviewStore`."""

    def __init__(self, url: str):
        super().__init__(url)
        self._classes: dict[int, list] = {}
        self._totals: dict[int, int] = {}
        self._given_classes: dict[int, list] = {}
        self._done: dict[int, tuple[int, float]] = {}  # project -> (decided items, when counted)

    # ---- projects and items -----------------------------------------------------------------------------------

    def create_project(self, name: str, classes: Sequence[str], *, key: Optional[str] = None,
                       adopt_only_project: bool = False) -> int:
        """The project for ``key`` (the id an audit folder keeps in ``review_project.json``), made if needed; without
        a key, the project of that ``name`` (re-opening the same data resumes it).

        A project made before projects had keys is found by its name (the folder's path) and takes ``key``.
        ``adopt_only_project``: also give ``key`` to the database's only project when it has no key yet (a database
        kept beside its data, whose folder was moved before it had a key).
        """
        with self._write() as s:
            if key is not None:
                found = s.scalar(select(Project.id).where(Project.key == key))
                if found is not None:
                    return found
            by_name = select(Project.id).where(Project.name == name)
            found = s.scalar(by_name.where(Project.key.is_(None)) if key is not None else by_name)
            if found is None and adopt_only_project and key is not None:
                keyless = s.execute(select(Project.id, Project.key).limit(2)).all()
                if len(keyless) == 1 and keyless[0][1] is None:
                    found = keyless[0][0]
            if found is not None:
                if key is not None:
                    s.execute(update(Project).where(Project.id == found).values(key=key))
                return found
            if key is not None and s.scalar(select(Project.id).where(Project.name == name)) is not None:
                name = f"{name} [{key}]"  # this path held another project before (a new audit in the same place)
            return s.scalar(insert(Project).values(name=name, key=key, classes=list(classes), created_at=_now())
                            .returning(Project.id))

    def classes(self, project_id: int) -> list:
        if project_id not in self._classes:
            with self._read() as s:
                classes = s.scalar(select(Project.classes).where(Project.id == project_id))
                if classes is None:
                    raise LabelwiseError(f"No project {project_id}.")
                self._classes[project_id] = list(classes)
        return self._classes[project_id]

    def add_items(self, project_id: int, rows: Iterable[dict], *, author: str = "labelwise",
                  batch_size: int = 5000) -> int:
        """Add items with their given label (and audit suggestion) as the first events. Each row dict has
        ``row``, ``payload``, ``given`` (list of labels), ``label_quality``, optionally ``suggestion``
        ({"labels": [...], "probabilities": {label: p}}) and ``issues`` (names from ISSUE_FLAGS). Rows already
        present are skipped. Returns how many were added. Inserts run in batches (multi-row INSERT ... RETURNING),
        so 100,000 rows take seconds, not minutes.
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
        self._totals.pop(project_id, None)
        self._given_classes.pop(project_id, None)
        if added:
            # fresh statistics, so the query planner knows how the rows spread over the indexes (PostgreSQL chose a
            # 20 ms scan over the 0.1 ms class index for the filtered queue until it had them)
            with self._write() as s:
                s.exec_driver_sql("ANALYZE items")
                s.exec_driver_sql("ANALYZE label_events")
        return added

    def _insert_batch(self, project_id: int, batch: list[dict], author: str) -> int:
        now = _now()
        with self._write() as s:
            ids = s.execute(
                insert(Item).returning(Item.id, sort_by_parameter_order=True),
                [{"project_id": project_id, "row": int(r["row"]), "payload": r.get("payload", {}),
                  "label_quality": float(r.get("label_quality", 1.0)), "suggestion": r.get("suggestion"),
                  "version": 0, "given_class": str(r["given"][0]) if r["given"] else None,
                  "issue_flags": sum(ISSUE_FLAGS[name] for name in set(r.get("issues", ())))} for r in batch],
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

    def decide(self, item_id: int, *, decision: str, author: str, expected_version: int,
               labels: Optional[Sequence[str]] = None, reason: str = "", project_id: Optional[int] = None) -> int:
        """Record a reviewer's decision; returns the item's new version. ``labels``: the label(s) it should have
        (None: its current labels, as for keep / ambiguous / skip).

        Raises ConflictError when the item's version is no longer ``expected_version`` (someone else decided in
        between). The version check and the event are one transaction; the unique (item, version, source)
        constraint makes two concurrent writers of the same version impossible even across processes.
        """
        if decision not in DECISIONS:
            raise ParameterError(f"decision must be one of {', '.join(DECISIONS)}; got {decision!r}.")
        if len(reason) > MAX_REASON:
            raise ParameterError(f"A reason has at most {MAX_REASON} characters; this one has {len(reason)}.")
        try:
            with self._write() as s:
                found = s.execute(select(Item.version, Item.project_id).where(Item.id == item_id)).first()
                if found is None:
                    raise LabelwiseError(f"No item {item_id}.")
                version, item_project = found
                if project_id is not None and item_project != project_id:
                    raise LabelwiseError(f"No item {item_id} in this project.")
                project_id = item_project
                if version != expected_version:
                    raise ConflictError(f"Item {item_id} was changed by someone else (version {version}, you "
                                        f"saw {expected_version}). Reload it and decide again.")
                if labels is None:
                    labels = _current(_label_history(s, [item_id]).get(item_id, []))
                labels = list(dict.fromkeys(str(label) for label in labels))
                if not labels:
                    raise LabelwiseError("Choose at least one label.")
                known = set(self.classes(project_id))
                unknown = [label for label in labels if label not in known]
                if unknown:
                    raise LabelwiseError(f"Unknown label(s) {unknown}; choose from the project's classes.")
                new_version = expected_version + 1
                s.execute(insert(LabelEvent).values(
                    item_id=item_id, version=new_version, labels=labels, decision=decision, source="human",
                    author=author, reason=reason, created_at=_now()))
                s.execute(update(Item).where(Item.id == item_id).values(version=new_version))
            self._done.pop(project_id, None)  # this process's progress counter is exact; others' at most 1 s old
            return new_version
        except IntegrityError:
            raise ConflictError(f"Item {item_id} was changed by someone else at the same moment. Reload it.") from None

    def undo(self, item_id: int, *, author: str, expected_version: int, project_id: Optional[int] = None) -> int:
        """Undo the latest human decision by recording the label it replaced, as a new event."""
        history = [e for e in self.history(item_id) if e["source"] in ("given", "human") and e["decision"] != "skip"]
        if len(history) < 2:
            raise LabelwiseError(f"Item {item_id} has no decision to undo.")
        previous = _current(history[:-1])
        return self.decide(item_id, labels=previous, decision="undo", author=author, expected_version=expected_version,
                           reason=f"undo of event {history[-1]['id']}", project_id=project_id)

    # ---- reads --------------------------------------------------------------------------------------------------

    def history(self, item_id: int) -> list[dict]:
        """Every event of an item, oldest first."""
        with self._read() as s:
            return _history(s, item_id)

    def has_item(self, project_id: int, item_id: int) -> bool:
        """Whether ``item_id`` is an item of this project."""
        with self._read() as s:
            return s.scalar(select(Item.id).where(Item.id == item_id, Item.project_id == project_id)) is not None

    def item(self, item_id: int) -> ItemView:
        with self._read() as s:
            return self._item(s, item_id)

    def item_page(self, project_id: int, item_id: int, where: QueueFilter = QueueFilter()
                  ) -> tuple[ItemView, list[dict], Optional[int], Optional[int]]:
        """Everything the item page shows, read on one connection: (item, history, previous id, next id)."""
        with self._read() as s:
            view = self._item(s, item_id, project_id)
            previous, following = self._neighbours(s, project_id, view, where)
            return view, _history(s, item_id), previous, following

    def _item(self, s: Connection, item_id: int, project_id: Optional[int] = None) -> ItemView:
        query = select(Item.__table__).where(Item.id == item_id)
        if project_id is not None:  # an item of another project in the same database is not found
            query = query.where(Item.project_id == project_id)
        item = s.execute(query).first()
        if item is None:
            raise LabelwiseError(f"No item {item_id}.")
        return self._views(s, [item])[0]

    def queue(self, project_id: int, *, after: Optional[tuple[float, int]] = None, limit: int = 50,
              where: QueueFilter = QueueFilter(), reviewed: Optional[bool] = None) -> list[ItemView]:
        """Items worst first (lowest label quality, then id). ``after``: the (label_quality, id) of the last item of
        the previous page (keyset pagination); ``where``: filters (``reviewed`` is a shortcut for its field)."""
        if reviewed is not None:
            where = QueueFilter(where.given_class, where.issue, reviewed)
        with self._read() as s:
            items = list(s.execute(self._queue_query(select(Item.__table__), project_id, where, after).limit(limit)))
            return self._views(s, items)

    def neighbours(self, project_id: int, item: ItemView, where: QueueFilter = QueueFilter()
                   ) -> tuple[Optional[int], Optional[int]]:
        """(previous id, next id) of ``item`` in the queue order under ``where``; None at either end."""
        with self._read() as s:
            return self._neighbours(s, project_id, item, where)

    def _neighbours(self, s: Connection, project_id: int, item: ItemView, where: QueueFilter):
        key = (item.label_quality, item.id)
        following = s.scalar(self._queue_query(select(Item.id), project_id, where, key).limit(1))
        previous = s.scalar(self._queue_query(select(Item.id), project_id, where, key, backwards=True).limit(1))
        return previous, following

    def next_to_review(self, project_id: int, after: Optional[tuple[float, int]] = None,
                       where: QueueFilter = QueueFilter(), *, after_item: Optional[int] = None) -> Optional[int]:
        """The id of the worst item without a human decision after ``after`` (a (label quality, id) key) or after
        item ``after_item`` (or from the start), under ``where``; wraps around to the start when none is left."""
        where = QueueFilter(where.given_class, where.issue, False)
        with self._read() as s:
            if after_item is not None:
                quality = s.scalar(select(Item.label_quality).where(Item.id == after_item))
                after = (quality, after_item) if quality is not None else None
            found = s.scalar(self._queue_query(select(Item.id), project_id, where, after).limit(1))
            if found is None and after is not None:
                found = s.scalar(self._queue_query(select(Item.id), project_id, where, None).limit(1))
            return found

    def queue_in_order(self, project_id: int, rank: Mapping[int, int], *, where: QueueFilter = QueueFilter(),
                       after_item: Optional[int] = None, limit: int = 50) -> tuple[list[ItemView], list[int]]:
        """The queue in a given order instead of label quality (the informative order of
        :mod:`labelwise.review.informative`). rank: data row -> its place (0 first); items whose row has none come
        last, by id. Returns (the views of up to ``limit`` items under ``where`` that come after item ``after_item``
        in this order (from the start when None), the ids of every item under ``where`` in this order)."""
        with self._read() as s:
            found = s.execute(self._queue_query(select(Item.id, Item.row), project_id, where, None)).all()
            last = len(rank)
            keys = sorted((rank.get(row, last), item_id) for item_id, row in found)
            ids = [item_id for _, item_id in keys]
            start = 0
            if after_item is not None:
                row = s.scalar(select(Item.row).where(Item.id == after_item, Item.project_id == project_id))
                if row is not None:
                    start = bisect.bisect_right(keys, (rank.get(row, last), after_item))
            page = ids[start:start + limit]
            if not page:
                return [], ids
            items = {item.id: item for item in s.execute(select(Item.__table__).where(Item.id.in_(page)))}
            return self._views(s, [items[i] for i in page]), ids

    @staticmethod
    def _queue_query(query, project_id: int, where: QueueFilter, after, backwards: bool = False):
        query = query.where(Item.project_id == project_id)
        if where.given_class is not None:
            query = query.where(Item.given_class == where.given_class)
        if where.issue is not None:
            query = query.where(Item.issue_flags.op("&")(ISSUE_FLAGS[where.issue]) != 0)
        if where.reviewed is not None:
            query = query.where((Item.version > 0) if where.reviewed else (Item.version == 0))
        if after is not None:
            # "after (quality, id) in queue order", written so that every database can answer it with a range scan
            # of the index: a bare OR of the two cases makes SQLite scan the whole project instead (30 ms at 100k)
            quality, last_id = after
            if backwards:
                query = query.where(Item.label_quality <= quality,
                                    (Item.label_quality < quality) | (Item.id < last_id))
            else:
                query = query.where(Item.label_quality >= quality,
                                    (Item.label_quality > quality) | (Item.id > last_id))
        if backwards:
            return query.order_by(Item.label_quality.desc(), Item.id.desc())
        return query.order_by(Item.label_quality, Item.id)

    def progress(self, project_id: int) -> tuple[int, int]:
        """(items with a human decision, all items). The count of decided items is kept for up to a second, so a
        page view does not count the reviewed part of the index again for every reviewer."""
        cached = self._done.get(project_id)
        if cached is not None and time.monotonic() - cached[1] < 1.0 and project_id in self._totals:
            return cached[0], self._totals[project_id]
        with self._read() as s:
            if project_id not in self._totals:
                self._totals[project_id] = int(s.scalar(
                    select(func.count()).select_from(Item).where(Item.project_id == project_id)) or 0)
            done = int(s.scalar(select(func.count()).select_from(Item).where(Item.project_id == project_id,
                                                                              Item.version > 0)) or 0)
        self._done[project_id] = (done, time.monotonic())
        return done, self._totals[project_id]

    def given_classes(self, project_id: int) -> list[str]:
        """The distinct given classes of the project's items (for the class filter; cached, as items never change
        their given class)."""
        if project_id not in self._given_classes:
            with self._read() as s:
                self._given_classes[project_id] = sorted(
                    c for c in s.scalars(select(Item.given_class).where(Item.project_id == project_id).distinct())
                    if c is not None)
        return self._given_classes[project_id]

    def _views(self, s: Connection, items: list) -> list[ItemView]:
        """ItemViews of ``items`` with their current labels, from one query over all their events."""
        history = _label_history(s, [item.id for item in items])
        return [ItemView(item.id, item.row, item.payload, item.label_quality, item.suggestion, item.version,
                         _current(history.get(item.id, [])), item.version > 0, item.given_class,
                         tuple(name for name, bit in ISSUE_FLAGS.items() if (item.issue_flags or 0) & bit))
                for item in items]



def _history(s: Connection, item_id: int) -> list[dict]:
    events = s.execute(select(LabelEvent.__table__).where(LabelEvent.item_id == item_id).order_by(LabelEvent.id))
    return [{"id": e.id, "version": e.version, "labels": e.labels, "decision": e.decision, "source": e.source,
             "author": e.author, "reason": e.reason, "created_at": e.created_at.isoformat()} for e in events]


def _label_history(s: Connection, item_ids: list[int]) -> dict[int, list[dict]]:
    """item id -> its given-or-human, non-skip events (oldest first): the events the current label derives from."""
    out: dict[int, list[dict]] = {}
    if not item_ids:
        return out
    rows = s.execute(select(LabelEvent.item_id, LabelEvent.labels).where(
        LabelEvent.item_id.in_(item_ids), LabelEvent.source.in_(("given", "human")), LabelEvent.decision != "skip",
    ).order_by(LabelEvent.id))
    for item_id, labels in rows:
        out.setdefault(item_id, []).append({"labels": labels})
    return out


def _current(events: list[dict]) -> list:
    """The current label: the labels of the latest given-or-human event that is not a skip."""
    return list(events[-1]["labels"]) if events else []


