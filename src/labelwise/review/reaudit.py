"""Audit again after a review round: the table with the labels as reviewed, audited with the first audit's settings,
and what changed (:mod:`labelwise.audit.changes`).

The reviewed labels come from the audit folder: its review database (``review.db``, what ``labelwise review`` keeps
there), else the ``labels_reviewed.csv`` (and ``changelog.csv``) that ``labelwise export`` wrote into it. The corrected
table is written into the new audit's folder (``<name>.reviewed.<ext>``, every value nobody changed exactly as read),
and the new audit reads it from there, so the next review round starts from the corrected labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from labelwise.audit.changes import AuditChanges, compare_audits
from labelwise.audit.result import AuditResult
from labelwise.errors import DataError

REVIEW_DB = "review.db"
EXPORTED_LABELS = "labels_reviewed.csv"
EXPORTED_CHANGELOG = "changelog.csv"


@dataclass(frozen=True)
class ReviewedLabels:
    """current: data row -> its labels now, for every audited row; decisions: data row -> the last reviewer decision
    that is not a skip, for the rows a person reviewed; source: the file they were read from."""

    current: dict
    decisions: dict
    source: Path

    def changed(self, audit: AuditResult) -> dict:
        """data row -> labels, for the rows whose labels differ from the ones ``audit`` was given."""
        given = dict(zip(audit.row_ids.tolist(), audit.label_names(audit.given)))
        return {row: labels for row, labels in self.current.items() if labels != given.get(row)}


@dataclass
class Reaudit:
    """before, after: the two audits; changes: what the review round changed; table: the corrected table the new audit
    read; reviewed: the labels it used."""

    before: AuditResult
    after: AuditResult
    changes: AuditChanges
    table: Path
    reviewed: ReviewedLabels


def reviewed_audit(folder) -> AuditResult:
    """The audit in ``folder``, with a message that names what to give instead when it is an export folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"--reviewed {folder} is not a folder: give the audit folder you reviewed (the one `labelwise "
                        "review` was started on).")
    if not AuditResult.saved_in(folder) and (folder / EXPORTED_LABELS).is_file():
        raise DataError(f"{folder} is an export folder: give the audit folder it was exported from (it holds the audit "
                        f"to compare with); copy {EXPORTED_LABELS} and {EXPORTED_CHANGELOG} into it if its review "
                        "database is elsewhere.")
    return AuditResult.load(folder)


def reviewed_labels(folder, audit: AuditResult) -> ReviewedLabels:
    """The labels of ``audit``'s rows as reviewed, from ``folder``'s review database, else from the export in it
    (single-label: a row given several labels keeps the first; several reviewers per item: their consensus, the label
    ``labelwise export`` writes). Raises DataError when the folder has neither, or
    they are not of this audit."""
    folder = Path(folder)
    if (folder / REVIEW_DB).is_file():
        found = _from_database(folder, audit)
    elif (folder / EXPORTED_LABELS).is_file():
        found = _from_export(folder, audit)
    else:
        raise DataError(f"{folder} has no review yet (no {REVIEW_DB} or {EXPORTED_LABELS}): review it with "
                        f"`labelwise review {folder}` first.")
    if audit.multi_label:
        return found
    # a single-label table has one label per row: a row given several by a reviewer keeps the first of them
    return ReviewedLabels({row: labels[:1] for row, labels in found.current.items()}, found.decisions, found.source)


def _from_database(folder: Path, audit: AuditResult) -> ReviewedLabels:
    import json

    from labelwise.review.project import PROJECT_FILE
    from labelwise.review.store import ReviewStore

    path = folder / REVIEW_DB
    key = None
    if (folder / PROJECT_FILE).is_file():
        try:
            key = json.loads((folder / PROJECT_FILE).read_text(encoding="utf-8")).get("project")
        except (OSError, ValueError, AttributeError):
            key = None
    try:
        store = ReviewStore(f"sqlite:///{path.resolve()}")
        project = store.create_project(str(folder.resolve()), list(audit.classes), key=key,
                                       adopt_only_project=key is not None)
        snap = store.export_snapshot(project)
        store.dispose()
    except DataError:
        raise
    except Exception as err:  # not a SQLite file, a damaged one, a schema from a newer labelwise
        why = (str(getattr(err, "orig", None) or err).splitlines() or [type(err).__name__])[0]
        raise DataError(f"Cannot read the review database {path} ({why}). Restore it from a backup, or move it "
                        f"away to use the {EXPORTED_LABELS} exported into the folder.") from None
    rows = set(audit.row_ids.tolist())
    if snap.total == 0 or not rows >= set(snap.current):
        raise DataError(f"{path} holds no review of the audit in {folder}: review it with `labelwise review "
                        f"{folder}`.")
    current = dict(zip(audit.row_ids.tolist(), audit.label_names(audit.given)))
    if snap.reviewers_per_item > 1:  # several reviewers per item: their consensus, as `labelwise export` writes it
        from labelwise.review.project import consensus_export

        current.update(consensus_export(snap, list(audit.classes), pred_probs=audit.pred_probs,
                                        row_ids=audit.row_ids)[0])
    else:
        current.update(snap.current)
    return ReviewedLabels(current, _decisions((e["row"], e["decision"]) for e in snap.events), path)


def _from_export(folder: Path, audit: AuditResult) -> ReviewedLabels:
    from labelwise.data.io import read_table

    path = folder / EXPORTED_LABELS
    frame = read_table(path)
    if list(frame.columns[:2]) != ["row", "label"]:
        raise DataError(f"{path} is not what `labelwise export` writes (columns row, label).")
    delimiter = (audit.settings or {}).get("label_delimiter") or "|"
    known = set(audit.classes)

    def parsed(text: str) -> list:
        return text.split(delimiter) if text not in known and (audit.multi_label or delimiter in text) else [text]

    exported = {int(row): parsed(text) for row, text in zip(frame["row"].tolist(), frame["label"].astype(str))}
    if set(exported) != set(audit.row_ids.tolist()) or any(set(v) - known for v in exported.values()):
        raise DataError(f"{path} is not an export of the audit in {folder} (other rows or labels): export it again "
                        f"with `labelwise export {folder}`.")
    decisions = {}
    changelog = folder / EXPORTED_CHANGELOG
    if changelog.is_file():
        log = pd.read_csv(changelog, dtype=str, keep_default_na=False)
        decisions = _decisions((int(row), decision) for row, decision in zip(log["row"], log["decision"]))
    return ReviewedLabels(exported, decisions, path)


def _decisions(events) -> dict:
    """data row -> its last decision, from (row, decision) pairs oldest first; a skip is no decision (a row only
    skipped was not reviewed)."""
    return {row: decision for row, decision in events if decision != "skip"}


def reaudit(folder, out, *, data=None, progress=None, executor=None) -> Reaudit:
    """Audit the table reviewed in ``folder`` again with the labels as reviewed, and compare.

    folder: the audit folder that was reviewed; out: the new audit's folder (the corrected table is written there;
    the caller saves the audit and the changes); data: the audited table when it is no longer where the audit
    recorded it. The new audit uses the first one's settings (columns, encoder, folds, seed, filter), and the first
    one's probabilities when those were your own (``--pred-probs``).
    """
    from labelwise.audit.workflow import audit_dataset
    from labelwise.data import load_labelled_table
    from labelwise.data.roundtrip import LabelEdit, write_edited_table

    before = reviewed_audit(folder)
    reviewed = reviewed_labels(folder, before)
    source = Path(data) if data is not None else (Path(before.source_path) if before.source_path else None)
    if source is None or not source.is_file():
        raise DataError(f"The table audited in {folder} ({before.source_path or before.source}) is not there any more: "
                        "give it as DATA.")
    settings = before.settings or {}
    delimiter = before.label_delimiter
    given = dict(zip(before.row_ids.tolist(), before.label_names(before.given)))
    target = Path(out) / f"{source.stem}.reviewed{source.suffix}"
    Path(out).mkdir(parents=True, exist_ok=True)
    write_edited_table(source, target, LabelEdit(column=before.label_column, given=given,
                                                 changed=reviewed.changed(before), delimiter=delimiter),
                       encoding=settings.get("encoding"), sep=settings.get("sep"), expected_rows=before.n_input_rows)
    table = load_labelled_table(target, label=before.label_column, text=settings.get("text_columns"),
                                features=settings.get("feature_columns"), embeddings=settings.get("embedding_column"),
                                multi_label=before.multi_label, delimiter=settings.get("label_delimiter"),
                                drop_missing=(before.n_input_rows or before.n_rows) > before.n_rows,
                                encoding=settings.get("encoding"), sep=settings.get("sep"))
    _check_same_table(table, before, reviewed, source, folder)
    own_probs = settings.get("pred_probs") == "given by user"
    after = audit_dataset(table, pred_probs=before.pred_probs if own_probs else None,
                          encoder=settings.get("encoder", "minilm"), n_folds=settings.get("n_folds"),
                          filter_by=before.filter_by, quality_method=before.quality_method,
                          random_state=settings.get("random_state", 0), progress=progress, executor=executor,
                          encoding=settings.get("encoding"), sep=settings.get("sep"),
                          delimiter=settings.get("label_delimiter"))
    return Reaudit(before, after, compare_audits(before, after, reviewed.decisions), target, reviewed)


def _check_same_table(table, before: AuditResult, reviewed: ReviewedLabels, source: Path, folder) -> None:
    """DataError unless ``table`` (the corrected copy) has the audited rows and, on every row, the label the review
    gave it: else the table is not the one audited in ``folder``."""
    if not np.array_equal(np.asarray(table.row_ids), before.row_ids):
        raise DataError(f"{source} is not the table audited in {folder} (other rows): give that table as DATA.")
    labels = table.labels
    names = [[labels.classes[j] for j in np.flatnonzero(row)] for row in labels.codes] if labels.multi_label else \
        [[labels.classes[c]] for c in labels.codes]
    wrong = [row for row, found in zip(before.row_ids.tolist(), names)
             if sorted(found) != sorted(reviewed.current[row])]
    if wrong:
        raise DataError(f"{source} is not the table audited in {folder}: its label column differs on {len(wrong):,} "
                        f"rows (first: row {wrong[0]}). Give the table that was audited as DATA.")
