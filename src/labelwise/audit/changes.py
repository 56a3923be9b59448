"""What a review round changed: the audit before it against the audit of the corrected labels.

:func:`compare_audits` lines up two audits of the same table by row: the first one (whose flagged rows were reviewed)
and the one run again on the labels as reviewed (``labelwise audit --reviewed DIR``). Each row gets one ``change``:

- ``fixed``: a reviewer changed its label, it was flagged before and is not now;
- ``relabelled, still flagged``: a reviewer changed its label and the new audit flags it (again);
- ``relabelled``: a reviewer changed a label nobody had flagged, and the new audit agrees;
- ``confirmed``: a reviewer kept its label, and the new audit no longer flags it;
- ``kept, still flagged``: a reviewer kept its label, and the new audit still (or now) flags it;
- ``newly flagged``: nobody reviewed it, it was not flagged before and is now (the model learned from the fixes);
- ``no longer flagged``: nobody reviewed it, it was flagged before and is not now;
- ``still flagged``: nobody reviewed it, and it is flagged in both.

"Flagged" is the label issue of confident learning (``is_label_issue``); the counts of every issue type (label,
duplicate, outlier) before and after are in the summary. Rows with none of these changes are left out of the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from labelwise.audit.result import AuditResult
from labelwise.data.atomic import write_text_atomic
from labelwise.data.io import write_table_atomic
from labelwise.errors import DataError

CHANGES = ("fixed", "relabelled, still flagged", "relabelled", "confirmed", "kept, still flagged", "newly flagged",
           "no longer flagged", "still flagged")


@dataclass
class AuditChanges:
    """frame: one row per row that changed (columns ``row, change, label_before, label_after, decision,
    flagged_before, flagged_after, issues_before, issues_after, quality_before, quality_after``); summary: the
    counts and headline figures before and after (:meth:`lines` prints them)."""

    frame: pd.DataFrame
    summary: dict

    def lines(self) -> list[str]:
        """The summary as plain text lines."""
        s, counts = self.summary, self.summary["changes"]
        out = [f"review round: {s['reviewed']:,} of {s['rows']:,} rows reviewed, {s['relabelled']:,} relabelled "
               f"({s['relabelled_flagged_before']:,} of them flagged before)"]
        before, after = s["issues"]["label"]
        still = counts["still flagged"] + counts["kept, still flagged"] + counts["relabelled, still flagged"]
        out.append(f"label issues: {before:,} -> {after:,} (fixed {counts['fixed']:,}, confirmed "
                   f"{counts['confirmed']:,}, newly flagged {counts['newly flagged']:,}, no longer flagged without "
                   f"review {counts['no longer flagged']:,}, still flagged {still:,})")
        others = [f"{name} {b:,} -> {a:,}" for name, (b, a) in s["issues"].items() if name != "label"]
        if others:
            out.append("other issues: " + "; ".join(others))
        error, health = s["estimated_error_rate"], s["label_health_score"]
        out.append(f"estimated label error rate {error[0]:.1%} -> {error[1]:.1%}; label health score (1 - flagged "
                   f"share) {health[0]:.3f} -> {health[1]:.3f}")
        if s.get("accuracy_of_out_of_fold_model"):
            agree = s["accuracy_of_out_of_fold_model"]
            out.append(f"out-of-fold model agrees with the labels on {agree[0]:.1%} -> {agree[1]:.1%} of rows")
        return out

    def save(self, directory) -> Path:
        """``changes.csv`` (the frame) and ``changes.json`` (the summary) in ``directory``, atomically."""
        directory = Path(directory)
        write_table_atomic(self.frame, directory / "changes.csv")
        write_text_atomic(directory / "changes.json", json.dumps(self.summary, indent=2) + "\n")
        return directory / "changes.csv"


def compare_audits(before: AuditResult, after: AuditResult, decisions: Mapping[int, str]) -> AuditChanges:
    """The changes from audit ``before`` to audit ``after`` of the same rows, ``decisions`` (data row -> the last
    reviewer decision: relabel, keep, ...) telling which rows a person reviewed. A row is relabelled when its label
    differs between the audits. Raises DataError when the audits are of different rows."""
    if not np.array_equal(before.row_ids, after.row_ids):
        raise DataError("The two audits are of different rows: re-audit the table that was reviewed.")
    label_before = [before.label_delimiter.join(names) for names in before.label_names(before.given)]
    label_after = [after.label_delimiter.join(names) for names in after.label_names(after.given)]
    flagged_before, flagged_after = before.is_issue.astype(bool), after.is_issue.astype(bool)
    relabelled = np.array([a != b for a, b in zip(label_before, label_after)], dtype=bool)
    rows = before.row_ids.tolist()
    reviewed = np.array([row in decisions for row in rows], dtype=bool) | relabelled
    change = np.full(len(rows), "", dtype=object)
    kept = reviewed & ~relabelled
    unreviewed = ~reviewed
    change[relabelled & flagged_before & ~flagged_after] = "fixed"
    change[relabelled & flagged_after] = "relabelled, still flagged"
    change[relabelled & ~flagged_before & ~flagged_after] = "relabelled"
    change[kept & ~flagged_after & flagged_before] = "confirmed"
    change[kept & flagged_after] = "kept, still flagged"
    change[unreviewed & ~flagged_before & flagged_after] = "newly flagged"
    change[unreviewed & flagged_before & ~flagged_after] = "no longer flagged"
    change[unreviewed & flagged_before & flagged_after] = "still flagged"
    issues_before, issues_after = before.row_issues(), after.row_issues()
    frame = pd.DataFrame({
        "row": before.row_ids.astype(np.int64), "change": change, "label_before": label_before,
        "label_after": label_after, "decision": [decisions.get(row, "") for row in rows],
        "flagged_before": flagged_before, "flagged_after": flagged_after,
        "issues_before": _issue_names(issues_before, len(rows)), "issues_after": _issue_names(issues_after, len(rows)),
        "quality_before": before.label_quality.astype(np.float64),
        "quality_after": after.label_quality.astype(np.float64),
    })
    frame = frame[(frame["change"] != "") | reviewed].reset_index(drop=True)
    counts = {name: int((change == name).sum()) for name in CHANGES}
    s_before, s_after = before.summary(), after.summary()
    summary = {
        "rows": len(rows),
        "reviewed": int(reviewed.sum()),
        "relabelled": int(relabelled.sum()),
        "relabelled_flagged_before": int((relabelled & flagged_before).sum()),
        "changes": counts,
        "issues": {name: [int(issues_before[name].sum()), int(issues_after[name].sum()) if name in issues_after else 0]
                   for name in issues_before} | {name: [0, int(flags.sum())] for name, flags in issues_after.items()
                                                 if name not in issues_before},
        "estimated_error_rate": [before.error_rate, after.error_rate],
        "label_health_score": [1.0 - s_before["flagged_share"], 1.0 - s_after["flagged_share"]],
    }
    if "accuracy_of_out_of_fold_model" in s_before and "accuracy_of_out_of_fold_model" in s_after:
        summary["accuracy_of_out_of_fold_model"] = [s_before["accuracy_of_out_of_fold_model"],
                                                    s_after["accuracy_of_out_of_fold_model"]]
    return AuditChanges(frame, summary)


def _issue_names(flags: dict, n: int) -> list[str]:
    """Per row, the issue types flagged, joined by ``|`` (empty when none)."""
    names = [[] for _ in range(n)]
    for name, values in flags.items():
        for i in np.flatnonzero(values):
            names[i].append(name)
    return ["|".join(found) for found in names]
