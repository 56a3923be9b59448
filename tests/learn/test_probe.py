"""LinearProbe: the joint L-BFGS fit gives scikit-learn's per-label LogisticRegression solution."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from labelwise.errors import ShapeError
from labelwise.learn.probe import LinearProbe


def test_probe_matches_sklearn_per_label_and_handles_constant_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)) * np.array([1, 2, 5, 0.5, 1, 3]) + 2
    Y = np.stack([X[:, 0] + rng.normal(size=300) > 2, X[:, 1] * X[:, 2] > 20, np.zeros(300), np.ones(300),
                  rng.random(300) < 0.1], 1).astype(int)
    w = rng.uniform(0.5, 2.0, 300)
    probe = LinearProbe(C=0.5).fit(X, Y, sample_weight=w)
    Z = (X - X.mean(0)) / X.std(0)
    for k in (0, 1, 4):
        ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=10000).fit(Z, Y[:, k], sample_weight=w)
        np.testing.assert_allclose(probe.coef_[k], ref.coef_[0], atol=1e-4)
        assert probe.intercept_[k] == pytest.approx(ref.intercept_[0], abs=1e-4)
        np.testing.assert_allclose(probe.predict_proba(X)[:, k], ref.predict_proba(Z)[:, 1], atol=1e-5)
    P = probe.predict_proba(X)
    assert (P[:, 2] == 0).all() and (P[:, 3] == 1).all()  # constant labels: their constant
    with pytest.raises(ShapeError):
        probe.predict_proba(X[:, :3])
    with pytest.raises(ShapeError):
        LinearProbe().fit(X, Y[:10])
