"""Linear probe: one logistic regression per label on frozen features, the evaluation protocol of representation
learning (SoftCon's linear-probing mAP) and the few-shot classifier of LaSO's augmentation experiments.

Algorithm floor (numpy arrays in and out). Features are standardised with the training mean and standard deviation;
each label gets scikit-learn's ``LogisticRegression`` with its default L2 strength ``C=1`` (the standard probe, not
tuned here). A label with a single class in the training rows (no positive, or all positive) gets that constant
probability, so a probe always fits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import ShapeError

__all__ = ["LinearProbe"]


class LinearProbe(BaseEstimator):
    """One-vs-rest logistic regression on standardised features.

    ``fit(F (n, d), Y (n, K) 0/1, sample_weight=None (n,))``; ``predict_proba(F) -> (n, K)`` in [0, 1].
    Learned: ``mean_``, ``scale_`` (``(d,)``), ``coef_ (K, d)``, ``intercept_ (K,)`` (a constant label: zero weights
    and an intercept of +-inf; its probability is exactly 0 or 1).
    """

    def __init__(self, C: float = 1.0, max_iter: int = 1000):
        self.C, self.max_iter = C, max_iter

    def fit(self, F: Any, Y: Any, sample_weight: Any = None) -> "LinearProbe":
        F = np.asarray(F, dtype=np.float64)
        Y = np.asarray(Y)
        if F.ndim != 2 or Y.ndim != 2 or len(F) != len(Y):
            raise ShapeError(f"LinearProbe needs F (n, d) and Y (n, K) with the same n, got {F.shape} and {Y.shape}.")
        self.mean_ = F.mean(0)
        self.scale_ = F.std(0) + 1e-8
        Z = (F - self.mean_) / self.scale_
        K = Y.shape[1]
        self.coef_ = np.zeros((K, F.shape[1]))
        self.intercept_ = np.zeros(K)
        for k in range(K):
            y = (Y[:, k] == 1).astype(int)
            if y.min() == y.max():
                self.intercept_[k] = np.inf if y[0] else -np.inf
                continue
            lr = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(Z, y, sample_weight=sample_weight)
            self.coef_[k], self.intercept_[k] = lr.coef_[0], lr.intercept_[0]
        return self

    def decision_function(self, F: Any) -> np.ndarray:
        """``(n, K)`` logits."""
        check_is_fitted(self, "coef_")
        F = np.asarray(F, dtype=np.float64)
        if F.ndim != 2 or F.shape[1] != self.coef_.shape[1]:
            raise ShapeError(f"F must be (n, {self.coef_.shape[1]}), got {F.shape}.")
        return ((F - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_

    def predict_proba(self, F: Any) -> np.ndarray:
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-self.decision_function(F)))
