"""The target split's class distribution with a percentile bootstrap interval, the L1 size of the shift and the
importance weights that correct a source-trained model: :func:`estimate_target_prior` runs MLLS (after BCTS) or BBSE
and bootstraps it, the draws solved in vectorised blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from threadpoolctl import threadpool_limits

from labelwise.audit.label_shift._arrays import BLAS_THREADS, check_probs, check_source
from labelwise.audit.label_shift.black_box_shift import bbse, bbse_solve, joint_operator, prediction_matrix
from labelwise.audit.label_shift.maximum_likelihood import calibrate_target, likelihood_ratios, mlls, run_em
from labelwise.errors import ParameterError

METHODS = ("mlls", "bbse")
"""Estimators accepted by :func:`estimate_target_prior`."""


@dataclass(repr=False)
class PriorEstimate:
    """The target split's estimated class distribution, with a bootstrap interval.

    method:             ``mlls`` or ``bbse``
    estimate:           (k,) estimated target prior p_t(y), sums to 1
    lower, upper:       (k,) percentile bootstrap interval at ``confidence`` (equal to ``estimate`` when
                        ``n_bootstrap=0``)
    source_prior:       (k,) source label frequencies p_s(y)
    l1_shift:           sum |estimate - source_prior| in [0, 2] (0: no shift; the total-variation distance is half)
    importance_weights: (k,) p_t(y) / p_s(y), 0 where the source has no rows of the class: multiply a
                        source-trained model's class probabilities (then renormalise), or weight source rows by
                        their label's weight, to correct for the shift
    confidence:         interval level
    n_bootstrap:        bootstrap draws behind the interval
    """

    method: str
    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    source_prior: np.ndarray
    l1_shift: float
    importance_weights: np.ndarray
    confidence: float
    n_bootstrap: int

    def __repr__(self) -> str:
        top = np.argsort(-np.abs(self.estimate - self.source_prior), kind="stable")[:3]
        moved = ", ".join(f"class {j}: {self.source_prior[j]:.3f} -> {self.estimate[j]:.3f}" for j in top)
        return (
            f"PriorEstimate(method={self.method!r}, k={self.estimate.shape[0]}, l1_shift={self.l1_shift:.3f}, "
            f"{self.confidence:.0%} interval from {self.n_bootstrap} bootstrap draws; largest moves: {moved})"
        )


def _row_weights(rng: np.random.Generator, n_draws: int, n: int) -> np.ndarray:
    """(n_draws, n) float multiplicities of a bootstrap resample of n rows (each draw sums to n)."""
    picks = rng.integers(0, n, size=(n_draws, n)) + (np.arange(n_draws) * n)[:, None]
    return np.bincount(picks.ravel(), minlength=n_draws * n).reshape(n_draws, n).astype(np.float64)


_BOOTSTRAP_BLOCK = 50  # bootstrap draws solved together (bounds memory at ~block * n floats per matrix)


def estimate_target_prior(
    source_probs,
    source_labels,
    target_probs,
    *,
    method: str = "mlls",
    calibrate: bool = True,
    soft: bool = False,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    max_iter: int = 1000,
    tol: float = 1e-8,
    random_state: Optional[int] = 0,
) -> PriorEstimate:
    """Estimate the target split's class distribution from predictions, with a percentile bootstrap interval.

    source_probs: (n_s, k) held-out (out-of-fold) source P(y | x); source_labels: (n_s,) int;
    target_probs: (n_t, k) the same classifier on the target split.

    ``method="mlls"`` (default; Alexandari et al. 2020 find it hard to beat): BCTS fitted on the source rows
    (``calibrate=False`` skips it and uses the source label frequencies as EM's source prior), then EM. The
    bootstrap resamples target rows and warm-starts EM from the point estimate; the calibration is held fixed, so
    the interval reflects target sampling only. ``method="bbse"``: :func:`bbse` (``soft`` as there); the bootstrap
    resamples both source rows (the confusion matrix) and target rows. All draws are solved in vectorised blocks.
    ``random_state`` seeds the bootstrap; the same inputs give the same interval.
    """
    if method not in METHODS:
        raise ParameterError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
    if not 0.0 < confidence < 1.0:
        raise ParameterError(f"confidence must be in (0, 1); got {confidence}.")
    if int(n_bootstrap) < 0:
        raise ParameterError(f"n_bootstrap must be 0 or more; got {n_bootstrap}.")
    n_bootstrap = int(n_bootstrap)
    source_probs, labels = check_source(source_probs, source_labels)
    target_probs = check_probs(target_probs, "target_probs", source_probs.shape[1])
    n_s, k = source_probs.shape
    n_t = target_probs.shape[0]
    label_prior = np.bincount(labels, minlength=k) / n_s
    rng = np.random.default_rng(random_state)
    draws = np.empty((n_bootstrap, k))

    if method == "mlls":
        if calibrate:
            target_used, em_prior = calibrate_target(source_probs, labels, target_probs)
        else:
            target_used, em_prior = target_probs, label_prior
        point = mlls(target_used, em_prior, max_iter=max_iter, tol=tol)
        ratios = likelihood_ratios(target_used, em_prior)
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            for start in range(0, n_bootstrap, _BOOTSTRAP_BLOCK):
                b = min(_BOOTSTRAP_BLOCK, n_bootstrap - start)
                weights = _row_weights(rng, b, n_t)
                draws[start : start + b] = run_em(ratios, np.tile(point, (b, 1)), weights, max_iter, tol)[0]
    else:
        point = bbse(source_probs, labels, target_probs, soft=soft)
        joint = joint_operator(prediction_matrix(source_probs, soft), labels)  # (k*k, n_s)
        target_predictions = prediction_matrix(target_probs, soft)
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            for start in range(0, n_bootstrap, _BOOTSTRAP_BLOCK):
                b = min(_BOOTSTRAP_BLOCK, n_bootstrap - start)
                source_weights = _row_weights(rng, b, n_s)
                target_weights = _row_weights(rng, b, n_t)
                confusion = np.asarray(joint @ source_weights.T).T.reshape(b, k, k) / n_s
                mu = target_weights @ target_predictions / n_t
                draws[start : start + b] = bbse_solve(confusion, mu)

    if n_bootstrap:
        tail = (1.0 - confidence) / 2.0
        lower, upper = np.quantile(draws, [tail, 1.0 - tail], axis=0)
    else:
        lower, upper = point.copy(), point.copy()
    weights = np.divide(point, label_prior, out=np.zeros(k), where=label_prior > 0)
    return PriorEstimate(
        method=method,
        estimate=point,
        lower=lower,
        upper=upper,
        source_prior=label_prior,
        l1_shift=float(np.abs(point - label_prior).sum()),
        importance_weights=weights,
        confidence=float(confidence),
        n_bootstrap=n_bootstrap,
    )
