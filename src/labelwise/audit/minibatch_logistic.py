"""Multinomial logistic regression trained by minibatches, for features that do not fit in memory.

The same model as the audit's default (scikit-learn's L2 ``LogisticRegression`` with ``C=1``: softmax over a linear
score, penalty ``||W||^2 / 2`` on the summed loss), fitted with Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic
Optimization") on minibatches instead of lbfgs on the whole matrix, so that it only ever holds one chunk of rows.
Multinomial rather than one-vs-rest (``SGDClassifier(loss='log_loss')``): its probabilities sum to one by
construction, which confident learning's per-class thresholds read directly.

``partial_fit(X, y)`` takes one chunk (rows already in random order) and steps through it in minibatches; an epoch is
one ``partial_fit`` per chunk of the training rows, and :meth:`end_epoch` halves the step size after each.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from labelwise.errors import ParameterError


class MinibatchLogisticRegression(ClassifierMixin, BaseEstimator):
    """L2 multinomial logistic regression by minibatch Adam.

    alpha: the penalty per row (``1 / (C * n_rows)`` gives scikit-learn's objective with that ``C``);
    learning_rate: Adam's first step size, halved by each :meth:`end_epoch`; batch_size: rows per step;
    epochs: passes :meth:`fit` makes over in-memory data; random_state: the order :meth:`fit` visits rows in.
    Attributes after fitting: ``coef_`` (k, d), ``intercept_`` (k,), ``classes_`` (k,) int.
    """

    def __init__(self, alpha: float = 1e-4, learning_rate: float = 0.3, batch_size: int = 256, epochs: int = 6,
                 random_state: Optional[int] = 0):
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.random_state = random_state

    def fit(self, X, y) -> "MinibatchLogisticRegression":
        """X: (n, d) float; y: (n,) int. ``epochs`` passes in a random order."""
        y = np.asarray(y)
        rng = np.random.default_rng(self.random_state)
        self._reset(np.unique(y), X.shape[1], y)
        for _ in range(int(self.epochs)):
            order = rng.permutation(len(y))
            self.partial_fit(X[order], y[order])
            self.end_epoch()
        return self

    def partial_fit(self, X, y, classes=None, class_counts=None) -> "MinibatchLogisticRegression":
        """One pass over the chunk X: (m, d) float, y: (m,) int (rows in random order). ``classes`` (k,) int is
        required on the first call; ``class_counts`` (k,) starts the intercepts at the log class priors."""
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y)
        if not hasattr(self, "coef_"):
            if classes is None:
                raise ParameterError("the first partial_fit needs classes=, every class the model will see.")
            self._reset(np.asarray(classes), X.shape[1], None, class_counts)
        index = np.searchsorted(self.classes_, y)
        for lo in range(0, len(y), int(self.batch_size)):
            self._step(X[lo:lo + self.batch_size], index[lo:lo + self.batch_size])
        return self

    def end_epoch(self) -> None:
        """Halve the step size (call after each pass over the training rows)."""
        self._lr *= 0.5

    def predict_proba(self, X) -> np.ndarray:
        """(m, k) float64 class probabilities, rows summing to 1."""
        scores = np.asarray(X, dtype=np.float32) @ self.coef_.T + self.intercept_
        return _softmax(scores.astype(np.float64))

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # ---- training ---------------------------------------------------------------------------------------------

    def _reset(self, classes, d, y=None, class_counts=None) -> None:
        self.classes_ = np.asarray(classes)
        k = len(self.classes_)
        if class_counts is None and y is not None:
            class_counts = np.array([(y == c).sum() for c in self.classes_])
        prior = np.ones(k) if class_counts is None else np.asarray(class_counts, np.float64) + 1.0
        self.coef_ = np.zeros((k, d), np.float32)
        self.intercept_ = np.log(prior / prior.sum()).astype(np.float32)
        self._moments = [np.zeros_like(self.coef_), np.zeros_like(self.coef_),
                         np.zeros_like(self.intercept_), np.zeros_like(self.intercept_)]
        self._t = 0
        self._lr = float(self.learning_rate)

    def _step(self, X, index) -> None:
        m = len(index)
        p = _softmax(X @ self.coef_.T + self.intercept_)
        p[np.arange(m), index] -= 1.0
        grad_w = (p.T @ X) / m + self.alpha * self.coef_
        grad_b = p.mean(axis=0)
        self._t += 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        mw, vw, mb, vb = self._moments
        for param, grad, mom, var in ((self.coef_, grad_w, mw, vw), (self.intercept_, grad_b, mb, vb)):
            mom *= b1
            mom += (1 - b1) * grad
            var *= b2
            var += (1 - b2) * grad * grad
            step = self._lr * np.sqrt(1 - b2 ** self._t) / (1 - b1 ** self._t)
            param -= (step * mom / (np.sqrt(var) + eps)).astype(param.dtype)


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    return scores
