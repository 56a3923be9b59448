"""The label-shift check: compare the audited split with another one (e.g. the test set).

When the other split has labels, a chi-square test of the two label counts; when there are probabilities for its
rows (the user's, or the audit's model refitted on this split), its class mix estimated by MLLS with bias-corrected
calibration (and BBSE beside it), with bootstrap intervals; when both splits have vectors, train/test leakage (rows
of the other split with a near-duplicate here). The algorithms are :mod:`labelwise.audit.label_shift` and
:func:`labelwise.audit.duplicates.cross_split_duplicates`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional, Union

import numpy as np
import pandas as pd

from labelwise.audit.checks.base import CheckInputs, CheckResult, Skipped, SkipReason
from labelwise.audit.duplicates import cross_split_duplicates
from labelwise.audit.out_of_fold import suited_to
from labelwise.audit.label_shift import PriorEstimate, ShiftTest, estimate_target_prior, label_count_test
from labelwise.errors import DataError
from labelwise.progress import report

MLLS_NAME = "MLLS with bias-corrected calibration"


@dataclass
class ShiftSummary:
    """other_name, other_rows: the split compared with. verdict: one sentence; short_verdict: a few words.
    test: the chi-square test of the label counts (None when the other split has no labels); unknown_labels: rows of
    the other split whose label is not one of this split's classes (left out of the test); other_prior: (k,) its
    label shares. mlls, bbse: the other split's estimated class mix (None without probabilities for its rows).
    leakage: rows of the other split with a near-duplicate in this one, cosine similarity >= leakage_threshold (None
    without vectors for both); exact_leakage: rows of the other split whose input columns equal, cell for cell, those
    of a row here (None when the audit read no input columns, e.g. with only --pred-probs)."""

    other_name: str
    other_rows: int
    verdict: str
    short_verdict: str
    test: Optional[ShiftTest] = None
    unknown_labels: Optional[int] = None
    other_prior: Optional[np.ndarray] = None
    mlls: Optional[PriorEstimate] = None
    bbse: Optional[PriorEstimate] = None
    leakage: Optional[int] = None
    exact_leakage: Optional[int] = None
    leakage_threshold: Optional[float] = None


@dataclass
class ShiftCheckResult(CheckResult):
    """``summary``: :class:`ShiftSummary`. No per-row columns (the other split's rows are not this table's)."""

    name: ClassVar[str] = "shift"
    summary: ShiftSummary


class ShiftCheck:
    """threshold: cosine similarity at which a row of the other split counts as a copy of one here (leakage)."""

    name: ClassVar[str] = "shift"

    def __init__(self, threshold: float = 0.95):
        self.threshold = threshold

    def run(self, inputs: CheckInputs) -> Union[ShiftCheckResult, Skipped]:
        other = inputs.other
        if other is None:
            return Skipped(self.name, SkipReason.NO_OTHER_SPLIT,
                           "not checked: give another split with --compare-to (e.g. the test set)")
        if inputs.multi_label:
            return Skipped(self.name, SkipReason.MULTI_LABEL,
                           "not checked: label-shift estimation is for single-label data")
        report(inputs.progress, "label shift", 0, 1)
        target_probs, other_vectors = self._other_split(inputs)
        test, unknown, other_prior = self._label_test(inputs)
        mlls = bbse = None
        if target_probs is not None:
            mlls, bbse = (estimate_target_prior(inputs.pred_probs, inputs.given, target_probs, method=method,
                                                random_state=inputs.random_state) for method in ("mlls", "bbse"))
        leakage = None
        if other_vectors is not None:
            leakage = int(len(cross_split_duplicates(inputs.vectors(), other_vectors, threshold=self.threshold)[0]))
        exact = exact_copies(inputs.table, other)
        report(inputs.progress, "label shift", 1, 1)
        if test is not None:
            verdict, short = test.verdict, "shift detected" if test.shifted else "no evidence"
        elif mlls is not None:
            verdict = (f"the other split has no labels; its estimated class mix differs from this split's by "
                       f"L1 distance {mlls.l1_shift:.2f} (0 = identical, 2 = disjoint)")
            short = f"estimated L1 {mlls.l1_shift:.2f}"
        else:
            return Skipped(self.name, SkipReason.NOTHING_TO_COMPARE,
                           "not checked: the other split has no labels and there is no model to predict them")
        return ShiftCheckResult(ShiftSummary(
            other_name=other.source, other_rows=len(other.frame), verdict=verdict, short_verdict=short, test=test,
            unknown_labels=unknown, other_prior=other_prior, mlls=mlls, bbse=bbse, leakage=leakage,
            exact_leakage=exact, leakage_threshold=self.threshold if leakage is not None else None,
        ))

    @staticmethod
    def _other_split(inputs: CheckInputs) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """(probabilities (n_other, k) for the other split's rows or None, its vectors (n_other, d) or None)."""
        other, k = inputs.other, len(inputs.classes)
        if inputs.other_pred_probs is not None:
            probs = np.asarray(inputs.other_pred_probs, dtype=np.float64)
            if probs.shape != (len(other.frame), k):
                raise DataError(f"compare_pred_probs has shape {probs.shape}; expected {(len(other.frame), k)} (one "
                                "row per row of the other split, one column per class).")
            return probs, None
        if inputs.model is None:
            return None, None
        from sklearn.base import clone

        space = inputs.space
        other_X = space.transform(other)
        fitted = suited_to(clone(inputs.model), inputs.given).fit(space.X, inputs.given)
        probs = np.zeros((len(other.frame), k))
        probs[:, fitted.classes_.astype(int)] = fitted.predict_proba(other_X)
        if inputs.vectors() is None:
            return probs, None
        svd = getattr(space, "svd", None)
        return probs, svd.transform(other_X) if svd is not None else np.asarray(other_X, dtype=np.float32)

    @staticmethod
    def _label_test(inputs: CheckInputs) -> tuple[Optional[ShiftTest], Optional[int], Optional[np.ndarray]]:
        """The chi-square test against the other split's labels: (test, rows with an unknown label, its label
        shares (k,)), or three Nones when it has no label column or no known label."""
        label_name, frame = inputs.table.labels.name, inputs.other.frame
        if label_name not in frame.columns:
            return None, None, None
        index = {c: i for i, c in enumerate(inputs.classes)}
        codes = np.array([index.get(str(v).strip(), -1) if not pd.isna(v) else -1 for v in frame[label_name]])
        known = codes[codes >= 0]
        if not known.size:
            return None, None, None
        k = len(inputs.classes)
        test = label_count_test(inputs.given, known, k)
        return test, int((codes < 0).sum()), (np.bincount(known, minlength=k) / known.size).round(6)


def exact_copies(table, other) -> Optional[int]:
    """Rows of ``other`` (a LabelledTable) whose input columns (``table``'s text, feature and embedding columns) equal
    those of a row of ``table`` cell for cell, as read; None when ``table`` has no input columns."""
    columns = list(table.text_columns) + list(table.feature_columns)
    columns += [table.embedding_column] if table.embedding_column else []
    if not columns or any(c not in other.frame.columns for c in columns):
        return None

    def keys(frame: pd.DataFrame) -> np.ndarray:
        return pd.util.hash_pandas_object(frame[columns].astype(str), index=False).to_numpy()

    return int(np.isin(keys(other.frame), keys(table.frame)).sum())
