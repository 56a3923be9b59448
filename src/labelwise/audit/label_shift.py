"""Label shift between a labelled source split and a target split: is the class mix different, and what is it?

Seed paper: Park, Yang, Choo, Yun, "Label Shift Adapter for Test-Time Adaptation under Covariate and Label
Shifts" (ICCV 2023, arXiv 2308.08810). Its adapter is driven by an *estimate of the target label distribution*;
this module is that estimation step, as an audit of two splits (the adapter itself belongs to ``learn``):

- :func:`label_count_test`: when both splits are labelled, a chi-square test of homogeneity of the label counts,
  with Cramér's V as the effect size (with thousands of rows a negligible shift is still "significant").
- :func:`bbse`: Black Box Shift Estimation (Lipton, Wang, Smola, "Detecting and Correcting for Label Shift with
  Black Box Predictors", ICML 2018). For a fixed classifier, label shift leaves ``P(prediction | y)`` unchanged,
  so ``mu_t = C w`` with ``C[i, j] = P_s(pred = i, y = j)``, ``mu_t[i] = P_t(pred = i)`` and
  ``w[j] = p_t(j) / p_s(j)``; solve for ``w``.
- :func:`mlls`: maximum-likelihood label shift by EM (Saerens, Latinne, Decaestecker, "Adjusting the Outputs of a
  Classifier to New a Priori Probabilities: A Simple Procedure", Neural Computation 2002), optionally after
  bias-corrected temperature scaling (:class:`BiasCorrectedTemperatureScaling`) fitted on held-out source
  predictions, as Alexandari, Kundaje, Shrikumar recommend ("Maximum Likelihood with Bias-Corrected Calibration is
  Hard-To-Beat at Label Shift Adaptation", ICML 2020).
- :func:`estimate_target_prior`: either estimator with a percentile bootstrap interval, the L1 size of the shift
  and the importance weights ``p_t(y) / p_s(y)`` that correct a source-trained model.

Arrays everywhere:

    source_probs:  (n_s, k) float   held-out (out-of-fold) P(y | x) on the labelled source split
    source_labels: (n_s,) int in [0, k)
    target_probs:  (n_t, k) float   the same classifier's P(y | x) on the target split (no labels needed)

Both estimators assume *label shift* only: ``p(x | y)`` is the same in both splits. Under covariate shift as
well their estimates are biased (that joint case is what the seed paper's adapter addresses).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import optimize, sparse
from scipy import stats as _stats
from scipy.special import softmax
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from labelwise.errors import ParameterError, ShapeError

__all__ = [
    "ShiftTest",
    "label_count_test",
    "bbse",
    "BiasCorrectedTemperatureScaling",
    "mlls",
    "PriorEstimate",
    "estimate_target_prior",
    "METHODS",
]

METHODS = ("mlls", "bbse")
"""Estimators accepted by :func:`estimate_target_prior`."""

# The matrix products here are small ((block x n) @ (n x k)); multi-threaded BLAS spends more time waking and
# syncing threads than computing, and on a busy machine (2 cores, another job running) it was measured 5-100x
# slower than one thread. The heavy loops therefore run with BLAS limited to one thread.
_BLAS_THREADS = 1

_LOG_FLOOR = 1e-300  # probabilities are floored here before taking logs (exact zeros stay finite)
_TINY = 1e-300


# --------------------------------------------------------------------------------------------------------------
# validation


def _check_labels(labels, n_classes: int, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ShapeError(f"{name} must be a 1-D array of class indices; got shape {labels.shape}.")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise ShapeError(f"{name} must be integer class indices 0..k-1; encode string labels first.")
    labels = labels.astype(np.int64, copy=False)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ShapeError(
            f"{name} must lie in 0..{n_classes - 1} ({n_classes} classes); found {labels.min()}..{labels.max()}."
        )
    return labels


def _check_probs(probs, name: str, n_classes: Optional[int] = None) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ShapeError(f"{name} must be a 2-D array (n_rows, n_classes); got shape {probs.shape}.")
    if probs.shape[0] == 0:
        raise ShapeError(f"{name} has no rows.")
    if probs.shape[1] < 2:
        raise ShapeError(f"{name} needs at least two classes (columns); got {probs.shape[1]}.")
    if n_classes is not None and probs.shape[1] != n_classes:
        raise ShapeError(
            f"{name} has {probs.shape[1]} columns but source_probs has {n_classes}; both splits must be scored "
            "by the same classifier over the same classes."
        )
    lo, hi = probs.min(), probs.max()
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < -1e-6 or hi > 1 + 1e-3:
        raise ShapeError(
            f"{name} must hold probabilities in [0, 1]; found values from {lo:.4g} to {hi:.4g}. "
            "Pass softmax outputs, not logits, and check for NaN."
        )
    return probs


def _check_source(source_probs, source_labels) -> tuple[np.ndarray, np.ndarray]:
    source_probs = _check_probs(source_probs, "source_probs")
    labels = _check_labels(source_labels, source_probs.shape[1], "source_labels")
    if labels.shape[0] != source_probs.shape[0]:
        raise ShapeError(
            f"source_labels has {labels.shape[0]} rows but source_probs has {source_probs.shape[0]}; they must "
            "describe the same rows."
        )
    return source_probs, labels


# --------------------------------------------------------------------------------------------------------------
# detection: both splits labelled


@dataclass
class ShiftTest:
    """Chi-square test of homogeneity of the class counts of two labelled splits.

    statistic:   Pearson's X^2 on the 2 x c table (c = classes present in either split; no continuity correction)
    dof:         c - 1
    p_value:     P(X^2 >= statistic) under "same class distribution"
    cramers_v:   effect size sqrt(X^2 / n) in [0, 1] (0: identical mixes; 1: no class shared); by Cohen's rule of
                 thumb below 0.1 is negligible, 0.1 small, 0.3 medium, 0.5 large
    shifted:     p_value < alpha
    verdict:     one plain sentence, starting "label shift detected (p=...)" or "no evidence of label shift (p=...)"
    alpha:       the significance level used
    n_source, n_target: rows in each split
    n_classes_tested:   c
    small_expected_fraction: share of the 2c cells whose expected count is below 5 (above 0.2 the chi-square
                 approximation is rough, and the verdict says so)
    """

    statistic: float
    dof: int
    p_value: float
    cramers_v: float
    shifted: bool
    verdict: str
    alpha: float
    n_source: int
    n_target: int
    n_classes_tested: int
    small_expected_fraction: float


def _effect_size_word(v: float) -> str:
    return "negligible" if v < 0.1 else "small" if v < 0.3 else "medium" if v < 0.5 else "large"


def label_count_test(source_labels, target_labels, n_classes: int, *, alpha: float = 0.05) -> ShiftTest:
    """Test whether two labelled splits share one class distribution (chi-square test of homogeneity).

    source_labels: (n_s,) int in [0, n_classes); target_labels: (n_t,) int in [0, n_classes).
    Builds the 2 x k table of class counts, drops classes absent from both splits and runs
    :func:`scipy.stats.chi2_contingency` without Yates' correction (so X^2 and Cramér's V are the textbook ones
    for every k). Read ``cramers_v`` next to ``p_value``: with large splits a tiny, harmless shift is
    "significant".
    """
    if int(n_classes) < 1:
        raise ParameterError(f"n_classes must be at least 1; got {n_classes}.")
    if not 0.0 < alpha < 1.0:
        raise ParameterError(f"alpha must be in (0, 1); got {alpha}.")
    n_classes = int(n_classes)
    source = _check_labels(source_labels, n_classes, "source_labels")
    target = _check_labels(target_labels, n_classes, "target_labels")
    if source.size == 0 or target.size == 0:
        raise ShapeError(
            f"both splits need at least one label; got {source.size} source and {target.size} target labels."
        )
    table = np.stack([np.bincount(source, minlength=n_classes), np.bincount(target, minlength=n_classes)])
    table = table[:, table.sum(axis=0) > 0]
    c = table.shape[1]
    if c < 2:
        return ShiftTest(
            statistic=0.0, dof=0, p_value=1.0, cramers_v=0.0, shifted=False,
            verdict="no evidence of label shift (p=1; both splits hold the same single class)",
            alpha=alpha, n_source=int(source.size), n_target=int(target.size), n_classes_tested=c,
            small_expected_fraction=0.0,
        )
    statistic, p_value, dof, expected = _stats.chi2_contingency(table, correction=False)
    statistic, p_value = float(statistic), float(p_value)
    v = float(np.sqrt(statistic / table.sum()))  # min(rows, columns) - 1 = 1 for a 2 x c table
    small = float(np.mean(expected < 5))
    shifted = p_value < alpha
    head = "label shift detected" if shifted else "no evidence of label shift"
    verdict = f"{head} (p={p_value:.3g}; Cramér's V={v:.3f}, {_effect_size_word(v)} effect)"
    if small > 0.2:
        verdict += (
            f"; {small:.0%} of expected counts are below 5, so the chi-square p-value is only approximate"
        )
    return ShiftTest(
        statistic=statistic, dof=int(dof), p_value=p_value, cramers_v=v, shifted=shifted, verdict=verdict,
        alpha=alpha, n_source=int(source.size), n_target=int(target.size), n_classes_tested=c,
        small_expected_fraction=small,
    )


# --------------------------------------------------------------------------------------------------------------
# BBSE


def _prediction_matrix(probs: np.ndarray, soft: bool) -> np.ndarray:
    """(n, k): the probabilities themselves (soft) or the one-hot argmax (hard; ties to the lowest index)."""
    if soft:
        return probs
    onehot = np.zeros_like(probs)
    onehot[np.arange(probs.shape[0]), probs.argmax(axis=1)] = 1.0
    return onehot


def _joint_operator(predictions: np.ndarray, labels: np.ndarray) -> sparse.csr_matrix:
    """(k*k, n) sparse S with ``S @ m / n`` = the flattened confusion matrix ``C[i, j]`` under row weights m.

    Column r holds ``predictions[r, i]`` at row ``i * k + labels[r]``.
    """
    n, k = predictions.shape
    rows, cols = np.nonzero(predictions)
    flat = cols * k + labels[rows]
    return sparse.csr_matrix((predictions[rows, cols], (flat, rows)), shape=(k * k, n))


def _bbse_solve(confusion: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Target priors from confusion matrices (..., k, k) and target prediction rates (..., k) -> (..., k).

    ``w = pinv(C) mu`` (the minimum-norm least-squares solution, robust to a singular C), clipped at 0, times the
    source prior ``p_s(j) = sum_i C[i, j]``, renormalised; the source prior itself where nothing is left.
    """
    weights = np.einsum("...ij,...j->...i", np.linalg.pinv(confusion), mu)
    source_prior = confusion.sum(axis=-2)
    prior = np.clip(weights, 0.0, None) * source_prior
    total = prior.sum(axis=-1, keepdims=True)
    fallback = source_prior / np.maximum(source_prior.sum(axis=-1, keepdims=True), _TINY)
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
    source_probs, labels = _check_source(source_probs, source_labels)
    target_probs = _check_probs(target_probs, "target_probs", source_probs.shape[1])
    k = source_probs.shape[1]
    confusion = (_joint_operator(_prediction_matrix(source_probs, soft), labels).sum(axis=1).A1 / labels.size)
    mu = _prediction_matrix(target_probs, soft).mean(axis=0)
    return _bbse_solve(confusion.reshape(k, k), mu)


# --------------------------------------------------------------------------------------------------------------
# calibration


class BiasCorrectedTemperatureScaling(TransformerMixin, BaseEstimator):
    """Bias-corrected temperature scaling (BCTS; Alexandari, Kundaje, Shrikumar, ICML 2020).

    ``calibrated = softmax(log(probs) / T + b)``: one temperature ``T`` and one bias per class ``b`` (k,), fitted
    by minimising the negative log-likelihood of held-out labelled predictions (L-BFGS on a convex objective).
    The biases matter under label shift: at the optimum the mean calibrated prediction equals the label
    frequencies of the fitting rows (the stationarity condition for ``b``), so the calibrated model's implied
    prior is the source prior.

    fit(probs (n, k), labels (n,) int) -> self; transform(probs (m, k)) -> (m, k) calibrated probabilities.
    Learned: ``temperature_`` float, ``bias_`` (k,) float (centred to mean 0), ``n_iter_`` int.
    """

    def __init__(self, max_iter: int = 1000):
        self.max_iter = max_iter

    def fit(self, probs, labels):
        probs, labels = _check_source(probs, labels)
        logp = np.log(np.maximum(probs, _LOG_FLOOR))
        n, k = logp.shape
        rows = np.arange(n)
        label_counts = np.bincount(labels, minlength=k)
        logp_at_label = logp[rows, labels].sum()

        def nll_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            inv_t, bias = theta[0], theta[1:]
            logits = inv_t * logp + bias
            top = logits.max(axis=1, keepdims=True)
            p = np.exp(logits - top)
            z = p.sum(axis=1, keepdims=True)
            p /= z
            lse_sum = float(top.sum() + np.log(z).sum())
            nll = (lse_sum - inv_t * logp_at_label - bias @ label_counts) / n
            grad_inv_t = (np.einsum("ij,ij->", p, logp) - logp_at_label) / n
            grad_bias = (p.sum(axis=0) - label_counts) / n
            return nll, np.concatenate([[grad_inv_t], grad_bias])

        theta0 = np.concatenate([[1.0], np.zeros(k)])
        with threadpool_limits(limits=_BLAS_THREADS, user_api="blas"):
            result = optimize.minimize(
                nll_and_grad, theta0, jac=True, method="L-BFGS-B",
                bounds=[(1e-6, None)] + [(None, None)] * k,
                options={"maxiter": int(self.max_iter), "gtol": 1e-9, "ftol": 1e-14},
            )
        self.temperature_ = float(1.0 / result.x[0])
        self.bias_ = result.x[1:] - result.x[1:].mean()
        self.n_iter_ = int(result.nit)
        return self

    def transform(self, probs) -> np.ndarray:
        check_is_fitted(self, "bias_")
        probs = _check_probs(probs, "probs", self.bias_.shape[0])
        return softmax(np.log(np.maximum(probs, _LOG_FLOOR)) / self.temperature_ + self.bias_, axis=1)


# --------------------------------------------------------------------------------------------------------------
# MLLS (EM)


def _em(ratios: np.ndarray, init: np.ndarray, weights: Optional[np.ndarray], max_iter: int, tol: float):
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
        denom = np.maximum(current @ ratios.T, _TINY)  # (b, n)
        new = current * ((weights[active] / denom) @ ratios) / total[active]
        new /= new.sum(axis=1, keepdims=True)
        moving = np.abs(new - current).sum(axis=1) >= tol
        q[active] = new
        active = active[moving]
        if active.size == 0:
            return q, it, True
    return q, max_iter, False


def _ratios(probs: np.ndarray, source_prior: np.ndarray) -> np.ndarray:
    seen = source_prior > 0
    return np.where(seen, probs / np.where(seen, source_prior, 1.0), 0.0)


def _calibrated(source_probs, source_labels, target_probs):
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
        source_probs, labels = _check_source(*calibrate_with)
        target_probs = _check_probs(target_probs, "target_probs", source_probs.shape[1])
        target_probs, implied = _calibrated(source_probs, labels, target_probs)
        if source_prior is None:
            source_prior = implied
    else:
        target_probs = _check_probs(target_probs, "target_probs")
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
    with threadpool_limits(limits=_BLAS_THREADS, user_api="blas"):
        q, _, converged = _em(_ratios(target_probs, source_prior), (start / start.sum())[None, :], None,
                              int(max_iter), float(tol))
    if not converged:
        warnings.warn(
            f"MLLS EM did not reach tol={tol:g} in {max_iter} iterations; the estimate may be slightly off. "
            "Raise max_iter or loosen tol.",
            RuntimeWarning,
            stacklevel=2,
        )
    return q[0]


# --------------------------------------------------------------------------------------------------------------
# the estimate with its interval


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
    source_probs, labels = _check_source(source_probs, source_labels)
    target_probs = _check_probs(target_probs, "target_probs", source_probs.shape[1])
    n_s, k = source_probs.shape
    n_t = target_probs.shape[0]
    label_prior = np.bincount(labels, minlength=k) / n_s
    rng = np.random.default_rng(random_state)
    draws = np.empty((n_bootstrap, k))

    if method == "mlls":
        if calibrate:
            target_used, em_prior = _calibrated(source_probs, labels, target_probs)
        else:
            target_used, em_prior = target_probs, label_prior
        point = mlls(target_used, em_prior, max_iter=max_iter, tol=tol)
        ratios = _ratios(target_used, em_prior)
        with threadpool_limits(limits=_BLAS_THREADS, user_api="blas"):
            for start in range(0, n_bootstrap, _BOOTSTRAP_BLOCK):
                b = min(_BOOTSTRAP_BLOCK, n_bootstrap - start)
                weights = _row_weights(rng, b, n_t)
                draws[start : start + b] = _em(ratios, np.tile(point, (b, 1)), weights, max_iter, tol)[0]
    else:
        point = bbse(source_probs, labels, target_probs, soft=soft)
        joint = _joint_operator(_prediction_matrix(source_probs, soft), labels)  # (k*k, n_s)
        target_predictions = _prediction_matrix(target_probs, soft)
        with threadpool_limits(limits=_BLAS_THREADS, user_api="blas"):
            for start in range(0, n_bootstrap, _BOOTSTRAP_BLOCK):
                b = min(_BOOTSTRAP_BLOCK, n_bootstrap - start)
                source_weights = _row_weights(rng, b, n_s)
                target_weights = _row_weights(rng, b, n_t)
                confusion = np.asarray(joint @ source_weights.T).T.reshape(b, k, k) / n_s
                mu = target_weights @ target_predictions / n_t
                draws[start : start + b] = _bbse_solve(confusion, mu)

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
