"""Confident learning: exact small cases, parity with cleanlab 2.9, and recovery of a known noise process."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from labelwise.audit import label_errors as le
from labelwise.errors import ShapeError
from tests.conftest import shared_dataset

# seven rows, three classes; row 5 is labelled 2 but is confidently class 0
P = np.array(
    [
        [0.90, 0.05, 0.05],
        [0.80, 0.10, 0.10],
        [0.10, 0.80, 0.10],
        [0.20, 0.70, 0.10],
        [0.10, 0.10, 0.80],
        [0.88, 0.07, 0.05],
        [0.05, 0.05, 0.90],
    ]
)
Y = np.array([0, 0, 1, 1, 2, 2, 2])


def test_thresholds_are_mean_self_confidence_per_class():
    np.testing.assert_allclose(le.confident_thresholds(Y, P), [0.85, 0.75, (0.8 + 0.05 + 0.9) / 3])


def test_confident_joint_by_hand():
    raw = le.compute_confident_joint(Y, P, calibrate=False)
    # counted rows: 0 -> (0,0), 2 -> (1,1), 4 -> (2,2), 5 -> (2,0), 6 -> (2,2); rows 1 and 3 clear no threshold
    np.testing.assert_array_equal(raw, [[1, 0, 0], [0, 1, 0], [1, 0, 2]])
    calibrated = le.compute_confident_joint(Y, P)
    np.testing.assert_array_equal(calibrated, [[2, 0, 0], [0, 2, 0], [1, 0, 2]])
    np.testing.assert_array_equal(calibrated.sum(axis=1), np.bincount(Y))


def test_noise_matrices_by_hand():
    est = le.estimate_noise(Y, P)
    np.testing.assert_allclose(est.noise_matrix[:, 0], [2 / 3, 0, 1 / 3])  # P(given | true = 0)
    np.testing.assert_allclose(est.inverse_noise_matrix[:, 2], [1 / 3, 0, 2 / 3])  # P(true | given = 2)
    np.testing.assert_allclose(est.noise_matrix.sum(axis=0), 1.0)
    np.testing.assert_allclose(est.inverse_noise_matrix.sum(axis=0), 1.0)
    np.testing.assert_allclose(est.prior_true, [3 / 7, 2 / 7, 2 / 7])
    assert est.error_rate == pytest.approx(1 / 7)


@pytest.mark.parametrize("filter_by", ["prune_by_noise_rate", "prune_by_class", "both", "confident_learning"])
def test_filters_flag_the_wrong_row(filter_by):
    np.testing.assert_array_equal(np.flatnonzero(le.find_label_issues(Y, P, filter_by=filter_by)), [5])


def test_predicted_neq_given_and_low_score_filters():
    assert np.flatnonzero(le.find_label_issues(Y, P, filter_by="predicted_neq_given")).tolist() == [5]
    assert np.flatnonzero(le.find_label_issues(Y, P, filter_by="low_self_confidence")).tolist() == [5]
    assert np.flatnonzero(le.find_label_issues(Y, P, filter_by="low_self_confidence_calibrated")).tolist() == [5]


# ten rows, two classes: calibration doubles the one confidently wrong row of class 0 into two estimated errors
P2_CLASS1 = np.array([0.05, 0.05, 0.9, 0.45, 0.43, 0.4, 0.9, 0.9, 0.9, 0.6])
P2 = np.stack([1 - P2_CLASS1, P2_CLASS1], axis=1)
Y2 = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])


def test_calibrated_filters_flag_the_calibrated_count_by_hand():
    # thresholds: class 0 mean(.95 .95 .1 .55 .57 .6) = .62, class 1 mean(.9 .9 .9 .6) = .825; rows 3, 4, 5 and 9
    # clear neither, row 2 (labelled 0) clears class 1's: raw joint [[2, 1], [0, 3]] -> calibrated [[4, 2], [0, 4]]
    np.testing.assert_array_equal(le.compute_confident_joint(Y2, P2), [[4, 2], [0, 4]])
    assert le.num_label_issues(Y2, P2) == 1
    assert le.num_label_issues(Y2, P2, method="off_diagonal_calibrated") == 2
    # cleanlab's low_self_confidence stops at the uncalibrated count (1 row) ...
    assert np.flatnonzero(le.find_label_issues(Y2, P2, filter_by="low_self_confidence")).tolist() == [2]
    # ... the calibrated filters take the 2 lowest scores: row 2 (.1) and row 3 (self-confidence .55, margin .1),
    # although row 3's argmax is its given label
    for filter_by in ("low_self_confidence_calibrated", "low_normalized_margin_calibrated"):
        assert np.flatnonzero(le.find_label_issues(Y2, P2, filter_by=filter_by)).tolist() == [2, 3], filter_by
    half = le.find_label_issues(Y2, P2, filter_by="low_self_confidence_calibrated", frac_noise=0.5)
    assert np.flatnonzero(half).tolist() == [2]


def test_quality_scores_by_hand():
    np.testing.assert_allclose(le.label_quality_scores(Y, P)[5], 0.05)
    np.testing.assert_allclose(le.label_quality_scores(Y, P, method="normalized_margin")[5], (0.05 - 0.88 + 1) / 2)
    cwe = le.label_quality_scores(Y, P, method="confidence_weighted_entropy")
    assert np.argmin(cwe) == 5
    assert le.rank_label_issues(np.ones(7, bool), Y, P)[0] == 5


def test_rows_whose_argmax_is_the_label_are_never_flagged():
    # a near tie: the given label is within 1e-6 of the max, so it counts as predicted
    probs = np.array([[0.5, 0.5], [0.5, 0.5], [0.9, 0.1], [0.1, 0.9], [0.2, 0.8]])
    labels = np.array([1, 0, 0, 1, 1])
    assert not le.find_label_issues(labels, probs)[:2].any()
    # plain argmax takes the first of a tie, so the baseline flags row 0
    assert le.find_label_issues(labels, probs, filter_by="predicted_neq_given")[0]


def test_top_per_cell_breaks_ties_by_row_order():
    # cell 0 wants its 2 largest margins of [1, 1, 1, 0] (rows 0..3), cell 1 its largest of [0, 2, 1, 2];
    # rows arrive out of order and one at a time, as chunks merged in any order would bring them
    best = le._TopPerCell(np.array([2, 1]))
    for row in (3, 1, 2, 0):
        best.add(np.array([0, 1]), np.array([[1.0, 0.0], [1.0, 2.0], [1.0, 1.0], [0.0, 2.0]][row]),
                 np.array([row, row]))
    best.rows()
    cells, _, rows = best.kept
    assert sorted(zip(cells.tolist(), rows.tolist())) == [(0, 0), (0, 1), (1, 1)]


def test_round_preserving_row_totals():
    out = le.round_preserving_row_totals(np.array([[0.5, 0.5, 1.0], [1.4, 1.4, 1.2]]))
    np.testing.assert_array_equal(out.sum(axis=1), [2, 4])


def test_bad_inputs_raise_actionable_errors():
    with pytest.raises(ShapeError, match="logits"):
        le.find_label_issues(Y, P * 5)
    with pytest.raises(ShapeError, match="shape"):
        le.find_label_issues(Y[:3], P)
    with pytest.raises(ShapeError, match="0..2"):
        le.find_label_issues(Y + 1, P)
    with pytest.raises(ValueError, match="filter_by"):
        le.find_label_issues(Y, P, filter_by="nope")


def _synthetic(n, k, noise, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k)) + 3.0 * np.eye(k)[true]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    given = true.copy()
    flip = rng.random(n) < noise
    given[flip] = (true[flip] + rng.integers(1, k, flip.sum())) % k
    return given, probs.astype(dtype), flip


@pytest.fixture
def cleanlab():
    """The reference implementation; only the parity tests need it (the exact hand-computed tests never skip)."""
    return pytest.importorskip("cleanlab", reason="cleanlab is the reference implementation (pip install -e '.[dev]')")


def _cleanlab_flags(labels, probs, filter_by):
    """cleanlab 2.9's rows for a filter: its own find_label_issues for its names; for the ``*_calibrated`` ones the
    recipe its num_label_issues documents (rank scores cut at the off_diagonal_calibrated count)."""
    from cleanlab.count import num_label_issues
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    if filter_by in le.CLEANLAB_FILTERS:
        return find_label_issues(labels, probs, filter_by=filter_by, n_jobs=1)
    scores = get_label_quality_scores(labels, probs, method=filter_by[4:].removesuffix("_calibrated"))
    mask = np.zeros(labels.shape[0], dtype=bool)
    mask[np.argsort(scores)[: num_label_issues(labels, probs, estimation_method="off_diagonal_calibrated")]] = True
    return mask


def test_calibrated_count_and_filters_match_cleanlab_by_hand(cleanlab):
    from cleanlab.count import num_label_issues

    assert num_label_issues(Y2, P2, estimation_method="off_diagonal_calibrated") == 2
    for filter_by in le.FILTERS:
        np.testing.assert_array_equal(le.find_label_issues(Y2, P2, filter_by=filter_by),
                                      _cleanlab_flags(Y2, P2, filter_by), err_msg=filter_by)


@pytest.mark.parametrize("seed,k,dtype", [(0, 3, np.float64), (1, 10, np.float32), (2, 40, np.float32)])
def test_parity_with_cleanlab_on_synthetic_data(seed, k, dtype, cleanlab):
    from cleanlab.count import compute_confident_joint

    labels, probs, _ = _synthetic(4000, k, 0.15, seed, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(le.compute_confident_joint(labels, probs), compute_confident_joint(labels, probs))
        for filter_by in le.FILTERS:
            ours = le.find_label_issues(labels, probs, filter_by=filter_by)
            np.testing.assert_array_equal(ours, _cleanlab_flags(labels, probs, filter_by), err_msg=filter_by)


def test_parity_with_cleanlab_multi_label(cleanlab):
    from cleanlab.multilabel_classification.filter import find_label_issues

    rng = np.random.default_rng(3)
    truth = rng.random((2000, 5)) < 0.3
    probs = 1 / (1 + np.exp(-(rng.normal(0, 1, truth.shape) + 3 * (truth - 0.5))))
    given = truth ^ (rng.random(truth.shape) < 0.05)
    as_lists = [list(np.flatnonzero(row)) for row in given]
    for filter_by in ["prune_by_noise_rate", "both", "confident_learning"]:
        ours = le.find_label_issues(given, probs, filter_by=filter_by, multi_label=True)
        np.testing.assert_array_equal(ours, find_label_issues(as_lists, probs, filter_by=filter_by), err_msg=filter_by)


@pytest.mark.shared
@pytest.mark.parametrize("name", ["20news", "imdb", "cifar10", "mnist"])
def test_parity_with_cleanlab_on_published_probabilities(name, cleanlab):
    """The four test sets of "Pervasive Label Errors": every filter flags exactly cleanlab's rows."""
    probs = np.load(shared_dataset("label-errors", f"{name}_test_set_pyx.npy")).astype(np.float64)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.load(shared_dataset("label-errors", f"{name}_test_set_original_labels.npy")).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for filter_by in le.FILTERS:
            ours = le.find_label_issues(labels, probs, filter_by=filter_by)
            np.testing.assert_array_equal(ours, _cleanlab_flags(labels, probs, filter_by), err_msg=filter_by)
    expected = {"20news": 95, "imdb": 1309, "cifar10": 284, "mnist": 15}[name]  # documented in the data README
    assert le.find_label_issues(labels, probs).sum() == expected  # the library default is cleanlab's filter


def test_noise_matrix_recovers_a_known_noise_process():
    """Given labels drawn through a known noise matrix T from informative probabilities: estimate close to T."""
    rng = np.random.default_rng(7)
    k, n = 3, 30000
    noise = np.array([[0.8, 0.1, 0.0], [0.2, 0.9, 0.1], [0.0, 0.0, 0.9]])  # P(given = i | true = j)
    true = rng.integers(0, k, n)
    given = np.array([rng.choice(k, p=noise[:, t]) for t in true])
    logits = rng.normal(0, 1, (n, k)) + 4.0 * np.eye(k)[true]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    est = le.estimate_noise(given, probs)
    assert np.abs(est.noise_matrix - noise).max() < 0.05
    assert abs(est.error_rate - np.mean(given != true)) < 0.03
    flagged = le.find_label_issues(given, probs)
    wrong = given != true
    precision, recall = (flagged & wrong).sum() / flagged.sum(), (flagged & wrong).sum() / wrong.sum()
    assert precision > 0.85 and recall > 0.85


def test_threads_and_chunk_boundaries_do_not_change_the_result(cleanlab):
    """n spans several row chunks; one thread and four threads flag the same rows as cleanlab."""
    from cleanlab.filter import find_label_issues

    labels, probs, _ = _synthetic(3 * le._CHUNK_ROWS + 17, 6, 0.1, 11, np.float32)
    one = le.find_label_issues(labels, probs, n_jobs=1)
    four = le.find_label_issues(labels, probs, n_jobs=4)
    np.testing.assert_array_equal(one, four)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(one, find_label_issues(labels, probs, n_jobs=1))
