"""The duplicates check: exact and near-duplicate rows, and the duplicates whose labels disagree.

Per row: ``duplicate_group`` (the row's group of (near-)copies, -1 for a row without one) and
``is_duplicate_issue`` (the row has a near-duplicate carrying a different label: at least one of the two labels is
wrong, or the classes overlap). The pairs themselves are kept for the report. The algorithm is
:mod:`labelwise.audit.duplicates`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Union

import numpy as np

from labelwise.audit.checks.base import CheckInputs, CheckResult, Skipped
from labelwise.audit.duplicates import conflicting_duplicates, find_near_duplicates, rows_in_pairs


@dataclass
class DuplicateSummary:
    """threshold: cosine similarity at or above which two rows are duplicates; duplicate_rows: rows with at least
    one duplicate; groups: groups of duplicates; pairs_found, conflicting_pairs: pairs, and pairs whose labels
    differ; conflicting_rows: rows in a conflicting pair."""

    threshold: float
    duplicate_rows: int
    groups: int
    pairs_found: int
    conflicting_pairs: int
    conflicting_rows: int


@dataclass
class DuplicatesCheckResult(CheckResult):
    """Per audited row (n): ``is_duplicate_issue`` bool, ``duplicate_group`` int (-1: none). Per pair (m):
    ``pairs`` (m, 2) int row positions (i < j, positions in the audited rows), ``pair_similarity`` (m,) float
    (1.0 for exact copies), ``pair_conflict`` (m,) bool. ``summary``: :class:`DuplicateSummary`."""

    name: ClassVar[str] = "duplicates"
    issue: ClassVar[str] = "duplicate"
    row_columns: ClassVar[tuple[str, ...]] = ("duplicate_group", "is_duplicate_issue")
    summary: DuplicateSummary
    is_duplicate_issue: np.ndarray
    duplicate_group: np.ndarray
    pairs: np.ndarray
    pair_similarity: np.ndarray
    pair_conflict: np.ndarray


class DuplicatesCheck:
    """threshold: cosine similarity for near-duplicates. Rows with the same text (case and spacing aside) are exact
    duplicates whatever their vectors say."""

    name: ClassVar[str] = "duplicates"

    def __init__(self, threshold: float = 0.95):
        self.threshold = threshold

    def run(self, inputs: CheckInputs) -> Union[DuplicatesCheckResult, Skipped]:
        vectors = inputs.vectors()
        if vectors is None:
            return inputs.no_features(self.name)
        keys = _normalised_text(inputs.table.texts()) if inputs.table.text_columns else None
        found = find_near_duplicates(vectors, threshold=self.threshold, exact_keys=keys,
                                     neighbours=inputs.neighbours())
        conflict = conflicting_duplicates(found.pairs, inputs.given)
        conflicting_rows = rows_in_pairs(found.pairs, inputs.n_rows, conflict)
        summary = DuplicateSummary(
            threshold=float(self.threshold), duplicate_rows=found.n_duplicate_rows, groups=found.n_groups,
            pairs_found=int(len(found.pairs)), conflicting_pairs=int(conflict.sum()),
            conflicting_rows=int(conflicting_rows.sum()),
        )
        return DuplicatesCheckResult(summary, is_duplicate_issue=conflicting_rows, duplicate_group=found.group,
                                     pairs=found.pairs, pair_similarity=found.similarity, pair_conflict=conflict)


def _normalised_text(texts: list[str]) -> np.ndarray:
    return np.array([re.sub(r"\s+", " ", t).strip().lower() for t in texts], dtype=object)
