"""Sharded neighbour search equals one search over all rows (exact), and the top-k merge is order-free."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.errors import ParameterError, ShapeError
from labelwise.neighbours import knn
from labelwise.sharded_neighbours import knn_sharded, merge_top_k, search_shard, shard_bounds


def _vectors(n=300, d=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    x[10] = x[3]  # exact duplicates: ties that must go to the lower row
    x[11] = x[3]
    if n > 200:
        x[200] = x[50] * 2.0  # same direction, another length
    return x


@pytest.mark.parametrize("shard_rows,query_rows", [(1, 300), (37, 50), (100, 7), (300, 1000)])
def test_exact_shards_equal_one_exact_search(shard_rows, query_rows):
    x = _vectors()
    want_i, want_s = knn(x, 5, exact=True)
    got_i, got_s = knn_sharded(x, 5, shard_rows=shard_rows, query_rows=query_rows, exact=True)
    assert np.array_equal(got_i, want_i)
    np.testing.assert_allclose(got_s, want_s, rtol=0, atol=1e-6)
    assert not (got_i == np.arange(len(x))[:, None]).any()  # never a row's own neighbour


def test_separate_queries_and_padding():
    x, q = _vectors(), _vectors(20, seed=1)
    want = knn(x[:4], 6, query=q, exact=True)
    got = knn_sharded(x[:4], 6, query=q, shard_rows=3, exact=True)
    assert np.array_equal(got[0], want[0]) and (got[0][:, 4:] == -1).all() and np.isneginf(got[1][:, 4:]).all()


def test_merge_is_order_free():
    x = _vectors()
    parts = [search_shard(x[lo:hi], lo, x, 4, query_offset=0, exact=True) for lo, hi in shard_bounds(len(x), 70)]
    left = parts[0]
    for part in parts[1:]:
        left = merge_top_k(*left, *part, 4)
    right = parts[-1]
    for part in reversed(parts[:-1]):
        right = merge_top_k(*part, *right, 4)
    tree = merge_top_k(*merge_top_k(*parts[0], *parts[2], 4), *merge_top_k(*merge_top_k(*parts[1], *parts[3], 4),
                                                                          *parts[4], 4), 4)
    for other in (right, tree):
        assert np.array_equal(left[0], other[0]) and np.array_equal(left[1], other[1])
    assert np.array_equal(left[0], knn(x, 4, exact=True)[0])


def test_memmap_base(tmp_path):
    x = _vectors(500, 8)
    path = tmp_path / "x.npy"
    np.save(path, x)
    mm = np.load(path, mmap_mode="r")
    assert np.array_equal(knn_sharded(mm, 3, shard_rows=128, exact=True)[0], knn(x, 3, exact=True)[0])


def test_bad_inputs():
    with pytest.raises(ParameterError):
        shard_bounds(10, 0)
    with pytest.raises(ShapeError):
        knn_sharded(np.zeros(5), 2)
    with pytest.raises(ShapeError):
        merge_top_k(np.zeros((2, 1), int), np.zeros((2, 1)), np.zeros((3, 1), int), np.zeros((3, 1)))
