"""Projects, items and their append-only label events: decisions, undo, the queue and its filters.

Nothing is ever updated in place. Every label a row has had is an event: the given label when the project is
created, the audit's suggestion, and each reviewer's decision. The current label is derived from the log as its
latest event of source ``given`` or ``human`` (skips excluded). Each item carries a version, the number of human
events so far. A reviewer submits the version they saw, and a stale version is refused with
:class:`ConflictError` instead of silently overwriting someone else's decision (optimistic concurrency). Undo is an
event too.

Several reviewers per item (``reviewers_per_item`` k > 1): each item is assigned to k of the project's reviewers
(:meth:`Items.assign`: balanced, deterministic, topped up when a reviewer is added). A reviewer then works blind:
their queue holds only their items not yet answered (:func:`_assigned_to`, the one clause that adds this to the
queue), an item's current label for them is their own answer (else the given label), and the other reviewers'
decisions stay out of its history until they have answered it themselves. Each reviewer's concurrency token is
their own version of the item (their count of decisions on it), so two reviewers' independent answers never
conflict; only the same reviewer in two tabs does. With k = 1 everything is as it was: one shared label per item.

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
from labelwise.review.schema import (
    ISSUE_FLAGS, Assignment, BrowserSession, Item, LabelEvent, LoginLink, Project, Reviewer,
)

# SQLAlchemy after labelwise.review.database, which turns its absence into a MissingExtraError
from sqlalchemy import Connection, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

SOURCES = ("given", "audit", "llm", "human")
DECISIONS = ("relabel", "keep", "ambiguous", "several", "skip", "undo")
MAX_REASON = 2000  # characters of a reviewer's reason
MAX_LABEL = 1000  # characters of a class name (the width of the given-class column)
MAX_REVIEWERS_PER_ITEM = 20


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

    def reviewers_per_item(self, project_id: int) -> int:
        """k: how many reviewers answer each item (1: one shared label per item, as before)."""
        with self._read() as s:
            return _per_item(s, project_id)

    def set_reviewers_per_item(self, project_id: int, k: int) -> int:
        """Set k and assign the items to reviewers accordingly (:meth:`assign`); returns the assignments added.
        Switching between one and several reviewers per item is refused once anyone has decided: the decisions
        made under one mode mean something else under the other."""
        if not 1 <= int(k) <= MAX_REVIEWERS_PER_ITEM:
            raise ParameterError(f"--reviewers-per-item must be from 1 to {MAX_REVIEWERS_PER_ITEM}; got {k}.")
        k = int(k)
        with self._write() as s:
            old = _per_item(s, project_id)
            if (old > 1) != (k > 1) and s.scalar(select(Item.id).where(Item.project_id == project_id,
                                                                      Item.version > 0).limit(1)) is not None:
                raise ParameterError(f"This project has {old} reviewer(s) per item and decisions already; it cannot "
                                     f"switch to {k}. Review a new audit folder (or --db) with {k} instead.")
            s.execute(update(Project).where(Project.id == project_id).values(reviewers_per_item=k))
        return self.assign(project_id)

    def assign(self, project_id: int) -> int:
        """Give every item k of the project's reviewers (k = :meth:`reviewers_per_item`; fewer while the project has
        fewer reviewers); returns how many assignments were added. Deterministic and balanced: items worst first,
        each to the least-loaded reviewers not yet on it (ties: the earlier account). Run again after a reviewer is
        added: items short of k reviewers are topped up, then items nobody has opened a decision on move from the
        busiest reviewers to the least busy until the loads differ by at most one (where the items allow it).
        Only reviewers who can still log in (a link not revoked, or a session) get items: the untouched items of a
        revoked reviewer go to the others. Nothing with a decision ever moves. Does nothing when k = 1."""
        with self._write() as s:
            k = _per_item(s, project_id)
            if k <= 1:
                return 0
            reviewers = list(s.scalars(
                select(Reviewer.id).where(Reviewer.project_id == project_id, or_(
                    exists().where(LoginLink.reviewer_id == Reviewer.id, LoginLink.revoked_at.is_(None)),
                    exists().where(BrowserSession.reviewer_id == Reviewer.id))).order_by(Reviewer.id)))
            if not reviewers:
                return 0
            items = list(s.scalars(select(Item.id).where(Item.project_id == project_id)
                                   .order_by(Item.label_quality, Item.id)))
            on: dict[int, set] = {item: set() for item in items}
            fresh: dict[int, list] = {r: [] for r in reviewers}  # reviewer -> their untouched items
            stored: dict[tuple[int, int], int] = {}  # (item, reviewer) -> assignment id, for the untouched ones
            gone: dict[tuple[int, int], int] = {}  # the same, of reviewers who cannot log in any more
            for assignment, item, reviewer, version in s.execute(
                    select(Assignment.id, Assignment.item_id, Assignment.reviewer_id, Assignment.version)
                    .join(Item, Item.id == Assignment.item_id).where(Item.project_id == project_id)
                    .order_by(Assignment.id)):
                if version == 0 and reviewer not in fresh:
                    gone[(item, reviewer)] = assignment
                    continue
                on[item].add(reviewer)
                if version == 0:
                    fresh[reviewer].append(item)
                    stored[(item, reviewer)] = assignment
            load = {r: sum(r in who for who in on.values()) for r in reviewers}
            added: dict[tuple[int, int], None] = {}  # (item, reviewer) to insert, in order
            removed = list(gone.values())  # ids of untouched assignments that move (first: of revoked reviewers)
            for item in items:
                while len(on[item]) < k and not on[item].issuperset(reviewers):
                    chosen = min((r for r in reviewers if r not in on[item]), key=lambda r: (load[r], r))
                    on[item].add(chosen)
                    load[chosen] += 1
                    fresh[chosen].append(item)
                    added[(item, chosen)] = None
            while True:  # rebalance: move untouched items from the busiest to the least busy reviewer
                busiest = max(reviewers, key=lambda r: (load[r], -r))
                idlest = min(reviewers, key=lambda r: (load[r], r))
                if load[busiest] - load[idlest] <= 1:
                    break
                queue = fresh[busiest]
                at = next((j for j in range(len(queue) - 1, -1, -1) if idlest not in on[queue[j]]), None)
                if at is None:
                    break
                item = queue.pop(at)  # the best items of the busiest reviewer stay theirs; the last ones move
                on[item].discard(busiest)
                on[item].add(idlest)
                fresh[idlest].append(item)
                load[busiest] -= 1
                load[idlest] += 1
                if (item, busiest) in added:  # added in this call: not stored yet
                    del added[(item, busiest)]
                else:
                    removed.append(stored[(item, busiest)])
                added[(item, idlest)] = None
            for start in range(0, len(removed), 500):
                s.execute(delete(Assignment).where(Assignment.id.in_(removed[start:start + 500]),
                                                   Assignment.version == 0))
            now = _now()
            if added:
                s.execute(insert(Assignment), [{"item_id": item, "reviewer_id": reviewer, "version": 0,
                                                "answered": False, "created_at": now} for item, reviewer in added])
        return len(added) + len(gone)

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
                # the row is locked (PostgreSQL; SQLite's writers take the whole database), so two reviewers'
                # answers to one item are serialised instead of colliding on the event's version
                found = s.execute(select(Item.version, Item.project_id).where(Item.id == item_id)
                                  .with_for_update()).first()
                if found is None:
                    raise LabelwiseError(f"No item {item_id}.")
                version, item_project = found
                if project_id is not None and item_project != project_id:
                    raise LabelwiseError(f"No item {item_id} in this project.")
                project_id = item_project
                if _per_item(s, project_id) > 1:
                    new_version = self._answer(s, project_id, item_id, version, decision=decision, author=author,
                                               expected_version=expected_version, labels=labels, reason=reason)
                    self._done.pop(project_id, None)
                    return new_version
                if version != expected_version:
                    raise ConflictError(f"Item {item_id} was changed by someone else (version {version}, you "
                                        f"saw {expected_version}). Reload it and decide again.")
                if labels is None:
                    labels = _current(_label_history(s, [item_id]).get(item_id, []))
                labels = self._checked_labels(project_id, labels)
                new_version = expected_version + 1
                s.execute(insert(LabelEvent).values(
                    item_id=item_id, version=new_version, labels=labels, decision=decision, source="human",
                    author=author, reason=reason, created_at=_now()))
                s.execute(update(Item).where(Item.id == item_id).values(version=new_version))
            self._done.pop(project_id, None)  # this process's progress counter is exact; others' at most 1 s old
            return new_version
        except IntegrityError:
            raise ConflictError(f"Item {item_id} was changed by someone else at the same moment. Reload it.") from None

    def _checked_labels(self, project_id: int, labels: Sequence[str]) -> list[str]:
        """``labels`` as text without repeats, each one of the project's classes (else a LabelwiseError)."""
        labels = list(dict.fromkeys(str(label) for label in labels))
        if not labels:
            raise LabelwiseError("Choose at least one label.")
        known = set(self.classes(project_id))
        unknown = [label for label in labels if label not in known]
        if unknown:
            raise LabelwiseError(f"Unknown label(s) {unknown}; choose from the project's classes.")
        return labels

    def _answer(self, s: Connection, project_id: int, item_id: int, item_version: int, *, decision: str, author: str,
                expected_version: int, labels: Optional[Sequence[str]], reason: str) -> int:
        """A decision in a project with several reviewers per item, inside :meth:`decide`'s transaction: checked
        against the author's own version of the item (their assignment), so another reviewer's answer in between is
        no conflict. keep / ambiguous / skip keep the author's own answer (else the given label); undo withdraws
        their latest answer. Returns the author's new version."""
        found = s.execute(select(Assignment.id, Assignment.version)
                          .join(Reviewer, Reviewer.id == Assignment.reviewer_id)
                          .where(Assignment.item_id == item_id, Reviewer.name == author)).first()
        if found is None:
            raise LabelwiseError(f"Item {item_id} is not one of {author}'s items; open your queue.")
        assignment, own_version = found
        if own_version != expected_version:
            raise ConflictError(f"You changed item {item_id} in another window meanwhile (your version "
                                f"{own_version}, this page had {expected_version}). Reload it and decide again.")
        history = _history(s, item_id)
        own = [list(e["labels"]) for e in own_answers(history, author)]
        given = next((e["labels"] for e in history if e["source"] == "given"), [])
        if decision == "undo":
            if not own:
                raise LabelwiseError(f"Item {item_id} has no decision of yours to undo.")
            labels = own[-2] if len(own) > 1 else given
        elif labels is None:
            labels = own[-1] if own else given
        labels = self._checked_labels(project_id, labels)
        s.execute(insert(LabelEvent).values(item_id=item_id, version=item_version + 1, labels=labels,
                                            decision=decision, source="human", author=author, reason=reason,
                                            created_at=_now()))
        s.execute(update(Item).where(Item.id == item_id).values(version=item_version + 1))
        answered = len(own) + (0 if decision == "skip" else -1 if decision == "undo" else 1) > 0
        s.execute(update(Assignment).where(Assignment.id == assignment)
                  .values(version=own_version + 1, answered=answered))
        return own_version + 1

    def undo(self, item_id: int, *, author: str, expected_version: int, project_id: Optional[int] = None) -> int:
        """Undo the latest human decision by recording the label it replaced, as a new event. With several reviewers
        per item: the author's own latest answer (the event records the answer it goes back to)."""
        with self._read() as s:
            several = _per_item(s, project_id if project_id is not None else
                                s.scalar(select(Item.project_id).where(Item.id == item_id))) > 1
        if several:
            return self.decide(item_id, decision="undo", author=author, expected_version=expected_version,
                               project_id=project_id)
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

    def item_page(self, project_id: int, item_id: int, where: QueueFilter = QueueFilter(), *,
                  reviewer: Optional[str] = None) -> tuple[ItemView, list[dict], Optional[int], Optional[int]]:
        """Everything the item page shows, read on one connection: (item, history, previous id, next id).
        ``reviewer``: whose page it is; with several reviewers per item, another reviewer's item is not found, and
        the other reviewers' decisions stay out of the history until ``reviewer`` has answered the item."""
        with self._read() as s:
            viewer = _viewer(s, project_id, reviewer)
            view = self._item(s, item_id, project_id, viewer)
            previous, following = self._neighbours(s, project_id, view, where, viewer)
            history = _history(s, item_id)
            if viewer is not None and not view.reviewed:  # blind until answered
                history = [e for e in history if e["source"] != "human" or e["author"] == viewer[1]]
            return view, history, previous, following

    def _item(self, s: Connection, item_id: int, project_id: Optional[int] = None,
              viewer: Optional[tuple[int, str]] = None) -> ItemView:
        query = select(Item.__table__).where(Item.id == item_id)
        if project_id is not None:  # an item of another project in the same database is not found
            query = query.where(Item.project_id == project_id)
        if viewer is not None:  # nor another reviewer's item
            query = _assigned_to(query, viewer[0], None)
        item = s.execute(query).first()
        if item is None:
            raise LabelwiseError(f"No item {item_id}.")
        return self._views(s, [item], viewer)[0]

    def queue(self, project_id: int, *, after: Optional[tuple[float, int]] = None, limit: int = 50,
              where: QueueFilter = QueueFilter(), reviewed: Optional[bool] = None,
              reviewer: Optional[str] = None) -> list[ItemView]:
        """Items worst first (lowest label quality, then id). ``after``: the (label_quality, id) of the last item of
        the previous page (keyset pagination); ``where``: filters (``reviewed`` is a shortcut for its field).
        ``reviewer``: whose queue; with several reviewers per item, only their items, ``reviewed`` meaning answered
        by them, each with their own answer as its current label."""
        if reviewed is not None:
            where = QueueFilter(where.given_class, where.issue, reviewed)
        with self._read() as s:
            viewer = _viewer(s, project_id, reviewer)
            items = list(s.execute(self._queue_query(select(Item.__table__), project_id, where, after,
                                                     viewer=viewer).limit(limit)))
            return self._views(s, items, viewer)

    def neighbours(self, project_id: int, item: ItemView, where: QueueFilter = QueueFilter(), *,
                   reviewer: Optional[str] = None) -> tuple[Optional[int], Optional[int]]:
        """(previous id, next id) of ``item`` in the queue order under ``where``; None at either end."""
        with self._read() as s:
            return self._neighbours(s, project_id, item, where, _viewer(s, project_id, reviewer))

    def _neighbours(self, s: Connection, project_id: int, item: ItemView, where: QueueFilter, viewer=None):
        key = (item.label_quality, item.id)
        following = s.scalar(self._queue_query(select(Item.id), project_id, where, key, viewer=viewer).limit(1))
        previous = s.scalar(self._queue_query(select(Item.id), project_id, where, key, backwards=True,
                                              viewer=viewer).limit(1))
        return previous, following

    def next_to_review(self, project_id: int, after: Optional[tuple[float, int]] = None,
                       where: QueueFilter = QueueFilter(), *, after_item: Optional[int] = None,
                       reviewer: Optional[str] = None) -> Optional[int]:
        """The id of the worst item without a human decision after ``after`` (a (label quality, id) key) or after
        item ``after_item`` (or from the start), under ``where``; wraps around to the start when none is left.
        ``reviewer``: with several reviewers per item, the worst of their items they have not answered."""
        where = QueueFilter(where.given_class, where.issue, False)
        with self._read() as s:
            viewer = _viewer(s, project_id, reviewer)
            if after_item is not None:
                quality = s.scalar(select(Item.label_quality).where(Item.id == after_item))
                after = (quality, after_item) if quality is not None else None
            found = s.scalar(self._queue_query(select(Item.id), project_id, where, after, viewer=viewer).limit(1))
            if found is None and after is not None:
                found = s.scalar(self._queue_query(select(Item.id), project_id, where, None, viewer=viewer).limit(1))
            return found

    def queue_in_order(self, project_id: int, rank: Mapping[int, int], *, where: QueueFilter = QueueFilter(),
                       after_item: Optional[int] = None, limit: int = 50,
                       reviewer: Optional[str] = None) -> tuple[list[ItemView], list[int]]:
        """The queue in a given order instead of label quality (the informative order of
        :mod:`labelwise.review.informative`). rank: data row -> its place (0 first); items whose row has none come
        last, by id. Returns (the views of up to ``limit`` items under ``where`` that come after item ``after_item``
        in this order (from the start when None), the ids of every item under ``where`` in this order).
        ``reviewer``: whose queue (with several reviewers per item, their items only; see :meth:`queue`)."""
        with self._read() as s:
            viewer = _viewer(s, project_id, reviewer)
            found = s.execute(self._queue_query(select(Item.id, Item.row), project_id, where, None,
                                                viewer=viewer)).all()
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
            return self._views(s, [items[i] for i in page], viewer), ids

    @staticmethod
    def _queue_query(query, project_id: int, where: QueueFilter, after, backwards: bool = False, *,
                     viewer: Optional[tuple[int, str]] = None):
        query = query.where(Item.project_id == project_id)
        if where.given_class is not None:
            query = query.where(Item.given_class == where.given_class)
        if where.issue is not None:
            query = query.where(Item.issue_flags.op("&")(ISSUE_FLAGS[where.issue]) != 0)
        if viewer is not None:  # several reviewers per item: the viewer's items; reviewed = answered by them
            query = _assigned_to(query, viewer[0], where.reviewed)
        elif where.reviewed is not None:
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

    def answered_by_all(self, project_id: int) -> set[int]:
        """With several reviewers per item: the data rows that every reviewer assigned to them has answered (what
        may count as reviewed without telling a reviewer that someone else answered an item still in their queue)."""
        with self._read() as s:
            return set(s.scalars(
                select(Item.row).join(Assignment, Assignment.item_id == Item.id)
                .where(Item.project_id == project_id).group_by(Item.id, Item.row)
                .having(func.count() == func.count().filter(Assignment.answered.is_(True)))))

    def progress(self, project_id: int, *, reviewer: Optional[str] = None) -> tuple[int, int]:
        """(items with a human decision, all items). The count of decided items is kept for up to a second, so a
        page view does not count the reviewed part of the index again for every reviewer. ``reviewer``: with several
        reviewers per item, (their items answered, their items) instead."""
        if reviewer is not None:
            with self._read() as s:
                viewer = _viewer(s, project_id, reviewer)
                if viewer is not None:
                    answered, assigned = s.execute(select(func.count().filter(Assignment.answered.is_(True)),
                                                          func.count()).where(Assignment.reviewer_id == viewer[0])
                                                   ).first()
                    return int(answered or 0), int(assigned or 0)
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

    def _views(self, s: Connection, items: list, viewer: Optional[tuple[int, str]] = None) -> list[ItemView]:
        """ItemViews of ``items`` with their current labels, from one query over all their events. ``viewer``:
        (reviewer id, name) of a project with several reviewers per item: each item's label is the viewer's own
        answer (else the given label), its version and reviewed state the viewer's own."""
        history = _label_history(s, [item.id for item in items])
        own: dict[int, tuple[int, bool]] = {}
        if viewer is not None and items:
            own = {i: (v, a) for i, v, a in s.execute(
                select(Assignment.item_id, Assignment.version, Assignment.answered)
                .where(Assignment.reviewer_id == viewer[0], Assignment.item_id.in_([item.id for item in items])))}
        views = []
        for item in items:
            events = history.get(item.id, [])
            version, reviewed, current = item.version, item.version > 0, _current(events)
            if viewer is not None:
                version, reviewed = own.get(item.id, (0, False))
                answers = own_answers(events, viewer[1])
                given = next((e["labels"] for e in events if e["source"] == "given"), [])
                current = answers[-1]["labels"] if answers else given
            views.append(ItemView(item.id, item.row, item.payload, item.label_quality, item.suggestion, version,
                                  list(current), reviewed, item.given_class,
                                  tuple(name for name, bit in ISSUE_FLAGS.items() if (item.issue_flags or 0) & bit)))
        return views



def _history(s: Connection, item_id: int) -> list[dict]:
    events = s.execute(select(LabelEvent.__table__).where(LabelEvent.item_id == item_id).order_by(LabelEvent.id))
    return [{"id": e.id, "version": e.version, "labels": e.labels, "decision": e.decision, "source": e.source,
             "author": e.author, "reason": e.reason, "created_at": e.created_at.isoformat()} for e in events]


def _label_history(s: Connection, item_ids: list[int]) -> dict[int, list[dict]]:
    """item id -> its given-or-human, non-skip events (oldest first): the events the current label derives from."""
    out: dict[int, list[dict]] = {}
    if not item_ids:
        return out
    rows = s.execute(select(LabelEvent.item_id, LabelEvent.labels, LabelEvent.source, LabelEvent.author,
                            LabelEvent.decision).where(
        LabelEvent.item_id.in_(item_ids), LabelEvent.source.in_(("given", "human")), LabelEvent.decision != "skip",
    ).order_by(LabelEvent.id))
    for item_id, labels, source, author, decision in rows:
        out.setdefault(item_id, []).append({"labels": labels, "source": source, "author": author,
                                            "decision": decision})
    return out


def _current(events: list[dict]) -> list:
    """The current label: the labels of the latest given-or-human event that is not a skip."""
    return list(events[-1]["labels"]) if events else []


def own_answers(events: Iterable[dict], author: str) -> list[dict]:
    """The answers ``author`` has given an item, as a stack of their events, from the item's events (oldest first;
    each with ``source``, ``author``, ``decision``, ``labels``): a decision pushes its event, an undo pops the latest,
    a skip is no answer. The last entry is their answer now; empty: they have not answered (or undid every
    answer)."""
    stack: list[dict] = []
    for e in events:
        if e["source"] != "human" or e["author"] != author or e["decision"] == "skip":
            continue
        if e["decision"] == "undo":
            if stack:
                stack.pop()
        else:
            stack.append(e)
    return stack


def _per_item(s: Connection, project_id: Optional[int]) -> int:
    """The project's reviewers per item (1 when it has none, or no such project)."""
    if project_id is None:
        return 1
    return int(s.scalar(select(Project.reviewers_per_item).where(Project.id == project_id)) or 1)


def _viewer(s: Connection, project_id: int, reviewer: Optional[str]) -> Optional[tuple[int, str]]:
    """(reviewer id, name) whose blind view applies: ``reviewer`` in a project with several reviewers per item (id
    -1, which has no items, for a name without an account); None otherwise: everyone sees the shared label."""
    if reviewer is None or _per_item(s, project_id) <= 1:
        return None
    found = s.scalar(select(Reviewer.id).where(Reviewer.project_id == project_id, Reviewer.name == reviewer))
    return (found if found is not None else -1, reviewer)


def _assigned_to(query, reviewer_id: int, answered: Optional[bool]):
    """``query`` over items narrowed to the reviewer's assigned items (several reviewers per item); ``answered``:
    True: those they have answered, False: not yet, None: all. The one clause by which assignment enters the queue
    (the queue's order is not its business)."""
    query = query.join(Assignment, Assignment.item_id == Item.id).where(Assignment.reviewer_id == reviewer_id)
    if answered is not None:
        query = query.where(Assignment.answered.is_(answered))
    return query


