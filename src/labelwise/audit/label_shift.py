"""Label shift between two splits: is the class mix different, and what is the other split's class mix?

Seed paper: Park, Yang, Lee, Hwang, "Label Shift Adapter for Test-Time Adaptation under Covariate and Label
Shifts" (ICCV 2023): adapting to a new domain starts from an estimate of its label distribution. This module is
that estimation part, with the two standard estimators:

- BBSE, Black Box Shift Estimation (Lipton, Wang, Smola, ICML 2018): invert the source confusion matrix of a
  fixed classifier's hard predictions against the target's predicted-class frequencies;
- MLLS, maximum-likelihood label shift by EM (Saerens, Latinne, Decaestecker, Neural Computation 2002), after
  bias-corrected temperature scaling of the classifier (Alexandari, Kundaje, Shrikumar, ICML 2020: "Maximum
  likelihood with bias-corrected calibration is hard-to-beat at label shift adaptation").

Arrays: ``source_probs`` (n_s, k) held-out (out-of-fold) probabilities on the labelled source split,
``source_labels`` (n_s,) int, ``target_probs`` (n_t, k) the same classifier on the target split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import optimize, stats
from scipy.special import logsumexp, softmax

_EPS = 1e-12


@dataclass
class ShiftTest:
    """Chi-square test of homogeneity of label counts across two splits, with Cramér's V as effect size."""

    statistic: float
    dof: int
    p_value: float
    cramers_v: float
    alpha: float = 0.05

    @property
    def shifted(self) -> bool:
        return self.p_value < self.alpha

    @property
    def verdict(self) -> str:
        size = "negligible" if self.cramers_v < 0.1 else "small" if self.cramers_v < 0.3 else "large"
        if self.shifted:
            return f"label shift detected (chi-square p={self.p_value:.2g}, Cramér's V={self.cramers_v:.2f}, {size})"
        return f"no evidence of label shift (chi-square p={self.p_value:.2g}, Cramér's V={self.cramers_v:.2f})"


def label_count_test(source_labels, target_labels, n_classes: int, *, alpha: float = 0.05) -> ShiftTest:
    """Chi-square test that two splits share one class distribution. Labels: (n_s,), (n_t,) int in [0, k)."""
    table = np.stack([np.bincount(np.asarray(source_labels), minlength=n_classes),
                      np.bincount(np.asarray(target_labels), minlength=n_classes)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return ShiftTest(0.0, 0, 1.0, 0.0, alpha)
    statistic, p_value, dof, _ = stats.chi2_contingency(table, correction=False)
    cramers_v = float(np.sqrt(statistic / (table.sum() * (min(table.shape) - 1))))
    return ShiftTest(float(statistic), int(dof), float(p_value), cramers_v, alpha)


# ------------------------------------------------------------------------------------------------------------
# estimators


def bbse(source_probs, source_labels, target_probs) -> np.ndarray:
    """Black Box Shift Estimation of the target class distribution: (k,) summing to 1."""
    source_probs, target_probs = np.asarray(source_probs), np.asarray(target_probs)
    k = source_probs.shape[1]
    labels = np.asarray(source_labels)
    n = labels.shape[0]
    confusion = np.bincount(source_probs.argmax(axis=1) * k + labels, minlength=k * k).reshape(k, k) / n
    target_pred = np.bincount(target_probs.argmax(axis=1), minlength=k) / target_probs.shape[0]
    weights = np.linalg.lstsq(confusion, target_pred, rcond=None)[0]
    prior = np.bincount(labels, minlength=k) / n
    estimate = np.clip(weights, 0, None) * prior  # weights are p_t(y) / p_s(y); the classes' source prior
    return estimate / estimate.sum() if estimate.sum() > 0 else prior


@dataclass
class Calibration:
    """Bias-corrected temperature scaling: calibrated = softmax(log(p) / temperature + bias)."""

    temperature: float
    bias: np.ndarray

    def apply(self, probs) -> np.ndarray:
        return softmax(np.log(np.asarray(probs, dtype=np.float64) + _EPS) / self.temperature + self.bias, axis=1)


def fit_bcts(source_probs, source_labels) -> Calibration:
    """Fit a temperature and per-class biases minimising the NLL of held-out source predictions."""
    z = np.log(np.asarray(source_probs, dtype=np.float64) + _EPS)
    y = np.asarray(source_labels)
    n, k = z.shape
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0

    def loss(theta):
        inv_t, bias = theta[0], theta[1:]
        logits = z * inv_t + bias
        lse = logsumexp(logits, axis=1)
        nll = np.mean(lse - logits[np.arange(n), y]) + 1e-6 * bias @ bias
        grad_logits = (np.exp(logits - lse[:, None]) - onehot) / n
        grad = np.concatenate([[np.sum(grad_logits * z)], grad_logits.sum(axis=0) + 2e-6 * bias])
        return nll, grad

    theta0 = np.concatenate([[1.0], np.zeros(k)])
    res = optimize.minimize(loss, theta0, jac=True, method="L-BFGS-B",
                            bounds=[(1e-3, 1e3)] + [(None, None)] * k)
    return Calibration(temperature=float(1.0 / res.x[0]), bias=res.x[1:])


def mlls(target_probs, source_prior, *, init=None, max_iter: int = 1000, tol: float = 1e-8) -> np.ndarray:
    """EM for the target class distribution (Saerens et al. 2002): (k,) summing to 1.

    target_probs: (n_t, k) calibrated P_source(y | x); source_prior: (k,) the prior those probabilities imply.
    """
    p = np.asarray(target_probs, dtype=np.float64)
    source_prior = np.asarray(source_prior, dtype=np.float64)
    q = source_prior.copy() if init is None else np.asarray(init, dtype=np.float64).copy()
    ratio_base = 1.0 / np.maximum(source_prior, _EPS)
    for _ in range(max_iter):
        posterior = p * (q * ratio_base)
        posterior /= np.maximum(posterior.sum(axis=1, keepdims=True), _EPS)
        new = posterior.mean(axis=0)
        if np.abs(new - q).sum() < tol:
            return new
        q = new
    return q


@dataclass
class PriorEstimate:
    """estimate, lower, upper, source_prior, importance_weights: (k,); l1_shift: |estimate - source|_1."""

    method: str
    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    source_prior: np.ndarray
    confidence: float

    @property
    def l1_shift(self) -> float:
        return float(np.abs(self.estimate - self.source_prior).sum())

    @property
    def importance_weights(self) -> np.ndarray:
        """p_target(y) / p_source(y): weights that correct a source-trained model for the shift (0 where unseen)."""
        return np.divide(self.estimate, self.source_prior, out=np.zeros_like(self.estimate),
                         where=self.source_prior > 0)


def estimate_target_prior(
    source_probs,
    source_labels,
    target_probs,
    *,
    method: str = "mlls",
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    random_state: Optional[int] = 0,
) -> PriorEstimate:
    """The target split's class distribution with a percentile bootstrap interval.

    method ``mlls`` (default): BCTS calibration fitted on the source, then EM; the source prior given to EM is
    the mean calibrated source prediction, which makes "no shift" an exact fixed point. ``bbse``: confusion-matrix
    inversion. The bootstrap resamples target rows (and, for BBSE, source rows; MLLS keeps its calibration fixed).
    """
    source_probs = np.asarray(source_probs, dtype=np.float64)
    target_probs = np.asarray(target_probs, dtype=np.float64)
    labels = np.asarray(source_labels)
    k = source_probs.shape[1]
    label_prior = np.bincount(labels, minlength=k) / labels.shape[0]
    rng = np.random.default_rng(random_state)
    n_s, n_t = source_probs.shape[0], target_probs.shape[0]
    if method == "mlls":
        calibration = fit_bcts(source_probs, labels)
        source_cal, target_cal = calibration.apply(source_probs), calibration.apply(target_probs)
        implied_prior = source_cal.mean(axis=0)
        point = mlls(target_cal, implied_prior)
        draws = [mlls(target_cal[rng.integers(0, n_t, n_t)], implied_prior, init=point) for _ in range(n_bootstrap)]
    elif method == "bbse":
        point = bbse(source_probs, labels, target_probs)
        draws = []
        for _ in range(n_bootstrap):
            s, t = rng.integers(0, n_s, n_s), rng.integers(0, n_t, n_t)
            draws.append(bbse(source_probs[s], labels[s], target_probs[t]))
    else:
        raise ValueError(f"method must be 'mlls' or 'bbse'; got {method!r}.")
    alpha = (1 - confidence) / 2
    draws = np.asarray(draws) if draws else point[None, :]
    return PriorEstimate(method, point, np.quantile(draws, alpha, axis=0), np.quantile(draws, 1 - alpha, axis=0),
                         label_prior, confidence)
