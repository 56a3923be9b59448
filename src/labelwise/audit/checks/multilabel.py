"""The multi-label check: per row, which labels are probably missing and which spurious; for the table, label
cardinality, label co-occurrence and each class's missing / spurious counts (cleanlab's per-class quality ranking).

It is filled by the audit workflow from the per-class flags of the audit's own filter (one-vs-rest confident
learning, :func:`labelwise.audit.label_errors.find_label_issues_per_class`), so that a flagged row always names
at least one label and an unflagged row none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

from labelwise.audit.checks.base import CheckResult
from labelwise.audit.multilabel.structure import (
    ClassIssueCounts,
    LabelCardinality,
    LabelCooccurrence,
    class_issue_counts,
    label_cardinality,
    label_cooccurrence,
)

TOP_PAIRS = 20  # label pairs kept in the summary


@dataclass
class MultiLabelSummary:
    """cardinality: labels per row; cooccurrence: the most frequent label pairs (class indices); per_class: each
    class's spurious / missing / given counts; class_order: (K,) class indices, worst first by cleanlab's per-class
    Label Quality Score (1 - spurious / n; ties: more missing first); rows_with_missing / rows_with_spurious: rows
    naming at least one; missing_labels / spurious_labels: annotations in all; health_score: 1 - share of flagged
    rows (cleanlab's overall multi-label health score); delimiter: what joins several labels in one cell."""

    cardinality: LabelCardinality
    cooccurrence: LabelCooccurrence
    per_class: ClassIssueCounts
    class_order: np.ndarray
    rows_with_missing: int
    rows_with_spurious: int
    missing_labels: int
    spurious_labels: int
    health_score: float
    delimiter: str


@dataclass
class MultiLabelCheckResult(CheckResult):
    """``summary``: :class:`MultiLabelSummary`. Per row: ``missing`` / ``spurious`` (n, K) bool, and as the
    ``issues.csv`` columns ``missing_labels`` / ``spurious_labels`` (n,) str, the class names joined by the
    table's delimiter (empty when none)."""

    name: ClassVar[str] = "multilabel"
    row_columns: ClassVar[tuple[str, ...]] = ("missing_labels", "spurious_labels")
    summary: MultiLabelSummary
    missing: np.ndarray
    spurious: np.ndarray
    missing_labels: np.ndarray
    spurious_labels: np.ndarray


def multilabel_check(given: np.ndarray, per_class_issues: np.ndarray, classes: Sequence[str],
                     delimiter: str = "|") -> MultiLabelCheckResult:
    """given: (n, K) bool; per_class_issues: (n, K) bool flags of (row, class) annotations; classes: (K,) names."""
    given, issues = np.asarray(given, bool), np.asarray(per_class_issues, bool)
    missing, spurious = issues & ~given, issues & given
    counts = class_issue_counts(given, issues)
    order = np.lexsort((np.arange(len(classes)), -counts.missing, -counts.spurious))
    n = max(given.shape[0], 1)
    summary = MultiLabelSummary(
        cardinality=label_cardinality(given), cooccurrence=label_cooccurrence(given, TOP_PAIRS), per_class=counts,
        class_order=order, rows_with_missing=int(missing.any(axis=1).sum()),
        rows_with_spurious=int(spurious.any(axis=1).sum()), missing_labels=int(missing.sum()),
        spurious_labels=int(spurious.sum()), health_score=float(1.0 - issues.any(axis=1).sum() / n),
        delimiter=delimiter,
    )
    return MultiLabelCheckResult(summary, missing, spurious, _joined(missing, classes, delimiter),
                                 _joined(spurious, classes, delimiter))


def _joined(flags: np.ndarray, classes: Sequence[str], delimiter: str) -> np.ndarray:
    """(n, K) bool -> (n,) str: the flagged classes' names joined by ``delimiter``."""
    names = np.asarray(classes, dtype=str)
    out = np.full(flags.shape[0], "", dtype=object)
    for i in np.flatnonzero(flags.any(axis=1)):
        out[i] = delimiter.join(names[flags[i]])
    return out.astype(str)
