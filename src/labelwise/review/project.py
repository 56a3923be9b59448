"""Open a review project from an audit's output folder, and export what the reviewers decided.

Re-opening the same folder resumes the same project: the store lives beside the data (``review.db`` in the
audit folder) unless a database URL is given, and items already in it are not added again.

The folder is what ``labelwise audit --out DIR`` writes: ``issues.csv`` (one row per input row), ``per_class.csv``,
``top_suggestions.parquet`` (the model's most probable classes) and ``summary.json`` (whose ``source_path`` names the
original table, so the export can be joined back onto it and the item page can show every field of a row).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pandas as pd

from labelwise.data.io import read_table, write_table_atomic
from labelwise.errors import DataError
from labelwise.review.store import ReviewStore

MAX_FIELDS = 30  # columns of the original row shown on the item page
MAX_CHARS = 5000  # characters of each field stored for display


def audit_summary(audit_dir) -> dict:
    path = Path(audit_dir) / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def original_table(audit_dir, data=None) -> Optional[pd.DataFrame]:
    """The table that was audited: ``data`` when given, else the ``source_path`` the audit recorded; None when
    neither is available (an audit of an in-memory DataFrame, or a file moved since)."""
    path = data or audit_summary(audit_dir).get("source_path")
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
    issues_path = audit_dir / "issues.csv"
    if not issues_path.is_file():
        raise DataError(f"{audit_dir} has no issues.csv. Give the folder that `labelwise audit ... --out DIR` wrote, "
                        "or a table with --label (and --text) to audit first.")
    issues = pd.read_csv(issues_path, keep_default_na=False, na_values=[""])
    issues = issues[issues["given_label"].notna()]
    summary = audit_summary(audit_dir)
    split = (lambda v: [x for x in str(v).split("|") if x]) if summary.get("multi_label") else (lambda v: [str(v)])
    per_class = audit_dir / "per_class.csv"
    if per_class.is_file():
        classes = [str(c) for c in pd.read_csv(per_class, keep_default_na=False)["class"]]
    else:
        classes = sorted({c for v in issues["given_label"] for c in split(v)}
                         | {c for v in issues["suggested_label"].dropna() for c in split(v)})
    store = ReviewStore(db_url or f"sqlite:///{(audit_dir / 'review.db').resolve()}")
    project_id = store.create_project(str(audit_dir.resolve()), classes)
    if store.progress(project_id)[1] >= len(issues):  # resumed: every row is in already, do not read the tables again
        return store, project_id, classes

    top = _top_suggestions(audit_dir)
    table = original_table(audit_dir)
    if table is not None and len(table) < int(issues["row"].max()) + 1:
        table = None  # the file changed since the audit: show what the audit kept rather than mismatched rows

    def rows():
        for rec in issues.to_dict("records"):
            row = int(rec["row"])
            suggested = split(rec["suggested_label"]) if pd.notna(rec.get("suggested_label")) else []
            probabilities = top.get(row) or {s: float(rec.get("suggested_probability", 0.0)) for s in suggested}
            flags = [name for name, column in (("label", "is_label_issue"), ("duplicate", "has_conflicting_duplicate"),
                                               ("outlier", "is_outlier")) if _truthy(rec.get(column))]
            yield {
                "row": row,
                "payload": _payload(table, row, rec),
                "given": split(rec["given_label"]),
                "label_quality": float(rec["label_quality"]),
                "suggestion": {"labels": suggested, "probabilities": probabilities},
                "issues": flags,
            }

    store.add_items(project_id, rows())
    return store, project_id, classes


def _truthy(value) -> bool:
    return str(value).strip().lower() in ("true", "1", "1.0")


def _top_suggestions(audit_dir: Path) -> dict[int, dict]:
    """row -> {label: probability} of the model's top classes, most probable first (empty without the file)."""
    path = audit_dir / "top_suggestions.parquet"
    if not path.is_file():
        return {}
    top = pd.read_parquet(path).sort_values(["row", "rank"])
    out: dict[int, dict] = {}
    for row, label, p in zip(top["row"].to_numpy(), top["label"].astype(str), top["probability"].to_numpy()):
        out.setdefault(int(row), {})[label] = float(p)
    return out


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
