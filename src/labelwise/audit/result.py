"""AuditResult: what an audit found, per row, per class and for the whole table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from labelwise.audit.label_errors import NoiseEstimate
from labelwise.data.atomic import write_text_atomic
from labelwise.data.io import write_table_atomic

ISSUE_COLUMNS = ["row", "given_label", "suggested_label", "label_quality", "is_label_issue"]


@dataclass(repr=False)
class AuditResult:
    """The outcome of :func:`labelwise.audit_dataset`.

    Per row (n = rows audited; ``row_ids`` maps them back to the input's 0-based rows):
        given:        (n,) int class index, or (n, k) bool for multi-label
        suggested:    (n,) int argmax class, or (n, k) bool (probability >= 0.5) for multi-label
        label_quality:(n,) float in [0, 1], lower = more likely wrong
        is_issue:     (n,) bool, flagged by confident learning
        pred_probs:   (n, k) float, the out-of-sample probabilities used
    For the table: ``noise`` (confident joint, noise matrices, priors, estimated error rate), ``classes``,
    ``error_rate_interval`` (95% bootstrap), and ``checks``: the other audit checks by name (``balance``,
    ``columns``, ``duplicates``, ``outliers``, ``shift``) as plain dicts; ``skipped`` says why a check did not run.
    """

    classes: list[str]
    row_ids: np.ndarray
    given: np.ndarray
    suggested: np.ndarray
    label_quality: np.ndarray
    is_issue: np.ndarray
    pred_probs: np.ndarray
    noise: Optional[NoiseEstimate]
    label_column: str = "label"
    multi_label: bool = False
    filter_by: str = "prune_by_noise_rate"
    quality_method: str = "self_confidence"
    source: str = "<DataFrame>"
    n_input_rows: Optional[int] = None
    texts: Optional[list[str]] = None
    settings: dict = field(default_factory=dict)
    error_rate_interval: Optional[tuple[float, float]] = None
    checks: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)

    # ---- summaries ---------------------------------------------------------------------------------------------

    @property
    def n_rows(self) -> int:
        return int(self.row_ids.shape[0])

    @property
    def n_issues(self) -> int:
        return int(self.is_issue.sum())

    @property
    def error_rate(self) -> float:
        """Estimated fraction of wrong labels: the off-diagonal mass of the calibrated confident joint
        (single-label), else the flagged fraction."""
        if self.noise is not None:
            return self.noise.error_rate
        return self.n_issues / max(self.n_rows, 1)

    def _names(self, codes: np.ndarray) -> list[str]:
        if self.multi_label:
            return ["|".join(self.classes[j] for j in np.flatnonzero(row)) for row in codes]
        return [self.classes[c] for c in codes]

    def per_class(self) -> pd.DataFrame:
        """One row per class: given count, flagged count and share, estimated noise rate, estimated true count."""
        k = len(self.classes)
        if self.multi_label:
            given_counts = self.given.sum(axis=0)
            flagged = (self.given & self.is_issue[:, None]).sum(axis=0)
        else:
            given_counts = np.bincount(self.given, minlength=k)
            flagged = np.bincount(self.given[self.is_issue], minlength=k)
        frame = pd.DataFrame(
            {
                "class": self.classes,
                "n_given": given_counts.astype(int),
                "n_flagged": flagged.astype(int),
                "flagged_share": flagged / np.maximum(given_counts, 1),
            }
        )
        if self.noise is not None:
            # P(true != k | given = k) and the estimated number of rows truly of class k
            frame["estimated_noise_rate"] = 1.0 - np.diag(self.noise.inverse_noise_matrix)
            frame["estimated_true_count"] = np.round(self.noise.prior_true * self.n_rows).astype(int)
        return frame

    def confused_pairs(self, top: int = 10) -> pd.DataFrame:
        """The most frequent (given, probably true) class pairs off the diagonal of the confident joint."""
        if self.noise is None:
            return pd.DataFrame(columns=["given_label", "suggested_label", "count"])
        joint = self.noise.confident_joint.copy()
        np.fill_diagonal(joint, 0)
        order = np.argsort(-joint, axis=None, kind="stable")[:top]
        given, true = np.unravel_index(order, joint.shape)
        keep = joint[given, true] > 0
        return pd.DataFrame(
            {
                "given_label": [self.classes[i] for i in given[keep]],
                "suggested_label": [self.classes[j] for j in true[keep]],
                "count": joint[given, true][keep].astype(int),
            }
        )

    def worst(self, n: int = 10) -> pd.DataFrame:
        """The n rows with the lowest label quality (flagged or not), worst first."""
        frame = self.to_frame(include_unaudited=False)
        return frame.sort_values("label_quality", kind="stable").head(n)

    # ---- tables and files --------------------------------------------------------------------------------------

    def to_frame(self, *, include_unaudited: bool = True) -> pd.DataFrame:
        """One row per input row: ``row, given_label, suggested_label, label_quality, is_label_issue`` plus
        ``suggested_probability`` and ``text`` (when the audit used text). Rows that were not audited (dropped
        for a missing label) appear with empty fields and ``is_label_issue = False`` unless
        ``include_unaudited=False``.
        """
        if self.multi_label:
            suggested_prob = np.where(self.suggested, self.pred_probs, 1 - self.pred_probs).min(axis=1)
        else:
            suggested_prob = self.pred_probs[np.arange(self.n_rows), self.suggested]
        frame = pd.DataFrame(
            {
                "row": self.row_ids.astype(np.int64),
                "given_label": self._names(self.given),
                "suggested_label": self._names(self.suggested),
                "label_quality": self.label_quality.astype(np.float64),
                "is_label_issue": self.is_issue.astype(bool),
                "suggested_probability": suggested_prob.astype(np.float64),
            }
        )
        duplicates, outliers = self.checks.get("duplicates"), self.checks.get("outliers")
        if duplicates is not None:
            frame["duplicate_group"] = np.asarray(duplicates["row_group"], dtype=np.int64)
            frame["has_conflicting_duplicate"] = np.asarray(duplicates["row_conflict"], dtype=bool)
        if outliers is not None:
            frame["outlier_score"] = np.asarray(outliers["scores"], dtype=np.float64)
            frame["is_outlier"] = np.asarray(outliers["is_outlier"], dtype=bool)
        judge = self.checks.get("llm_judge")
        if judge is not None:
            frame["llm_judge_yes"] = np.asarray(judge["yes"], dtype=np.float64)
            frame["combined_quality"] = np.asarray(judge["combined"], dtype=np.float64)
        if self.texts is not None:
            frame["text"] = self.texts
        if include_unaudited and self.n_input_rows is not None and self.n_input_rows > self.n_rows:
            missing = np.setdiff1d(np.arange(self.n_input_rows), self.row_ids)
            filler = pd.DataFrame({"row": missing, "is_label_issue": False})
            frame = pd.concat([frame, filler], ignore_index=True).sort_values("row", kind="stable")
            frame = frame.reset_index(drop=True)
        return frame

    def summary(self) -> dict:
        """Every headline number as plain JSON-serialisable values."""
        out = {
            "source": self.source,
            "label_column": self.label_column,
            "rows_audited": self.n_rows,
            "rows_in_input": self.n_input_rows if self.n_input_rows is not None else self.n_rows,
            "classes": len(self.classes),
            "multi_label": self.multi_label,
            "filter_by": self.filter_by,
            "quality_method": self.quality_method,
            "flagged": self.n_issues,
            "flagged_share": self.n_issues / max(self.n_rows, 1),
            "estimated_error_rate": self.error_rate,
            "estimated_error_rate_interval": list(self.error_rate_interval) if self.error_rate_interval else None,
            "settings": self.settings,
        }
        if "duplicates" in self.checks:
            d = self.checks["duplicates"]
            out["duplicates"] = {k: d[k] for k in ("threshold", "duplicate_rows", "groups", "conflicting_pairs",
                                                   "conflicting_rows")}
        if "outliers" in self.checks:
            out["outliers"] = self.checks["outliers"]["n_outliers"]
        if "balance" in self.checks:
            out["imbalance_ratio"] = self.checks["balance"]["imbalance_ratio"]
        if "shift" in self.checks:
            out["shift"] = self.checks["shift"]["verdict"]
        if "llm_judge" in self.checks:
            j = self.checks["llm_judge"]
            out["llm_judge"] = {"rows_judged": j["rows"], "models": j["models"], "prompts": j["prompts"]}
        if self.skipped:
            out["skipped_checks"] = dict(self.skipped)
        if not self.multi_label:
            out["accuracy_of_out_of_fold_model"] = float(np.mean(self.suggested == self.given))
        return out

    def save(self, directory) -> Path:
        """Write ``issues.csv``, ``issues.parquet``, ``per_class.csv``, ``noise_matrix.csv`` (single-label),
        ``top_suggestions.parquet`` (the model's 5 most probable classes per row, for the review app) and
        ``summary.json`` into ``directory`` (created if needed), each atomically. Returns the directory."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        frame = self.to_frame()
        write_table_atomic(frame, directory / "issues.csv")
        write_table_atomic(frame, directory / "issues.parquet")
        write_table_atomic(self.per_class(), directory / "per_class.csv")
        if self.noise is not None:
            noise = pd.DataFrame(self.noise.noise_matrix, index=self.classes, columns=self.classes)
            noise.index.name = "given \\ true"
            write_table_atomic(noise.reset_index(), directory / "noise_matrix.csv")
        write_table_atomic(self.top_suggestions(), directory / "top_suggestions.parquet")
        summary = self.summary()
        if self.source != "<DataFrame>" and Path(self.source).is_file():
            summary["source_path"] = str(Path(self.source).resolve())  # so `labelwise export` can find the table
        write_text_atomic(directory / "summary.json", json.dumps(summary, indent=2) + "\n")
        return directory

    def top_suggestions(self, k: int = 5) -> pd.DataFrame:
        """The k most probable classes of each audited row, long format: ``row, rank (1..k), label, probability``."""
        k = min(k, self.pred_probs.shape[1])
        top = np.argsort(-self.pred_probs, axis=1, kind="stable")[:, :k]
        return pd.DataFrame({
            "row": np.repeat(self.row_ids.astype(np.int64), k),
            "rank": np.tile(np.arange(1, k + 1), self.n_rows),
            "label": [self.classes[j] for j in top.ravel()],
            "probability": np.take_along_axis(self.pred_probs, top, axis=1).ravel().astype(np.float64),
        })

    def __repr__(self) -> str:
        return (
            f"AuditResult({self.n_rows:,} rows, {len(self.classes)} classes, {self.n_issues:,} flagged "
            f"({self.n_issues / max(self.n_rows, 1):.1%}), estimated label error rate {self.error_rate:.1%})"
        )
