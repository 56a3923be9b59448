"""Outlier scores from k-nearest-neighbour cosine distance (labelwise.audit.outliers): exact small cases, planted
far points in a Gaussian cloud, and a clean cloud that should flag (almost) nothing."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.neighbours import knn
from labelwise.audit.outliers import OutlierResult, outlier_scores


def _cloud(n: int, d: int = 64, *, seed: int = 0) -> np.ndarray:
    """A Gaussian cloud around 10 * e_0: its rows point roughly one way (cosine ~0.8 to the centre)."""
    rng = np.random.default_rng(seed)
    centre = np.zeros(d)
    centre[0] = 10.0
    return (centre + rng.standard_normal((n, d))).astype(np.float32)


def _brute_mean_cosine_distance(x: np.ndarray, k: int) -> np.ndarray:
    z = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = z @ z.T
    np.fill_diagonal(sims, -np.inf)
    top = -np.sort(-sims, axis=1)[:, :k]
    return (1.0 - top).mean(axis=1)


def test_hand_worked_case_on_the_unit_circle():
    angles = np.deg2rad([0.0, 10.0, 30.0, 90.0])
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    result = outlier_scores(x, k=1)
    assert isinstance(result, OutlierResult) and result.k == 1
    expected = 1 - np.cos(np.deg2rad([10.0, 10.0, 20.0, 60.0]))  # distance to the nearest other row
    np.testing.assert_allclose(result.knn_distance, expected, atol=1e-6)
    # empirical percentile (rank - 0.5) / n, ties share their average rank
    np.testing.assert_allclose(result.scores, [0.25, 0.25, 0.625, 0.875])
    assert not result.is_outlier.any()  # four rows: none is in the top 1%


def test_knn_distance_is_the_mean_cosine_distance_to_the_k_nearest_other_rows():
    x = np.random.default_rng(4).standard_normal((60, 12))
    result = outlier_scores(x, k=3)
    np.testing.assert_allclose(result.knn_distance, _brute_mean_cosine_distance(x, 3), atol=1e-5)
    ranks = np.empty(60)
    ranks[np.argsort(result.knn_distance, kind="stable")] = np.arange(1, 61)
    np.testing.assert_allclose(result.scores, (ranks - 0.5) / 60)


def test_scores_are_in_zero_one_and_tie_when_distances_tie():
    x = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=np.float32)  # two exact pairs: every distance is 0
    result = outlier_scores(x, k=1)
    np.testing.assert_allclose(result.knn_distance, 0.0, atol=1e-6)
    assert result.scores.tolist() == [0.5] * 4 and not result.is_outlier.any()
    scores = outlier_scores(_cloud(500)).scores
    assert scores.min() > 0 and scores.max() < 1 and scores.mean() == pytest.approx(0.5)


def test_scores_do_not_depend_on_row_lengths():
    x = _cloud(300, seed=2)
    lengths = np.random.default_rng(9).uniform(0.1, 50, size=(300, 1)).astype(np.float32)
    a, b = outlier_scores(x), outlier_scores(x * lengths)
    np.testing.assert_allclose(a.scores, b.scores)
    np.testing.assert_allclose(a.knn_distance, b.knn_distance, atol=1e-5)


def test_planted_far_points_get_the_top_scores_and_are_the_only_rows_flagged():
    rng = np.random.default_rng(11)
    x = _cloud(2000, seed=1)
    far = 10.0 * rng.standard_normal((5, x.shape[1])).astype(np.float32)  # random directions, away from the cloud
    y = np.vstack([x, far])
    planted = set(range(2000, 2005))

    result = outlier_scores(y)

    assert set(np.argsort(-result.scores)[:5].tolist()) == planted
    flagged = set(np.flatnonzero(result.is_outlier).tolist())
    assert planted <= flagged
    # anything else flagged is a row the clean cloud already flags on its own (here 1 row of 2,000)
    assert flagged - planted == set(np.flatnonzero(outlier_scores(x).is_outlier).tolist()) == {1128}
    assert np.all(result.knn_distance[2000:] > result.threshold)
    q1, q3 = np.percentile(result.knn_distance, [25, 75])
    assert result.threshold == pytest.approx(q3 + 3 * (q3 - q1))  # Tukey's far-out fence


@pytest.mark.parametrize("seed", range(5))
def test_a_clean_gaussian_cloud_flags_almost_nothing(seed):
    assert outlier_scores(_cloud(2000, seed=seed)).n_outliers <= 2  # at most 0.1% of rows


def test_a_centred_isotropic_cloud_in_384_dimensions_flags_nothing():
    x = np.random.default_rng(0).standard_normal((2000, 384)).astype(np.float32)
    assert outlier_scores(x).n_outliers == 0


def test_at_most_the_top_share_is_flagged_even_when_many_rows_are_far():
    rng = np.random.default_rng(12)
    y = np.vstack([_cloud(1900, seed=3), 10.0 * rng.standard_normal((100, 64)).astype(np.float32)])
    result = outlier_scores(y)
    assert result.n_outliers == 20  # 1% of 2,000 rows: the cut is on the rank as well as on the fence
    assert set(np.flatnonzero(result.is_outlier)) <= set(range(1900, 2000))
    assert outlier_scores(y, top_share=0.05).n_outliers == 100


def test_fewer_rows_than_k_uses_every_other_row():
    x = np.array([[1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)
    result = outlier_scores(x, k=10)
    z = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = z @ z.T
    expected = [(2 - sims[i].sum() + 1) / 2 for i in range(3)]  # mean of 1 - cos over the two other rows
    np.testing.assert_allclose(result.knn_distance, expected, atol=1e-6)


def test_shared_neighbours_and_determinism():
    x = _cloud(700, seed=5)
    own = outlier_scores(x, k=10)
    again = outlier_scores(x.copy(), k=10)
    shared = outlier_scores(x, k=10, neighbours=knn(x, 10))
    for other in (again, shared):
        np.testing.assert_array_equal(own.scores, other.scores)
        np.testing.assert_array_equal(own.is_outlier, other.is_outlier)
