"""Confident learning: find the examples whose given label is probably wrong.

Paper: Northcutt, Athalye, Mueller, "Pervasive Label Errors in Test Sets Destabilize Machine Learning
Benchmarks" (NeurIPS 2021 Datasets & Benchmarks), which applies confident learning (Northcutt, Jiang, Chuang,
"Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021) to ten benchmark test sets.

Inputs everywhere are the given labels and out-of-sample predicted probabilities:

    labels:     (n,) int in [0, k)            single-label, or
                (n, k) bool/0-1 indicator     multi-label (``multi_label=True``)
    pred_probs: (n, k) float                  out-of-fold P(class | x); rows sum to 1 for single-label

The method, as implemented here (cleanlab 2.9 is the reference it is tested against):

1. per-class thresholds ``t_j`` = mean predicted probability of class j over the rows labelled j;
2. an example's confident class is the one class with ``P[i, j] >= t_j`` (the argmax of the row when several
   clear their threshold; none when no class does); the **confident joint** ``C[given, true]`` counts rows;
3. calibration rescales each row of C to the given-label counts and rounds preserving row totals;
   ``C / n`` estimates the joint distribution of given and true labels, from which come the noise matrix
   ``P(given=i | true=j)``, the inverse noise matrix ``P(true=j | given=i)`` and the true-class prior;
4. a filter picks the rows to flag (see :data:`FILTERS`); rows whose argmax already equals the given label
   are never flagged.

This implementation works over row chunks with per-class sufficient statistics, so memory stays bounded and
the counts are mergeable across shards; ties are always broken by row order, so results are deterministic.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

import numpy as np

from labelwise.errors import ParameterError, ShapeError

CLEANLAB_FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)
"""The filters of cleanlab 2.9's ``filter.find_label_issues``, under its names; each flags exactly cleanlab's rows."""

FILTERS = CLEANLAB_FILTERS + ("low_self_confidence_calibrated", "low_normalized_margin_calibrated")
"""Ways to choose the flagged rows.

- ``prune_by_noise_rate`` (the default, as in cleanlab): for each off-diagonal cell (given k, true j) of the
  calibrated confident joint, flag the ``C[k, j]`` rows labelled k with the largest margin ``P[i, j] - P[i, k]``;
- ``prune_by_class``: in each class k flag the ``n_k - C[k, k]`` rows with the lowest ``P[i, k]``;
- ``both``: rows flagged by both of the above;
- ``confident_learning``: the rows counted off the diagonal of the confident joint;
- ``predicted_neq_given``: argmax differs from the given label (the simple baseline);
- ``low_normalized_margin`` / ``low_self_confidence``: the lowest-scoring rows, as many as
  ``num_label_issues(method="off_diagonal")`` estimates (the uncalibrated count, as cleanlab does);
- ``low_self_confidence_calibrated`` / ``low_normalized_margin_calibrated`` (not in cleanlab's
  ``find_label_issues``): the lowest-scoring rows, as many as ``num_label_issues(method="off_diagonal_calibrated")``
  estimates, i.e. the estimated error rate times n. This is the cut-off cleanlab's documentation of
  ``count.num_label_issues`` recommends for its ``rank`` scores; with cleanlab it is
  ``argsort(rank.get_label_quality_scores(labels, pred_probs, method=...))[:count.num_label_issues(labels,
  pred_probs, estimation_method="off_diagonal_calibrated")]``. The audit's default is
  ``low_normalized_margin_calibrated`` (:data:`AUDIT_FILTER`, measured against the others in
  ``bench/label_filters.py``).
"""

AUDIT_FILTER = "low_normalized_margin_calibrated"
"""The audit's default filter (``audit_dataset``, ``labelwise audit --filter-by``), chosen on known label errors in
``bench/label_filters.py`` (table and reasons in ``docs/benchmarks.md``). :func:`find_label_issues` itself keeps
cleanlab's default, ``prune_by_noise_rate``, so code switching from cleanlab by import flags the same rows."""

SCORES = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")


def score_of(filter_by: str) -> str:
    """The per-row quality score that goes with ``filter_by``: the score a ranking filter flags the lowest of
    (``normalized_margin`` for the margin filters, the audit's default among them), else ``self_confidence``
    (cleanlab's ``rank`` default). With it, a ranking filter's flagged rows are exactly the lowest-quality rows, so
    a list sorted by quality (the review app's) shows every flagged row first."""
    return "normalized_margin" if "normalized_margin" in filter_by else "self_confidence"

_EPS = 1e-6  # fuzzy comparison used for thresholds and for "argmax equals given label"
_MISSING_CLASS_THRESHOLD = 2.0  # a class with no given labels is never confidently predicted
_CHUNK_ROWS = 1 << 15


# --------------------------------------------------------------------------------------------------------------
# validation


def _check_inputs(labels, pred_probs, *, multi_label: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Return (labels, pred_probs) as arrays after checking shapes and values; float16 is widened to float32."""
    pred_probs = np.asarray(pred_probs)
    if pred_probs.ndim != 2:
        raise ShapeError(f"pred_probs must be a 2-D array (n_rows, n_classes); got shape {pred_probs.shape}.")
    n, k = pred_probs.shape
    if k < 2:
        raise ShapeError(f"pred_probs needs at least two classes (columns); got {k}.")
    if not np.issubdtype(pred_probs.dtype, np.floating):
        pred_probs = pred_probs.astype(np.float64)
    elif pred_probs.dtype == np.float16:
        pred_probs = pred_probs.astype(np.float32)
    lo, hi = pred_probs.min(initial=0.0), pred_probs.max(initial=0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < -_EPS or hi > 1 + 1e-3:
        raise ShapeError(
            f"pred_probs must hold probabilities in [0, 1]; found values from {lo:.4g} to {hi:.4g}. "
            "Pass softmax outputs, not logits, and check for NaN."
        )
    labels = np.asarray(labels)
    if multi_label:
        if labels.shape != (n, k):
            raise ShapeError(
                f"multi-label labels must be an (n_rows, n_classes) 0/1 indicator matrix of shape {(n, k)}; "
                f"got shape {labels.shape}."
            )
        return labels.astype(bool), pred_probs
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ShapeError(f"labels must have shape ({n},) to match pred_probs {pred_probs.shape}; got {labels.shape}.")
    if n and not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise ShapeError("labels must be integer class indices 0..k-1; encode string labels first.")
    labels = labels.astype(np.int64, copy=False)
    if n and (labels.min() < 0 or labels.max() >= k):
        raise ShapeError(f"labels must lie in 0..{k - 1} (pred_probs has {k} columns); found {labels.min()}..{labels.max()}.")
    return labels, pred_probs


# --------------------------------------------------------------------------------------------------------------
# per-row summaries and the confident joint


@dataclass
class _RowStats:
    """One pass over pred_probs: everything the filters need per row, each (n,)."""

    self_confidence: np.ndarray  # P[i, given]
    row_max: np.ndarray  # max of P[i]
    argmax: np.ndarray  # argmax of P[i]; first index among ties
    confident_class: np.ndarray  # the confident ("true") class, or -1 when no class clears its threshold
    predicted_is_given: np.ndarray  # bool: argmax of P after adding 1e-6 to the given class equals the given


def confident_thresholds(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Per-class thresholds ``t_j = mean(P[i, j] for rows labelled j)``, (k,) float64.

    A class with no rows gets 2.0, so no example is ever confidently assigned to it.
    """
    labels, pred_probs = _check_inputs(labels, pred_probs)
    return _thresholds(labels, pred_probs, _self_confidence(labels, pred_probs))


def _self_confidence(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    return pred_probs[np.arange(labels.shape[0]), labels]


def _thresholds(labels: np.ndarray, pred_probs: np.ndarray, self_conf: np.ndarray) -> np.ndarray:
    k = pred_probs.shape[1]
    counts = np.bincount(labels, minlength=k)
    sums = np.bincount(labels, weights=self_conf.astype(np.float64), minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        thresholds = np.where(counts > 0, sums / np.maximum(counts, 1), _MISSING_CLASS_THRESHOLD)
    return np.maximum(thresholds, 2 * _EPS)


def _jobs(n_jobs: Optional[int]) -> int:
    """Threads to use: numpy releases the GIL in the per-chunk and per-class work, so threads scale."""
    if n_jobs is not None and n_jobs >= 1:
        return int(n_jobs)
    return max(1, min(8, os.cpu_count() or 1))


def _parallel(fn, items, n_jobs: int) -> list:
    """``[fn(item) for item in items]``, in order, on up to ``n_jobs`` threads."""
    items = list(items)
    if n_jobs <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        return list(pool.map(fn, items))


def _row_stats(
    labels: np.ndarray, pred_probs: np.ndarray, thresholds: Optional[np.ndarray] = None, n_jobs: Optional[int] = None
) -> _RowStats:
    n, k = pred_probs.shape
    dtype = pred_probs.dtype
    if thresholds is None:
        thresholds = _thresholds(labels, pred_probs, _self_confidence(labels, pred_probs))
    cut = np.asarray(thresholds, dtype=np.float64).astype(dtype) - dtype.type(_EPS)
    count_dtype = np.uint8 if k < 256 else np.int64

    self_conf = np.empty(n, dtype=dtype)
    row_max = np.empty(n, dtype=dtype)
    argmax = np.empty(n, dtype=np.int64)
    confident = np.empty(n, dtype=np.int64)

    def one_chunk(start: int) -> None:  # writes its own slice of the outputs, so chunks run in parallel
        stop = min(start + _CHUNK_ROWS, n)
        block = pred_probs[start:stop]
        rows = np.arange(stop - start)
        above = block >= cut
        n_above = above.view(np.uint8).sum(axis=1, dtype=count_dtype)
        top = block.argmax(axis=1)
        guess = np.where(n_above > 1, top, above.argmax(axis=1))
        guess[n_above == 0] = -1
        argmax[start:stop] = top
        confident[start:stop] = guess
        self_conf[start:stop] = block[rows, labels[start:stop]]
        row_max[start:stop] = block[rows, top]

    _parallel(one_chunk, range(0, n, _CHUNK_ROWS), _jobs(n_jobs))

    # "argmax equals the given label" with the given class nudged up by 1e-6 (near-ties favour the label):
    # above row_max it wins, below it loses; an exact tie is settled as argmax settles it (first index wins)
    boosted = self_conf + dtype.type(_EPS)
    predicted_is_given = boosted > row_max
    for i in np.flatnonzero(boosted == row_max):
        row = pred_probs[i].copy()
        row[labels[i]] = boosted[i]
        predicted_is_given[i] = row.argmax() == labels[i]
    return _RowStats(self_conf, row_max, argmax, confident, predicted_is_given)


def _max_other(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """max over j != given of P[i, j], (n,), computed chunk by chunk."""
    n = labels.shape[0]
    out = np.empty(n, dtype=pred_probs.dtype)
    for start in range(0, n, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, n)
        others = pred_probs[start:stop].copy()
        others[np.arange(stop - start), labels[start:stop]] = -np.inf
        out[start:stop] = others.max(axis=1)
    return out


def _confident_joint_from_stats(labels: np.ndarray, stats: _RowStats, k: int) -> np.ndarray:
    counted = stats.confident_class >= 0
    joint = np.bincount(
        labels[counted] * k + stats.confident_class[counted], minlength=k * k
    ).reshape(k, k)
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1))  # every class keeps one correctly labelled example
    return joint


def round_preserving_row_totals(matrix: np.ndarray) -> np.ndarray:
    """Round each row of a float matrix to integers keeping its (rounded) total: largest remainders go up.

    matrix: (r, c) float -> (r, c) int64.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    out = np.round(matrix)
    for r in range(matrix.shape[0]):
        row, ints = matrix[r], out[r]
        diff = int(np.round(np.round(row.sum()) - ints.sum()))
        if diff == 0:
            continue
        remainder_order = np.argsort(row - ints)  # ascending remainder
        if diff > 0:
            ints[remainder_order[::-1][:diff]] += 1
        else:
            ints[remainder_order[: (-diff)]] -= 1
    return out.astype(np.int64)


def calibrate_confident_joint(joint: np.ndarray, label_counts: np.ndarray) -> np.ndarray:
    """Rescale each row of the confident joint to the given-label counts, total n, integer cells.

    joint: (k, k) counts indexed [given, true]; label_counts: (k,) -> (k, k) int64 with row sums label_counts.
    """
    joint = np.asarray(joint, dtype=np.float64)
    label_counts = np.asarray(label_counts, dtype=np.float64)
    scaled = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-100) * label_counts[:, None]
    scaled = scaled / max(scaled.sum(), 1e-100) * label_counts.sum()
    return round_preserving_row_totals(scaled)


def compute_confident_joint(
    labels, pred_probs, *, calibrate: bool = True, thresholds: Optional[np.ndarray] = None
) -> np.ndarray:
    """The confident joint ``C[given, true]``: (k, k) int64.

    labels: (n,) int; pred_probs: (n, k) float. With ``calibrate`` the rows sum to the given-label counts.
    """
    labels, pred_probs = _check_inputs(labels, pred_probs)
    k = pred_probs.shape[1]
    joint = _confident_joint_from_stats(labels, _row_stats(labels, pred_probs, thresholds), k)
    if calibrate:
        joint = calibrate_confident_joint(joint, np.bincount(labels, minlength=k))
    return joint


@dataclass
class NoiseEstimate:
    """What confident learning estimates about the label noise (all indexed by class).

    confident_joint:      (k, k) int, calibrated counts [given, true]
    joint:                (k, k) float, confident_joint / n
    noise_matrix:         (k, k) float, P(given = i | true = j); columns sum to 1
    inverse_noise_matrix: (k, k) float, P(true = j | given = i) stored [true, given] as cleanlab does; columns
                          sum to 1
    prior_given:          (k,) float, observed label distribution
    prior_true:           (k,) float, estimated distribution of true labels
    error_rate:           float, estimated fraction of wrong labels (off-diagonal mass of ``joint``)
    """

    confident_joint: np.ndarray
    joint: np.ndarray
    noise_matrix: np.ndarray
    inverse_noise_matrix: np.ndarray
    prior_given: np.ndarray
    prior_true: np.ndarray
    error_rate: float


def estimate_noise(labels, pred_probs, *, confident_joint: Optional[np.ndarray] = None) -> NoiseEstimate:
    """Noise matrix, inverse noise matrix and class priors from the calibrated confident joint.

    labels: (n,) int; pred_probs: (n, k) float.
    """
    labels, pred_probs = _check_inputs(labels, pred_probs)
    k = pred_probs.shape[1]
    if confident_joint is None:
        confident_joint = compute_confident_joint(labels, pred_probs, calibrate=True)
    return _noise_from_joint(np.asarray(confident_joint), np.bincount(labels, minlength=k))


def _noise_from_joint(confident_joint: np.ndarray, label_counts: np.ndarray) -> NoiseEstimate:
    counts = confident_joint.astype(np.float64)
    total = max(counts.sum(), 1.0)
    joint = counts / total
    true_totals = np.maximum(counts.sum(axis=0), 1e-100)
    given_totals = np.maximum(counts.sum(axis=1), 1e-100)
    noise = counts / true_totals[None, :]
    inverse = counts.T / given_totals[None, :]
    return NoiseEstimate(
        confident_joint=confident_joint,
        joint=joint,
        noise_matrix=noise,
        inverse_noise_matrix=inverse,
        prior_given=label_counts / max(label_counts.sum(), 1),
        prior_true=joint.sum(axis=0),
        error_rate=float(1.0 - np.trace(joint)),
    )


def error_rate_interval(
    labels, pred_probs, *, n_bootstrap: int = 200, confidence: float = 0.95, random_state: Optional[int] = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval for the estimated label-error rate (off-diagonal mass of the calibrated
    confident joint), resampling rows with replacement.

    labels: (n,) int; pred_probs: (n, k) float. Each row's confident class is computed once with the full-data
    thresholds; each resample recounts and recalibrates the joint (the thresholds' own sampling variation is a
    second-order effect and is left out, which keeps 200 resamples of 100k rows under a second).
    Returns (lower, upper).
    """
    labels, pred_probs = _check_inputs(labels, pred_probs)
    n, k = pred_probs.shape
    stats = _row_stats(labels, pred_probs)
    counted = stats.confident_class >= 0
    cell = np.where(counted, labels * k + np.maximum(stats.confident_class, 0), -1)
    rng = np.random.default_rng(random_state)
    rates = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        sample = rng.integers(0, n, n)
        cells = cell[sample]
        joint = np.bincount(cells[cells >= 0], minlength=k * k).reshape(k, k)
        np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1))
        calibrated = calibrate_confident_joint(joint, np.bincount(labels[sample], minlength=k))
        rates[b] = 1.0 - np.trace(calibrated) / max(calibrated.sum(), 1)
    alpha = (1.0 - confidence) / 2.0
    return float(np.quantile(rates, alpha)), float(np.quantile(rates, 1.0 - alpha))


# --------------------------------------------------------------------------------------------------------------
# label-quality scores


def label_quality_scores(labels, pred_probs, *, method: str = "self_confidence", multi_label: bool = False) -> np.ndarray:
    """Score how likely each given label is correct: (n,) float in [0, 1], lower = more suspicious.

    labels: (n,) int, or (n, k) indicator with ``multi_label``; pred_probs: (n, k) float.
    method: ``self_confidence`` (P[i, given]), ``normalized_margin`` ((P[i, given] - max other + 1) / 2) or
    ``confidence_weighted_entropy`` (log(1 + H/sc) / (H/sc) with H the normalised entropy, sc self-confidence).
    Multi-label: each class is scored one-vs-rest and a row gets its worst class's score.
    """
    if method not in SCORES:
        raise ParameterError(f"method must be one of {', '.join(SCORES)}; got {method!r}.")
    labels, pred_probs = _check_inputs(labels, pred_probs, multi_label=multi_label)
    if multi_label:
        per_class = np.stack(
            [_scores(y.astype(np.int64), _binary(p), method) for y, p in zip(labels.T, pred_probs.T)], axis=1
        )
        return per_class.min(axis=1)
    return _scores(labels, pred_probs, method)


def _scores(labels: np.ndarray, pred_probs: np.ndarray, method: str) -> np.ndarray:
    self_conf = _self_confidence(labels, pred_probs)
    if method == "self_confidence":
        return np.array(self_conf)
    if method == "normalized_margin":
        return (self_conf - _max_other(labels, pred_probs) + 1) / 2
    # confidence_weighted_entropy
    p = pred_probs.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1) / np.log(p.shape[1])
    ratio = entropy / np.maximum(self_conf.astype(np.float64), 1e-6)
    return np.log(ratio + 1.0) / np.maximum(ratio, 1e-6)


def _binary(p: np.ndarray) -> np.ndarray:
    """(n,) probability of a class -> (n, 2) probabilities of [absent, present]."""
    return np.stack([1.0 - p, p], axis=1)


# --------------------------------------------------------------------------------------------------------------
# the filters


def prune_counts(confident_joint: np.ndarray, *, min_examples_per_class: int = 1, frac_noise: float = 1.0) -> np.ndarray:
    """How many rows to prune per (true, given) cell, (k, k) int64, indexed [true, given] (the joint transposed).

    Keeps at least ``min_examples_per_class`` rows in every given class by taking the shortfall evenly from that
    class's non-zero noise cells, then keeps ``frac_noise`` of each noise cell (truncating to whole rows).
    """
    counts = np.asarray(confident_joint, dtype=np.float64).T.copy()
    diagonal = counts.diagonal().copy()
    raised = np.maximum(diagonal, min_examples_per_class)
    shortfall = raised - diagonal
    noise_cells = np.maximum(np.count_nonzero(counts, axis=0) - 1.0, 1.0)
    counts = np.maximum(counts - shortfall / noise_cells, 0.0)
    np.fill_diagonal(counts, raised)
    kept = counts * frac_noise
    np.fill_diagonal(kept, raised)
    np.fill_diagonal(kept, raised + (counts - kept).sum(axis=0))  # what noise cells give up stays in the class
    return kept.astype(np.int64)


def _top_rows(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """For each row r of ``values`` (c, m), mark the ``counts[r]`` largest entries; ties go to the lower index.

    values: (c, m) float; counts: (c,) int in [0, m] -> (c, m) bool.
    """
    c, m = values.shape
    chosen = np.zeros((c, m), dtype=bool)
    active = counts > 0
    if not active.any():
        return chosen
    vals = values[active]
    need = counts[active]
    kmax = int(need.max())
    if kmax >= m:
        top = -np.sort(-vals, axis=1)
    else:
        top = -np.sort(-np.partition(vals, m - kmax, axis=1)[:, m - kmax :], axis=1)
    cutoff = top[np.arange(len(need)), need - 1]  # the need-th largest value per row
    above = vals > cutoff[:, None]
    ties = vals == cutoff[:, None]
    missing = need - above.sum(axis=1)
    sel = above
    tied_rows = np.flatnonzero(ties.sum(axis=1) > missing)
    ties[tied_rows] &= np.cumsum(ties[tied_rows], axis=1) <= missing[tied_rows, None]
    sel |= ties
    chosen[active] = sel
    return chosen


def _rows_by_class(labels: np.ndarray, k: int) -> list[np.ndarray]:
    """Row indices of each given class, in row order: list of k (n_c,) int arrays."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    return [order[bounds[c] : bounds[c + 1]] for c in range(k)]


def _prune_by_noise_rate(labels, pred_probs, prune, stats, min_examples_per_class, n_jobs=None) -> np.ndarray:
    """For each given class k and true class j, flag the prune[j, k] rows labelled k with the largest
    margin P[i, j] - P[i, k].

    Only rows where some other class beats the given one (row_max > P[i, k]) can have a positive margin, so
    each cell is first solved among those candidates; a cell with fewer positive margins than rows to flag
    falls back to all rows of its class. Either way the result equals a full sort with ties by row order.
    Classes are independent and run on up to ``n_jobs`` threads.
    """
    k = pred_probs.shape[1]
    class_sizes = np.bincount(labels, minlength=k)
    candidates = np.flatnonzero(stats.row_max > stats.self_confidence)
    candidates_by_class = _rows_by_class(labels[candidates], k)

    def one_class(given: int) -> tuple[np.ndarray, bool]:
        """Rows flagged in this class, and whether some cell needs all rows of the class."""
        targets, counts = _noise_cells(prune, given, class_sizes)
        if class_sizes[given] <= min_examples_per_class or targets.size == 0:
            return np.empty(0, dtype=np.int64), False
        rows = candidates[candidates_by_class[given]]
        margins = _margins(pred_probs, rows, targets, given)
        enough = (margins > 0).sum(axis=1) >= counts
        flagged = rows[_top_rows(margins[enough], counts[enough]).any(axis=0)]
        return flagged, not enough.all()

    results = _parallel(one_class, range(k), _jobs(n_jobs))
    mask = np.zeros(labels.shape[0], dtype=bool)
    for flagged, _ in results:
        mask[flagged] = True
    fallback = [given for given, (_, needs_all) in enumerate(results) if needs_all]
    if fallback:  # rare: a cell asks for more rows than have a positive margin
        all_rows_by_class = _rows_by_class(labels, k)
        for given in fallback:
            targets, counts = _noise_cells(prune, given, class_sizes)
            rows = all_rows_by_class[given]
            margins = _margins(pred_probs, rows, targets, given)
            mask[rows[_top_rows(margins, counts).any(axis=0)]] = True
    return mask


def _noise_cells(prune: np.ndarray, given: int, class_sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The true classes j != given with rows to prune from class ``given``, and how many (capped at its size)."""
    targets = np.flatnonzero(prune[:, given] > 0)
    targets = targets[targets != given]
    return targets, np.minimum(prune[targets, given], class_sizes[given])


def _margins(pred_probs: np.ndarray, rows: np.ndarray, targets: np.ndarray, given: int) -> np.ndarray:
    """(targets, rows) margins P[row, target] - P[row, given]."""
    sub = pred_probs[rows]  # gathering whole rows first is ~3x faster than a 2-D fancy index
    return (sub[:, targets] - sub[:, [given]]).T


def _prune_by_class(labels, pred_probs, prune, min_examples_per_class) -> np.ndarray:
    """In each given class k flag the n_k - prune[k, k] rows with the lowest P[i, k]."""
    mask = np.zeros(labels.shape[0], dtype=bool)
    for given, rows in enumerate(_rows_by_class(labels, pred_probs.shape[1])):
        if rows.size <= min_examples_per_class:
            continue
        n_issues = int(rows.size - prune[given, given])
        if n_issues >= 1:
            # numpy's default sort: ties are ordered exactly as the reference implementation orders them
            mask[rows[np.argsort(pred_probs[rows, given])[:n_issues]]] = True
    return mask


def find_label_issues(
    labels,
    pred_probs,
    *,
    filter_by: str = "prune_by_noise_rate",
    multi_label: bool = False,
    frac_noise: float = 1.0,
    min_examples_per_class: int = 1,
    confident_joint: Optional[np.ndarray] = None,
    n_jobs: Optional[int] = None,
) -> np.ndarray:
    """Flag the rows whose given label is probably wrong: (n,) bool.

    labels: (n,) int in [0, k), or (n, k) 0/1 indicator with ``multi_label`` (each class is checked one-vs-rest
    and a row is flagged when any of its classes is); pred_probs: (n, k) out-of-sample probabilities.
    filter_by: one of :data:`FILTERS`; the default, ``prune_by_noise_rate``, is cleanlab's, so that code moving
    from ``cleanlab.filter.find_label_issues`` gets the same rows (the audit defaults to :data:`AUDIT_FILTER`,
    see ``docs/benchmarks.md``). frac_noise: flag only this fraction of the
    estimated errors (the most confident ones; ``prune_*``, ``both`` and ``*_calibrated`` filters, ignored by the
    others as cleanlab ignores it). min_examples_per_class: never prune a class below this many rows.
    confident_joint: a precomputed (k, k) calibrated confident joint to reuse. n_jobs: threads (default: the
    machine's cores); the result does not depend on it.
    """
    if filter_by not in FILTERS:
        raise ParameterError(f"filter_by must be one of {', '.join(FILTERS)}; got {filter_by!r}.")
    if not 0.0 <= frac_noise <= 1.0:
        raise ParameterError(f"frac_noise must be in [0, 1]; got {frac_noise}.")
    labels, pred_probs = _check_inputs(labels, pred_probs, multi_label=multi_label)
    if multi_label:
        flagged = np.zeros(labels.shape[0], dtype=bool)
        for y, p in zip(labels.T, pred_probs.T):
            flagged |= _find_single(
                y.astype(np.int64), _binary(p), filter_by, frac_noise, min_examples_per_class, None, n_jobs
            )
        return flagged
    return _find_single(labels, pred_probs, filter_by, frac_noise, min_examples_per_class, confident_joint, n_jobs)


def _find_single(
    labels, pred_probs, filter_by, frac_noise, min_examples_per_class, confident_joint, n_jobs=None
) -> np.ndarray:
    n, k = pred_probs.shape
    stats = _row_stats(labels, pred_probs, n_jobs=n_jobs)
    if filter_by == "predicted_neq_given":
        return stats.argmax != labels
    if filter_by.startswith("low_"):
        score = filter_by[4:].removesuffix("_calibrated")
        scores = _scores(labels, pred_probs, score)
        if filter_by.endswith("_calibrated"):
            if confident_joint is None:
                joint = _confident_joint_from_stats(labels, stats, k)
                confident_joint = calibrate_confident_joint(joint, np.bincount(labels, minlength=k))
            n_issues = int(frac_noise * _num_issues_calibrated(confident_joint, n))
        else:
            n_issues = _num_issues_from_stats(labels, stats)
        mask = np.zeros(n, dtype=bool)
        mask[np.argsort(scores)[:n_issues]] = True  # default sort: ties ordered as the reference orders them
        return mask
    if filter_by == "confident_learning":
        mask = (stats.confident_class >= 0) & (stats.confident_class != labels)
        return mask & ~stats.predicted_is_given

    if confident_joint is None:
        joint = _confident_joint_from_stats(labels, stats, k)
        confident_joint = calibrate_confident_joint(joint, np.bincount(labels, minlength=k))
    prune = prune_counts(confident_joint, min_examples_per_class=min_examples_per_class, frac_noise=frac_noise)
    class_sizes = np.bincount(labels, minlength=k)
    small = np.flatnonzero((class_sizes > 0) & (class_sizes <= min_examples_per_class))
    if small.size:
        warnings.warn(
            f"{small.size} class(es) have at most {min_examples_per_class} example(s) and were not checked "
            f"(class indices {small[:10].tolist()}).",
            stacklevel=3,
        )
    if filter_by == "prune_by_class":
        mask = _prune_by_class(labels, pred_probs, prune, min_examples_per_class)
    elif filter_by == "prune_by_noise_rate":
        mask = _prune_by_noise_rate(labels, pred_probs, prune, stats, min_examples_per_class, n_jobs)
    else:  # both
        mask = _prune_by_class(labels, pred_probs, prune, min_examples_per_class)
        mask &= _prune_by_noise_rate(labels, pred_probs, prune, stats, min_examples_per_class, n_jobs)
    return mask & ~stats.predicted_is_given


def _num_issues_from_stats(labels: np.ndarray, stats: _RowStats) -> int:
    off_diagonal = (stats.confident_class >= 0) & (stats.confident_class != labels)
    return int(np.count_nonzero(off_diagonal & ~stats.predicted_is_given))


def _num_issues_calibrated(confident_joint: np.ndarray, n: int) -> int:
    """The off-diagonal share of a calibrated (k, k) confident joint times n, rounded (cleanlab's arithmetic)."""
    counts = np.asarray(confident_joint, dtype=np.float64)
    return int(np.rint((1.0 - np.trace(counts) / max(counts.sum(), 1e-100)) * n))


def num_label_issues(labels, pred_probs, *, method: str = "off_diagonal") -> int:
    """Estimated number of wrong labels (cleanlab's ``count.num_label_issues(estimation_method=method)``).

    labels: (n,) int; pred_probs: (n, k) float.
    ``off_diagonal``: rows counted off the diagonal of the (uncalibrated) confident joint whose argmax is not
    the given label (what the paper's tutorial uses to size its candidate list); ``off_diagonal_calibrated``:
    the off-diagonal mass of the calibrated joint times n (the audit's estimated error rate times n).
    """
    labels, pred_probs = _check_inputs(labels, pred_probs)
    if method == "off_diagonal":
        return _num_issues_from_stats(labels, _row_stats(labels, pred_probs))
    if method == "off_diagonal_calibrated":
        return _num_issues_calibrated(compute_confident_joint(labels, pred_probs), labels.shape[0])
    raise ParameterError(f"method must be 'off_diagonal' or 'off_diagonal_calibrated'; got {method!r}.")


def rank_label_issues(mask: np.ndarray, labels, pred_probs, *, method: str = "self_confidence") -> np.ndarray:
    """Indices of the flagged rows, most suspicious first (ascending label-quality score; ties by row order)."""
    scores = label_quality_scores(labels, pred_probs, method=method, multi_label=np.ndim(labels) == 2)
    flagged = np.flatnonzero(mask)
    return flagged[np.argsort(scores[flagged], kind="stable")]
