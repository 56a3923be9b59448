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
from labelwise.errors import ParameterError

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
    rows, annotators, given = observations(labels)
    m = labels.shape[1]
    cell = annotators * k + given
    observed = np.bincount(cell, minlength=m * k).reshape(m, k) > 0
    counts = label_counts(labels, k)
    posteriors = counts / counts.sum(axis=1, keepdims=True)
    priors = posteriors.mean(axis=0)
    confusion = _m_step(posteriors, rows, cell, observed)
    elbo, previous, iterations = [], -np.inf, 0
    for iterations in range(1, max_iter + 1):
        posteriors = _e_step(priors, confusion, rows, annotators, given, labels.shape[0])
        priors = posteriors.mean(axis=0)
        confusion = _m_step(posteriors, rows, cell, observed)
        posteriors = np.clip(posteriors, _EPS, None)
        elbo.append(_lower_bound(posteriors, priors, confusion, rows, annotators, given))
        if elbo[-1] - previous < tol:
            break
        previous = elbo[-1]
    return DawidSkeneResult(posteriors, confusion, priors, np.argmax(posteriors, axis=1).astype(np.int64),
                            iterations, elbo)


def _m_step(posteriors, rows, cell, observed) -> np.ndarray:
    """(m, K_true, K_given): posterior-weighted label counts, floored at 1e-10 where the label was given at all,
    each true-class row normalised over the labels."""
    m, k = observed.shape
    weighted = np.stack([np.bincount(cell, weights=posteriors[rows, c], minlength=m * k) for c in range(k)], axis=1)
    weighted = weighted.reshape(m, k, k)  # [annotator, given, true]
    weighted = np.where(observed[:, :, None], np.clip(weighted, _EPS, None), 0.0)
    weighted /= weighted.sum(axis=1, keepdims=True)
    return weighted.transpose(0, 2, 1)


def _e_step(priors, confusion, rows, annotators, given, n) -> np.ndarray:
    """(n, K) posteriors: log prior + the sum of the log confusion entries of a row's labels, normalised."""
    k = priors.shape[0]
    with np.errstate(divide="ignore"):
        log_confusion = np.log(confusion)
    log_like = np.stack([np.bincount(rows, weights=log_confusion[annotators, c, given], minlength=n)
                         for c in range(k)], axis=1)
    log_like += np.log(np.clip(priors, _EPS, None))
    log_like -= log_like.max(axis=1, keepdims=True)
    like = np.exp(log_like)
    return like / like.sum(axis=1, keepdims=True)


def _lower_bound(posteriors, priors, confusion, rows, annotators, given) -> float:
    """crowd-kit's evidence lower bound per label: sum over labels of E_q[log pi + log prior] + the entropy of q."""
    with np.errstate(divide="ignore"):
        log_joint = np.log(confusion[annotators, :, given]) + np.log(np.clip(priors, _EPS, None))
    q = posteriors[rows]
    expectation = np.sum(np.where(q > 0, q * log_joint, 0.0))
    entropy = -np.sum(posteriors * np.log(posteriors))
    return float((expectation + entropy) / len(rows))
