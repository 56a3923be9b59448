"""Open a review project from an audit's output folder (``issues.csv``), and export its decisions.

Re-opening the same folder resumes the same project: the store lives beside the data (``review.db`` in the
audit folder) unless a database URL is given, and items already in it are not added again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd

from labelwise.data.io import write_table_atomic
from labelwise.errors import DataError
from labelwise.review.store import ReviewStore


def open_audit_project(audit_dir, *, db_url: Optional[str] = None) -> tuple[ReviewStore, int, list[str]]:
    """(store, project id, classes) for the audit written in ``audit_dir`` (by ``labelwise audit --out``)."""
    audit_dir = Path(audit_dir)
    issues_path = audit_dir / "issues.csv"
    if not issues_path.is_file():
        raise DataError(f"{audit_dir} has no issues.csv. Give the folder that `labelwise audit ... --out DIR` wrote, "
                        "or a table with --label (and --text) to audit first.")
    issues = pd.read_csv(issues_path, keep_default_na=False, na_values=[""])
    issues = issues[issues["given_label"].notna()]
    per_class = audit_dir / "per_class.csv"
    if per_class.is_file():
        classes = [str(c) for c in pd.read_csv(per_class, keep_default_na=False)["class"]]
    else:
        classes = sorted({str(v) for v in issues["given_label"]} | {str(v) for v in issues["suggested_label"]})
    store = ReviewStore(db_url or f"sqlite:///{(audit_dir / 'review.db').resolve()}")
    project_id = store.create_project(str(audit_dir.resolve()), classes)
    has_text = "text" in issues.columns

    def rows():
        for rec in issues.to_dict("records"):
            suggested = str(rec["suggested_label"])
            yield {
                "row": int(rec["row"]),
                "payload": {"text": str(rec["text"])} if has_text else {},
                "given": [str(rec["given_label"])],
                "label_quality": float(rec["label_quality"]),
                "suggestion": {"labels": [suggested],
                               "probabilities": {suggested: float(rec.get("suggested_probability", 0.0))}},
            }

    store.add_items(project_id, rows())
    return store, project_id, classes


def export_decisions(store: ReviewStore, project_id: int, out_dir) -> tuple[Path, Path]:
    """Write ``labels_reviewed.csv`` (row, label: the current label of every row) and ``changelog.csv`` (every
    human event: row, time, author, decision, labels, reason), atomically. Returns both paths."""
    out_dir = Path(out_dir)
    current = store.current_labels(project_id)
    labels = pd.DataFrame({"row": list(current), "label": ["|".join(v) for v in current.values()]}).sort_values("row")
    events = store.human_events(project_id)
    changelog = pd.DataFrame(events, columns=["row", "created_at", "author", "decision", "labels", "reason"])
    changelog["labels"] = changelog["labels"].map(lambda v: "|".join(v))
    return (write_table_atomic(labels, out_dir / "labels_reviewed.csv"),
            write_table_atomic(changelog, out_dir / "changelog.csv"))
