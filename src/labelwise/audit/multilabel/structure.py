"""The shape of a multi-label table's label sets: how many labels a row carries (cardinality), which labels come
together (co-occurrence, with lift and pointwise mutual information), and, per class, how many annotations look
missing or spurious.

Arrays in, dataclasses of arrays out. Y: (n, K) bool indicator (row i carries class k).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelwise.errors import ParameterError, ShapeError


@dataclass
class LabelCardinality:
    """Labels per row. counts: (m + 1,) int, rows carrying 0, 1, ..., m labels (m = the most any row has);
    mean: labels per row; empty_share: share of rows with no label; max: m; density: mean / K."""

    counts: np.ndarray
    mean: float
    empty_share: float
    max: int
    density: float


@dataclass
class LabelCooccurrence:
    """The label pairs seen together most often, most frequent first (ties: higher lift, then class index).

    first, second: (p,) int class indices (first < second); count: (p,) int rows carrying both;
    lift: (p,) float, n * count / (n_first * n_second), 1 = as often as if independent; pmi: (p,) float, log2(lift);
    npmi: (p,) float, pmi / -log2(count / n) in [-1, 1] (1 = the two always come together).
    pairs_seen: how many distinct pairs occur at all.
    """

    first: np.ndarray
    second: np.ndarray
    count: np.ndarray
    lift: np.ndarray
    pmi: np.ndarray
    npmi: np.ndarray
    pairs_seen: int


@dataclass
class ClassIssueCounts:
    """Per class (K,) int: ``spurious`` rows that carry the class but probably should not, ``missing`` rows that lack
    it but probably should carry it, ``given`` rows that carry it."""

    spurious: np.ndarray
    missing: np.ndarray
    given: np.ndarray


def _indicator(Y) -> np.ndarray:
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ShapeError(f"labels must be an (n, K) indicator matrix; got shape {Y.shape}.")
    return Y.astype(bool)


def label_cardinality(Y) -> LabelCardinality:
    """Labels per row of Y (n, K) bool."""
    Y = _indicator(Y)
    per_row = Y.sum(axis=1)
    n = max(Y.shape[0], 1)
    counts = np.bincount(per_row, minlength=1)
    mean = float(per_row.sum() / n)
    return LabelCardinality(counts=counts, mean=mean, empty_share=float(counts[0] / n), max=int(counts.shape[0] - 1),
                            density=mean / max(Y.shape[1], 1))


def label_cooccurrence(Y, top: int = 20) -> LabelCooccurrence:
    """The ``top`` most frequent label pairs of Y (n, K) bool, with their lift and (normalised) PMI."""
    if top < 0:
        raise ParameterError(f"top must be 0 or more; got {top}.")
    Y = _indicator(Y)
    n = Y.shape[0]
    as_int = Y.astype(np.int64)
    together = as_int.T @ as_int  # (K, K): rows carrying both
    first, second = np.triu_indices(Y.shape[1], k=1)
    count = together[first, second]
    seen = count > 0
    first, second, count = first[seen], second[seen], count[seen]
    single = np.diag(together).astype(np.float64)
    lift = n * count / (single[first] * single[second])
    order = np.lexsort((second, first, -lift, -count))[:top]
    first, second, count, lift = first[order], second[order], count[order], lift[order]
    pmi = np.log2(lift)
    joint = count / n
    with np.errstate(divide="ignore", invalid="ignore"):
        npmi = np.where(joint < 1, pmi / -np.log2(joint), 1.0)
    return LabelCooccurrence(first=first, second=second, count=count, lift=lift, pmi=pmi, npmi=npmi,
                             pairs_seen=int(seen.sum()))


def class_issue_counts(Y, per_class_issues) -> ClassIssueCounts:
    """Y (n, K) bool given labels; per_class_issues (n, K) bool flags -> the per-class counts."""
    Y, issues = _indicator(Y), _indicator(per_class_issues)
    if Y.shape != issues.shape:
        raise ShapeError(f"labels {Y.shape} and per_class_issues {issues.shape} must have the same shape.")
    return ClassIssueCounts(spurious=(issues & Y).sum(axis=0), missing=(issues & ~Y).sum(axis=0),
                            given=Y.sum(axis=0))
