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

Every function here reads ``pred_probs`` in row chunks: an in-memory array, or data larger than memory (an
``np.memmap``, an ``.npy`` path, Parquet or Arrow; :mod:`labelwise.scale.chunks`). Pass 1 counts the thresholds,
pass 2 the confident joint and a few per-row summaries (both as the mergeable states of
:mod:`labelwise.audit.confident_counts`), and ``prune_by_noise_rate`` reads the rows where another class beats the
given one once more. The in-memory path is the same code over chunks of 32768 rows, so the flags do not depend on
where the data lives or how it is chunked; ties are always broken by row order, so results are deterministic.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import numpy as np

from labelwise.audit.confident_counts import (  # noqa: F401 - calibration and NoiseEstimate are public here too
    _EPS,
    JointCounts,
    NoiseEstimate,
    RowStats,
    ThresholdCounts,
    calibrate_confident_joint,
    chunk_row_stats,
    noise_from_joint as _noise_from_joint,
    num_issues_calibrated,
    round_preserving_row_totals,
)
from labelwise.errors import ParameterError, ShapeError
from labelwise.scale.chunks import ArraySource, ChunkSource, default_chunk_rows, open_probabilities

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

MULTI_LABEL_AUDIT_FILTER = "prune_by_noise_rate"
"""The audit's default filter for a multi-label table (each class one-vs-rest): cleanlab's, so that the flagged rows
are those of ``cleanlab.multilabel_classification.filter.find_label_issues``. On NLU++ BANKING with planted missing
and spurious labels (``bench/multilabel_audit.py``, docs/benchmarks.md) it names 65% of them (0.39 precision);
:data:`AUDIT_FILTER`, chosen on single-label data, finds 11% of the missing ones and flags 1.6x as many rows."""

SCORES = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")


def score_of(filter_by: str) -> str:
    """The per-row quality score that goes with ``filter_by``: the score a ranking filter flags the lowest of
    (``normalized_margin`` for the margin filters, the audit's default among them), else ``self_confidence``
    (cleanlab's ``rank`` default). With it, a ranking filter's flagged rows are exactly the lowest-quality rows, so
    a list sorted by quality (the review app's) shows every flagged row first."""
    return "normalized_margin" if "normalized_margin" in filter_by else "self_confidence"

_CHUNK_ROWS = 1 << 15  # rows per chunk of an in-memory array (a block of 32768 rows stays in cache-friendly sizes)


# --------------------------------------------------------------------------------------------------------------
# validation and opening the input


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
    _check_values(pred_probs)
    return _check_labels(labels, n, k, multi_label=multi_label), pred_probs


def _check_values(block: np.ndarray, start: Optional[int] = None, row_max: Optional[np.ndarray] = None) -> None:
    """Probabilities in [0, 1] (within rounding), no NaN; ``row_max`` (the rows' maxima, NaN where a row has
    one) saves a pass over the block when the caller has it."""
    lo = block.min(initial=0.0)
    hi = block.max(initial=0.0) if row_max is None else row_max.max(initial=0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < -_EPS or hi > 1 + 1e-3:
        where = "" if start is None else f" in rows {start}..{start + block.shape[0] - 1}"
        raise ShapeError(
            f"pred_probs must hold probabilities in [0, 1]; found values from {lo:.4g} to {hi:.4g}{where}. "
            "Pass softmax outputs, not logits, and check for NaN."
        )


def _check_labels(labels, n: int, k: int, *, multi_label: bool = False) -> np.ndarray:
    labels = np.asarray(labels)
    if multi_label:
        if labels.shape != (n, k):
            raise ShapeError(
                f"multi-label labels must be an (n_rows, n_classes) 0/1 indicator matrix of shape {(n, k)}; "
                f"got shape {labels.shape}."
            )
        return labels.astype(bool)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ShapeError(f"labels must have shape ({n},) to match pred_probs {(n, k)}; got {labels.shape}.")
    if n and not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise ShapeError("labels must be integer class indices 0..k-1; encode string labels first.")
    labels = labels.astype(np.int64, copy=False)
    if n and (labels.min() < 0 or labels.max() >= k):
        raise ShapeError(f"labels must lie in 0..{k - 1} (pred_probs has {k} columns); found {labels.min()}..{labels.max()}.")
    return labels


def _open(labels, pred_probs, *, multi_label: bool = False) -> tuple[np.ndarray, ChunkSource]:
    """(labels, a chunk source over pred_probs). An in-memory array is validated whole here; anything else (a
    memmap, an .npy or Parquet path, Arrow data) is validated chunk by chunk as it is read."""
    if isinstance(pred_probs, np.ndarray) and not isinstance(pred_probs, np.memmap):
        labels, pred_probs = _check_inputs(labels, pred_probs, multi_label=multi_label)
        return labels, ArraySource(pred_probs, in_memory=True)
    if multi_label:
        raise ParameterError("multi_label=True needs pred_probs as an in-memory array; load it with "
                             "np.asarray(np.load(path)) or stream one class at a time as single-label data.")
    source = open_probabilities(pred_probs)
    n, k = source.shape
    if k < 2:
        raise ShapeError(f"pred_probs needs at least two classes (columns); got {k}.")
    return _check_labels(labels, n, k), source


def open_chunked(labels, pred_probs, chunk_rows: Optional[int] = None) -> tuple[np.ndarray, ChunkSource, int]:
    """``(labels (n,) int64, a ChunkSource over pred_probs, rows per chunk)``, checked as every function of this
    module checks them: for code that runs the passes itself (``labelwise.scale``'s Ray executor)."""
    labels, source = _open(labels, pred_probs)
    return labels, source, _rows_per_chunk(source, chunk_rows)


def _rows_per_chunk(source: ChunkSource, chunk_rows: Optional[int]) -> int:
    if chunk_rows is not None:
        if chunk_rows < 1:
            raise ParameterError(f"chunk_rows must be at least 1; got {chunk_rows}.")
        return int(chunk_rows)
    if source.in_memory:
        return _CHUNK_ROWS
    return default_chunk_rows(source.shape[1], source.dtype.itemsize)


# --------------------------------------------------------------------------------------------------------------
# the passes over the rows: every function here reads pred_probs through them, in memory or out of core


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


def _map_chunks(fn, source: ChunkSource, rows: int, n_jobs: int):
    """``fn(start, chunk as stored)`` for every chunk, yielded in row order; on ``n_jobs`` threads, reading the next
    chunks while earlier ones are worked on, with at most ``n_jobs`` chunks in flight."""
    chunks = source.iter_chunks(rows, convert=False)
    if n_jobs <= 1:
        for start, raw in chunks:
            yield fn(start, raw)
        return
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        in_flight = []
        for start, raw in chunks:
            in_flight.append(pool.submit(fn, start, raw))
            if len(in_flight) >= n_jobs:
                yield in_flight.pop(0).result()
        for future in in_flight:
            yield future.result()


def _threshold_counts(labels: np.ndarray, source: ChunkSource, rows: int, n_jobs: int) -> ThresholdCounts:
    """Pass 1: the thresholds' counts (reads only ``P[i, given_i]`` of each row)."""
    k = source.shape[1]
    total = ThresholdCounts(k)
    for part in _map_chunks(lambda start, raw: ThresholdCounts(k).update(labels[start : start + raw.shape[0]], raw),
                            source, rows, n_jobs):
        total.merge(part)
    return total


def _stream_stats(
    labels: np.ndarray,
    source: ChunkSource,
    *,
    thresholds: Optional[np.ndarray] = None,
    score: Optional[str] = None,
    n_jobs: Optional[int] = None,
    chunk_rows: Optional[int] = None,
) -> tuple[RowStats, JointCounts, Optional[np.ndarray]]:
    """Pass 1 (unless ``thresholds`` are given) and pass 2: every row's :class:`RowStats`, the counts, and the
    ``score`` of every row when asked. Memory: a few (n,) arrays plus ``n_jobs`` chunks."""
    n, k = source.shape
    rows, jobs = _rows_per_chunk(source, chunk_rows), _jobs(n_jobs)
    if thresholds is None:
        thresholds = _threshold_counts(labels, source, rows, jobs).thresholds
    counts = JointCounts(thresholds)
    dtype = source.dtype
    index = np.int32 if k < 2**31 else np.int64
    stats = RowStats(np.empty(n, dtype), np.empty(n, dtype), np.empty(n, index), np.empty(n, index),
                     np.empty(n, bool))
    scores = None if score is None else np.empty(n, np.float64 if score == "confidence_weighted_entropy" else dtype)

    def one_chunk(start: int, raw: np.ndarray):
        block = source.convert(raw, reuse=True)
        y = labels[start : start + block.shape[0]]
        part = chunk_row_stats(y, block, counts.thresholds)
        if not source.in_memory:
            _check_values(block, start, part.row_max)
        return start, y, part, None if score is None else _scores(y, block, score)

    for start, y, part, part_scores in _map_chunks(one_chunk, source, rows, jobs):
        counts.add_stats(y, part)
        stop = start + y.shape[0]
        for name in RowStats.__dataclass_fields__:
            getattr(stats, name)[start:stop] = getattr(part, name)
        if scores is not None:
            scores[start:stop] = part_scores
    return stats, counts, scores


def _row_stats(labels: np.ndarray, pred_probs: np.ndarray, thresholds=None, n_jobs=None) -> RowStats:
    """:class:`RowStats` of every row of an in-memory (n, k) array."""
    return _stream_stats(labels, ArraySource(pred_probs, in_memory=True), thresholds=thresholds, n_jobs=n_jobs)[0]


# --------------------------------------------------------------------------------------------------------------
# thresholds, the confident joint and the noise estimates


def confident_thresholds(labels, pred_probs, *, chunk_rows: Optional[int] = None) -> np.ndarray:
    """Per-class thresholds ``t_j = mean(P[i, j] for rows labelled j)``, (k,) float64.

    labels: (n,) int; pred_probs: (n, k) float, or a memmap / .npy path / Parquet source (read in chunks).
    A class with no rows gets 2.0, so no example is ever confidently assigned to it.
    """
    labels, source = _open(labels, pred_probs)
    return _threshold_counts(labels, source, _rows_per_chunk(source, chunk_rows), _jobs(None)).thresholds


def confident_counts(labels, pred_probs, *, chunk_rows: Optional[int] = None) -> JointCounts:
    """Pass 1 and pass 2 over the rows: the :class:`JointCounts` (confident joint, label counts, noise estimate).

    labels: (n,) int; pred_probs: (n, k) float, or a memmap / .npy path / Parquet source (read in chunks).
    """
    labels, source = _open(labels, pred_probs)
    return _stream_stats(labels, source, chunk_rows=chunk_rows)[1]


def compute_confident_joint(
    labels, pred_probs, *, calibrate: bool = True, thresholds: Optional[np.ndarray] = None,
    chunk_rows: Optional[int] = None,
) -> np.ndarray:
    """The confident joint ``C[given, true]``: (k, k) int64.

    labels: (n,) int; pred_probs: (n, k) float, or a memmap / .npy path / Parquet source (read in chunks of
    ``chunk_rows``). With ``calibrate`` the rows sum to the given-label counts.
    """
    labels, source = _open(labels, pred_probs)
    counts = _stream_stats(labels, source, thresholds=thresholds, chunk_rows=chunk_rows)[1]
    return counts.calibrated_joint() if calibrate else counts.confident_joint


def estimate_noise(
    labels, pred_probs, *, confident_joint: Optional[np.ndarray] = None, chunk_rows: Optional[int] = None
) -> NoiseEstimate:
    """Noise matrix, inverse noise matrix and class priors from the calibrated confident joint.

    labels: (n,) int; pred_probs: (n, k) float, or a memmap / .npy path / Parquet source (read in chunks).
    """
    labels, source = _open(labels, pred_probs)
    k = source.shape[1]
    if confident_joint is None:
        return _stream_stats(labels, source, chunk_rows=chunk_rows)[1].noise_estimate()
    return _noise_from_joint(np.asarray(confident_joint), np.bincount(labels, minlength=k))


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


def label_quality_scores(
    labels, pred_probs, *, method: str = "self_confidence", multi_label: bool = False, chunk_rows: Optional[int] = None
) -> np.ndarray:
    """Score how likely each given label is correct: (n,) float in [0, 1], lower = more suspicious.

    labels: (n,) int, or (n, k) indicator with ``multi_label``; pred_probs: (n, k) float, or (single-label) a
    memmap / .npy path / Parquet source, read in one pass of ``chunk_rows``-row chunks.
    method: ``self_confidence`` (P[i, given]), ``normalized_margin`` ((P[i, given] - max other + 1) / 2) or
    ``confidence_weighted_entropy`` (log(1 + H/sc) / (H/sc) with H the normalised entropy, sc self-confidence).
    Multi-label: each class is scored one-vs-rest and a row gets its worst class's score.
    """
    if method not in SCORES:
        raise ParameterError(f"method must be one of {', '.join(SCORES)}; got {method!r}.")
    labels, source = _open(labels, pred_probs, multi_label=multi_label)
    if multi_label:
        per_class = np.stack(
            [_scores(y.astype(np.int64), _binary(p), method) for y, p in zip(labels.T, source.array.T)], axis=1
        )
        return per_class.min(axis=1)
    n = source.shape[0]
    out = np.empty(n, np.float64 if method == "confidence_weighted_entropy" else source.dtype)

    def one_chunk(start: int, raw: np.ndarray):
        block = source.convert(raw, reuse=True)
        if not source.in_memory:
            _check_values(block, start)
        return start, _scores(labels[start : start + block.shape[0]], block, method)

    for start, part in _map_chunks(one_chunk, source, _rows_per_chunk(source, chunk_rows), _jobs(None)):
        out[start : start + part.shape[0]] = part
    return out


def _scores(labels: np.ndarray, pred_probs: np.ndarray, method: str) -> np.ndarray:
    """Row by row: a chunk's scores do not depend on the rows around it."""
    self_conf = pred_probs[np.arange(labels.shape[0]), labels]
    if method == "self_confidence":
        return np.array(self_conf)
    if method == "normalized_margin":
        others = pred_probs.copy()
        others[np.arange(labels.shape[0]), labels] = -np.inf
        return (self_conf - others.max(axis=1) + 1) / 2
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


class _TopPerCell:
    """For each (given, true) cell, the ``need[cell]`` rows with the largest margin, ties to the lower row.

    Rows arrive in any order and grouping (``add``); the kept set is bounded by ``sum(need)`` plus a buffer, and
    the selection is by the total order (margin descending, row ascending), so it equals one sort of every row.
    need: (k * k,) int, cell = given * k + true.
    """

    def __init__(self, need: np.ndarray):
        self.need = need
        self.floor = np.full(need.shape, -np.inf)  # a full cell's smallest kept margin: lower ones cannot get in
        self.kept = (np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64))
        self.pending, self.n_pending = [], 0
        self.buffer = max(1 << 16, int(need.sum()))

    def add(self, cells: np.ndarray, margins: np.ndarray, rows: np.ndarray) -> None:
        keep = margins >= self.floor[cells]
        self.pending.append((cells[keep], margins[keep], rows[keep]))
        self.n_pending += int(keep.sum())
        if self.n_pending > self.buffer:
            self._compact()

    def _compact(self) -> None:
        cells, margins, rows = (np.concatenate([part[i] for part in [self.kept, *self.pending]]) for i in range(3))
        self.pending, self.n_pending = [], 0
        order = np.lexsort((rows, -margins, cells))
        cells, margins, rows = cells[order], margins[order], rows[order]
        first = np.ones(cells.shape[0], bool)
        first[1:] = cells[1:] != cells[:-1]
        rank = np.arange(cells.shape[0]) - np.maximum.accumulate(np.where(first, np.arange(cells.shape[0]), 0))
        keep = rank < self.need[cells]
        cells, margins, rows = cells[keep], margins[keep], rows[keep]
        self.kept = (cells, margins, rows)
        full = np.flatnonzero((np.bincount(cells, minlength=self.need.shape[0]) == self.need) & (self.need > 0))
        self.floor[full] = margins[np.searchsorted(cells, full, side="right") - 1]

    def rows(self) -> np.ndarray:
        self._compact()
        return self.kept[2]


def _prune_by_noise_rate(labels, source, prune, stats, min_examples_per_class, n_jobs, rows) -> np.ndarray:
    """For each given class k and true class j, flag the prune[j, k] rows labelled k with the largest
    margin P[i, j] - P[i, k] (ties: the lower row).

    Only rows where some other class beats the given one (row_max > P[i, k]) can have a positive margin, so one
    more pass reads just those rows and keeps each cell's best positive margins; a cell with fewer positive
    margins than rows to flag is then solved among all rows of its class (one more pass, rare). Either way the
    result equals a full sort of every cell.
    """
    n, k = source.shape
    class_sizes = np.bincount(labels, minlength=k)
    need = np.zeros((k, k), dtype=np.int64)  # [given, true]
    for given in range(k):
        targets, counts = _noise_cells(prune, given, class_sizes)
        if class_sizes[given] > min_examples_per_class and targets.size:
            need[given, targets] = counts
    mask = np.zeros(n, dtype=bool)
    if not need.any():
        return mask
    candidates = np.flatnonzero(stats.row_max > stats.self_confidence)
    best = _TopPerCell(need.ravel())
    positives = np.zeros(k * k, dtype=np.int64)
    for cells, margins, at in _cell_margins(labels, source, candidates, need, True, n_jobs, rows):
        positives += np.bincount(cells, minlength=k * k)
        best.add(cells, margins, at)
    short = (positives < need.ravel()) & (need.ravel() > 0)
    mask[best.rows()] = True
    if short.any():  # rare: a cell asks for more rows than have a positive margin
        short_need = np.where(short, need.ravel(), 0).reshape(k, k)
        fallback = _TopPerCell(short_need.ravel())
        members = np.flatnonzero(np.isin(labels, np.flatnonzero(short_need.any(axis=1))))
        for cells, margins, at in _cell_margins(labels, source, members, short_need, False, n_jobs, rows):
            fallback.add(cells, margins, at)
        cells, _, at = best.kept
        mask[:] = False
        mask[at[~short[cells]]] = True
        mask[fallback.rows()] = True
    return mask


def _cell_margins(labels, source, members, need, positive_only, n_jobs, rows):
    """Per chunk: (cells, margins, rows) of the given ``members`` rows (sorted) for every cell with ``need``
    (k, k) > 0, margin ``P[i, true] - P[i, given]``; with ``positive_only`` only the positive margins."""
    k = source.shape[1]

    def one_chunk(start: int, raw: np.ndarray):
        lo, hi = np.searchsorted(members, [start, start + raw.shape[0]])
        at = members[lo:hi]
        if not at.size:
            return None
        sub = source.convert(raw[at - start], reuse=True)
        y = labels[at]
        margins = sub - sub[np.arange(at.size), y][:, None]
        wanted = need[y] > 0
        if positive_only:
            wanted &= margins > 0
        r, j = np.nonzero(wanted)
        return y[r] * k + j, margins[r, j], at[r]

    for part in _map_chunks(one_chunk, source, rows, _jobs(n_jobs)):
        if part is not None:
            yield part


def _noise_cells(prune: np.ndarray, given: int, class_sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The true classes j != given with rows to prune from class ``given``, and how many (capped at its size)."""
    targets = np.flatnonzero(prune[:, given] > 0)
    targets = targets[targets != given]
    return targets, np.minimum(prune[targets, given], class_sizes[given])


def _rows_by_class(labels: np.ndarray, k: int) -> list[np.ndarray]:
    """Row indices of each given class, in row order: list of k (n_c,) int arrays."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    return [order[bounds[c] : bounds[c + 1]] for c in range(k)]


def _prune_by_class(labels, stats: RowStats, k: int, prune, min_examples_per_class) -> np.ndarray:
    """In each given class k flag the n_k - prune[k, k] rows with the lowest P[i, k]."""
    mask = np.zeros(labels.shape[0], dtype=bool)
    for given, rows in enumerate(_rows_by_class(labels, k)):
        if rows.size <= min_examples_per_class:
            continue
        n_issues = int(rows.size - prune[given, given])
        if n_issues >= 1:
            # numpy's default sort: ties are ordered exactly as the reference implementation orders them
            mask[rows[np.argsort(stats.self_confidence[rows])[:n_issues]]] = True
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
    chunk_rows: Optional[int] = None,
) -> np.ndarray:
    """Flag the rows whose given label is probably wrong: (n,) bool.

    labels: (n,) int in [0, k), or (n, k) 0/1 indicator with ``multi_label`` (each class is checked one-vs-rest
    and a row is flagged when any of its classes is); pred_probs: (n, k) out-of-sample probabilities: an array, or
    (single-label) data larger than memory: an ``np.memmap``, a path to an ``.npy`` file, a Parquet file or
    directory, a ``pyarrow`` dataset or table (see :mod:`labelwise.scale.chunks`), read in chunks of
    ``chunk_rows`` rows (default: ~64 MB of float32 per chunk, 32768 rows for an in-memory array) in two passes
    (three for ``prune_by_noise_rate`` and ``both``; the third reads only rows where another class beats the
    given one). Memory is a few (n,) arrays plus ``n_jobs`` chunks; the flags are identical to the in-memory
    path's, whatever the chunking. Multi-label data must be in memory.
    filter_by: one of :data:`FILTERS`; the default, ``prune_by_noise_rate``, is cleanlab's, so that code moving
    from ``cleanlab.filter.find_label_issues`` gets the same rows (the audit defaults to :data:`AUDIT_FILTER`,
    see ``docs/benchmarks.md``). frac_noise: flag only this fraction of the
    estimated errors (the most confident ones; ``prune_*``, ``both`` and ``*_calibrated`` filters, ignored by the
    others as cleanlab ignores it). min_examples_per_class: never prune a class below this many rows.
    confident_joint: a precomputed (k, k) calibrated confident joint to reuse. n_jobs: threads (default: the
    machine's cores); the result does not depend on it.
    """
    _check_filter(filter_by, frac_noise)
    if multi_label:
        return find_label_issues_per_class(labels, pred_probs, filter_by=filter_by, frac_noise=frac_noise,
                                           min_examples_per_class=min_examples_per_class, n_jobs=n_jobs,
                                           chunk_rows=chunk_rows).any(axis=1)
    labels, source = _open(labels, pred_probs)
    return _find_single(labels, source, filter_by, frac_noise, min_examples_per_class, confident_joint, n_jobs,
                        chunk_rows)


def find_label_issues_per_class(
    labels,
    pred_probs,
    *,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    min_examples_per_class: int = 1,
    n_jobs: Optional[int] = None,
    chunk_rows: Optional[int] = None,
) -> np.ndarray:
    """Multi-label: which (row, class) annotations are probably wrong, (n, k) bool; each class is checked one-vs-rest
    (its given 0/1 against ``[1 - p, p]``) with ``filter_by`` (any of :data:`FILTERS`). A row's
    :func:`find_label_issues` flag (``multi_label=True``) is the ``any`` of its row here. With cleanlab's filters
    the flags equal ``cleanlab.multilabel_classification.filter.find_multilabel_issues_per_class`` (as
    :mod:`labelwise.audit.multilabel.filter`'s do).

    labels: (n, k) 0/1 indicator; pred_probs: (n, k) float, in memory.
    """
    _check_filter(filter_by, frac_noise)
    labels, source = _open(labels, pred_probs, multi_label=True)
    flagged = np.zeros(labels.shape, dtype=bool)
    for c, (y, p) in enumerate(zip(labels.T, source.array.T)):
        flagged[:, c] = _find_single(y.astype(np.int64), ArraySource(_binary(p), in_memory=True), filter_by,
                                     frac_noise, min_examples_per_class, None, n_jobs, chunk_rows)
    return flagged


def _check_filter(filter_by: str, frac_noise: float) -> None:
    if filter_by not in FILTERS:
        raise ParameterError(f"filter_by must be one of {', '.join(FILTERS)}; got {filter_by!r}.")
    if not 0.0 <= frac_noise <= 1.0:
        raise ParameterError(f"frac_noise must be in [0, 1]; got {frac_noise}.")


def _find_single(
    labels, source, filter_by, frac_noise, min_examples_per_class, confident_joint, n_jobs=None, chunk_rows=None
) -> np.ndarray:
    n, k = source.shape
    score = filter_by[4:].removesuffix("_calibrated") if filter_by.startswith("low_") else None
    stats, counts, scores = _stream_stats(labels, source, score=score, n_jobs=n_jobs, chunk_rows=chunk_rows)
    if filter_by == "predicted_neq_given":
        return stats.argmax != labels
    if score is not None:
        if filter_by.endswith("_calibrated"):
            joint = counts.calibrated_joint() if confident_joint is None else confident_joint
            n_issues = int(frac_noise * num_issues_calibrated(joint, n))
        else:
            n_issues = counts.n_off_diagonal
        mask = np.zeros(n, dtype=bool)
        mask[np.argsort(scores)[:n_issues]] = True  # default sort: ties ordered as the reference orders them
        return mask
    if filter_by == "confident_learning":
        mask = (stats.confident_class >= 0) & (stats.confident_class != labels)
        return mask & ~stats.predicted_is_given

    if confident_joint is None:
        confident_joint = counts.calibrated_joint()
    prune = prune_counts(confident_joint, min_examples_per_class=min_examples_per_class, frac_noise=frac_noise)
    class_sizes = counts.label_counts
    small = np.flatnonzero((class_sizes > 0) & (class_sizes <= min_examples_per_class))
    if small.size:
        warnings.warn(
            f"{small.size} class(es) have at most {min_examples_per_class} example(s) and were not checked "
            f"(class indices {small[:10].tolist()}).",
            stacklevel=3,
        )
    if filter_by != "prune_by_class":
        rows = _rows_per_chunk(source, chunk_rows)
        by_noise_rate = _prune_by_noise_rate(labels, source, prune, stats, min_examples_per_class, n_jobs, rows)
    if filter_by == "prune_by_class":
        mask = _prune_by_class(labels, stats, k, prune, min_examples_per_class)
    elif filter_by == "prune_by_noise_rate":
        mask = by_noise_rate
    else:  # both
        mask = _prune_by_class(labels, stats, k, prune, min_examples_per_class) & by_noise_rate
    return mask & ~stats.predicted_is_given


def num_label_issues(labels, pred_probs, *, method: str = "off_diagonal", chunk_rows: Optional[int] = None) -> int:
    """Estimated number of wrong labels (cleanlab's ``count.num_label_issues(estimation_method=method)``).

    labels: (n,) int; pred_probs: (n, k) float, or a memmap / .npy path / Parquet source (read in chunks).
    ``off_diagonal``: rows counted off the diagonal of the (uncalibrated) confident joint whose argmax is not
    the given label (what the paper's tutorial uses to size its candidate list); ``off_diagonal_calibrated``:
    the off-diagonal mass of the calibrated joint times n (the audit's estimated error rate times n).
    """
    if method not in ("off_diagonal", "off_diagonal_calibrated"):
        raise ParameterError(f"method must be 'off_diagonal' or 'off_diagonal_calibrated'; got {method!r}.")
    labels, source = _open(labels, pred_probs)
    return _stream_stats(labels, source, chunk_rows=chunk_rows)[1].num_label_issues(method)


def rank_label_issues(mask: np.ndarray, labels, pred_probs, *, method: str = "self_confidence") -> np.ndarray:
    """Indices of the flagged rows, most suspicious first (ascending label-quality score; ties by row order)."""
    scores = label_quality_scores(labels, pred_probs, method=method, multi_label=np.ndim(labels) == 2)
    flagged = np.flatnonzero(mask)
    return flagged[np.argsort(scores[flagged], kind="stable")]
