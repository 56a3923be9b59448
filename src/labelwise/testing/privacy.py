"""The LOKT notes' digits setup for the privacy audit's tests and benchmark (seed paper 20)."""

from __future__ import annotations

import numpy as np


def digits_split(seed: int = 0):
    """sklearn digits: private classes 0-4, the target an MLP trained on one half of them, the independent
    evaluation model an RBF SVM trained on the other half; the attacker's public rows are the unlabelled digits 5-9.
    Returns ``(target, evaluator, X_private: (n, 64), y_private: (n,) int, X_public: (m, 64))``."""
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    private = y < 5
    X_private, y_private, X_public = X[private], y[private], X[~private]
    order = np.random.default_rng(seed).permutation(len(X_private))
    train, held = order[: len(order) // 2], order[len(order) // 2:]
    target = MLPClassifier((64,), max_iter=400, random_state=seed).fit(X_private[train], y_private[train])
    evaluator = SVC().fit(X_private[held], y_private[held])
    return target, evaluator, X_private, y_private, X_public
