"""Open a review project from an audit's output folder, and export what the reviewers decided.

Re-opening the same folder resumes the same project: the store lives beside the data (``review.db`` in the
audit folder) unless a database URL is given, and items already in it are not added again.

The folder is what ``labelwise audit --out DIR`` writes, read with ``AuditResult.load`` (its ``source_path`` names
the original table, so the export can be joined back onto it and the item page can show every field of a row).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from labelwise.audit.result import AuditResult
from labelwise.data.io import read_table, write_table_atomic
from labelwise.errors import DataError
from labelwise.review.store import ReviewStore

MAX_FIELDS = 30  # columns of the original row shown on the item page
MAX_CHARS = 5000  # characters of each field stored for display
TOP_SUGGESTIONS = 5  # the model's most probable classes offered per row


def original_table(audit_dir, data=None) -> Optional[pd.DataFrame]:
    """The table that was audited: ``data`` when given, else the ``source_path`` the audit recorded; None when
    neither is available (an audit of an in-memory DataFrame, or a file moved since)."""
    path = data or AuditResult.load(audit_dir).source_path
    if path is None:
        return None
    if not Path(path).is_file():
        if data is not None:
            raise DataError(f"{path} does not exist. Give the table that was audited with --data.")
        return None
    return read_table(path)


def open_audit_project(audit_dir, *, db_url: Optional[str] = None) -> tuple[ReviewStore, int, list[str]]:
    """(store, project id, classes) for the audit written in ``audit_dir`` (by ``labelwise audit --out``)."""
    audit_dir = Path(audit_dir)
    audit = AuditResult.load(audit_dir)
    classes = list(audit.classes)
    store = ReviewStore(db_url or f"sqlite:///{(audit_dir / 'review.db').resolve()}")
    project_id = store.create_project(str(audit_dir.resolve()), classes)
    if store.progress(project_id)[1] >= audit.n_rows:  # resumed: every row is in already, do not read the table again
        return store, project_id, classes

    top = np.argsort(-audit.pred_probs, axis=1, kind="stable")[:, :TOP_SUGGESTIONS]
    given, suggested = audit.label_names(audit.given), audit.label_names(audit.suggested)
    flags = audit.row_issues()
    table = original_table(audit_dir)
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


def _payload(table: Optional[pd.DataFrame], row: int, rec: dict) -> dict:
    """The fields shown for a row: the original row's columns when the table is at hand, else the audited text."""
    if table is None:
        return {"text": str(rec["text"])} if "text" in rec and pd.notna(rec["text"]) else {}
    values = table.iloc[row]
    return {str(column): ("" if pd.isna(value) else str(value)[:MAX_CHARS]) if pd.api.types.is_scalar(value)
            else str(value)[:MAX_CHARS] for column, value in list(values.items())[:MAX_FIELDS]}


def export_decisions(store: ReviewStore, project_id: int, out_dir, *, table: Optional[pd.DataFrame] = None,
                     label_column: str = "label", dataset_name: str = "dataset_reviewed.csv"
                     ) -> dict[str, Path]:
    """Write what the reviewers decided, atomically, into ``out_dir``:

    - ``labels_reviewed.csv``: row, label (the current label of every row, several joined by ``|``);
    - ``changelog.csv``: every human event: row, time, author, decision, labels, reason;
    - ``dataset_name`` (CSV or Parquet by its extension), only when the original ``table`` is given: the table with
      the label column corrected, plus ``<label>_given`` (as it was), ``review_decision`` and ``reviewed_by``.
      Rows nobody reviewed keep their label. The original file is never touched.

    Returns the paths written, by kind (``labels``, ``changelog``, ``dataset``).
    """
    out_dir = Path(out_dir)
    current = store.current_labels(project_id)
    labels = pd.DataFrame({"row": list(current), "label": ["|".join(v) for v in current.values()]}).sort_values("row")
    events = store.human_events(project_id)
    changelog = pd.DataFrame(events, columns=["row", "created_at", "author", "decision", "labels", "reason"])
    changelog["labels"] = changelog["labels"].map(lambda v: "|".join(v))
    written = {"labels": write_table_atomic(labels, out_dir / "labels_reviewed.csv"),
               "changelog": write_table_atomic(changelog, out_dir / "changelog.csv")}
    if table is not None:
        written["dataset"] = write_table_atomic(_joined(table, labels, changelog, label_column),
                                                out_dir / dataset_name)
    return written


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


def _joined(table: pd.DataFrame, labels: pd.DataFrame, changelog: pd.DataFrame, label_column: str) -> pd.DataFrame:
    if label_column not in table.columns:
        raise DataError(f"The table has no column {label_column!r} to correct; it has {', '.join(map(str, table.columns))}.")
    out = table.copy()
    out.insert(out.columns.get_loc(label_column) + 1, f"{label_column}_given", table[label_column])
    last = changelog.drop_duplicates("row", keep="last").set_index("row")
    reviewed = labels[labels["row"].isin(last.index)].set_index("row")["label"]
    positions = reviewed.index.to_numpy()
    if len(positions) and positions.max() >= len(out):
        raise DataError("The table has fewer rows than the reviewed project: give the table that was audited.")
    column = out[label_column].astype(object)
    column.iloc[positions] = reviewed.to_numpy()
    out[label_column] = _like(column, table[label_column])
    out["review_decision"] = ""
    out["reviewed_by"] = ""
    out.iloc[last.index.to_numpy(), out.columns.get_loc("review_decision")] = last["decision"].to_numpy()
    out.iloc[last.index.to_numpy(), out.columns.get_loc("reviewed_by")] = last["author"].to_numpy()
    return out
