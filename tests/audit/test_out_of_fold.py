"""Out-of-fold probabilities and the default learner: C chosen by inner cross-validation, rows never predicted by a
model that saw them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

from labelwise.audit.out_of_fold import (
    C_GRID,
    INNER_FOLDS,
    LARGE_TABLE_ROWS,
    default_classifier,
    out_of_fold_probabilities,
)


def test_the_default_learner_searches_C_below_large_tables_and_keeps_C_1_above():
    small = default_classifier("dense", n_rows=10_000, random_state=3)
    assert isinstance(small, LogisticRegressionCV)
    assert list(small.Cs) == list(C_GRID) and small.cv.get_n_splits() == INNER_FOLDS
    assert small.scoring == "neg_log_loss" and small.cv.random_state == 3
    large = default_classifier("sparse", n_rows=LARGE_TABLE_ROWS)
    assert isinstance(large, LogisticRegression) and large.C == 1.0 and large.tol == 1e-3


def test_inner_cv_regularises_hard_for_noise_and_lightly_for_separable_classes():
    """Known truths: labels independent of the features are best predicted by the most regularised model (any
    fitted slope only adds held-out log-loss); well separated classes by the least regularised one."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 20))
    noise = default_classifier("dense", n_rows=300).fit(x, rng.integers(0, 3, size=300))
    assert noise.C_ == min(C_GRID)
    y = rng.integers(0, 3, size=300)
    centres = 6.0 * np.eye(3, 20)
    separable = default_classifier("dense", n_rows=300).fit(centres[y] + rng.normal(size=(300, 20)), y)
    assert separable.C_ == max(C_GRID)


class _Recorder(ClassifierMixin, BaseEstimator):
    """Predicts uniform probabilities and records which rows (feature 0 holds the row number) it trained on."""

    seen: list = []

    def fit(self, X, y):
        type(self).seen.append(set(np.asarray(X)[:, 0].astype(int)))
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        type(self).seen.append(("predicted", set(np.asarray(X)[:, 0].astype(int))))
        return np.full((len(X), len(self.classes_)), 1.0 / len(self.classes_))


def test_every_row_is_predicted_once_by_a_model_that_never_saw_it():
    _Recorder.seen = []
    labels = np.repeat([0, 1, 2], 20)
    x = np.column_stack([np.arange(60), np.zeros(60)])
    probs = out_of_fold_probabilities(x, labels, classifier=_Recorder(), n_folds=5, random_state=0)
    assert probs.shape == (60, 3) and np.allclose(probs.sum(1), 1.0)
    trained, predicted = _Recorder.seen[0::2], [rows for _, rows in _Recorder.seen[1::2]]
    assert sorted(r for rows in predicted for r in rows) == list(range(60))  # each row predicted exactly once
    assert all(not (seen & rows) for seen, rows in zip(trained, predicted))


def test_default_learner_end_to_end_with_a_rare_class():
    """A class with 2 rows (fewer than the inner folds) still gets probabilities; rows sum to 1."""
    rng = np.random.default_rng(1)
    labels = np.r_[np.repeat([0, 1], 40), [2, 2]]
    centres = 4.0 * np.eye(3, 8)
    x = centres[labels] + rng.normal(size=(82, 8))
    probs = out_of_fold_probabilities(x, labels, n_folds=2, random_state=0)
    assert probs.shape == (82, 3) and np.allclose(probs.sum(1), 1.0)
    assert (probs[:80].argmax(1) == labels[:80]).mean() > 0.9


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_same_inputs_same_outputs(kind):
    from scipy import sparse

    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, size=90)
    x = np.eye(3, 6)[labels] * 2.0 + rng.normal(size=(90, 6))
    x = sparse.csr_matrix(x) if kind == "sparse" else x
    first = out_of_fold_probabilities(x, labels, n_folds=3, random_state=5)
    np.testing.assert_array_equal(first, out_of_fold_probabilities(x, labels, n_folds=3, random_state=5))


def test_classes_smaller_than_the_inner_folds_get_fewer_folds_or_a_fixed_C():
    """2 outer folds of 8 rows, 4 per class: each training part holds 2 rows of a class, fewer than the 3 inner
    folds (the fuzz test found this crashing). The inner search drops to 2 folds; a class of one row in a
    one-vs-rest column turns the search into C=1."""
    from labelwise.audit.out_of_fold import suited_to

    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 3)) + np.repeat([[0, 0, 0], [3, 3, 3]], 4, axis=0)
    y = np.repeat([0, 1], 4)
    probs = out_of_fold_probabilities(X, y, n_folds=2)
    assert probs.shape == (8, 2) and np.allclose(probs.sum(axis=1), 1) and (probs.argmax(axis=1) == y).all()
    two = suited_to(default_classifier("dense", n_rows=4), np.array([0, 0, 1, 1]))
    assert isinstance(two, LogisticRegressionCV) and two.cv.get_n_splits() == 2
    one = suited_to(default_classifier("dense", n_rows=4), np.array([[0, 1], [0, 1], [1, 0], [0, 0]]))
    assert type(one) is LogisticRegression and one.C == 1.0
