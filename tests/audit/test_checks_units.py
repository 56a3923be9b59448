"""Exact small cases for the audit checks: duplicates, outliers, balance, column health, label shift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelwise.audit.composition import class_balance, column_health
from labelwise.audit.duplicates import conflicting_duplicates, cross_split_duplicates, find_near_duplicates
from labelwise.audit.label_shift import bbse, label_count_test, mlls
from labelwise.neighbours import knn
from labelwise.audit.outliers import outlier_scores


def _clustered(n, d=48, centres=30, spread=0.8, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, d))
    return (c[rng.integers(0, centres, n)] + spread * rng.standard_normal((n, d))).astype(np.float32), rng


def test_planted_duplicates_are_found_without_false_pairs():
    x, rng = _clustered(3000, spread=1.5)
    originals = rng.choice(3000, 40, replace=False)
    copies = np.setdiff1d(np.arange(3000), originals)[:40]
    x[copies] = x[originals] + 1e-3 * rng.standard_normal((40, x.shape[1]))
    keys = np.array([f"t{i}" for i in range(3000)], dtype=object)
    a, b = np.setdiff1d(np.arange(3000), np.concatenate([originals, copies]))[[0, 1]]
    keys[[a, b]] = "same text"
    result = find_near_duplicates(x, threshold=0.99, exact_keys=keys)
    expected = {tuple(sorted(p)) for p in zip(originals, copies)} | {(a, b)}
    assert {tuple(p) for p in result.pairs.tolist()} == expected
    assert result.n_duplicate_rows == 82 and result.n_groups == 41


def test_groups_join_chains_and_conflicts_are_exact():
    x = np.eye(6, dtype=np.float32)
    x[1] = x[0] + 0.01
    x[2] = x[1] + 0.01
    result = find_near_duplicates(x, threshold=0.99)
    assert result.group[0] == result.group[1] == result.group[2] >= 0 and (result.group[3:] == -1).all()
    labels = np.array([0, 0, 1, 2, 2, 2])
    conflict = conflicting_duplicates(result.pairs, labels)
    assert {tuple(p) for p, c in zip(result.pairs.tolist(), conflict) if c} == {(0, 2), (1, 2)} & {
        tuple(p) for p in result.pairs.tolist()}
    multi = np.array([[1, 0], [1, 0], [1, 1], [0, 1], [0, 1], [0, 1]], bool)
    assert conflicting_duplicates(np.array([[0, 1], [1, 2]]), multi).tolist() == [False, True]


def test_cross_split_leakage():
    a, rng = _clustered(800)
    b = rng.standard_normal((50, a.shape[1])).astype(np.float32) * 5
    b[[3, 17]] = a[[100, 200]]
    pairs, sim = cross_split_duplicates(a, b, threshold=0.99)
    assert pairs.tolist() == [[100, 3], [200, 17]] and np.allclose(sim, 1.0, atol=1e-5)


def test_outliers_planted_far_points_top_and_clean_cloud_quiet():
    x, rng = _clustered(2000, centres=5, spread=0.3)
    far = rng.standard_normal((5, x.shape[1])).astype(np.float32) * 10
    y = np.vstack([x, far])
    result = outlier_scores(y)
    assert set(np.argsort(-result.scores)[:5]) == set(range(2000, 2005))
    assert set(np.flatnonzero(result.is_outlier)) == set(range(2000, 2005))
    assert outlier_scores(x).n_outliers <= 2


def test_class_balance_by_hand():
    b = class_balance(np.array([0] * 50 + [1] * 5 + [2] * 45), 4)
    assert b.counts.tolist() == [50, 5, 45, 0] and b.imbalance_ratio == 10.0
    assert b.small.tolist() == [False, True, False, True] and b.min_count == 10
    p = np.array([0.5, 0.05, 0.45])
    assert b.entropy == pytest.approx(-(p * np.log(p)).sum() / np.log(4))


def test_column_health():
    frame = pd.DataFrame({"const": [1, 1, 1, 1], "empty": [None] * 4, "text": ["a", "bb", None, "dddd"],
                          "lists": [[1], [1, 2], [], [1]]})
    health = {c.name: c for c in column_health(frame)}
    assert health["const"].is_constant and "constant" in health["const"].notes
    assert health["empty"].is_all_missing and health["empty"].missing == 4
    assert health["text"].missing == 1 and health["text"].text_length == {"mean": 7 / 3, "min": 1, "max": 4}
    assert health["lists"].n_unique == 3 and health["lists"].missing == 0


def test_chi_square_shift_test():
    same = label_count_test(np.repeat([0, 1, 2], 300), np.repeat([0, 1, 2], 100), 3)
    assert not same.shifted and same.p_value == pytest.approx(1.0) and "no evidence" in same.verdict
    moved = label_count_test(np.repeat([0, 1, 2], 300), np.repeat([0, 1, 2], [250, 30, 20]), 3)
    assert moved.shifted and moved.cramers_v > 0.3 and "detected" in moved.verdict


def test_perfect_classifier_recovers_the_target_distribution_exactly():
    k = 4
    source = np.repeat(np.arange(k), 100)
    target = np.repeat(np.arange(k), [10, 20, 30, 140])
    onehot = np.eye(k)
    expected = np.array([10, 20, 30, 140]) / 200
    np.testing.assert_allclose(bbse(onehot[source], source, onehot[target]), expected, atol=1e-9)
    np.testing.assert_allclose(mlls(onehot[target], np.full(k, 0.25)), expected, atol=1e-6)
