"""Linear probe: one logistic regression per label on frozen features, the evaluation protocol of representation
learning (SoftCon's linear-probing mAP) and the few-shot classifier of LaSO's augmentation experiments.

Algorithm floor (numpy arrays in and out). Features are standardised with the training mean and standard deviation;
each label gets an L2-penalised logistic regression with scikit-learn's default strength ``C=1`` (the standard
probe, not tuned here): the minimiser of ``C * sum_i w_i logloss_i + ||coef||^2 / 2`` (intercept not penalised),
the same objective as scikit-learn's ``LogisticRegression``. The labels' objectives are independent, so their sum is
minimised in one L-BFGS run over all labels at once (one matrix product per step instead of one solver run per
label). A label with a single class in the training rows (no positive, or all positive)
gets that constant probability, so a probe always fits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from labelwise.errors import ShapeError

__all__ = ["LinearProbe"]


class LinearProbe(BaseEstimator):
    """One-vs-rest logistic regression on standardised features.

    ``fit(F (n, d), Y (n, K) 0/1, sample_weight=None (n,))``; ``predict_proba(F) -> (n, K)`` in [0, 1].
    Learned: ``mean_``, ``scale_`` (``(d,)``), ``coef_ (K, d)``, ``intercept_ (K,)`` (a constant label: zero weights
    and an intercept of +-inf; its probability is exactly 0 or 1).
    """

    def __init__(self, C: float = 1.0, max_iter: int = 2000, tol: float = 1e-6):
        self.C, self.max_iter, self.tol = C, max_iter, tol

    def fit(self, F: Any, Y: Any, sample_weight: Any = None) -> "LinearProbe":
        F = np.asarray(F, dtype=np.float64)
        Y = np.asarray(Y)
        if F.ndim != 2 or Y.ndim != 2 or len(F) != len(Y):
            raise ShapeError(f"LinearProbe needs F (n, d) and Y (n, K) with the same n, got {F.shape} and {Y.shape}.")
        self.mean_ = F.mean(0)
        self.scale_ = F.std(0) + 1e-8
        Z = (F - self.mean_) / self.scale_
        T = (Y == 1).astype(np.float64)
        K, d = T.shape[1], F.shape[1]
        w = np.ones(len(F)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        fit = T.min(0) != T.max(0)  # labels with both classes; the others are constant
        self.coef_ = np.zeros((K, d))
        self.intercept_ = np.where(T[0] > 0, np.inf, -np.inf)
        if fit.any():
            W, b = _fit_logistic(Z, T[:, fit], w, self.C, self.max_iter, self.tol)
            self.coef_[fit], self.intercept_[fit] = W, b
        return self

    def decision_function(self, F: Any) -> np.ndarray:
        """``(n, K)`` logits."""
        check_is_fitted(self, "coef_")
        F = np.asarray(F, dtype=np.float64)
        if F.ndim != 2 or F.shape[1] != self.coef_.shape[1]:
            raise ShapeError(f"F must be (n, {self.coef_.shape[1]}), got {F.shape}.")
        return ((F - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_

    def predict_proba(self, F: Any) -> np.ndarray:
        return expit(self.decision_function(F))


def _fit_logistic(Z: np.ndarray, T: np.ndarray, w: np.ndarray, C: float, max_iter: int, tol: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Independent L2 logistic regressions for the columns of ``T: (n, K)`` on ``Z: (n, d)``, jointly by L-BFGS ->
    ``coef (K, d)``, ``intercept (K,)``. The objective is divided by ``C * sum(w)`` for conditioning (same
    minimiser)."""
    n, d = Z.shape
    K = T.shape[1]
    A = np.hstack([Z, np.ones((n, 1))])
    scale = C * w.sum()
    penal = np.ones(d + 1)
    penal[-1] = 0.0

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W = theta.reshape(d + 1, K)
        logits = A @ W
        loss = -(w[:, None] * (T * log_expit(logits) + (1 - T) * log_expit(-logits))).sum()
        grad = A.T @ (w[:, None] * (expit(logits) - T))
        value = C * loss + 0.5 * (penal[:, None] * W * W).sum()
        return value / scale, (C * grad + penal[:, None] * W).ravel() / scale

    # one BLAS thread: the products are small, and on a busy machine BLAS threads waiting for each other cost
    # more than the work itself
    with threadpool_limits(limits=1, user_api="blas"):
        res = minimize(objective, np.zeros((d + 1) * K), jac=True, method="L-BFGS-B",
                       options={"maxiter": max_iter, "gtol": tol, "ftol": 1e-12})
    W = res.x.reshape(d + 1, K)
    return W[:d].T, W[d]
