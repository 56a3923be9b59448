"""k nearest neighbours over stored rows split into shards, for tables larger than memory and for Ray.

Each shard of the stored rows is searched on its own with :class:`labelwise.neighbours.NeighbourIndex` (exact up to
``EXACT_MAX_ROWS`` rows, an inverted file above), and the per-shard lists are combined with :func:`merge_top_k`.
The merge keeps, per query, the k most similar rows of both lists with ties to the lower row index, so it is
associative and commutative: shards can be searched in any order, on any machine, and merged in any grouping with
the same result. With exact search the result equals one exact search over all rows; with indexed shards it is
what the shards' own indexes find (each at least as good as one index over everything, since a shard's cells are
finer).

Memory: one shard (``shard_rows x d`` float32) and one block of queries at a time, plus the running result
``(m, k)``; ``base`` and ``query`` may be memory-mapped arrays of any size.

Shapes as in :mod:`labelwise.neighbours`: ``base: (n, d) float``, ``query: (m, d) float`` ->
``(indices (m, k) int64, similarities (m, k) float32)``, most similar first, -1 / -inf padding.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from labelwise.errors import ParameterError, ShapeError
from labelwise.neighbours import N_PROBE, NeighbourIndex, _top_k
from labelwise.progress import ProgressCallback, report

__all__ = ["SHARD_ROWS", "QUERY_ROWS", "merge_top_k", "search_shard", "shard_bounds", "check_knn_inputs", "knn_sharded"]

SHARD_ROWS = 262_144
"""Stored rows per shard by default: 384-d float32 shards of 384 MiB."""
QUERY_ROWS = 65_536
"""Query rows read at a time."""


def merge_top_k(idx_a: np.ndarray, sim_a: np.ndarray, idx_b: np.ndarray, sim_b: np.ndarray, k: Optional[int] = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` of two neighbour lists of the same queries: ``(m, ka)`` and ``(m, kb)`` indices (int, -1 for
    padding) and similarities (float, -inf for padding) -> ``(m, k)`` int64 / float32, most similar first, ties to
    the lower index (padding last). ``k`` defaults to ``max(ka, kb)``. Associative and commutative."""
    if idx_a.shape != sim_a.shape or idx_b.shape != sim_b.shape or idx_a.shape[0] != idx_b.shape[0]:
        raise ShapeError(f"neighbour lists to merge must have the same rows; got {idx_a.shape} and {idx_b.shape}.")
    k = max(idx_a.shape[1], idx_b.shape[1]) if k is None else int(k)
    both_i = np.hstack([idx_a, idx_b]).astype(np.int64)
    both_s = np.hstack([sim_a, sim_b]).astype(np.float32)
    m, width = both_s.shape
    if m == 0 or width == 0:
        return np.full((m, k), -1, np.int64), np.full((m, k), -np.inf, np.float32)
    keys = np.where(both_i < 0, np.iinfo(np.int64).max, both_i)  # padding sorts after every real row
    pick, sim = _top_k(both_s, min(k, width), tie_keys=keys)
    idx = np.take_along_axis(both_i, pick, axis=1)
    idx[~np.isfinite(sim)] = -1
    if sim.shape[1] < k:
        idx = np.hstack([idx, np.full((m, k - sim.shape[1]), -1, np.int64)])
        sim = np.hstack([sim, np.full((m, k - sim.shape[1]), -np.inf, np.float32)])
    return idx, sim


def shard_bounds(n_rows: int, shard_rows: int = SHARD_ROWS) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(n_rows)`` in shards of ``shard_rows`` (the last may be shorter)."""
    if isinstance(shard_rows, bool) or not isinstance(shard_rows, (int, np.integer)) or shard_rows < 1:
        raise ParameterError(f"shard_rows must be a whole number >= 1; got {shard_rows!r}.")
    return [(lo, min(lo + int(shard_rows), n_rows)) for lo in range(0, n_rows, int(shard_rows))]


def search_shard(
    shard,
    offset: int,
    query,
    k: int,
    *,
    query_offset: Optional[int] = None,
    exact: Optional[bool] = None,
    n_probe: int = N_PROBE,
    random_state=0,
    query_rows: int = QUERY_ROWS,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of one shard most similar to each query, as global row numbers.

    shard: (s, d) stored rows ``offset .. offset + s``; query: (m, d), searched ``query_rows`` rows at a time (as
    :func:`knn_sharded` does, so the two give the same floats). query_offset: when the queries are stored rows
    themselves (rows ``query_offset .. query_offset + m`` of the same table), a query never finds itself.
    Returns ``(indices (m, k) int64, similarities (m, k) float32)``.
    """
    index = NeighbourIndex(np.asarray(shard), exact=exact, random_state=random_state)
    parts = [_search(index, offset, np.asarray(query[lo:hi]), k, None if query_offset is None else query_offset + lo,
                     n_probe) for lo, hi in shard_bounds(query.shape[0], query_rows)]
    if not parts:
        return np.full((0, k), -1, np.int64), np.full((0, k), -np.inf, np.float32)
    return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])


def _search(index: NeighbourIndex, offset: int, query, k: int, query_offset: Optional[int], n_probe: int):
    q = np.asarray(query)
    m = q.shape[0]
    if query_offset is None:
        idx, sim = index.search(k, query=q, n_probe=n_probe)
    else:
        own = np.arange(query_offset, query_offset + m) - offset  # each query's own row within the shard, if any
        inside = (own >= 0) & (own < index.n_rows)
        idx, sim = index.search(k + 1 if inside.any() else k, query=q, n_probe=n_probe)
        if inside.any():
            drop = idx == own[:, None]
            drop[~inside] = False
            last = ~drop.any(axis=1)  # the query did not find itself: drop the (k+1)-th instead
            drop[last, -1] = True
            idx = idx[~drop].reshape(m, k)
            sim = sim[~drop].reshape(m, k)
    idx = np.where(idx >= 0, idx + offset, -1)
    return idx, sim


def check_knn_inputs(base, k) -> None:
    """ShapeError / ParameterError unless ``base`` is 2-D and ``k`` a whole number >= 0."""
    if getattr(base, "ndim", None) != 2:
        raise ShapeError(f"base must be a 2-D array (n_rows, dim); got shape {getattr(base, 'shape', None)}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ParameterError(f"k must be a whole number >= 0; got {k!r}.")


def knn_sharded(
    base,
    k: int = 10,
    *,
    query=None,
    shard_rows: int = SHARD_ROWS,
    query_rows: int = QUERY_ROWS,
    exact: Optional[bool] = None,
    n_probe: int = N_PROBE,
    random_state=0,
    progress: Optional[ProgressCallback] = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`labelwise.neighbours.knn` over ``base`` in shards of ``shard_rows`` rows (see the module docstring).

    base: (n, d) float, e.g. an ``np.memmap``; query: (m, d) float, or None to search ``base`` against itself (a row
    is never its own neighbour). exact / n_probe / random_state as in ``knn``, applied to each shard. progress:
    ``progress("neighbours", shards_done, n_shards)``. Returns (indices (m, k) int64, similarities (m, k) float32).
    """
    check_knn_inputs(base, k)
    n = base.shape[0]
    queries = base if query is None else query
    m = queries.shape[0]
    idx, sim = np.full((m, k), -1, np.int64), np.full((m, k), -np.inf, np.float32)
    shards = shard_bounds(n, shard_rows)
    blocks = shard_bounds(m, query_rows) if m else []
    for done, (lo, hi) in enumerate(shards):
        index = NeighbourIndex(np.asarray(base[lo:hi]), exact=exact, random_state=random_state)
        for q_lo, q_hi in blocks:
            part = _search(index, lo, np.asarray(queries[q_lo:q_hi]), k, q_lo if query is None else None, n_probe)
            idx[q_lo:q_hi], sim[q_lo:q_hi] = merge_top_k(idx[q_lo:q_hi], sim[q_lo:q_hi], *part, k)
        report(progress, "neighbours", done + 1, len(shards))
    return idx, sim
