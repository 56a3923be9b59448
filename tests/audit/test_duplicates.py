"""Exact and near duplicates, conflicting duplicates, groups and cross-split leakage (labelwise.audit.duplicates).

Every case has a known truth: rows are planted as copies (plus tiny noise) of other rows in random 384-d data, or
given equal text keys, so the expected pairs are known exactly and any extra pair is a false one.
"""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.audit.duplicates import (
    DuplicateResult,
    conflicting_duplicates,
    cross_split_duplicates,
    find_near_duplicates,
    rows_in_pairs,
)
from labelwise.neighbours import EXACT_MAX_ROWS, knn
from labelwise.audit.outliers import outlier_scores
from labelwise.errors import LabelwiseError

DIM = 384


def _planted(n: int, n_copies: int, *, noise: float = 1e-3, seed: int = 0):
    """Random (n, 384) float32 rows; ``n_copies`` of them overwritten by a noisy copy of another row.

    Returns (x, originals, copies, rest): rest are the rows involved in no planted pair.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    chosen = rng.choice(n, 2 * n_copies, replace=False)
    originals, copies = chosen[:n_copies], chosen[n_copies:]
    x[copies] = x[originals] + noise * rng.standard_normal((n_copies, DIM), dtype=np.float32)
    rest = np.setdiff1d(np.arange(n), chosen)
    return x, originals, copies, rest


def _pair_set(pairs) -> set[tuple[int, int]]:
    return {(int(i), int(j)) for i, j in np.asarray(pairs).reshape(-1, 2)}


def _sorted_pairs(a, b) -> set[tuple[int, int]]:
    return {(min(int(i), int(j)), max(int(i), int(j))) for i, j in zip(a, b)}


def test_planted_copies_and_equal_text_keys_are_all_found_with_no_false_pair():
    x, originals, copies, rest = _planted(2000, 30)
    keys = np.array([f"text {i}" for i in range(len(x))], dtype=object)
    a, b, c, d = rest[:4]
    keys[[a, b]] = "the same sentence"  # exact duplicates by text although their embeddings are unrelated
    keys[[c, d]] = "another shared sentence"

    result = find_near_duplicates(x, threshold=0.95, exact_keys=keys)

    assert isinstance(result, DuplicateResult)
    expected = _sorted_pairs(originals, copies) | _sorted_pairs([a, c], [b, d])
    assert _pair_set(result.pairs) == expected
    assert result.pairs.shape == (32, 2) and result.pairs.dtype.kind == "i"
    assert np.all(result.pairs[:, 0] < result.pairs[:, 1])
    assert result.similarity.shape == (32,)
    by_pair = dict(zip(map(tuple, result.pairs.tolist()), result.similarity.tolist()))
    assert by_pair[(min(a, b), max(a, b))] == 1.0  # an exact (key) duplicate has similarity 1
    assert min(by_pair[p] for p in _sorted_pairs(originals, copies)) > 0.999
    assert result.n_duplicate_rows == 64 and result.n_groups == 32
    assert result.threshold == 0.95


def test_rows_without_a_duplicate_get_group_minus_one_and_pairs_share_a_group():
    x, originals, copies, rest = _planted(500, 10)
    result = find_near_duplicates(x)
    assert result.group.shape == (500,)
    assert np.all(result.group[rest] == -1)
    assert np.all(result.group[originals] == result.group[copies])
    assert np.all(result.group[originals] >= 0)
    assert np.unique(result.group[originals]).size == 10  # ten separate pairs, ten groups
    assert sorted(np.unique(result.group[result.group >= 0]).tolist()) == list(range(10))  # ids are 0..g-1


def test_clean_random_data_has_no_duplicates():
    rng = np.random.default_rng(3)
    result = find_near_duplicates(rng.standard_normal((1000, DIM)))
    assert result.pairs.shape == (0, 2) and result.similarity.shape == (0,)
    assert result.n_duplicate_rows == 0 and result.n_groups == 0
    assert np.all(result.group == -1)


def test_chain_a_b_c_is_one_group_through_connected_components():
    # a, b, c on one great circle, 16 degrees apart: cos(a,b) = cos(b,c) = 0.961 >= 0.95, cos(a,c) = 0.848 < 0.95
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, DIM)).astype(np.float32)
    u, v = np.linalg.qr(rng.standard_normal((DIM, 2)))[0].T
    angle = np.deg2rad(16)
    x[[5, 20, 41]] = [np.cos(t * angle) * u + np.sin(t * angle) * v for t in range(3)]

    result = find_near_duplicates(x, threshold=0.95)

    assert _pair_set(result.pairs) == {(5, 20), (20, 41)}  # a-c is not itself a duplicate pair ...
    assert result.group[5] == result.group[20] == result.group[41] >= 0  # ... but all three are one group
    assert result.n_groups == 1 and result.n_duplicate_rows == 3
    np.testing.assert_allclose(result.similarity, np.cos(angle), atol=1e-5)


def test_a_group_larger_than_k_is_still_one_group():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, DIM)).astype(np.float32)
    members = rng.choice(300, 25, replace=False)
    x[members] = x[members[0]] + 1e-4 * rng.standard_normal((25, DIM)).astype(np.float32)

    result = find_near_duplicates(x, k=5)  # each row sees only 5 of its 24 copies

    assert set(np.flatnonzero(result.group >= 0)) == set(members.tolist())
    assert np.unique(result.group[members]).size == 1
    assert result.n_duplicate_rows == 25 and result.n_groups == 1
    assert _pair_set(result.pairs) <= _sorted_pairs(*np.triu_indices(300, 1)) and len(result.pairs) < 300


def test_exact_keys_group_identical_keys_and_pair_each_key_once():
    x = np.eye(8, DIM, dtype=np.float32)  # orthogonal rows: no near duplicate at all
    keys = ["a", "b", "a", "c", "a", "b", "d", "e"]
    result = find_near_duplicates(x, exact_keys=keys)
    assert result.n_duplicate_rows == 5 and result.n_groups == 2
    assert result.group[0] == result.group[2] == result.group[4] != result.group[1] == result.group[5]
    assert np.all(result.group[[3, 6, 7]] == -1)
    assert {(0, 2), (0, 4), (1, 5)} <= _pair_set(result.pairs)
    assert np.all(result.similarity == 1.0)


def test_a_pair_found_from_both_ends_and_by_key_is_reported_once():
    x, originals, copies, _ = _planted(200, 1)
    keys = np.array([str(i) for i in range(200)], dtype=object)
    keys[copies[0]] = keys[originals[0]]
    result = find_near_duplicates(x, exact_keys=keys)
    assert _pair_set(result.pairs) == _sorted_pairs(originals, copies)
    assert result.similarity.tolist() == [1.0]


def test_same_input_same_output():
    x, *_ = _planted(800, 8, noise=0.05)
    first, second = find_near_duplicates(x), find_near_duplicates(x.copy())
    np.testing.assert_array_equal(first.pairs, second.pairs)
    np.testing.assert_array_equal(first.similarity, second.similarity)
    np.testing.assert_array_equal(first.group, second.group)


def test_precomputed_neighbours_give_the_same_answer():
    x, originals, copies, _ = _planted(600, 6)
    own = find_near_duplicates(x, k=10)
    shared = find_near_duplicates(x, neighbours=knn(x, 10))
    np.testing.assert_array_equal(own.pairs, shared.pairs)
    np.testing.assert_array_equal(own.group, shared.group)


def test_conflicting_duplicates_single_label_exact():
    pairs = np.array([[0, 1], [2, 3], [4, 5], [1, 6]])
    labels = np.array([0, 0, 1, 2, 3, 3, 1])
    conflict = conflicting_duplicates(pairs, labels)
    assert conflict.dtype == bool and conflict.tolist() == [False, True, False, True]
    assert rows_in_pairs(pairs, 7, conflict).tolist() == [False, True, True, True, False, False, True]
    assert rows_in_pairs(pairs, 8).tolist() == [True] * 7 + [False]


def test_conflicting_duplicates_multi_label_differ_when_the_sets_differ():
    labels = np.array([[1, 0, 1], [1, 0, 1], [1, 0, 0], [0, 0, 0], [0, 0, 0]], dtype=bool)
    pairs = np.array([[0, 1], [0, 2], [3, 4], [2, 3]])
    assert conflicting_duplicates(pairs, labels).tolist() == [False, True, False, True]
    assert conflicting_duplicates(pairs, labels.astype(np.int8)).tolist() == [False, True, False, True]


def test_conflicting_duplicates_end_to_end_with_planted_label_disagreements():
    x, originals, copies, _ = _planted(1000, 20)
    labels = np.random.default_rng(5).integers(0, 4, 1000)
    labels[copies] = labels[originals]
    labels[copies[:7]] = (labels[originals[:7]] + 1) % 4  # 7 of the 20 copies disagree with their original
    result = find_near_duplicates(x)
    conflict = conflicting_duplicates(result.pairs, labels)
    assert _pair_set(result.pairs[conflict]) == _sorted_pairs(originals[:7], copies[:7])
    assert set(np.flatnonzero(rows_in_pairs(result.pairs, 1000, conflict))) == set(
        np.concatenate([originals[:7], copies[:7]]).tolist())


def test_no_pairs_no_conflicts():
    assert conflicting_duplicates(np.empty((0, 2), int), np.array([0, 1, 2])).shape == (0,)


def test_cross_split_leakage_is_found_exactly():
    rng = np.random.default_rng(7)
    train = rng.standard_normal((1500, DIM)).astype(np.float32)
    test = rng.standard_normal((300, DIM)).astype(np.float32)
    leaked_test = np.array([3, 50, 51, 299])
    leaked_train = np.array([1400, 7, 7, 0])  # one train row leaked twice
    test[leaked_test] = train[leaked_train] + 1e-3 * rng.standard_normal((4, DIM)).astype(np.float32)
    test[100] = 2.5 * train[800]  # same direction, other length: cosine 1

    pairs, similarity = cross_split_duplicates(train, test, threshold=0.95)

    assert pairs.tolist() == [[1400, 3], [7, 50], [7, 51], [800, 100], [0, 299]]  # [row in a, row in b], by b
    assert similarity.shape == (5,) and np.all(similarity > 0.999)


def test_cross_split_without_leakage_is_empty():
    rng = np.random.default_rng(8)
    pairs, similarity = cross_split_duplicates(rng.standard_normal((400, DIM)), rng.standard_normal((100, DIM)))
    assert pairs.shape == (0, 2) and similarity.shape == (0,)


def test_scale_20k_rows_uses_the_index_and_finds_every_planted_copy():
    n = 20_000
    assert n > EXACT_MAX_ROWS  # the inverted-file index, not exact search, serves this size
    x, originals, copies, _ = _planted(n, 200, noise=1e-2)
    neighbours = knn(x, 10)
    result = find_near_duplicates(x, neighbours=neighbours)
    outliers = outlier_scores(x, neighbours=neighbours)
    assert _pair_set(result.pairs) == _sorted_pairs(originals, copies)
    assert result.n_duplicate_rows == 400
    assert outliers.scores.shape == (n,) and np.all((outliers.scores > 0) & (outliers.scores < 1))


# ------------------------------------------------------------------------------------------------------------------
# gaps the helper found in the first version, now fixed



def test_missing_or_empty_keys_are_not_exact_duplicates():
    x = np.eye(6, DIM, dtype=np.float32)
    keys = np.array([None, None, np.nan, float("nan"), "", ""], dtype=object)
    assert find_near_duplicates(x, exact_keys=keys).pairs.shape == (0, 2)



def test_exact_keys_of_the_wrong_length_raise_an_error_that_names_both_lengths():
    with pytest.raises(LabelwiseError, match="5"):
        find_near_duplicates(np.eye(5, DIM), exact_keys=["a", "a"])



def test_cross_split_with_different_widths_raises_a_labelwise_error():
    with pytest.raises(LabelwiseError):
        cross_split_duplicates(np.ones((3, 8)), np.ones((3, 5)))
