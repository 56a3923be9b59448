"""The outlier check: rows far from every other row in embedding space.

Per row: ``outlier_score`` in [0, 1] (the percentile of the row's mean cosine distance to its nearest rows; high =
far out), ``outlier_distance`` (that distance) and ``is_outlier_issue``. The algorithm is
:mod:`labelwise.audit.outliers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Union

import numpy as np

from labelwise.audit.checks.base import CheckInputs, CheckResult, Skipped
from labelwise.audit.outliers import outlier_scores


@dataclass
class OutlierSummary:
    """k: neighbours each distance is taken over; n_outliers: rows flagged; threshold: the distance fence."""

    k: int
    n_outliers: int
    threshold: float


@dataclass
class OutliersCheckResult(CheckResult):
    """Per audited row (n): ``outlier_score`` float in [0, 1], ``outlier_distance`` float (mean cosine distance to
    the k nearest rows), ``is_outlier_issue`` bool. ``summary``: :class:`OutlierSummary`."""

    name: ClassVar[str] = "outliers"
    issue: ClassVar[str] = "outlier"
    row_columns: ClassVar[tuple[str, ...]] = ("outlier_score", "outlier_distance", "is_outlier_issue")
    summary: OutlierSummary
    outlier_score: np.ndarray
    outlier_distance: np.ndarray
    is_outlier_issue: np.ndarray


class OutliersCheck:
    name: ClassVar[str] = "outliers"

    def run(self, inputs: CheckInputs) -> Union[OutliersCheckResult, Skipped]:
        if inputs.vectors() is None:
            return inputs.no_features(self.name)
        found = outlier_scores(inputs.vectors(), neighbours=inputs.neighbours())
        return OutliersCheckResult(OutlierSummary(found.k, found.n_outliers, found.threshold),
                                   outlier_score=found.scores, outlier_distance=found.knn_distance,
                                   is_outlier_issue=found.is_outlier)
