"""Robust Active Distillation's mechanism (paper 6, notes 6.4) on scikit-learn's digits: the rows margin sampling
sends to a weak teacher are the ones it gets wrong; RAD's robust sampling sends fewer of those. Accuracies per round
are in bench/rad.py (no accuracy claim is asserted here)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from labelwise.errors import ShapeError
from labelwise.generate.active_distill import RobustActiveDistiller


def _digits(seed):
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    order = np.random.default_rng(seed).permutation(len(y))
    test, seeds, val, pool = order[:400], order[400:460], order[460:560], order[560:]
    taught = np.concatenate([seeds, pool[:90]])
    teacher = LogisticRegression(C=0.3, max_iter=2000).fit(x[taught], y[taught])
    error = float((teacher.predict(x[val]) != y[val]).mean())
    return x, y, test, seeds, pool, teacher, error


def _run(strategy, seed):
    from sklearn.linear_model import LogisticRegression

    x, y, test, seeds, pool, teacher, error = _digits(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = RobustActiveDistiller(LogisticRegression(C=1.0, max_iter=200), teacher.predict_proba,
                                      budget_per_round=40, rounds=3, strategy=strategy, teacher_error=error,
                                      random_state=seed)
        model.fit(x[pool], x[seeds], y[seeds], n_classes=10, X_eval=x[test], y_eval=y[test], y_pool=y[pool])
    return model


@pytest.mark.slow
def test_rad_sends_the_teacher_fewer_rows_it_gets_wrong_than_margin():
    wrong = {s: [] for s in ("margin", "rad", "random")}
    for seed in range(2):
        for strategy in wrong:
            model = _run(strategy, seed)
            assert len(model.queried_) == len(np.unique(model.queried_)) == 120
            assert [h["n_queried"] for h in model.history_] == [0, 40, 80, 120]
            wrong[strategy] += [h["teacher_wrong_frac"] for h in model.history_[1:]]
    margin, rad, rand = (float(np.mean(wrong[s])) for s in ("margin", "rad", "random"))
    print(f"teacher wrong: margin {margin:.3f}, rad {rad:.3f}, random {rand:.3f}")
    assert margin > 1.5 * rand  # the premise: the teacher errs on the rows margin picks
    assert rad < margin - 0.05  # the mechanism: RAD avoids part of them


def test_teacher_with_the_wrong_shape_is_refused():
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(30, 4))
    model = RobustActiveDistiller(LogisticRegression(), lambda rows: np.ones((len(rows), 2)) / 2,
                                  budget_per_round=5, rounds=1, strategy="margin")
    with pytest.raises(ShapeError, match="teacher returned shape"):
        model.fit(x[10:], x[:10], np.arange(10) % 3)
