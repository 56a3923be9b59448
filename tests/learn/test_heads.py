"""Per-label pieces of the PTEC-style head: pos_weight, Platt calibration, tuned thresholds, label-order invariance."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from labelwise.learn import MultiLabelHead  # noqa: E402
from labelwise.learn.heads import PerLabelPlatt, max_ratio_pos_weight, tune_thresholds  # noqa: E402


def test_max_ratio_pos_weight():
    Y = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])
    assert max_ratio_pos_weight(Y, cap=50).tolist() == [1.0, 2.0, 4.0, 50.0]


def test_tune_thresholds_exact():
    # sorted scores .9 .8 .3 .1 with labels 1 0 1 0: F1 at top-1/2/3/4 = 2/3, 1/2, 4/5, 2/3 -> cut after .3
    P = np.array([[0.9, 0.2], [0.8, 0.2], [0.3, 0.2], [0.1, 0.2]])
    Y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    th = tune_thresholds(P, Y, default=0.5)
    assert th[0] == pytest.approx(0.2)
    assert th[1] == 0.5  # no positive: default
    assert ((P[:, 0] >= th[0]) == np.array([True, True, True, False])).all()


def test_platt_recovers_known_parameters():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(20000, 2)) * 2
    a, b = np.array([2.0, 0.5]), np.array([-1.0, 0.3])
    Y = (rng.random(z.shape) < 1 / (1 + np.exp(-(a * z + b)))).astype(int)
    cal = PerLabelPlatt(ridge=1e-6).fit(z, Y)
    assert np.allclose(cal.a_, a, atol=0.15) and np.allclose(cal.b_, b, atol=0.15)
    # the maximum-likelihood solution: the same as an (almost) unpenalised logistic regression per label
    from sklearn.linear_model import LogisticRegression

    for c in range(2):
        lr = LogisticRegression(C=1e8, tol=1e-10, max_iter=1000).fit(z[:, [c]], Y[:, c])
        assert cal.a_[c] == pytest.approx(lr.coef_[0, 0], abs=1e-4)
        assert cal.b_[c] == pytest.approx(lr.intercept_[0], abs=1e-4)
    p = cal.transform(z)
    assert p.shape == z.shape and ((p > 0) & (p < 1)).all()


def test_head_scores_do_not_depend_on_label_order():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0.5, X[:, 3] > 1.0, X[:, 4] < -0.5], 1).astype(int)
    perm = np.array([2, 0, 3, 1])
    kw = dict(random_state=0, epochs=40, n_threads=1, calibration=None, threshold=0.5, validation_fraction=0.0)
    a = MultiLabelHead(**kw).fit(X, Y).predict_proba(X)
    b = MultiLabelHead(**kw).fit(X, Y[:, perm]).predict_proba(X)
    assert np.allclose(a[:, perm], b, atol=1e-5)
    # and with a shared hidden layer (its initialisation does not depend on the labels)
    a = MultiLabelHead(hidden=(16,), **kw).fit(X, Y).predict_proba(X)
    b = MultiLabelHead(hidden=(16,), **kw).fit(X, Y[:, perm]).predict_proba(X)
    assert np.allclose(a[:, perm], b, atol=1e-4)
