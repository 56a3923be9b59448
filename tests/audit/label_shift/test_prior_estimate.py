"""The target prior with its bootstrap interval: exact cases, a mixture with exact posteriors, determinism, and a
planted Dirichlet(1) label shift of Banking77's test split (that mix is the truth)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from labelwise.audit.label_shift.count_test import label_count_test
from labelwise.audit.label_shift.maximum_likelihood import mlls
from labelwise.audit.label_shift.prior_estimate import METHODS, estimate_target_prior
from labelwise.errors import ShapeError
from tests.audit.label_shift.known_cases import (
    K_MIX, SOURCE_LABELS, SOURCE_PRIOR, TARGET_LABELS, TARGET_MIX, l1, mixture, onehot,
)
from tests.conftest import shared_dataset


@pytest.mark.parametrize("method", METHODS)
def test_perfect_classifier_estimate_and_weights(method):
    result = estimate_target_prior(
        onehot(SOURCE_LABELS, 4), SOURCE_LABELS, onehot(TARGET_LABELS, 4), method=method, n_bootstrap=50
    )
    np.testing.assert_allclose(result.estimate, TARGET_MIX, atol=1e-6)
    np.testing.assert_allclose(result.source_prior, [0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(result.importance_weights, TARGET_MIX / [0.1, 0.2, 0.3, 0.4], atol=1e-5)
    assert result.l1_shift == pytest.approx(l1(TARGET_MIX, [0.1, 0.2, 0.3, 0.4]), abs=1e-5)
    assert np.all(result.lower <= result.estimate + 1e-9) and np.all(result.estimate <= result.upper + 1e-9)
    assert abs(result.lower[2]) < 1e-6 and abs(result.upper[2]) < 1e-6
    assert "PriorEstimate(method=" in repr(result)


def test_class_unseen_in_source_gets_weight_zero():
    source = np.array([0, 0, 1, 1])
    result = estimate_target_prior(onehot(source, 3), source, onehot(np.array([0, 1, 1]), 3), n_bootstrap=0)
    assert result.source_prior[2] == 0 and result.importance_weights[2] == 0
    np.testing.assert_allclose(result.estimate, [1 / 3, 2 / 3, 0], atol=1e-6)
    np.testing.assert_array_equal(result.lower, result.estimate)


def test_target_equal_to_source_is_no_shift():
    labels, probs = mixture(3000, SOURCE_PRIOR, np.random.default_rng(2))
    result = estimate_target_prior(probs, labels, probs, n_bootstrap=20)
    assert result.l1_shift < 1e-5
    np.testing.assert_allclose(result.importance_weights, 1.0, atol=1e-4)


def test_known_mixture_prior_is_recovered():
    rng = np.random.default_rng(3)
    target_prior = np.array([0.05, 0.10, 0.15, 0.30, 0.40])
    source_labels, source_probs = mixture(20_000, SOURCE_PRIOR, rng)
    target_labels, target_probs = mixture(20_000, target_prior, rng)
    truth = np.bincount(target_labels, minlength=K_MIX) / target_labels.size
    for method in METHODS:
        result = estimate_target_prior(source_probs, source_labels, target_probs, method=method, n_bootstrap=100)
        assert l1(result.estimate, truth) < 0.05, method
        assert np.mean((result.lower <= truth) & (truth <= result.upper)) >= 0.8, method
        assert l1(result.estimate, truth) < l1(result.source_prior, truth) / 5


def test_no_shift_sample_estimate_is_near_source_prior():
    rng = np.random.default_rng(4)
    source_labels, source_probs = mixture(5000, SOURCE_PRIOR, rng)
    target_labels, target_probs = mixture(2000, SOURCE_PRIOR, rng)
    assert not label_count_test(source_labels, target_labels, K_MIX).shifted
    for method in METHODS:
        result = estimate_target_prior(source_probs, source_labels, target_probs, method=method, n_bootstrap=100)
        assert result.l1_shift < 0.1, method
        assert np.all((result.lower <= result.source_prior + 0.02) & (result.source_prior <= result.upper + 0.02))


def test_same_seed_same_interval_and_seed_matters():
    rng = np.random.default_rng(6)
    source_labels, source_probs = mixture(1000, SOURCE_PRIOR, rng)
    _, target_probs = mixture(500, SOURCE_PRIOR[::-1], rng)
    for method in METHODS:
        a = estimate_target_prior(source_probs, source_labels, target_probs, method=method, random_state=7)
        b = estimate_target_prior(source_probs, source_labels, target_probs, method=method, random_state=7)
        c = estimate_target_prior(source_probs, source_labels, target_probs, method=method, random_state=8)
        np.testing.assert_array_equal(a.lower, b.lower)
        np.testing.assert_array_equal(a.upper, b.upper)
        np.testing.assert_array_equal(a.estimate, c.estimate)
        assert not np.array_equal(a.lower, c.lower)


def test_bad_inputs_say_what_is_wrong():
    probs = np.full((4, 3), 1 / 3)
    labels = np.array([0, 1, 2, 0])
    with pytest.raises(ShapeError, match="0..2"):
        estimate_target_prior(probs, np.array([0, 1, 3, 0]), probs)
    with pytest.raises(ValueError, match="method"):
        estimate_target_prior(probs, labels, probs, method="em")


# --------------------------------------------------------------------------------------------------------------
# Banking77: a planted Dirichlet(1) label shift of the test split

N_CLASSES_B77 = 77


@pytest.fixture(scope="module")
def banking77_probs():
    """Out-of-fold probabilities on train (source) and a train-fitted model's probabilities on test.

    TF-IDF (word 1-2-grams, sublinear tf) + multinomial logistic regression (C=10, saga, tol=1e-3), 5-fold
    stratified out-of-fold on train. Settings were fixed before looking at the shift results. TF-IDF rather than the
    project's MiniLM encoder keeps this test fast and free of the model extra.
    """
    pd = pytest.importorskip("pandas")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    train = pd.read_csv(shared_dataset("banking77", "train.csv"))
    test = pd.read_csv(shared_dataset("banking77", "test.csv"))
    classes = np.array(sorted(train["category"].unique()))
    assert classes.size == N_CLASSES_B77
    y_train = np.searchsorted(classes, train["category"].to_numpy())
    y_test = np.searchsorted(classes, test["category"].to_numpy())
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2))
    x_train = vectorizer.fit_transform(train["text"])
    x_test = vectorizer.transform(test["text"])
    model = LogisticRegression(C=10.0, solver="saga", tol=1e-3, max_iter=200, random_state=0)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    source_probs = cross_val_predict(model, x_train, y_train, cv=folds, method="predict_proba", n_jobs=2)
    test_probs = model.fit(x_train, y_train).predict_proba(x_test)
    return source_probs, y_train, test_probs, y_test


@pytest.mark.shared
@pytest.mark.slow
def test_banking77_planted_dirichlet_shift(banking77_probs):
    source_probs, source_labels, test_probs, test_labels = banking77_probs
    k, n = N_CLASSES_B77, test_labels.size  # 3,080 target rows, the size of the test split
    rng = np.random.default_rng(0)
    planted = rng.dirichlet(np.ones(k))
    counts = rng.multinomial(n, planted)
    rows = np.concatenate(
        [rng.choice(np.flatnonzero(test_labels == c), size=m, replace=True) for c, m in enumerate(counts)]
    )
    target_probs, truth = test_probs[rows], counts / n  # truth: the target split's actual class mix

    started = time.perf_counter()
    mlls_result = estimate_target_prior(source_probs, source_labels, target_probs, method="mlls")
    mlls_seconds = time.perf_counter() - started
    started = time.perf_counter()
    bbse_result = estimate_target_prior(source_probs, source_labels, target_probs, method="bbse")
    bbse_seconds = time.perf_counter() - started
    raw_mlls = mlls(target_probs, mlls_result.source_prior)  # no calibration: the label frequencies as p_s

    def coverage(result):
        return float(np.mean((result.lower <= truth) & (truth <= result.upper)))

    figures = {
        "l1_no_shift": l1(mlls_result.source_prior, truth),
        "l1_mlls_bcts": l1(mlls_result.estimate, truth),
        "l1_mlls_uncalibrated": l1(raw_mlls, truth),
        "l1_bbse": l1(bbse_result.estimate, truth),
        "coverage_mlls": coverage(mlls_result),
        "coverage_bbse": coverage(bbse_result),
        "seconds_mlls_200_bootstrap": mlls_seconds,
        "seconds_bbse_200_bootstrap": bbse_seconds,
        "source_accuracy_out_of_fold": float(np.mean(source_probs.argmax(1) == source_labels)),
    }
    print("banking77 planted Dirichlet(1) shift:", {key: round(value, 3) for key, value in figures.items()})

    assert figures["l1_mlls_bcts"] < 0.15
    assert figures["l1_mlls_bcts"] < figures["l1_no_shift"]
    assert figures["l1_bbse"] < figures["l1_no_shift"]
    assert figures["coverage_mlls"] >= 0.8  # the 95% interval covers the truth for most of the 77 classes
    assert label_count_test(source_labels, test_labels[rows], k).shifted
