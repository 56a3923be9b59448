"""``dedupe(table, on=...)``: clusters of rows that describe the same entity, and a representative for each.

LinkTransformer (Arora & Dell 2023) de-duplicates by embedding the serialised rows and clustering them
(DBSCAN/agglomerative/HDBSCAN) and keeps one row per cluster, which deletes all "noise" singletons but the first.
labelwise links the table to itself instead: each row's ``k`` nearest rows (cosine), an edge for every pair at or
above the threshold (chosen from the scores when not given, as in :func:`~labelwise.link.link`), connected
components as clusters. Every row keeps a cluster: singletons get their own ``cluster_id``. The representative
of a cluster is its most central row, the one with the highest total cosine similarity to the other members
(``argmax_i x_i . sum_j x_j``, exact and linear in the cluster size). Caveat of the components: a chain of close
pairs can join two distant rows; raise the threshold if clusters grow too large.

Shapes: ``table: (n, ...)`` -> the same rows plus ``cluster_id: (n,) int`` (0..c-1, in order of first row),
``representative`` (the id, or row position, of the cluster's representative) and ``score`` (cosine to the
cluster's most similar other member; NaN for singletons).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from labelwise.errors import DataError
from labelwise.link.merge import blocks, check_k_and_threshold, default_encoder, embed_tables
from labelwise.link.serialise import as_columns, check_columns, row_ids, serialise
from labelwise.link.threshold import ThresholdChoice, unsupervised_threshold
from labelwise.neighbours import knn
from labelwise.progress import ProgressCallback

__all__ = ["dedupe", "clusters_from_pairs"]


def clusters_from_pairs(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the graph with ``n`` nodes and edges ``(a[i], b[i])``: ``(n,) int`` cluster ids,
    numbered in order of each cluster's first row."""
    graph = sparse.coo_matrix((np.ones(len(a)), (np.asarray(a, int), np.asarray(b, int))), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, first = np.unique(labels, return_index=True)
    renumber = np.empty(labels.max() + 1 if n else 0, dtype=np.int64)
    renumber[labels[np.sort(first)]] = np.arange(first.size)
    return renumber[labels] if n else labels.astype(np.int64)


def _representatives(vectors: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """Per row, the position of its cluster's most central row: ``(n,) int``."""
    n = cluster.size
    sums = np.zeros((cluster.max() + 1 if n else 0, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, cluster, vectors)
    centrality = np.einsum("ij,ij->i", vectors, sums[cluster])
    order = np.lexsort((np.arange(n), -centrality, cluster))  # by cluster, most central first, ties by row
    best = np.empty(sums.shape[0], dtype=np.int64)
    first = np.r_[True, cluster[order][1:] != cluster[order][:-1]]
    best[cluster[order][first]] = order[first]
    return best[cluster]


def dedupe(
    table: pd.DataFrame,
    on: str | Sequence[str],
    threshold: float | None = None,
    *,
    id_column: str | None = None,
    block_on: str | Sequence[str] | None = None,
    encoder: Any = None,
    k: int = 10,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Cluster duplicate rows of ``table`` compared on the columns ``on``; see the module docstring.

    The threshold used and how it was chosen are in ``result.attrs["threshold"]`` (a ThresholdChoice).
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"dedupe() takes a pandas DataFrame, got {type(table).__name__}.")
    columns = as_columns(on)
    if not columns:
        raise DataError("on= names no columns: give the columns to compare, e.g. on=['name', 'address'].")
    block_columns = as_columns(block_on, "block_on")
    check_k_and_threshold(k, threshold)
    check_columns(table, columns, "input")
    check_columns(table, block_columns, "input", what="block_on")
    for name in ("cluster_id", "representative"):
        if name in table.columns:
            raise DataError(f"The table already has a '{name}' column; rename or drop it before de-duplicating.")
    ids = row_ids(table, id_column, "input")
    n = len(table)
    out = table.copy()
    if n == 0:
        out["cluster_id"] = pd.Series([], dtype=np.int64)
        out["representative"] = pd.Series([], dtype=object)
        out["score"] = pd.Series([], dtype=np.float64)
        out.attrs["threshold"] = ThresholdChoice(1.0 if threshold is None else float(threshold), "default")
        return out

    encoder = encoder or default_encoder()
    (vectors,) = embed_tables(encoder, [serialise(table, columns)], progress)
    keys = blocks(table, block_columns)
    a_all, b_all, s_all, r_all = [], [], [], []
    for key in pd.unique(keys.dropna()):
        pos = np.flatnonzero((keys == key).to_numpy())
        if pos.size < 2:
            continue
        idx, sim = knn(vectors[pos], min(k, pos.size - 1))  # each row's nearest others, never itself
        rows = np.repeat(pos, idx.shape[1]).reshape(idx.shape)
        ok = idx >= 0
        rank = np.cumsum(ok, axis=1)
        a_all.append(rows[ok])
        b_all.append(pos[idx[ok]])
        s_all.append(sim[ok].astype(np.float64))
        r_all.append(rank[ok])
    a = np.concatenate(a_all) if a_all else np.zeros(0, np.int64)
    b = np.concatenate(b_all) if b_all else np.zeros(0, np.int64)
    s = np.concatenate(s_all) if s_all else np.zeros(0)
    r = np.concatenate(r_all) if r_all else np.zeros(0, np.int64)

    if threshold is not None:
        choice = ThresholdChoice(float(threshold), "given")
    else:
        choice = unsupervised_threshold(s[r == 1], s[r == 2])
    keep = s >= choice.value
    cluster = clusters_from_pairs(n, a[keep], b[keep])
    best_score = np.full(n, np.nan)
    if keep.any():
        frame = pd.DataFrame({"a": a[keep], "s": s[keep]}).groupby("a")["s"].max()
        best_score[frame.index.to_numpy()] = frame.to_numpy()
    out["cluster_id"] = cluster
    out["representative"] = ids[_representatives(vectors.astype(np.float64), cluster)]
    out["score"] = best_score
    out.attrs["threshold"] = choice
    return out
