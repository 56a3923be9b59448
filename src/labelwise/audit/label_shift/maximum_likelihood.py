"""Maximum-likelihood label shift (MLLS) by EM (Saerens, Latinne, Decaestecker, "Adjusting the Outputs of a
Classifier to New a Priori Probabilities: A Simple Procedure", Neural Computation 2002), optionally after
bias-corrected temperature scaling fitted on held-out source predictions, as Alexandari, Kundaje, Shrikumar recommend
(ICML 2020). The EM step also serves the bootstrap in :mod:`.prior_estimate`, many draws at once.
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np
from threadpoolctl import threadpool_limits

from labelwise.audit.label_shift._arrays import BLAS_THREADS, TINY, check_probs, check_source
from labelwise.audit.label_shift.calibration import BiasCorrectedTemperatureScaling
from labelwise.errors import ParameterError, ShapeError


def run_em(ratios: np.ndarray, init: np.ndarray, weights: Optional[np.ndarray], max_iter: int, tol: float):
    """Saerens-Latinne-Decaestecker EM, for one or many row weightings at once.

    ratios: (n, k) = p(y | x_i) / p_s(y) (0 for classes the source never shows); init: (B, k) starting priors;
    weights: (B, n) row multiplicities (bootstrap draws) or None for every row once.
    Each step: ``q <- q * mean_i[ ratios_i / (ratios_i . q) ]`` (the E-step's normalised posterior
    ``p(y | x_i) q(y) / p_s(y)``, averaged: the M-step). A weighting stops once its L1 change is below ``tol``;
    only the ones still moving are updated.
    Returns (q (B, k), n_iter (the most any weighting took), converged (all did)).
    """
    q = init.copy()
    if weights is None:
        weights = np.ones((1, ratios.shape[0]))
    total = weights.sum(axis=1, keepdims=True)
    active = np.arange(q.shape[0])
    for it in range(1, max_iter + 1):
        current = q[active]
        denom = np.maximum(current @ ratios.T, TINY)  # (b, n)
        new = current * ((weights[active] / denom) @ ratios) / total[active]
        new /= new.sum(axis=1, keepdims=True)
        moving = np.abs(new - current).sum(axis=1) >= tol
        q[active] = new
        active = active[moving]
        if active.size == 0:
            return q, it, True
    return q, max_iter, False


def likelihood_ratios(probs: np.ndarray, source_prior: np.ndarray) -> np.ndarray:
    """(n, k) ``probs / source_prior``, 0 for classes the source never shows."""
    seen = source_prior > 0
    return np.where(seen, probs / np.where(seen, source_prior, 1.0), 0.0)


def calibrate_target(source_probs, source_labels, target_probs):
    """Fit BCTS on the source; return (calibrated target (n_t, k), mean calibrated source prediction (k,))."""
    calibrator = BiasCorrectedTemperatureScaling().fit(source_probs, source_labels)
    return calibrator.transform(target_probs), calibrator.transform(source_probs).mean(axis=0)


def mlls(
    target_probs,
    source_prior=None,
    *,
    calibrate_with: Optional[tuple] = None,
    init=None,
    max_iter: int = 1000,
    tol: float = 1e-8,
) -> np.ndarray:
    """Maximum-likelihood estimate of the target class distribution by EM (Saerens, Latinne, Decaestecker 2002).

    target_probs: (n_t, k) P_s(y | x) from a classifier trained (or calibrated) under the source prior.
    source_prior: (k,) that prior, p_s(y). calibrate_with: ``(source_probs (n_s, k), source_labels (n_s,))``
    held-out source predictions; when given, :class:`BiasCorrectedTemperatureScaling` is fitted on them and
    applied to ``target_probs`` first (Alexandari et al. 2020), and ``source_prior`` may be left ``None``: EM then
    uses the mean calibrated source prediction, as the authors' reference code (``abstention``'s
    ``EMImbalanceAdapter``) does, so that "target = source" is exactly a fixed point (no shift found). BCTS's bias
    terms make that mean equal to the source label frequencies at the optimum, so the two choices agree to the
    optimiser's tolerance. init: (k,) starting prior (default ``source_prior``; pass a nearby estimate to
    warm-start). Iterates ``p_t(y) <- mean_i p(y | x_i) p_t(y) / p_s(y) / Z_i`` until the L1 change is below
    ``tol`` (warns after ``max_iter`` steps).

    Returns the target prior, (k,) float64 summing to 1. Classes with ``source_prior == 0`` get 0.
    """
    if calibrate_with is not None:
        if not (isinstance(calibrate_with, (tuple, list)) and len(calibrate_with) == 2):
            raise ParameterError("calibrate_with must be a pair (source_probs, source_labels) or None.")
        source_probs, labels = check_source(*calibrate_with)
        target_probs = check_probs(target_probs, "target_probs", source_probs.shape[1])
        target_probs, implied = calibrate_target(source_probs, labels, target_probs)
        if source_prior is None:
            source_prior = implied
    else:
        target_probs = check_probs(target_probs, "target_probs")
        if source_prior is None:
            raise ParameterError(
                "mlls needs source_prior (the class distribution the classifier was trained under), or "
                "calibrate_with=(source_probs, source_labels) to derive it from held-out source predictions."
            )
    k = target_probs.shape[1]
    source_prior = np.asarray(source_prior, dtype=np.float64)
    if source_prior.shape != (k,) or np.any(source_prior < 0) or source_prior.sum() <= 0:
        raise ShapeError(f"source_prior must be {k} non-negative numbers with a positive sum; got {source_prior!r}.")
    source_prior = source_prior / source_prior.sum()
    start = source_prior if init is None else np.asarray(init, dtype=np.float64)
    if start.shape != (k,) or np.any(start < 0) or start.sum() <= 0:
        raise ShapeError(f"init must be {k} non-negative numbers with a positive sum.")
    start = np.where(source_prior > 0, start, 0.0)
    if start.sum() <= 0:
        start = source_prior
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        q, _, converged = run_em(likelihood_ratios(target_probs, source_prior), (start / start.sum())[None, :],
                                 None, int(max_iter), float(tol))
    if not converged:
        warnings.warn(
            f"MLLS EM did not reach tol={tol:g} in {max_iter} iterations; the estimate may be slightly off. "
            "Raise max_iter or loosen tol.",
            RuntimeWarning,
            stacklevel=2,
        )
    return q[0]
