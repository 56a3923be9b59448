"""k nearest neighbours by cosine similarity, for audit, generate and link alike: exact up to 12k stored rows, an
inverted-file index above.

The index is the classic IVF scheme (Jégou, Douze, Schmid, "Product quantization for nearest neighbor search",
TPAMI 2011, without the quantisation): spherical k-means splits the unit vectors into about sqrt(n) cells; each
stored row lives in its nearest cell and a query searches its ``n_probe`` nearest cells. Work drops from n^2 d to
about n * n_probe * sqrt(n) * d, all of it dense matrix products.

The defaults (one set for every caller) come from ``bench/knn_backends.py`` (2 threads, 384-d clustered unit
vectors shaped like sentence embeddings, each row's 10 nearest others, recall@10 against exact search; tables in
``docs/benchmarks.md``):

- ``EXACT_MAX_ROWS = 12_000``: up to here results are exact at a cost that stays small: 3.0 s for 12k rows, where
  the index with 8 probes takes 1.5 s (recall 0.992). Exact search is quadratic, so above it the index wins by a
  growing margin (at 100k rows 252 s against 17 s).
- ``N_PROBE = 8``: at 100k rows recall@10 is 0.935 with 8 probes, against 0.888 with 4 (less than half the time)
  and 0.966 with 16 (1.5x the time). Near-duplicates (cosine >= 0.9) share a cell or a neighbouring one, so
  duplicate detection needs few probes; 8 keeps the neighbour lists that outlier scores and linkage read within
  a few percent of exact.

Shapes: ``base: (n, d) float``, ``query: (m, d) float`` -> ``(indices (m, k) int64, similarities (m, k) float32)``,
most similar first, ties to the lower row index; padded with -1 / -inf where fewer than k rows exist.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import numpy as np

from labelwise.errors import ParameterError, ShapeError

__all__ = ["EXACT_MAX_ROWS", "N_PROBE", "NeighbourIndex", "knn", "n_cells", "normalise"]

EXACT_MAX_ROWS = 12_000
N_PROBE = 8
TRAIN_PER_CELL = 64  # k-means trains on 64 sampled rows per cell
KMEANS_ITERATIONS = 12
_BLOCK_BYTES = 16 * 2**20  # exact similarities held at once, all threads together: 16 MiB of float32 ...
_TILE = 4096  # ... in blocks of queries against at most 4096 stored rows
_GROUPS = 256  # the exact top-k screens each row with the maxima of 256 column groups
_CELL_QUERIES = 2048  # queries per product with one cell's rows


def normalise(vectors) -> np.ndarray:
    """Rows scaled to unit length, float32 (zero rows stay zero): ``(n, d) float`` -> ``(n, d) float32``.

    Raises ShapeError for anything but a 2-D array and ParameterError for NaN or infinite values.
    """
    x = np.array(vectors, dtype=np.float32)  # always a copy: the caller's array is never changed
    if x.ndim != 2:
        raise ShapeError(f"embeddings must be a 2-D array (n_rows, dim); got shape {x.shape}.")
    norms = np.empty((x.shape[0], 1), np.float32)
    with np.errstate(over="ignore"):  # overflowing squares are handled below
        for start in range(0, x.shape[0], 8192):  # in chunks: no (n, d) temporary
            norms[start : start + 8192, 0] = np.linalg.norm(x[start : start + 8192], axis=1)
    for row in np.flatnonzero(~np.isfinite(norms[:, 0])):
        if not np.isfinite(x[row]).all():
            raise ParameterError(f"embeddings row {int(row)} holds NaN or infinity; fix or drop that row (or "
                                 "re-embed it) before searching.")
        norms[row] = np.linalg.norm(x[row].astype(np.float64))  # finite values whose squares overflow float32
    np.divide(x, norms, out=x, where=norms > 0)
    return x


def n_cells(n: int) -> int:
    """Cells of the inverted file for ``n`` stored rows: sqrt(n), at least 16 (or n) and at most 4096."""
    return min(int(n), int(np.clip(np.sqrt(n), 16, 4096)))


def knn(
    base,
    k: int = 10,
    *,
    query=None,
    exact: Optional[bool] = None,
    n_probe: int = N_PROBE,
    random_state=0,
) -> tuple[np.ndarray, np.ndarray]:
    """The k rows of ``base`` most cosine-similar to each row of ``query``.

    base: (n, d) float; query: (m, d) float, or None to search ``base`` against itself (a row is then never its own
    neighbour). exact: True / False forces exact / indexed search; None: exact up to ``EXACT_MAX_ROWS`` rows of
    ``base``. n_probe: cells searched per query by the index. random_state: seeds the index's k-means.
    Returns (indices (m, k) int64, similarities (m, k) float32), most similar first, ties to the lower index;
    -1 / -inf pad where fewer than k rows exist.
    """
    return NeighbourIndex(base, exact=exact, random_state=random_state).search(k, query=query, n_probe=n_probe)


class NeighbourIndex:
    """``base: (n, d)`` made searchable once (normalised; k-means cells when indexed), searched by :meth:`search`.

    exact: as in :func:`knn`. Attributes: ``n_rows``, ``dim``, ``exact``, and when indexed ``centroids: (c, d)``.
    """

    def __init__(self, base, *, exact: Optional[bool] = None, random_state=0):
        vectors = normalise(base)
        self.n_rows, self.dim = vectors.shape
        self.exact = self.n_rows <= EXACT_MAX_ROWS if exact is None else bool(exact)
        self._base = vectors
        if self.exact or self.n_rows == 0:
            return
        self.centroids = _spherical_kmeans(vectors, n_cells(self.n_rows), random_state=random_state)
        self._home = _nearest_cells(vectors, self.centroids, 1)[:, 0]  # each stored row lives in its nearest cell
        self._members = np.argsort(self._home, kind="stable")  # rows of cell c: members[bounds[c]:bounds[c + 1]]
        self._bounds = np.searchsorted(self._home[self._members], np.arange(len(self.centroids) + 1))
        self._slot = np.empty(self.n_rows, np.int64)  # each row's place within its cell
        self._slot[self._members] = np.arange(self.n_rows) - self._bounds[self._home[self._members]]

    def search(self, k: int = 10, *, query=None, n_probe: int = N_PROBE) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored rows of each row of ``query: (m, d)`` (None: the stored rows, each without
        itself). Returns ``(indices (m, k) int64, similarities (m, k) float32)`` as :func:`knn` does."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ParameterError(f"k must be a whole number >= 0; got {k!r}.")
        if isinstance(n_probe, bool) or not isinstance(n_probe, (int, np.integer)) or n_probe < 1:
            raise ParameterError(f"n_probe must be a whole number >= 1; got {n_probe!r}.")
        self_query = query is None
        if self_query:
            q, m = self._base, self.n_rows
        else:
            q = normalise(query)
            m = q.shape[0]
            if m and self.n_rows and q.shape[1] != self.dim:
                raise ShapeError(f"query rows have {q.shape[1]} values but the stored rows have {self.dim}; "
                                 "embed both with the same encoder.")
        k_eff = max(0, min(int(k), self.n_rows - 1 if self_query else self.n_rows))
        if k_eff == 0 or m == 0:
            idx, sim = np.empty((m, k_eff), np.int64), np.empty((m, k_eff), np.float32)
        elif self.exact:
            idx, sim = _exact(self._base, q, k_eff, self_query)
        else:
            idx, sim = self._ivf(q, k_eff, int(n_probe), self_query)
        if k_eff < k:  # pad to the requested width
            idx = np.hstack([idx, np.full((m, k - k_eff), -1, np.int64)])
            sim = np.hstack([sim, np.full((m, k - k_eff), -np.inf, np.float32)])
        return idx, sim

    def _ivf(self, q: np.ndarray, k: int, n_probe: int, self_query: bool) -> tuple[np.ndarray, np.ndarray]:
        """Indexed search: each cell's stored rows against every query that probes it, one product per cell.
        """
        cells, m = len(self.centroids), q.shape[0]
        n_probe = min(n_probe, cells)
        probe_cells = _nearest_cells(q, self.centroids, n_probe).ravel()  # (m * n_probe,): query i's at i*n_probe..
        order = np.argsort(probe_cells, kind="stable")
        probe_bounds = np.searchsorted(probe_cells[order], np.arange(cells + 1))
        probe_rows, probe_slots = np.divmod(order, n_probe)  # the (query, probe) pairs, grouped by cell
        cand_idx = np.full((m, n_probe * k), -1, np.int32 if self.n_rows < 2**31 else np.int64)  # rows of base
        cand_sim = np.full((m, n_probe * k), -np.inf, np.float32)

        def search_cell(c: int) -> None:  # writes only the (query, probe) slots of cell c
            members = self._members[self._bounds[c] : self._bounds[c + 1]]
            if members.size == 0:
                return
            stored = self._base[members].T
            kk = min(k, members.size)
            for start in range(probe_bounds[c], probe_bounds[c + 1], _CELL_QUERIES):
                pairs = slice(start, min(start + _CELL_QUERIES, probe_bounds[c + 1]))
                rows, slots = probe_rows[pairs], probe_slots[pairs]
                block = q[rows] @ stored
                if self_query:  # a stored row probing its own cell must not find itself
                    own = np.flatnonzero(self._home[rows] == c)
                    block[own, self._slot[rows[own]]] = -np.inf
                top_i, top_s = _top_k(block, kk)
                cols = slots[:, None] * k + np.arange(kk)
                cand_idx[rows[:, None], cols] = members[top_i]
                cand_sim[rows[:, None], cols] = top_s

        idx = np.empty((m, k), np.int64)
        sim = np.empty((m, k), np.float32)

        def merge(start: int) -> None:  # each query's best k candidates, ties to the lower row of base
            part = slice(start, start + 8192)
            best, sim[part] = _top_k(cand_sim[part], k, tie_keys=cand_idx[part])
            idx[part] = np.take_along_axis(cand_idx[part], best, axis=1)

        _in_threads(search_cell, range(cells))
        _in_threads(merge, range(0, m, 8192))
        idx[~np.isfinite(sim)] = -1  # fewer than k rows in the probed cells
        return idx, sim


def _exact(base: np.ndarray, q: np.ndarray, k: int, self_query: bool) -> tuple[np.ndarray, np.ndarray]:
    """Blocked exact search, one block of queries per thread. Each block meets ``base`` in tiles of at most
    ``_TILE`` rows (one (rows, tile) product; ``_BLOCK_BYTES`` for all threads' products), keeping its best k so
    far: the products stay wide and cache-friendly however many rows ``base`` has."""
    m, n = q.shape[0], base.shape[0]
    groups = max(_GROUPS, 4 * k)
    tile = min(-(-n // groups) * groups, -(-_TILE // groups) * groups)  # a multiple of groups
    groups = min(groups, tile)
    rows = int(np.clip(_BLOCK_BYTES // (4 * tile * _blas_threads()), 16, 1024))
    idx = np.empty((m, k), np.int64)
    sim = np.empty((m, k), np.float32)
    buffers = threading.local()

    def search_block(start: int) -> None:
        if not hasattr(buffers, "block"):
            buffers.block = np.empty((min(rows, m), tile), np.float32)
        stop = min(start + rows, m)
        best_i = best_s = None
        for lo in range(0, n, tile):
            hi = min(lo + tile, n)
            width = -(-(hi - lo) // groups) * groups
            block = buffers.block[: stop - start, :width]
            block[:, hi - lo :] = -np.inf  # padding: each row splits into equal column groups
            np.matmul(q[start:stop], base[lo:hi].T, out=block[:, : hi - lo])
            if self_query:  # the queries whose own row is in this tile
                own = np.arange(max(start, lo), min(stop, hi))
                block[own - start, own - lo] = -np.inf
            top_i, top_s = _top_k(block, min(k, hi - lo), groups=groups)
            top_i += lo
            if best_i is None:
                best_i, best_s = top_i, top_s
            else:  # merge with the best so far; ties to the lower row
                both_i, both_s = np.hstack([best_i, top_i]), np.hstack([best_s, top_s])
                pick, best_s = _top_k(both_s, min(k, both_s.shape[1]), tie_keys=both_i)
                best_i = np.take_along_axis(both_i, pick, axis=1)
        idx[start:stop], sim[start:stop] = best_i, best_s

    _in_threads(search_block, range(0, m, rows))
    return idx, sim


def _in_threads(work, items) -> None:
    """``work(item)`` for every item, on as many Python threads as the BLAS library would use, each product on
    one BLAS thread. The selection steps then run in parallel too, and many small products do not stall: products
    split over several BLAS threads each wait for the slowest thread, which on a busy machine waits for a core."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(max_workers=_blas_threads()) as pool:
        list(pool.map(work, items))


def _blas_threads() -> int:
    """How many threads the BLAS library would use (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, threadpoolctl)."""
    from threadpoolctl import threadpool_info

    return max([lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"], default=1)


def _top_k(sims: np.ndarray, k: int, *, groups: Optional[int] = None, tie_keys: Optional[np.ndarray] = None):
    """Row-wise top ``k`` of ``sims: (r, c) float32``: (columns (r, k) int64, values (r, k)), best first.

    Ties go to the lower column (or the lower ``tie_keys: (r, c) int``). Exact, in two passes: the k-th largest
    of the maxima of ``groups`` column groups (columns j, j + groups, ...) is a lower bound on each row's k-th
    largest value, so only the groups whose maximum reaches it can hold the top k; they are gathered (about k
    groups of c / groups columns) and the values reaching the bound, about k a row, are sorted. ``c`` must be a
    multiple of ``groups`` (default: each column its own group).
    """
    r, c = sims.shape
    groups = c if groups is None or k >= c else groups
    if k >= c:
        rows, cols = np.divmod(np.arange(r * c), c)
        vals = sims.ravel()
    else:
        grid = sims.reshape(r, c // groups, groups)
        group_max = grid.max(axis=1)  # (r, groups)
        bound = np.partition(group_max, groups - k, axis=1)[:, groups - k]
        g_row, g_col = np.nonzero(group_max >= bound[:, None])
        gathered = grid[g_row, :, g_col]  # (candidate groups, c / groups)
        which, step = np.nonzero(gathered >= bound[g_row, None])
        rows, cols = g_row[which], step * groups + g_col[which]
        vals = gathered[which, step]
    # each row's candidates (at least k; more only with ties at the bound) in a padded (r, width) table
    counts = np.bincount(rows, minlength=r)
    width = int(counts.max())
    slot = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
    table_v = np.full((r, width), -np.inf, np.float32)
    table_c = np.full((r, width), c, np.int64)
    table_v[rows, slot], table_c[rows, slot] = vals, cols
    if tie_keys is not None or groups < c:  # not yet in tie order: sort by key; the stable sort below keeps it
        keys = table_c if tie_keys is None else np.full((r, width), np.iinfo(np.int64).max, np.int64)
        if tie_keys is not None:
            keys[rows, slot] = tie_keys[rows, cols]
        by_key = np.argsort(keys, axis=1, kind="stable")
        table_v, table_c = np.take_along_axis(table_v, by_key, 1), np.take_along_axis(table_c, by_key, 1)
    order = np.argsort(-table_v, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(table_c, order, 1), np.take_along_axis(table_v, order, 1)


def _spherical_kmeans(x: np.ndarray, n_clusters: int, *, random_state=0) -> np.ndarray:
    """Unit-length centroids (n_clusters, d) of unit vectors x (n, d), trained on ``TRAIN_PER_CELL`` sampled rows
    per cluster for ``KMEANS_ITERATIONS`` rounds; an emptied cluster restarts at a random sampled row."""
    rng = np.random.default_rng(random_state)
    sample = x[rng.choice(x.shape[0], size=min(x.shape[0], TRAIN_PER_CELL * n_clusters), replace=False)]
    centroids = sample[rng.choice(sample.shape[0], size=n_clusters, replace=False)].copy()
    for _ in range(KMEANS_ITERATIONS):
        assign = (sample @ centroids.T).argmax(axis=1)
        counts = np.bincount(assign, minlength=n_clusters)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        used = counts > 0
        sums = np.empty_like(centroids)
        sums[used] = np.add.reduceat(sample[np.argsort(assign, kind="stable")], starts[used], axis=0)
        sums[~used] = sample[rng.choice(sample.shape[0], size=int((~used).sum()), replace=False)]
        centroids = normalise(sums)
    return centroids


def _nearest_cells(x: np.ndarray, centroids: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` most similar centroids of each row of ``x``: (rows, n) int64, best first."""
    out = np.empty((x.shape[0], n), np.int64)
    for start in range(0, x.shape[0], 8192):
        out[start : start + 8192] = _top_k(x[start : start + 8192] @ centroids.T, n)[0]
    return out
