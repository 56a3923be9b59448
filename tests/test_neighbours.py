"""labelwise.neighbours: exact search against brute-force truth (ties included), the index against exact search.

Every exact case is checked against a float64 brute force ordered by (similarity descending, row ascending), on
vectors whose similarities are exact in float32 where ties matter (0/1 vectors with four ones: cosines are
multiples of 1/4), so the tie order is part of the truth.
"""

from __future__ import annotations

import numpy as np
import pytest

from labelwise import neighbours
from labelwise.errors import ParameterError, ShapeError
from labelwise.neighbours import EXACT_MAX_ROWS, NeighbourIndex, _top_k, knn, n_cells, normalise


def _brute(base, k, query=None):
    """Float64 truth: (indices, similarities) best first, ties to the lower row, self excluded when query is None."""
    b = np.asarray(base, np.float64)
    b = b / np.where((nb := np.linalg.norm(b, axis=1, keepdims=True)) > 0, nb, 1)
    q = b if query is None else np.asarray(query, np.float64)
    if query is not None:
        q = q / np.where((nq := np.linalg.norm(q, axis=1, keepdims=True)) > 0, nq, 1)
    sims = q @ b.T
    if query is None:
        np.fill_diagonal(sims, -np.inf)
    k_eff = min(k, b.shape[0] - (query is None))
    idx = np.full((q.shape[0], k), -1)
    out = np.full((q.shape[0], k), -np.inf)
    idx[:, :k_eff] = np.argsort(-sims, axis=1, kind="stable")[:, :k_eff]  # stable: ties to the lower row
    out[:, :k_eff] = np.take_along_axis(sims, idx[:, :k_eff], axis=1)
    return idx, out


def _four_hot(n, d=12, seed=0):
    """(n, d) rows with four ones each (many exact cosine ties); rows 5 and 9 copy row 1."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, d), np.float32)
    for row in x:
        row[rng.choice(d, 4, replace=False)] = 1
    if n > 9:
        x[5] = x[1]
        x[9] = x[1]
    return x


def _clustered(n, d=48, centres=30, spread=0.8, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, d))
    return (c[rng.integers(0, centres, n)] + spread * rng.standard_normal((n, d))).astype(np.float32)


def _recall(found, truth):
    return np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, truth)])


def test_exact_knn_by_hand():
    x = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], dtype=np.float32)
    idx, sim = knn(x, 2)
    assert idx.tolist() == [[1, 2], [0, 2], [1, 0], [2, 1]]  # (-1, 0) is orthogonal to (0, 1), opposite the rest
    assert sim[0, 0] == pytest.approx(0.9 / np.hypot(0.9, 0.1), rel=1e-6)
    assert idx.dtype == np.int64 and sim.dtype == np.float32


@pytest.mark.parametrize("k", [1, 3, 10, 40])
@pytest.mark.parametrize("tile", [4096, 256])
def test_exact_self_query_with_ties_equals_brute_force(k, tile, monkeypatch):
    monkeypatch.setattr(neighbours, "_TILE", tile)  # 256: stored rows in two tiles, ties across the seam
    x = _four_hot(300)
    idx, sim = knn(x, k)
    truth_i, truth_s = _brute(x, k)
    np.testing.assert_array_equal(idx, truth_i)  # ties to the lower row, exactly
    np.testing.assert_array_equal(sim, truth_s.astype(np.float32))
    assert not np.any(idx == np.arange(len(x))[:, None])
    copies = [j for j in np.flatnonzero((x == x[1]).all(axis=1)) if j != 1]  # rows 5 and 9, maybe more
    assert idx[1, : min(k, len(copies))].tolist() == copies[:k]  # every copy first, never the row itself


def test_exact_query_with_ties_equals_brute_force(monkeypatch):
    monkeypatch.setattr(neighbours, "_TILE", 256)
    x, q = _four_hot(500, seed=1), _four_hot(70, seed=2)
    idx, sim = knn(x, 7, query=q)
    truth_i, truth_s = _brute(x, 7, q)
    np.testing.assert_array_equal(idx, truth_i)
    np.testing.assert_array_equal(sim, truth_s.astype(np.float32))


def test_exact_spans_several_blocks_and_tiles_with_padded_column_groups(monkeypatch):
    """2,100 rows in tiles of 512: three query blocks of 1,024 (the self-match moves along each) against five tiles,
    the last of 52 rows padded to 256 columns."""
    monkeypatch.setattr(neighbours, "_TILE", 512)
    x = _clustered(2100, d=16)
    idx, sim = knn(x, 10)
    truth_i, truth_s = _brute(x, 10)
    np.testing.assert_allclose(sim, truth_s, atol=1e-5)
    gaps = np.diff(truth_s, axis=1)  # where float32 rounding could swap two near-equal rows, allow it
    swappable = np.zeros_like(idx, bool)
    swappable[:, :-1] |= gaps > -1e-5
    swappable[:, 1:] |= gaps > -1e-5
    assert np.all((idx == truth_i) | swappable)
    assert np.all(idx < len(x)) and not np.any(idx == np.arange(len(x))[:, None])


def test_top_k_with_column_groups_equals_a_full_sort():
    rng = np.random.default_rng(3)
    sims = rng.integers(0, 6, size=(40, 512)).astype(np.float32)  # ties everywhere
    sims[7] = 2.0  # one row of nothing but ties
    for k, groups in [(1, 256), (5, 256), (10, 64), (30, 512), (5, None)]:
        cols, vals = _top_k(sims, k, groups=groups)
        truth = np.array([np.lexsort((np.arange(512), -row))[:k] for row in sims])
        np.testing.assert_array_equal(cols, truth)
        np.testing.assert_array_equal(vals, np.take_along_axis(sims, truth, axis=1))


def test_k_larger_than_the_table_pads_with_minus_one_and_minus_infinity():
    x = _four_hot(4)
    idx, sim = knn(x, 6)
    assert idx.shape == (4, 6)
    assert np.all(idx[:, 3:] == -1) and np.all(sim[:, 3:] == -np.inf)
    assert sorted(idx[0, :3].tolist()) == [1, 2, 3]
    idx, sim = knn(x, 6, query=x[:2])
    assert np.all(idx[:, 4:] == -1) and idx[0, 0] == 0 and sim[0, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("exact", [True, False])
def test_empty_inputs(exact):
    idx, sim = knn(np.zeros((0, 5)), 3, exact=exact)
    assert idx.shape == (0, 3) and sim.shape == (0, 3)
    idx, sim = knn(np.zeros((0, 5)), 3, query=np.ones((2, 5)), exact=exact)
    assert idx.tolist() == [[-1] * 3] * 2 and np.all(sim == -np.inf)
    idx, sim = knn(np.ones((4, 5)), 3, query=np.zeros((0, 5)), exact=exact)
    assert idx.shape == (0, 3)
    idx, sim = knn(np.ones((1, 5)), 3, exact=exact)  # one row has no other row
    assert idx.tolist() == [[-1, -1, -1]]
    assert knn(np.ones((4, 5)), 0)[0].shape == (4, 0)


def test_zero_rows_stay_zero_and_are_similarity_zero_to_everything():
    x = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 0]], dtype=np.float32)
    unit = normalise(x)
    np.testing.assert_array_equal(unit, [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]])
    idx, sim = knn(x, 3)
    assert idx[0].tolist() == [1, 2, 3] and np.all(sim[0] == 0)  # all ties at 0: lower rows first
    assert idx[1].tolist() == [0, 2, 3]


def test_normalise_copies_and_rejects_what_it_cannot_search():
    x = np.array([[3.0, 4.0]])
    np.testing.assert_allclose(normalise(x), [[0.6, 0.8]])
    assert x.tolist() == [[3.0, 4.0]]  # the caller's array is untouched
    with pytest.raises(ShapeError, match="2-D"):
        normalise(np.ones(3))
    with pytest.raises(ParameterError, match="row 1 holds NaN"):
        knn(np.array([[1.0, 0], [np.nan, 1], [0, 1]]), 1)
    with pytest.raises(ShapeError, match="3 values but the stored rows have 2"):
        knn(np.ones((3, 2)), 1, query=np.ones((1, 3)))
    with pytest.raises(ParameterError, match="k must be"):
        knn(np.ones((3, 2)), -1)
    with pytest.raises(ParameterError, match="n_probe"):
        knn(np.ones((3, 2)), 1, exact=False, n_probe=0)


def test_index_probing_every_cell_is_exact_search():
    """With n_probe = the number of cells the index reads every stored row: it must equal exact search, ties too."""
    x = np.vstack([_four_hot(1500, d=16), _clustered(1500, d=16)])
    index = NeighbourIndex(x, exact=False)
    cells = n_cells(len(x))
    assert len(index.centroids) == cells
    for query in (None, _four_hot(50, d=16, seed=5)):
        idx, sim = index.search(10, query=query, n_probe=cells)
        exact_i, exact_s = knn(x, 10, query=query, exact=True)
        np.testing.assert_array_equal(idx, exact_i)
        np.testing.assert_array_equal(sim, exact_s)


def test_indexed_knn_agrees_with_exact_search_and_is_deterministic():
    x = _clustered(6000)
    exact_i, _ = knn(x, 10, exact=True)
    ivf_i, ivf_s = knn(x, 10, exact=False)
    assert _recall(ivf_i, exact_i) > 0.95
    assert not np.any(ivf_i == np.arange(len(x))[:, None])  # never its own neighbour
    assert np.all(np.diff(ivf_s, axis=1) <= 0)
    again_i, again_s = knn(x, 10, exact=False)
    np.testing.assert_array_equal(ivf_i, again_i)
    np.testing.assert_array_equal(ivf_s, again_s)
    q = x[:300] + 0.3 * np.random.default_rng(4).standard_normal((300, x.shape[1])).astype(np.float32)
    assert np.mean(knn(x, 10, query=q, exact=False)[0][:, 0] == knn(x, 10, query=q, exact=True)[0][:, 0]) > 0.95


def test_the_index_serves_large_tables_by_default_and_finds_planted_copies():
    n = EXACT_MAX_ROWS + 3000
    rng = np.random.default_rng(7)
    x = _clustered(n, d=32, centres=200, spread=1.0, seed=7)
    copies = rng.choice(n, 100, replace=False)
    originals = (copies + 1) % n
    x[copies] = x[originals] + 1e-3 * rng.standard_normal((100, 32)).astype(np.float32)
    index = NeighbourIndex(x)
    assert not index.exact
    idx, _ = index.search(5)
    assert np.all(idx[copies, 0] == originals) and np.all(idx[originals, 0] == copies)


def test_cells_smaller_than_k_still_fill_k_neighbours():
    x = _clustered(400, d=8, centres=100, spread=0.05, seed=2)  # 20 cells, many with fewer than 25 rows
    idx, sim = knn(x, 25, exact=False, n_probe=20)
    np.testing.assert_array_equal(idx, knn(x, 25, exact=True)[0])
    assert np.all(idx >= 0)
