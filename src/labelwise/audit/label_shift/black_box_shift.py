"""Black Box Shift Estimation (BBSE; Lipton, Wang, Smola, "Detecting and Correcting for Label Shift with Black Box
Predictors", ICML 2018).

For a fixed classifier, label shift leaves ``P(prediction | y)`` unchanged, so ``mu_t = C w`` with
``C[i, j] = P_s(pred = i, y = j)``, ``mu_t[i] = P_t(pred = i)`` and ``w[j] = p_t(j) / p_s(j)``; solve for ``w``.
The helpers here also serve the bootstrap in :mod:`.prior_estimate`, many draws at once.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from labelwise.audit.label_shift._arrays import TINY, check_probs, check_source


def prediction_matrix(probs: np.ndarray, soft: bool) -> np.ndarray:
    """(n, k): the probabilities themselves (soft) or the one-hot argmax (hard; ties to the lowest index)."""
    if soft:
        return probs
    onehot = np.zeros_like(probs)
    onehot[np.arange(probs.shape[0]), probs.argmax(axis=1)] = 1.0
    return onehot


def joint_operator(predictions: np.ndarray, labels: np.ndarray) -> sparse.csr_matrix:
    """(k*k, n) sparse S with ``S @ m / n`` = the flattened confusion matrix ``C[i, j]`` under row weights m.

    Column r holds ``predictions[r, i]`` at row ``i * k + labels[r]``.
    """
    n, k = predictions.shape
    rows, cols = np.nonzero(predictions)
    flat = cols * k + labels[rows]
    return sparse.csr_matrix((predictions[rows, cols], (flat, rows)), shape=(k * k, n))


def bbse_solve(confusion: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Target priors from confusion matrices (..., k, k) and target prediction rates (..., k) -> (..., k).

    ``w = pinv(C) mu`` (the minimum-norm least-squares solution, robust to a singular C), clipped at 0, times the
    source prior ``p_s(j) = sum_i C[i, j]``, renormalised; the source prior itself where nothing is left.
    """
    weights = np.einsum("...ij,...j->...i", np.linalg.pinv(confusion), mu)
    source_prior = confusion.sum(axis=-2)
    prior = np.clip(weights, 0.0, None) * source_prior
    total = prior.sum(axis=-1, keepdims=True)
    fallback = source_prior / np.maximum(source_prior.sum(axis=-1, keepdims=True), TINY)
    return np.where(total > 0, prior / np.where(total > 0, total, 1.0), fallback)


def bbse(source_probs, source_labels, target_probs, *, soft: bool = False) -> np.ndarray:
    """Black Box Shift Estimation of the target class distribution (Lipton, Wang, Smola, ICML 2018).

    source_probs: (n_s, k) held-out source P(y | x); source_labels: (n_s,) int; target_probs: (n_t, k).
    Returns the target prior, (k,) float64 summing to 1.

    ``C[i, j] = P_s(pred = i, y = j)`` from the source rows, ``mu_t[i] = P_t(pred = i)`` from the target rows,
    ``w = C^+ mu_t`` (pseudo-inverse: least squares when C is singular), ``w`` clipped at 0, target prior
    ``w * p_s`` renormalised. ``soft=False`` (the paper's estimator) uses one-hot argmax predictions; ``soft=True``
    uses the probabilities in both C and mu_t. A class never seen in the source gets 0.
    """
    source_probs, labels = check_source(source_probs, source_labels)
    target_probs = check_probs(target_probs, "target_probs", source_probs.shape[1])
    k = source_probs.shape[1]
    confusion = (joint_operator(prediction_matrix(source_probs, soft), labels).sum(axis=1).A1 / labels.size)
    mu = prediction_matrix(target_probs, soft).mean(axis=0)
    return bbse_solve(confusion.reshape(k, k), mu)
