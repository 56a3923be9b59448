"""Confident learning's counts as small mergeable states: one pass per state, any chunking, any merge order.

Paper: Northcutt, Jiang, Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels" (JAIR 2021), as
applied in Northcutt, Athalye, Mueller, "Pervasive Label Errors in Test Sets Destabilize Machine Learning
Benchmarks" (NeurIPS 2021 Datasets & Benchmarks). :mod:`labelwise.audit.label_errors` is the user-facing module
(cleanlab's names and signatures); it runs on these states, in memory and out of core alike.

Two passes over the rows (chunks of ``labels: (m,) int`` and ``pred_probs: (m, k) float``), each a map + merge:

1. :class:`ThresholdCounts` - per-class row counts and the exact sum of ``P[i, given_i]``; its ``.thresholds`` are
   the per-class means ``t_j`` (the confident thresholds);
2. :class:`JointCounts` (built from those thresholds) - the uncalibrated confident joint ``C[given, true]``, the
   label counts and the count of off-diagonal rows whose argmax is not the given label; from it the calibrated
   joint, the :class:`NoiseEstimate` and the estimated number of label issues.

Both states hold only plain numpy arrays and ints (picklable, a few hundred KB at most), so shards can be counted
on other processes or machines and merged in any order or grouping. The result is bit-identical whatever the
chunking or merge order: counts are integers, and the threshold sums are kept exactly (each float64 value is split
into its binary exponent and an integer mantissa; mantissas are added as integers per (class, exponent)), so the
threshold is the correctly rounded mean of the exact sum. Flags computed from merged states are therefore
identical to the in-memory path's.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from labelwise.errors import ShapeError

_EPS = 1e-6  # fuzzy comparison used for thresholds and for "argmax equals given label"
_MISSING_CLASS_THRESHOLD = 2.0  # a class with no given labels is never confidently predicted
_HALF = 26  # integer mantissas (< 2**53) are summed as two halves of at most 27 bits ...
_MAX_UPDATE_ROWS = 1 << _HALF  # ... so per-update float64 bincount sums of up to 2**26 rows stay exact


# --------------------------------------------------------------------------------------------------------------
# pass 1: thresholds


class ThresholdCounts:
    """Per-class sufficient statistics for the confident thresholds: counts and exact sums of ``P[i, given_i]``.

    ``update(labels, pred_probs)`` with chunks ``labels: (m,) int``, ``pred_probs: (m, k) float`` (a memmap slice is
    fine: only ``P[i, given_i]`` is read); ``merge(other)`` adds another shard's state. Both return ``self``.
    """

    def __init__(self, n_classes: int):
        self.n_classes = int(n_classes)
        self.n_rows = 0
        self.label_counts = np.zeros(self.n_classes, dtype=np.int64)
        self._exp0 = 0  # the binary exponent of column 0 of the sums below
        self._hi = np.zeros((self.n_classes, 0), dtype=np.int64)  # (k, exponents) sums of mantissa high halves
        self._lo = np.zeros((self.n_classes, 0), dtype=np.int64)  # ... and low halves

    def update(self, labels, pred_probs) -> "ThresholdCounts":
        labels = np.asarray(labels, dtype=np.int64)
        if labels.size == 0:
            return self
        self_conf = np.asarray(pred_probs[np.arange(labels.shape[0]), labels], dtype=np.float64)
        return self.add_self_confidence(labels, self_conf)

    def add_self_confidence(self, labels: np.ndarray, self_conf: np.ndarray) -> "ThresholdCounts":
        """Count rows from their given labels (m,) int and ``P[i, given_i]`` (m,) float."""
        k = self.n_classes
        for start in range(0, labels.shape[0], _MAX_UPDATE_ROWS):
            y = labels[start : start + _MAX_UPDATE_ROWS]
            mantissa, exponent = np.frexp(np.asarray(self_conf[start : start + _MAX_UPDATE_ROWS], dtype=np.float64))
            ints = np.ldexp(mantissa, 53).astype(np.int64)  # exact: value = ints * 2**(exponent - 53)
            hi = ints >> _HALF
            lo = ints - (hi << _HALF)
            e0 = int(exponent.min())
            width = int(exponent.max()) - e0 + 1
            key = y * width + (exponent - e0)
            sums = [np.rint(np.bincount(key, weights=part.astype(np.float64), minlength=k * width)).astype(np.int64)
                    .reshape(k, width) for part in (hi, lo)]
            self._add(e0, sums[0], sums[1])
            self.label_counts += np.bincount(y, minlength=k)
            self.n_rows += int(y.shape[0])
        self.__dict__.pop("_thresholds", None)
        return self

    def merge(self, other: "ThresholdCounts") -> "ThresholdCounts":
        if other.n_classes != self.n_classes:
            raise ShapeError(f"cannot merge counts over {other.n_classes} classes into counts over {self.n_classes}.")
        if other._hi.shape[1]:
            self._add(other._exp0, other._hi, other._lo)
        self.label_counts += other.label_counts
        self.n_rows += other.n_rows
        self.__dict__.pop("_thresholds", None)
        return self

    def _add(self, e0: int, hi: np.ndarray, lo: np.ndarray) -> None:
        if not self._hi.shape[1]:
            self._exp0, self._hi, self._lo = e0, hi.copy(), lo.copy()
            return
        start = min(self._exp0, e0)
        stop = max(self._exp0 + self._hi.shape[1], e0 + hi.shape[1])
        if (start, stop) != (self._exp0, self._exp0 + self._hi.shape[1]):
            wide = [np.zeros((self.n_classes, stop - start), dtype=np.int64) for _ in range(2)]
            offset = self._exp0 - start
            wide[0][:, offset : offset + self._hi.shape[1]] = self._hi
            wide[1][:, offset : offset + self._lo.shape[1]] = self._lo
            self._exp0, self._hi, self._lo = start, wide[0], wide[1]
        offset = e0 - self._exp0
        self._hi[:, offset : offset + hi.shape[1]] += hi
        self._lo[:, offset : offset + lo.shape[1]] += lo

    @property
    def thresholds(self) -> np.ndarray:
        """``t_j`` = mean of ``P[i, j]`` over the rows labelled j (correctly rounded), (k,) float64.

        A class with no rows gets 2.0 (no example is ever confidently assigned to it); all are at least 2e-6.
        """
        if "_thresholds" not in self.__dict__:
            out = np.full(self.n_classes, _MISSING_CLASS_THRESHOLD)
            scale = self._exp0 - 53  # the exact sum of class c is total * 2**scale
            for c in np.flatnonzero(self.label_counts):
                total = 0
                for e in np.flatnonzero(self._hi[c] | self._lo[c]):
                    total += ((int(self._hi[c, e]) << _HALF) + int(self._lo[c, e])) << int(e)
                count = int(self.label_counts[c])
                out[c] = total / (count << -scale) if scale < 0 else (total << scale) / count  # int / int rounds once
            self._thresholds = np.maximum(out, 2 * _EPS)
        return self._thresholds.copy()


# --------------------------------------------------------------------------------------------------------------
# pass 2: per-row summaries of a chunk and the confident joint


@dataclass
class RowStats:
    """Per-row summaries of a chunk (or of all rows), each (m,).

    self_confidence:    P[i, given]
    row_max:            max of P[i]
    argmax:             argmax of P[i] (the first index among ties)
    confident_class:    the confident ("true") class, or -1 when no class clears its threshold
    predicted_is_given: bool, argmax of P[i] after adding 1e-6 to the given class equals the given class
    """

    self_confidence: np.ndarray
    row_max: np.ndarray
    argmax: np.ndarray
    confident_class: np.ndarray
    predicted_is_given: np.ndarray

    @classmethod
    def concatenate(cls, parts: list) -> "RowStats":
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__))


def chunk_row_stats(labels: np.ndarray, block: np.ndarray, thresholds: np.ndarray) -> RowStats:
    """:class:`RowStats` of one chunk: labels (m,) int, block (m, k) float32/float64, thresholds (k,) float.

    A row's confident class is the one class with ``P[i, j] >= t_j - 1e-6``, or the row's argmax when several
    clear their thresholds (cleanlab's rule). When the argmax clears its own threshold that is the answer either
    way, so only the other rows are compared with every threshold.
    """
    m = labels.shape[0]
    dtype = block.dtype
    cut = np.asarray(thresholds, dtype=np.float64).astype(dtype) - dtype.type(_EPS)
    rows = np.arange(m)
    top = block.argmax(axis=1)
    row_max = block[rows, top]
    self_conf = block[rows, labels]
    confident = top.copy()
    unsure = np.flatnonzero(~(row_max >= cut[top]))
    if unsure.size:
        above = block[unsure] >= cut
        n_above = above.sum(axis=1)
        guess = np.where(n_above > 1, top[unsure], above.argmax(axis=1))
        guess[n_above == 0] = -1
        confident[unsure] = guess
    # "argmax equals the given label" with the given class nudged up by 1e-6 (near-ties favour the label):
    # above row_max it wins, below it loses; an exact tie is settled as argmax settles it (first index wins)
    boosted = self_conf + dtype.type(_EPS)
    predicted_is_given = boosted > row_max
    for i in np.flatnonzero(boosted == row_max):
        row = block[i].copy()
        row[labels[i]] = boosted[i]
        predicted_is_given[i] = row.argmax() == labels[i]
    return RowStats(self_conf, row_max, top, confident, predicted_is_given)


class JointCounts:
    """The confident joint and what the filters count, for rows seen so far, given the thresholds of pass 1.

    ``update(labels, pred_probs)`` with chunks ``labels: (m,) int``, ``pred_probs: (m, k) float``; ``merge(other)``
    adds another shard's state (same thresholds). Both return ``self``.

    confident_joint: (k, k) int64, uncalibrated ``C[given, true]`` (each diagonal cell at least 1, as cleanlab)
    label_counts:    (k,) int64, rows per given class
    n_off_diagonal:  rows counted off the diagonal whose argmax is not the given label (``num_label_issues``'s
                     ``off_diagonal`` estimate)
    """

    def __init__(self, thresholds):
        self.thresholds = np.asarray(thresholds, dtype=np.float64).copy()
        k = self.thresholds.shape[0]
        self.n_rows = 0
        self.label_counts = np.zeros(k, dtype=np.int64)
        self.n_off_diagonal = 0
        self._cells = np.zeros((k, k), dtype=np.int64)

    def update(self, labels, pred_probs) -> "JointCounts":
        labels = np.asarray(labels, dtype=np.int64)
        block = np.asarray(pred_probs)
        if block.dtype == np.float16 or not np.issubdtype(block.dtype, np.floating):
            block = block.astype(np.float32 if block.dtype == np.float16 else np.float64)
        return self.add_stats(labels, chunk_row_stats(labels, block, self.thresholds))

    def add_stats(self, labels: np.ndarray, stats: RowStats) -> "JointCounts":
        """Count a chunk from its :class:`RowStats` (what :meth:`update` does after computing them)."""
        k = self.thresholds.shape[0]
        counted = stats.confident_class >= 0
        self._cells += np.bincount(labels[counted] * k + stats.confident_class[counted], minlength=k * k).reshape(k, k)
        self.label_counts += np.bincount(labels, minlength=k)
        off = counted & (stats.confident_class != labels) & ~stats.predicted_is_given
        self.n_off_diagonal += int(np.count_nonzero(off))
        self.n_rows += int(labels.shape[0])
        return self

    def merge(self, other: "JointCounts") -> "JointCounts":
        if not np.array_equal(other.thresholds, self.thresholds):
            raise ShapeError("cannot merge confident joints counted with different thresholds; count every shard "
                             "with the thresholds of the merged ThresholdCounts.")
        self._cells += other._cells
        self.label_counts += other.label_counts
        self.n_off_diagonal += other.n_off_diagonal
        self.n_rows += other.n_rows
        return self

    @property
    def confident_joint(self) -> np.ndarray:
        joint = self._cells.copy()
        np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1))  # every class keeps one correctly labelled example
        return joint

    def calibrated_joint(self) -> np.ndarray:
        """The calibrated confident joint (rows sum to the label counts), (k, k) int64."""
        return calibrate_confident_joint(self.confident_joint, self.label_counts)

    def noise_estimate(self) -> "NoiseEstimate":
        return noise_from_joint(self.calibrated_joint(), self.label_counts)

    def num_label_issues(self, method: str = "off_diagonal") -> int:
        """``off_diagonal`` (:attr:`n_off_diagonal`) or ``off_diagonal_calibrated`` (calibrated off-diagonal mass x n)."""
        if method == "off_diagonal":
            return self.n_off_diagonal
        return num_issues_calibrated(self.calibrated_joint(), self.n_rows)


# --------------------------------------------------------------------------------------------------------------
# calibration and noise estimates (from the counts alone)


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


def num_issues_calibrated(confident_joint: np.ndarray, n: int) -> int:
    """The off-diagonal share of a calibrated (k, k) confident joint times n, rounded (cleanlab's arithmetic)."""
    counts = np.asarray(confident_joint, dtype=np.float64)
    return int(np.rint((1.0 - np.trace(counts) / max(counts.sum(), 1e-100)) * n))


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


def noise_from_joint(confident_joint: np.ndarray, label_counts: np.ndarray) -> NoiseEstimate:
    """:class:`NoiseEstimate` from a calibrated (k, k) confident joint and the (k,) given-label counts."""
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

