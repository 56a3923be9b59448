"""Open a review project from an audit's output folder, and export what the reviewers decided.

Re-opening the same folder resumes the same project: the store lives beside the data (``review.db`` in the
audit folder) unless a database URL is given, and items already in it are not added again. The folder keeps its
project's id in ``review_project.json`` (written once), so a moved or copied folder finds its decisions; delete that
file to start a new project for the folder.

The folder is what ``labelwise audit --out DIR`` writes, read with ``AuditResult.load`` (its ``source_path`` names
the original table, so the export can be joined back onto it and the item page can show every field of a row).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from labelwise.audit.result import AuditResult
from labelwise.data.atomic import write_bytes_once
from labelwise.data.formula import neutralise
from labelwise.data.io import DELIMITED_FORMATS, read_table, table_format, write_table_atomic
from labelwise.data.roundtrip import LabelEdit, write_edited_table
from labelwise.errors import DataError
from labelwise.review.consensus import ReviewConsensus, review_consensus
from labelwise.review.snapshot import ExportSnapshot
from labelwise.review.store import ReviewStore

MAX_FIELDS = 30  # columns of the original row shown on the item page
MAX_CHARS = 5000  # characters of each field stored for display
TOP_SUGGESTIONS = 5  # the model's most probable classes offered per row
PROJECT_FILE = "review_project.json"


def original_table(audit: AuditResult) -> Optional[pd.DataFrame]:
    """The table that was audited, read from the ``source_path`` the audit recorded with the audit's encoding and
    separator; None when there is none (an audit of an in-memory DataFrame) or the file has moved since."""
    path = audit.source_path
    if path is None or not Path(path).is_file():
        return None
    settings = audit.settings or {}
    return read_table(path, encoding=settings.get("encoding"), sep=settings.get("sep"))


def open_audit_project(audit_dir, *, db_url: Optional[str] = None, audit: Optional[AuditResult] = None
                       ) -> tuple[ReviewStore, int, list[str]]:
    """(store, project id, classes) for the audit written in ``audit_dir`` (by ``labelwise audit --out``); ``audit``:
    that folder already loaded with ``AuditResult.load``, when the caller has it."""
    audit_dir = Path(audit_dir)
    if audit is None:
        audit = AuditResult.load(audit_dir)
    classes = list(audit.classes)
    store = ReviewStore(db_url or f"sqlite:///{(audit_dir / 'review.db').resolve()}")
    # found by the id in the folder; a database kept beside its data may also adopt its only, older project
    project_id = store.create_project(str(audit_dir.resolve()), classes, key=project_key(audit_dir),
                                      adopt_only_project=db_url is None)
    if store.progress(project_id)[1] >= audit.n_rows:  # resumed: every row is in already, do not read the table again
        return store, project_id, classes

    top = np.argsort(-audit.pred_probs, axis=1, kind="stable")[:, :TOP_SUGGESTIONS]
    given, suggested = audit.label_names(audit.given), audit.label_names(audit.suggested)
    flags = audit.row_issues()
    table = original_table(audit)
    if table is not None and len(table) < int(audit.row_ids.max()) + 1:
        table = None  # the file changed since the audit: show what the audit kept rather than mismatched rows

    def rows():
        for i, row in enumerate(audit.row_ids.tolist()):
            text = {"text": audit.texts[i]} if audit.texts is not None else {}
            yield {
                "row": row,
                "payload": _payload(table, row, text),
                "given": given[i],
                "label_quality": float(audit.label_quality[i]),
                "suggestion": {"labels": suggested[i],
                               "probabilities": {classes[j]: float(audit.pred_probs[i, j]) for j in top[i]}},
                "issues": [name for name, flagged in flags.items() if flagged[i]],
            }

    store.add_items(project_id, rows())
    return store, project_id, classes


def project_key(audit_dir) -> Optional[str]:
    """The id of the audit folder's review project, from its ``review_project.json``, written on first use (once:
    of two processes opening a new folder together, both get the same id). None for a read-only folder without one
    (the project is then found by the folder's path, as before projects had ids)."""
    path = Path(audit_dir) / PROJECT_FILE
    while True:
        try:
            found = json.loads(path.read_text(encoding="utf-8")).get("project")
        except FileNotFoundError:
            key = uuid.uuid4().hex
            record = {"project": key, "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat()}
            try:
                write_bytes_once(path, (json.dumps(record) + "\n").encode())
            except FileExistsError:
                continue  # another process made it a moment ago: use theirs
            except OSError:
                return None
            return key
        except (OSError, ValueError, AttributeError):
            found = None
        if not isinstance(found, str) or not re.fullmatch(r"[0-9a-f]{32}", found):
            raise DataError(f"{path} is damaged: it should hold the folder's review project id. Restore it from a "
                            f"backup or a copy of the folder; delete it only to start a new, empty review project.")
        return found


def _payload(table: Optional[pd.DataFrame], row: int, rec: dict) -> dict:
    """The fields shown for a row: the original row's columns when the table is at hand, else the audited text."""
    if table is None:
        return {"text": str(rec["text"])} if "text" in rec and pd.notna(rec["text"]) else {}
    values = table.iloc[row]
    return {str(column): ("" if pd.isna(value) else str(value)[:MAX_CHARS]) if pd.api.types.is_scalar(value)
            else str(value)[:MAX_CHARS] for column, value in list(values.items())[:MAX_FIELDS]}


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_decisions` wrote: ``paths`` by kind (``labels``, ``changelog``, ``dataset``), ``notes`` for
    the user, and the counts of the snapshot it wrote (items with a human decision, all items)."""

    paths: dict[str, Path]
    notes: list[str] = field(default_factory=list)
    reviewed: int = 0
    total: int = 0


def export_decisions(store: ReviewStore, project_id: int, out_dir, *, source=None,
                     table: Optional[pd.DataFrame] = None, label_column: str = "label",
                     dataset_name: Optional[str] = None, encoding: Optional[str] = None, sep: Optional[str] = None,
                     delimiter: str = "|", expected_rows: Optional[int] = None,
                     pred_probs: Optional[np.ndarray] = None, row_ids: Optional[np.ndarray] = None) -> ExportResult:
    """Write what the reviewers decided, atomically, into ``out_dir``, from one snapshot of the store (decisions
    made meanwhile are in every file or in none):

    - ``labels_reviewed.csv``: row, label (the current label of every row, several joined by ``delimiter``);
    - ``changelog.csv``: every human event: row, time, author, decision, labels, reason;
    - ``dataset_name`` (default ``<source name>.reviewed.<ext>``): the audited table with the label column
      corrected, plus ``<label>_given`` (as it was), ``review_decision`` and ``reviewed_by``. From the ``source``
      file (CSV, TSV, Parquet, JSON Lines, read and written with ``encoding`` and ``sep``), every value nobody
      changed is written back exactly as it was read (see :mod:`labelwise.data.roundtrip`); ``expected_rows`` is the
      row count the audit saw.
      From a ``table`` DataFrame instead, the frame is written with pandas. Rows nobody reviewed keep their label.
      The original file is never touched.

    Text typed in the app (reviewer names, reasons) is neutralised against spreadsheet formula injection in every
    CSV/TSV (:mod:`labelwise.data.formula`); so are the labels in ``changelog.csv``, which is meant for people.
    ``labels_reviewed.csv`` and the table keep the labels exactly: a label is always one of the project's classes.

    With several reviewers per item (:func:`consensus_export`), the label written is the consensus of the
    reviewers' answers (``pred_probs``, (n, K) for data rows ``row_ids``: the audit's, for CROWDLAB), and four more
    files hold the answers, the consensus, the reviewers and their agreement.
    """
    out_dir = Path(out_dir)
    snap = store.export_snapshot(project_id)
    changelog = pd.DataFrame(snap.events, columns=["row", "created_at", "author", "decision", "labels", "reason"])
    changelog["labels"] = changelog["labels"].map(delimiter.join)
    for column in ("author", "labels", "reason"):
        changelog[column] = changelog[column].map(neutralise)
    extra: dict[str, pd.DataFrame] = {}
    if snap.reviewers_per_item > 1:
        current, added, extra = consensus_export(snap, store.classes(project_id), delimiter=delimiter,
                                                 pred_probs=pred_probs, row_ids=row_ids)
    else:
        current, last = snap.current, snap.last_decisions()
        added = {"review_decision": {r: e["decision"] for r, e in last.items()},
                 "reviewed_by": {r: e["author"] for r, e in last.items()}}
    rows = sorted(current)
    labels = pd.DataFrame({"row": rows, "label": [delimiter.join(current[r]) for r in rows]})
    changed = {row: value for row, value in current.items() if value != snap.given.get(row)}
    edit = LabelEdit(column=label_column, given=snap.given, changed=changed, copy_as=f"{label_column}_given",
                     added=added, delimiter=delimiter)
    notes: list[str] = []
    paths: dict[str, Path] = {}
    if source is not None:  # first: the file most likely to fail (a changed table), so a failure writes nothing
        source = Path(source)
        target = out_dir / (dataset_name or f"{source.stem}.reviewed{source.suffix}")
        notes = write_edited_table(source, target, edit, encoding=encoding, sep=sep, expected_rows=expected_rows)
        paths["dataset"] = target
    elif table is not None:
        target = out_dir / (dataset_name or "dataset.reviewed.csv")
        paths["dataset"] = write_table_atomic(_joined(table, edit, text=table_format(target) in DELIMITED_FORMATS),
                                              target)
    paths["labels"] = write_table_atomic(labels, out_dir / "labels_reviewed.csv")
    paths["changelog"] = write_table_atomic(changelog, out_dir / "changelog.csv")
    for kind, frame in extra.items():
        paths[kind] = write_table_atomic(frame, out_dir / f"{kind}.csv")
    return ExportResult(paths, notes, snap.reviewed, snap.total)


def consensus_export(snap: ExportSnapshot, classes: list, *, delimiter: str = "|",
                     pred_probs: Optional[np.ndarray] = None, row_ids: Optional[np.ndarray] = None
                     ) -> tuple[dict[int, list], dict[str, dict], dict[str, pd.DataFrame]]:
    """What the export writes for a project with several reviewers per item: (row -> label written, the added
    columns by row, the extra tables by file name).

    The label written is the consensus (:func:`labelwise.review.consensus.review_consensus`); a row nobody has
    answered with one class (unanswered, or only "several"/"ambiguous" answers) keeps its given label. A tie (as many
    answers for two classes) is settled by CROWDLAB or the majority vote's tie-breaks and marked ``tie`` in
    ``review_decision`` (``single``, ``unanimous``, ``majority`` otherwise); ``reviewed_by`` lists who answered.
    Tables: ``annotations`` (row, reviewer, label, decision, created_at: every reviewer's answer now),
    ``consensus`` (row, label, quality, answers, status, method), ``annotators`` (reviewer, quality,
    agreement_with_consensus, items_answered) and ``agreement`` (Krippendorff's alpha, Cohen's kappa per pair).
    Reviewer names are neutralised against spreadsheet formulas; labels are the project's classes, written exactly.
    """
    answers = snap.answers()
    found = review_consensus(answers, classes, pred_probs=pred_probs, row_ids=row_ids)
    at = found.by_row()
    current = {row: ([found.consensus[at[row]]] if row in at else list(given)) for row, given in snap.given.items()}
    added = {"review_decision": {row: found.status[i] for row, i in at.items()},
             "reviewed_by": {row: delimiter.join(answers[row]) for row in at}}
    annotations = pd.DataFrame(
        [{"row": row, "reviewer": neutralise(who), "label": delimiter.join(a["labels"]), "decision": a["decision"],
          "created_at": a["created_at"]} for row, by in sorted(answers.items()) for who, a in sorted(by.items())],
        columns=["row", "reviewer", "label", "decision", "created_at"])
    consensus = pd.DataFrame({"row": found.rows, "label": found.consensus, "quality": found.quality,
                              "answers": (~np.isnan(found.labels)).sum(axis=1), "status": found.status,
                              "method": "crowdlab" if found.method.startswith("CROWDLAB") else "majority_vote"})
    annotators = found.reviewer_frame()
    annotators["reviewer"] = annotators["reviewer"].map(neutralise)
    agreement = found.agreement_frame()
    for column in ("reviewer_a", "reviewer_b"):
        agreement[column] = agreement[column].map(neutralise)
    return current, added, {"annotations": annotations, "consensus": consensus, "annotators": annotators,
                            "agreement": agreement}


def _like(column: pd.Series, original: pd.Series) -> pd.Series:
    """The corrected labels in the original column's type where they all fit it (integer class ids stay integers)."""
    if not pd.api.types.is_numeric_dtype(original):
        return column
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().sum() != column.notna().sum():
        return column  # a reviewer chose a label that is not a number (or several labels): keep text
    try:
        return numbers.astype(original.dtype)
    except (TypeError, ValueError):
        return numbers


def _joined(table: pd.DataFrame, edit: LabelEdit, text: bool) -> pd.DataFrame:
    """A DataFrame's reviewed copy (values as pandas holds them); ``text``: the added columns go into a CSV/TSV."""
    if edit.column not in table.columns:
        raise DataError(f"The table has no column {edit.column!r} to correct; it has "
                        f"{', '.join(map(str, table.columns))}.")
    if max(edit.changed, default=-1) >= len(table):
        raise DataError("The table has fewer rows than the reviewed project: give the table that was audited.")
    out = table.copy()
    out.insert(out.columns.get_loc(edit.column) + 1, edit.copy_as, table[edit.column])
    column = out[edit.column].astype(object)
    for row, labels in edit.changed.items():
        column.iloc[row] = edit.delimiter.join(labels)
    out[edit.column] = _like(column, table[edit.column])
    for name, by_row in edit.added.items():
        out[name] = [(neutralise if text else str)(by_row.get(row, "")) for row in range(len(out))]
    return out
