"""Dawid-Skene: consensus labels and per-annotator confusion matrices by expectation-maximisation.

Paper: Dawid, Skene, "Maximum Likelihood Estimation of Observer Error-Rates Using the EM Algorithm" (Journal of
the Royal Statistical Society C 28(1), 1979). Each annotator j has a confusion matrix ``pi[j, c, l] = P(j says l |
true class c)``; the classes have priors ``p[c]``. E-step: the posterior of each example's class given its labels;
M-step: priors and confusion matrices from the posteriors (counts of labels weighted by posterior). Starts from the
majority-vote distribution of each example, and stops when the evidence lower bound per label improves by less
than ``tol``: the same initialisation, smoothing (1e-10) and stopping rule as crowd-kit's ``DawidSkene``, whose
results it matches (tested), computed with one scatter per class instead of pandas joins.

labels: (n, m) float, class index or NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from labelwise.audit.multiannotator._inputs import as_label_matrix, check_labels, label_counts, observations
from labelwise.errors import ParameterError, ShapeError

_EPS = 1e-10  # crowd-kit's floor for priors, posteriors and confusion entries


@dataclass
class DawidSkeneResult:
    """posteriors: (n, K) P(true class | labels); confusion: (m, K, K) ``[j, true, given]``, rows sum to 1 over the
    labels the annotator gave; priors: (K,); labels: (n,) int64 argmax of the posteriors (lowest class on ties);
    n_iter: EM iterations run; elbo: the evidence lower bound per label after each iteration."""

    posteriors: np.ndarray
    confusion: np.ndarray
    priors: np.ndarray
    labels: np.ndarray
    n_iter: int
    elbo: list = field(default_factory=list)


def dawid_skene(labels_multiannotator, n_classes: Optional[int] = None, max_iter: int = 100, tol: float = 1e-5,
                ) -> DawidSkeneResult:
    """Fit Dawid-Skene by EM. labels_multiannotator: (n, m) float, class index in 0..K-1 or NaN (every row and
    column with at least one label); n_classes: K (default: the largest label + 1); max_iter: EM iterations at
    most; tol: stop when the evidence lower bound per label gains less than this."""
    labels = as_label_matrix(labels_multiannotator)
    check_labels(labels, allow_single_label=True)
    if max_iter < 0:
        raise ParameterError(f"max_iter must be >= 0; got {max_iter}.")
    highest = int(np.nanmax(labels)) + 1
    k = highest if n_classes is None else int(n_classes)
    if k < highest:
        raise ParameterError(f"n_classes={k} but labels_multiannotator uses class {highest - 1}; give n_classes >= "
                             f"{highest}.")
    rows, annotators, given = observations(labels)  # row-major: the rows come sorted
    n, m = labels.shape
    cell = annotators * k + given
    cells = _Cells(cell, rows, m, k)
    row_starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    counts = label_counts(labels, k)
    posteriors = counts / counts.sum(axis=1, keepdims=True)
    priors = posteriors.mean(axis=0)
    confusion = cells.m_step(posteriors)[1]
    log_table = _log_table(confusion, priors)
    elbo, previous, iterations = [], -np.inf, 0
    for iterations in range(1, max_iter + 1):
        posteriors = _e_step(np.take(log_table, cell, axis=0), priors, row_starts)
        priors = posteriors.mean(axis=0)
        sums, confusion = cells.m_step(posteriors)
        posteriors = np.clip(posteriors, _EPS, None)
        log_table = _log_table(confusion, priors)
        # crowd-kit's evidence lower bound per label: E_q[log pi + log prior] over the labels + the entropy of q
        expectation = np.sum(sums * log_table[cells.present])
        elbo.append(float((expectation - np.sum(posteriors * np.log(posteriors))) / rows.size))
        if elbo[-1] - previous < tol:
            break
        previous = elbo[-1]
    return DawidSkeneResult(posteriors, confusion, priors, np.argmax(posteriors, axis=1).astype(np.int64),
                            iterations, elbo)


def dawid_skene_posteriors(labels_multiannotator, priors, confusion) -> np.ndarray:
    """(n, K) P(true class | labels) under given parameters (the E-step): priors (K,), confusion (m, K, K)
    ``[annotator, true, given]`` (e.g. a fitted :class:`DawidSkeneResult`'s, or known ones)."""
    labels = as_label_matrix(labels_multiannotator)
    check_labels(labels, allow_single_label=True)
    rows, annotators, given = observations(labels)
    confusion = np.asarray(confusion, dtype=np.float64)
    priors = np.asarray(priors, dtype=np.float64)
    n_classes = priors.shape[0] if priors.ndim == 1 else -1
    if confusion.shape != (labels.shape[1], n_classes, n_classes) or n_classes <= given.max():
        raise ShapeError(f"confusion must be (m, K, K) = ({labels.shape[1]}, K, K) and priors (K,) with K > "
                         f"{int(given.max())} (the largest label); got confusion {confusion.shape}, priors "
                         f"{priors.shape}.")
    row_starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    table = _log_table(confusion, priors)
    return _e_step(np.take(table, annotators * confusion.shape[1] + given, axis=0), priors, row_starts)


def _e_step(log_joint, priors, row_starts) -> np.ndarray:
    """(n, K): log prior + the log confusion entries of a row's labels (``log_joint`` (nnz, K) adds the prior per
    label: one is kept per row), normalised."""
    per_row = np.diff(np.r_[row_starts, log_joint.shape[0]])
    log_like = np.add.reduceat(log_joint, row_starts, axis=0)
    log_like -= np.log(np.clip(priors, _EPS, None)) * (per_row - 1)[:, None]
    log_like -= log_like.max(axis=1, keepdims=True)
    posteriors = np.exp(log_like)
    return posteriors / posteriors.sum(axis=1, keepdims=True)


class _Cells:
    """The (annotator, given label) cell of each label, sorted once so that the M-step is one gather and one
    ``reduceat``."""

    def __init__(self, cell: np.ndarray, rows: np.ndarray, m: int, k: int):
        order = np.argsort(cell, kind="stable")
        ordered = cell[order]
        self.rows = rows[order]
        self.starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        self.present = ordered[self.starts]
        self.m, self.k = m, k

    def m_step(self, posteriors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the posterior sums of each cell given at all (cells, K), the confusion (m, K_true, K_given)): the
        posterior-weighted label counts, floored at 1e-10 where the label was given, each true-class row normalised
        over the labels."""
        sums = np.add.reduceat(np.take(posteriors, self.rows, axis=0), self.starts, axis=0)
        weighted = np.zeros((self.m * self.k, self.k))
        weighted[self.present] = np.clip(sums, _EPS, None)
        weighted = weighted.reshape(self.m, self.k, self.k)  # [annotator, given, true]
        weighted /= weighted.sum(axis=1, keepdims=True)
        return sums, weighted.transpose(0, 2, 1)


def _log_table(confusion: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """(m * K, K): row ``annotator * K + given`` = log P(given | true class c) + log prior(c) (-inf where never
    given; crowd-kit adds the prior once per label)."""
    m, k, _ = confusion.shape
    with np.errstate(divide="ignore"):
        return np.log(confusion.transpose(0, 2, 1).reshape(m * k, k)) + np.log(np.clip(priors, _EPS, None))
