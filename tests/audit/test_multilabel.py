"""labelwise.audit.multilabel against cleanlab 2.9's multilabel_classification (identical results), and its own
exact cases: missing / spurious labels, cardinality, co-occurrence."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from labelwise.audit.multilabel import dataset as ml_dataset
from labelwise.audit.multilabel import filter as ml_filter
from labelwise.audit.multilabel import rank as ml_rank
from labelwise.audit.multilabel.structure import label_cardinality, label_cooccurrence
from labelwise.errors import ParameterError, ShapeError

METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")


@pytest.fixture
def cleanlab():
    """The reference implementation; only the parity tests need it."""
    return pytest.importorskip("cleanlab", reason="cleanlab is the reference implementation (pip install -e '.[dev]')")


def _synthetic(n=1500, k=6, seed=3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    truth = rng.random((n, k)) < 0.3
    probs = 1 / (1 + np.exp(-(rng.normal(0, 1, truth.shape) + 3 * (truth - 0.5))))
    given = truth ^ (rng.random(truth.shape) < 0.05)
    return given, probs.astype(dtype)


def assert_same_as_cleanlab(given: np.ndarray, probs: np.ndarray, names=None, thorough: bool = True,
                            filters=ml_filter.FILTERS, tables: bool = True) -> None:
    """Every function of cleanlab.multilabel_classification and ours give the same results on (given, probs).
    cleanlab runs with n_jobs=1 where it takes n_jobs (its result does not depend on it; its process pools would
    make the test slow)."""
    from cleanlab.multilabel_classification import dataset, filter, rank

    lists = [list(np.flatnonzero(row)) for row in given]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for filter_by in filters:
            np.testing.assert_array_equal(ml_filter.find_label_issues(lists, probs, filter_by=filter_by),
                                          filter.find_label_issues(lists, probs, filter_by=filter_by, n_jobs=1),
                                          err_msg=filter_by)
            np.testing.assert_array_equal(ml_filter.find_multilabel_issues_per_class(given, probs, filter_by=filter_by),
                                          filter.find_multilabel_issues_per_class(lists, probs, filter_by=filter_by,
                                                                                  n_jobs=1),
                                          err_msg=filter_by)
            for ranked_by in METHODS if thorough else ("self_confidence",):
                np.testing.assert_array_equal(
                    ml_filter.find_label_issues(lists, probs, filter_by=filter_by, return_indices_ranked_by=ranked_by,
                                            n_jobs=1),
                    filter.find_label_issues(lists, probs, filter_by=filter_by, return_indices_ranked_by=ranked_by,
                                            n_jobs=1),
                    err_msg=f"{filter_by} {ranked_by}")
        ours = ml_filter.find_multilabel_issues_per_class(lists, probs, return_indices_ranked_by="normalized_margin",
                                                          rank_by_kwargs={"adjust_pred_probs": True})
        theirs = filter.find_multilabel_issues_per_class(lists, probs, return_indices_ranked_by="normalized_margin",
                                                         rank_by_kwargs={"adjust_pred_probs": True}, n_jobs=1)
        for a, b in zip(ours, theirs):
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)
        if thorough:
            for kwargs in ({"frac_noise": 0.5}, {"min_examples_per_class": 400},
                           {"num_to_remove_per_class": list(range(1, probs.shape[1] + 1))}):
                for filter_by in ("prune_by_noise_rate", "prune_by_class", "both"):
                    np.testing.assert_array_equal(ml_filter.find_label_issues(lists, probs, filter_by=filter_by, **kwargs),
                                                  filter.find_label_issues(lists, probs, filter_by=filter_by, n_jobs=1,
                                                                           **kwargs),
                                                  err_msg=f"{filter_by} {kwargs}")
        for method in METHODS:
            for adjust in (False, True) if method != "confidence_weighted_entropy" else (False,):
                np.testing.assert_array_equal(
                    ml_rank.get_label_quality_scores_per_class(lists, probs, method=method, adjust_pred_probs=adjust),
                    rank.get_label_quality_scores_per_class(lists, probs, method=method, adjust_pred_probs=adjust))
                for aggregator in ({}, {"method": "softmin"}, {"method": "exponential_moving_average"}):
                    kw = {"aggregator_kwargs": aggregator} if aggregator else {}
                    np.testing.assert_array_equal(
                        ml_rank.get_label_quality_scores(given, probs, method=method, adjust_pred_probs=adjust, **kw),
                        rank.get_label_quality_scores(lists, probs, method=method, adjust_pred_probs=adjust, **kw))
        if not tables:  # cleanlab's dataset functions start a process pool per class (seconds each)
            return
        ours = ml_dataset.multilabel_health_summary(lists, probs, class_names=names, verbose=False)
        theirs = dataset.multilabel_health_summary(lists, probs, class_names=names, verbose=False)
        assert ours["overall_multilabel_health_score"] == theirs["overall_multilabel_health_score"]
        for key in ("classes_by_multilabel_quality", "common_multilabel_issues"):
            pd.testing.assert_frame_equal(ours[key], theirs[key])
        pd.testing.assert_frame_equal(ml_dataset.rank_classes_by_multilabel_quality(lists, probs),
                                      dataset.rank_classes_by_multilabel_quality(lists, probs))
        assert ml_dataset.overall_multilabel_health_score(lists, probs) == dataset.overall_multilabel_health_score(
            lists, probs)


@pytest.mark.slow
@pytest.mark.parametrize("seed,k,dtype,thorough", [(3, 6, np.float64, True), (4, 10, np.float32, False)])
def test_identical_to_cleanlab_on_synthetic_data(seed, k, dtype, thorough, cleanlab):
    given, probs = _synthetic(600, k, seed, dtype)
    assert_same_as_cleanlab(given, probs, names=[f"class {j}" for j in range(k)], thorough=thorough)


@pytest.mark.slow
def test_a_class_no_row_has_and_rows_without_labels(cleanlab):
    given, probs = _synthetic(500, 5, 7)
    given[:, 2] = False  # nobody carries class 2
    given[:50] = False  # 50 rows carry nothing
    # cleanlab's predicted_neq_given and low_* (per class) refuse a class no row has; ours run
    assert_same_as_cleanlab(given, probs, thorough=False,
                            filters=("prune_by_noise_rate", "prune_by_class", "both", "confident_learning"))
    issues = ml_filter.find_multilabel_issues_per_class(given, probs, filter_by="predicted_neq_given")
    np.testing.assert_array_equal(issues[:, 2], probs[:, 2] > 0.5)


def test_exact_small_case_by_hand():
    """Class 0: rows 0-3 carry it with p = .9 .8 .9 .1 (row 3 spurious); rows 4-7 lack it with p = .1 .2 .95 .1
    (row 6 missing). Thresholds: present .675, absent (.9+.8+.05+.9)/4 = .6625; confident rows count off the diagonal
    exactly for rows 3 and 6."""
    p = np.array([[.9, .5], [.8, .5], [.9, .5], [.1, .5], [.1, .5], [.2, .5], [.95, .5], [.1, .5]])
    given = np.array([[1, 1], [1, 0], [1, 1], [1, 0], [0, 1], [0, 0], [0, 1], [0, 0]], bool)
    issues = ml_filter.find_multilabel_issues_per_class(given, p, filter_by="confident_learning")
    assert np.flatnonzero(issues[:, 0]).tolist() == [3, 6] and not issues[:, 1].any()
    missing, spurious = ml_filter.missing_and_spurious(given, issues)
    assert np.argwhere(missing).tolist() == [[6, 0]] and np.argwhere(spurious).tolist() == [[3, 0]]
    assert ml_filter.find_label_issues(given, p, filter_by="confident_learning").tolist() == [0, 0, 0, 1, 0, 0, 1, 0]
    scores = ml_rank.get_label_quality_scores_per_class(given, p)
    np.testing.assert_allclose(scores[:, 0], [.9, .8, .9, .1, .9, .8, .05, .9])
    # EMA over a row's scores sorted best first, alpha 0.8: row 3 = 0.8 * 0.1 + 0.2 * 0.5
    np.testing.assert_allclose(ml_rank.get_label_quality_scores(given, p)[3], 0.8 * 0.1 + 0.2 * 0.5)


def test_cardinality_exact():
    Y = np.array([[1, 1, 0], [0, 0, 0], [1, 0, 0], [1, 1, 1], [0, 0, 0]], bool)
    c = label_cardinality(Y)
    assert c.counts.tolist() == [2, 1, 1, 1] and c.max == 3
    assert c.mean == pytest.approx(6 / 5) and c.empty_share == pytest.approx(2 / 5)
    assert c.density == pytest.approx(6 / 15)


def test_cooccurrence_exact():
    # a b c d: a&b in 3 rows, a&c in 1, b&c in 1, d alone; n = 6
    Y = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]], bool)
    co = label_cooccurrence(Y, top=10)
    assert co.pairs_seen == 3
    assert list(zip(co.first.tolist(), co.second.tolist(), co.count.tolist())) == [(0, 1, 3), (1, 2, 1), (0, 2, 1)]
    # lift(a, b) = 6 * 3 / (4 * 3) = 1.5; lift(b, c) = 6 / (3 * 1) = 2; lift(a, c) = 6 / 4 = 1.5
    np.testing.assert_allclose(co.lift, [1.5, 2.0, 1.5])
    np.testing.assert_allclose(co.pmi, np.log2([1.5, 2.0, 1.5]))
    np.testing.assert_allclose(co.npmi, np.log2([1.5, 2.0, 1.5]) / -np.log2([3 / 6, 1 / 6, 1 / 6]))
    assert label_cooccurrence(Y, top=1).count.tolist() == [3]


def test_wrong_inputs_are_user_errors():
    p = np.full((3, 2), 0.5)
    with pytest.raises(ShapeError, match="class indices"):
        ml_filter.find_label_issues([[0], [5], []], p)
    with pytest.raises(ShapeError, match="one label list per row"):
        ml_filter.find_label_issues([[0], [1]], p)
    with pytest.raises(ShapeError, match="logits"):
        ml_rank.get_label_quality_scores([[0], [1], []], p * 3)
    with pytest.raises(ParameterError, match="filter_by"):
        ml_filter.find_label_issues([[0], [1], []], p, filter_by="nope")
    with pytest.raises(ParameterError, match="low_memory"):
        ml_filter.find_label_issues([[0], [1], []], p, low_memory=True)
    with pytest.raises(ShapeError, match=r"\(K, 2, 2\)"):
        ml_filter.find_label_issues([[0], [1], []], p, confident_joint=np.zeros((3, 3, 3)))


# ---- real data: NLU++ BANKING, MiniLM embeddings, one-vs-rest logistic regression out of fold ---------------------


@pytest.fixture(scope="module")
def nlupp_corrupted():
    """NLU++ BANKING intents with 100 labels dropped and 100 added (seed 0), and 3-fold out-of-fold probabilities
    trained on the corrupted labels (one BLAS thread: on a shared machine more threads made each fit 30x slower)."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    from labelwise.audit.out_of_fold import out_of_fold_probabilities
    from labelwise.data.corruption import drop_and_add_labels
    from labelwise.data.nlupp import intent_matrix, load_nlupp, load_nlupp_ontology, nlupp_intent_names
    from labelwise.features import TextEncoder
    from tests.conftest import shared_dataset

    root = shared_dataset("nlupp")
    table = load_nlupp(root, domains=("banking",))
    Y = intent_matrix(table["intents"], nlupp_intent_names(load_nlupp_ontology(root), "banking")).astype(bool)
    X = TextEncoder().encode(table["text"].tolist())
    noisy, dropped, added = drop_and_add_labels(Y, 100, 100, random_state=0)
    with threadpool_limits(1):
        probs = out_of_fold_probabilities(X, noisy, n_classes=Y.shape[1], classifier=LogisticRegression(max_iter=500),
                                          n_folds=3, multi_label=True, random_state=0)
    return noisy, probs, dropped, added


@pytest.mark.shared
@pytest.mark.model
@pytest.mark.slow
def test_identical_to_cleanlab_on_nlupp(nlupp_corrupted, cleanlab):
    noisy, probs, _, _ = nlupp_corrupted
    assert_same_as_cleanlab(noisy, probs, thorough=False, tables=False,
                            filters=("prune_by_noise_rate", "confident_learning", "low_self_confidence"))


@pytest.mark.shared
@pytest.mark.model
@pytest.mark.slow
def test_planted_missing_and_spurious_labels_are_named_in_their_rows(nlupp_corrupted):
    """The audit's multi-label default (prune_by_noise_rate, one-vs-rest) names the planted label in the planted row:
    measured (bench/multilabel_audit.py, 5 folds, 3 seeds) 0.40 of the missing and 0.90 of the spurious ones; NLU++'s
    own annotation gaps make precision a lower bound. Floors well under the measurement."""
    from labelwise.audit import label_errors

    noisy, probs, dropped, added = nlupp_corrupted
    issues = label_errors.find_label_issues_per_class(noisy, probs, filter_by=label_errors.MULTI_LABEL_AUDIT_FILTER)
    np.testing.assert_array_equal(issues, ml_filter.find_multilabel_issues_per_class(noisy, probs))
    missing, spurious = ml_filter.missing_and_spurious(noisy, issues)
    assert (missing & dropped).sum() / dropped.sum() >= 0.25
    assert (spurious & added).sum() / added.sum() >= 0.7
    found = (missing & dropped).sum() + (spurious & added).sum()
    assert found / (missing.sum() + spurious.sum()) >= 0.25
    # a missing label is never one the row has, a spurious one always is
    assert not (missing & noisy).any() and (spurious <= noisy).all()
