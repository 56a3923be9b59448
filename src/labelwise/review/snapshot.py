"""What an export writes, read as one snapshot of the review database.

Reviewers may decide while an export runs. Every query of :meth:`Snapshots.export_snapshot` runs in one read-only
transaction (PostgreSQL: REPEATABLE READ; SQLite: one WAL read transaction), so a decision committed meanwhile is in
all of the export or in none of it: the corrected table, ``labels_reviewed.csv`` and ``changelog.csv`` always agree
(and, with several reviewers per item, the answers the consensus is computed from).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labelwise.review.database import Database
from labelwise.review.items import own_answers
from labelwise.review.schema import Item, LabelEvent, Project

# SQLAlchemy after labelwise.review.database, which turns its absence into a MissingExtraError
from sqlalchemy import Connection, func, select


@dataclass(frozen=True)
class ExportSnapshot:
    """The decisions of one project at one moment.

    given:   row -> the labels the row had in the data
    current: row -> its labels now (the latest given or human event that is not a skip)
    events:  every human decision, oldest first: row, created_at (ISO 8601), author, decision, labels, reason
    reviewed, total: items with a human decision, all items
    reviewers_per_item: the project's k (1: one shared label per item)
    """

    given: dict[int, list] = field(default_factory=dict)
    current: dict[int, list] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    reviewed: int = 0
    total: int = 0
    reviewers_per_item: int = 1

    def answers(self) -> dict[int, dict[str, dict]]:
        """row -> reviewer -> their answer now (their latest decision not skipped or undone: its event), for the
        rows someone has answered. With several reviewers per item these are the independent labels; with one, each
        reviewer's own latest say."""
        by_row: dict[int, list] = {}
        for e in self.events:
            by_row.setdefault(e["row"], []).append({**e, "source": "human"})
        out: dict[int, dict[str, dict]] = {}
        for row, events in by_row.items():
            for author in dict.fromkeys(e["author"] for e in events):
                stack = own_answers(events, author)
                if stack:
                    out.setdefault(row, {})[author] = stack[-1]
        return out

    def last_decisions(self) -> dict[int, dict]:
        """row -> its latest human event."""
        return {e["row"]: e for e in self.events}

    def changed(self) -> dict[int, list]:
        """row -> current labels, for the rows whose labels differ from the given ones."""
        return {row: labels for row, labels in self.current.items() if labels != self.given.get(row)}


class Snapshots(Database):
    """The export part of :class:`labelwise.review.store.ReviewStore`."""

    def export_snapshot(self, project_id: int) -> ExportSnapshot:
        """Everything an export of the project writes, read in one consistent snapshot."""
        with self._snapshot() as s:
            return read_snapshot(s, project_id)

    def current_labels(self, project_id: int) -> dict[int, list]:
        """row -> current labels for every item, derived from the event log."""
        return self.export_snapshot(project_id).current

    def human_events(self, project_id: int) -> list[dict]:
        """Every reviewer decision of the project, oldest first: row, created_at, author, decision, labels, reason."""
        with self._snapshot() as s:
            return human_events(s, project_id)


def read_snapshot(s: Connection, project_id: int) -> ExportSnapshot:
    """The project's labels, then its human events, then its counts and settings, on connection ``s``: statements
    only the caller's transaction makes one snapshot."""
    given: dict[int, list] = {}
    current: dict[int, list] = {}
    rows = s.execute(
        select(Item.row, LabelEvent.labels, LabelEvent.source, LabelEvent.decision)
        .join(LabelEvent, LabelEvent.item_id == Item.id)
        .where(Item.project_id == project_id, LabelEvent.source.in_(("given", "human")))
        .order_by(LabelEvent.id))
    for row, labels, source, decision in rows:
        if source == "given":
            given.setdefault(row, list(labels))
        if decision != "skip":
            current[row] = list(labels)
    events = human_events(s, project_id)
    total, reviewed = s.execute(select(func.count(), func.count().filter(Item.version > 0))
                                .where(Item.project_id == project_id)).first()
    per_item = s.scalar(select(Project.reviewers_per_item).where(Project.id == project_id)) or 1
    return ExportSnapshot(given, current, events, int(reviewed or 0), int(total or 0), int(per_item))


def human_events(s: Connection, project_id: int) -> list[dict]:
    """Every reviewer decision of the project, oldest first: row, created_at, author, decision, labels, reason."""
    rows = s.execute(
        select(Item.row, LabelEvent.created_at, LabelEvent.author, LabelEvent.decision, LabelEvent.labels,
               LabelEvent.reason)
        .join(LabelEvent, LabelEvent.item_id == Item.id)
        .where(Item.project_id == project_id, LabelEvent.source == "human")
        .order_by(LabelEvent.id))
    return [{"row": r, "created_at": t.isoformat(), "author": a, "decision": d, "labels": list(lab), "reason": why}
            for r, t, a, d, lab, why in rows]
