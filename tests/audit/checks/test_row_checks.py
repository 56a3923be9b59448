"""The duplicate and outlier checks on exact small cases: which rows they flag, under which names."""

from __future__ import annotations

import numpy as np

from labelwise.audit.checks import DuplicatesCheck, OutliersCheck
from tests.audit.checks.inputs import check_inputs


def test_duplicates_check_flags_the_rows_of_conflicting_copies():
    vectors = np.eye(8)
    vectors[1] = vectors[0]  # a copy with the same label
    vectors[3] = vectors[2]  # a copy with another label
    labels = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    texts = [f"text {i}" for i in range(8)]
    texts[7] = " TEXT   6 "  # the same text as row 6 (case and spacing aside), other vectors, other label
    result = DuplicatesCheck(threshold=0.99).run(check_inputs(vectors, labels, texts=texts))
    conflict = {tuple(p): c for p, c in zip(result.pairs.tolist(), result.pair_conflict)}
    assert conflict == {(0, 1): False, (2, 3): True, (6, 7): True}
    assert result.is_duplicate_issue.tolist() == [False, False, True, True, False, False, True, True]
    assert result.duplicate_group.tolist()[4:6] == [-1, -1] and len(set(result.duplicate_group[[0, 2, 6]])) == 3
    summary = result.summary
    assert (summary.duplicate_rows, summary.groups, summary.pairs_found) == (6, 3, 3)
    assert (summary.conflicting_pairs, summary.conflicting_rows, summary.threshold) == (2, 4, 0.99)
    assert list(result.columns()) == ["duplicate_group", "is_duplicate_issue"]
    np.testing.assert_array_equal(result.is_issue(), result.is_duplicate_issue)


def test_outlier_check_flags_a_planted_far_row():
    rng = np.random.default_rng(0)
    centre = rng.standard_normal(16)
    vectors = centre + 0.05 * rng.standard_normal((400, 16))
    vectors[123] = -centre  # opposite to every other row
    result = OutliersCheck().run(check_inputs(vectors, np.arange(400) % 2))
    assert np.flatnonzero(result.is_outlier_issue).tolist() == [123]
    assert result.outlier_score.argmax() == 123 and result.outlier_distance[123] > 1.5
    assert result.summary.n_outliers == 1 and result.summary.k == 10
    assert result.outlier_distance[123] > result.summary.threshold
    assert list(result.columns()) == ["outlier_score", "outlier_distance", "is_outlier_issue"]
