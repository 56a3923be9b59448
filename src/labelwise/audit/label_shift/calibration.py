"""Bias-corrected temperature scaling (BCTS; Alexandari, Kundaje, Shrikumar, "Maximum Likelihood with
Bias-Corrected Calibration is Hard-To-Beat at Label Shift Adaptation", ICML 2020): the calibration MLLS runs after.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy.special import softmax
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from labelwise.audit.label_shift._arrays import BLAS_THREADS, LOG_FLOOR, check_probs, check_source


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
        probs, labels = check_source(probs, labels)
        logp = np.log(np.maximum(probs, LOG_FLOOR))
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
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
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
        probs = check_probs(probs, "probs", self.bias_.shape[0])
        return softmax(np.log(np.maximum(probs, LOG_FLOOR)) / self.temperature_ + self.bias_, axis=1)
