"""Label shift: exact small cases, a synthetic mixture with known posteriors, and a planted shift on Banking77.

Known truths used here:
- a perfect classifier (one-hot probabilities) makes BBSE and MLLS return the target's empirical label mix exactly;
- scoring the source rows themselves as the "target" is no shift, exactly;
- with exact posteriors of a known Gaussian mixture, EM (Saerens et al. 2002) and BBSE (Lipton et al. 2018) are
  consistent, so with many rows they land on the true target prior;
- on Banking77 the test split is resampled to a Dirichlet(1) class mix (seeded): that mix is the truth.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from scipy.special import softmax

from labelwise.audit import label_shift as ls
from labelwise.errors import ShapeError
from tests.conftest import shared_dataset


def _onehot(labels: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((labels.size, k))
    out[np.arange(labels.size), labels] = 1.0
    return out


def _l1(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).sum())


# a Gaussian mixture whose posteriors are known exactly: k classes with means on a circle, unit variance
K_MIX = 5
MEANS = 2.0 * np.stack([np.cos(2 * np.pi * np.arange(K_MIX) / K_MIX), np.sin(2 * np.pi * np.arange(K_MIX) / K_MIX)], 1)
SOURCE_PRIOR = np.array([0.30, 0.25, 0.20, 0.15, 0.10])


def _mixture(n: int, prior: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n rows drawn with class prior ``prior``; returns (labels (n,), exact source posteriors (n, k))."""
    labels = rng.choice(K_MIX, size=n, p=prior)
    x = MEANS[labels] + rng.standard_normal((n, 2))
    log_lik = -0.5 * ((x[:, None, :] - MEANS[None]) ** 2).sum(axis=2)
    return labels, softmax(log_lik + np.log(SOURCE_PRIOR), axis=1)  # P_source(y | x), calibrated by construction


# --------------------------------------------------------------------------------------------------------------
# the chi-square test


def test_no_shift_gives_no_evidence():
    rng = np.random.default_rng(0)
    source = rng.choice(K_MIX, size=2000, p=SOURCE_PRIOR)
    target = rng.choice(K_MIX, size=1000, p=SOURCE_PRIOR)
    test = ls.label_count_test(source, target, K_MIX)
    assert not test.shifted and test.p_value > 0.05
    assert test.verdict.startswith("no evidence of label shift (p=")
    assert test.dof == K_MIX - 1 and test.n_classes_tested == K_MIX
    assert test.cramers_v < 0.1


def test_planted_shift_is_detected_with_its_effect_size():
    rng = np.random.default_rng(1)
    source = rng.choice(K_MIX, size=2000, p=SOURCE_PRIOR)
    target = rng.choice(K_MIX, size=1000, p=SOURCE_PRIOR[::-1])
    test = ls.label_count_test(source, target, K_MIX)
    assert test.shifted and test.p_value < 1e-20
    assert test.verdict.startswith("label shift detected (p=")
    assert 0.2 < test.cramers_v < 1.0


def test_table_by_hand_and_absent_classes_are_dropped():
    # counts [10, 20, 0, 30] vs [20, 10, 0, 30]; class 2 is in neither split, so dof = 2
    source = np.repeat([0, 1, 3], [10, 20, 30])
    target = np.repeat([0, 1, 3], [20, 10, 30])
    test = ls.label_count_test(source, target, 4)
    table = np.array([[10, 20, 30], [20, 10, 30]], dtype=float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    assert test.dof == 2 and test.n_classes_tested == 3
    assert test.statistic == pytest.approx(statistic)
    assert test.cramers_v == pytest.approx(np.sqrt(statistic / 120))
    assert test.n_source == 60 and test.n_target == 60


def test_large_samples_make_a_negligible_shift_significant():
    # 50/50 against 51/49 with 100,000 rows a side: "significant", yet Cramér's V says it is negligible
    source = np.repeat([0, 1], [50_000, 50_000])
    target = np.repeat([0, 1], [51_000, 49_000])
    test = ls.label_count_test(source, target, 2)
    assert test.shifted and test.p_value < 1e-4 and test.cramers_v == pytest.approx(0.01, rel=1e-3)
    assert "negligible effect" in test.verdict


def test_one_class_and_small_counts():
    test = ls.label_count_test([1, 1, 1], [1, 1], 3)
    assert not test.shifted and test.p_value == 1.0 and test.dof == 0
    small = ls.label_count_test([0, 1, 2, 2], [0, 1, 1], 3)
    assert small.small_expected_fraction == 1.0 and "only approximate" in small.verdict


# --------------------------------------------------------------------------------------------------------------
# exact cases: a perfect classifier, and no shift at all


SOURCE_LABELS = np.repeat([0, 1, 2, 3], [10, 20, 30, 40])
TARGET_LABELS = np.repeat([0, 1, 2, 3], [35, 5, 0, 10])  # class 2 absent from the target
TARGET_MIX = np.array([35, 5, 0, 10]) / 50


@pytest.mark.parametrize("soft", [False, True])
def test_perfect_classifier_bbse_is_exact(soft):
    estimate = ls.bbse(_onehot(SOURCE_LABELS, 4), SOURCE_LABELS, _onehot(TARGET_LABELS, 4), soft=soft)
    np.testing.assert_allclose(estimate, TARGET_MIX, atol=1e-12)


def test_perfect_classifier_mlls_is_exact():
    source_prior = np.bincount(SOURCE_LABELS) / SOURCE_LABELS.size
    np.testing.assert_allclose(ls.mlls(_onehot(TARGET_LABELS, 4), source_prior), TARGET_MIX, atol=1e-12)
    calibrated = ls.mlls(_onehot(TARGET_LABELS, 4), calibrate_with=(_onehot(SOURCE_LABELS, 4), SOURCE_LABELS))
    np.testing.assert_allclose(calibrated, TARGET_MIX, atol=1e-6)


@pytest.mark.parametrize("method", ls.METHODS)
def test_perfect_classifier_estimate_and_weights(method):
    result = ls.estimate_target_prior(
        _onehot(SOURCE_LABELS, 4), SOURCE_LABELS, _onehot(TARGET_LABELS, 4), method=method, n_bootstrap=50
    )
    np.testing.assert_allclose(result.estimate, TARGET_MIX, atol=1e-6)
    np.testing.assert_allclose(result.source_prior, [0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(result.importance_weights, TARGET_MIX / [0.1, 0.2, 0.3, 0.4], atol=1e-5)
    assert result.l1_shift == pytest.approx(_l1(TARGET_MIX, [0.1, 0.2, 0.3, 0.4]), abs=1e-5)
    assert np.all(result.lower <= result.estimate + 1e-9) and np.all(result.estimate <= result.upper + 1e-9)
    assert abs(result.lower[2]) < 1e-6 and abs(result.upper[2]) < 1e-6
    assert "PriorEstimate(method=" in repr(result)


def test_class_unseen_in_source_gets_weight_zero():
    source = np.array([0, 0, 1, 1])
    result = ls.estimate_target_prior(_onehot(source, 3), source, _onehot(np.array([0, 1, 1]), 3), n_bootstrap=0)
    assert result.source_prior[2] == 0 and result.importance_weights[2] == 0
    np.testing.assert_allclose(result.estimate, [1 / 3, 2 / 3, 0], atol=1e-6)
    np.testing.assert_array_equal(result.lower, result.estimate)


def test_target_equal_to_source_is_no_shift_exactly():
    rng = np.random.default_rng(2)
    labels, probs = _mixture(3000, SOURCE_PRIOR, rng)
    prior = np.bincount(labels, minlength=K_MIX) / labels.size
    np.testing.assert_allclose(ls.bbse(probs, labels, probs), prior, atol=1e-10)
    # MLLS after BCTS: the mean calibrated source prediction is a fixed point, and equals the label frequencies
    np.testing.assert_allclose(ls.mlls(probs, calibrate_with=(probs, labels)), prior, atol=1e-6)
    result = ls.estimate_target_prior(probs, labels, probs, n_bootstrap=20)
    assert result.l1_shift < 1e-5
    np.testing.assert_allclose(result.importance_weights, 1.0, atol=1e-4)


# --------------------------------------------------------------------------------------------------------------
# a mixture with exact posteriors: both estimators are consistent


def test_known_mixture_prior_is_recovered():
    rng = np.random.default_rng(3)
    target_prior = np.array([0.05, 0.10, 0.15, 0.30, 0.40])
    source_labels, source_probs = _mixture(20_000, SOURCE_PRIOR, rng)
    target_labels, target_probs = _mixture(20_000, target_prior, rng)
    truth = np.bincount(target_labels, minlength=K_MIX) / target_labels.size
    exact_em = ls.mlls(target_probs, SOURCE_PRIOR)  # the posteriors are exact: plain EM is consistent
    assert _l1(exact_em, truth) < 0.03
    for method in ls.METHODS:
        result = ls.estimate_target_prior(source_probs, source_labels, target_probs, method=method, n_bootstrap=100)
        assert _l1(result.estimate, truth) < 0.05, method
        assert np.mean((result.lower <= truth) & (truth <= result.upper)) >= 0.8, method
        assert _l1(result.estimate, truth) < _l1(result.source_prior, truth) / 5


def test_no_shift_sample_estimate_is_near_source_prior():
    rng = np.random.default_rng(4)
    source_labels, source_probs = _mixture(5000, SOURCE_PRIOR, rng)
    target_labels, target_probs = _mixture(2000, SOURCE_PRIOR, rng)
    assert not ls.label_count_test(source_labels, target_labels, K_MIX).shifted
    for method in ls.METHODS:
        result = ls.estimate_target_prior(source_probs, source_labels, target_probs, method=method, n_bootstrap=100)
        assert result.l1_shift < 0.1, method
        assert np.all((result.lower <= result.source_prior + 0.02) & (result.source_prior <= result.upper + 0.02))


def test_bcts_recovers_a_planted_temperature_and_bias():
    rng = np.random.default_rng(5)
    labels, probs = _mixture(200_000, SOURCE_PRIOR, rng)  # many rows: the fitted biases' sampling error is ~0.01
    bias = np.array([0.6, -0.3, 0.0, 0.9, -1.2])
    distorted = softmax(3.0 * np.log(probs) + bias, axis=1)  # overconfident and biased
    calibrator = ls.BiasCorrectedTemperatureScaling().fit(distorted, labels)
    assert calibrator.temperature_ == pytest.approx(3.0, rel=0.02)
    np.testing.assert_allclose(calibrator.bias_, -(bias - bias.mean()) / 3.0, atol=0.03)
    # at the optimum the mean calibrated prediction equals the label frequencies (the bias terms' condition)
    np.testing.assert_allclose(
        calibrator.transform(distorted).mean(axis=0), np.bincount(labels) / labels.size, atol=1e-5
    )


# --------------------------------------------------------------------------------------------------------------
# the contract: inputs, determinism, warnings


def test_same_seed_same_interval_and_seed_matters():
    rng = np.random.default_rng(6)
    source_labels, source_probs = _mixture(1000, SOURCE_PRIOR, rng)
    _, target_probs = _mixture(500, SOURCE_PRIOR[::-1], rng)
    for method in ls.METHODS:
        a = ls.estimate_target_prior(source_probs, source_labels, target_probs, method=method, random_state=7)
        b = ls.estimate_target_prior(source_probs, source_labels, target_probs, method=method, random_state=7)
        c = ls.estimate_target_prior(source_probs, source_labels, target_probs, method=method, random_state=8)
        np.testing.assert_array_equal(a.lower, b.lower)
        np.testing.assert_array_equal(a.upper, b.upper)
        np.testing.assert_array_equal(a.estimate, c.estimate)
        assert not np.array_equal(a.lower, c.lower)


def test_bad_inputs_say_what_is_wrong():
    probs = np.full((4, 3), 1 / 3)
    labels = np.array([0, 1, 2, 0])
    with pytest.raises(ShapeError, match="columns"):
        ls.bbse(probs, labels, np.full((4, 2), 0.5))
    with pytest.raises(ShapeError, match="0..2"):
        ls.estimate_target_prior(probs, np.array([0, 1, 3, 0]), probs)
    with pytest.raises(ShapeError, match="same rows"):
        ls.bbse(probs, labels[:3], probs)
    with pytest.raises(ShapeError, match="logits"):
        ls.mlls(probs * 5, [1 / 3] * 3)
    with pytest.raises(ShapeError, match="encode string labels"):
        ls.label_count_test(np.array(["a", "b"]), np.array(["a"]), 2)
    with pytest.raises(ShapeError, match="at least one label"):
        ls.label_count_test([], [0], 2)
    with pytest.raises(ValueError, match="source_prior"):
        ls.mlls(probs)
    with pytest.raises(ValueError, match="method"):
        ls.estimate_target_prior(probs, labels, probs, method="em")


def test_mlls_warns_when_it_stops_early():
    rng = np.random.default_rng(9)
    _, probs = _mixture(500, SOURCE_PRIOR[::-1], rng)
    with pytest.warns(RuntimeWarning, match="did not reach"):
        ls.mlls(probs, SOURCE_PRIOR, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ls.mlls(probs, SOURCE_PRIOR)


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
    mlls_result = ls.estimate_target_prior(source_probs, source_labels, target_probs, method="mlls")
    mlls_seconds = time.perf_counter() - started
    started = time.perf_counter()
    bbse_result = ls.estimate_target_prior(source_probs, source_labels, target_probs, method="bbse")
    bbse_seconds = time.perf_counter() - started
    raw_mlls = ls.mlls(target_probs, mlls_result.source_prior)  # no calibration: the label frequencies as p_s

    def coverage(result):
        return float(np.mean((result.lower <= truth) & (truth <= result.upper)))

    figures = {
        "l1_no_shift": _l1(mlls_result.source_prior, truth),
        "l1_mlls_bcts": _l1(mlls_result.estimate, truth),
        "l1_mlls_uncalibrated": _l1(raw_mlls, truth),
        "l1_bbse": _l1(bbse_result.estimate, truth),
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
    assert ls.label_count_test(source_labels, test_labels[rows], k).shifted
