"""``dedupe(table, on=...)``: clusters of rows that describe the same entity, and a representative for each.

LinkTransformer (Arora & Dell 2023) de-duplicates by embedding the serialised rows and clustering them
(DBSCAN/agglomerative/HDBSCAN) and keeps one row per cluster, which deletes all "noise" singletons but the first.
labelwise links the table to itself instead: each row's ``k`` nearest rows (cosine) are its candidate pairs, each
pair gets a weight in [0, 1] (the cosine clipped at 0, or a match probability from ``pair_probabilities``), and
the pairs are clustered by average linkage (:mod:`~labelwise.link.clustering`: two clusters merge only when the
mean weight over all their cross pairs reaches the threshold, so a chain of close pairs does not join two distant
rows); ``clustering="components"`` gives the connected components of the pairs above the threshold instead, which
chain. The threshold is chosen from the scores when not given, as in :func:`~labelwise.link.link` (0.5 for match
probabilities). Every row keeps a cluster: singletons get their own ``cluster_id``. The representative of a
cluster is its most central row, the one with the highest total cosine similarity to the other members
(``argmax_i x_i . sum_j x_j``, exact and linear in the cluster size).

The expected pairwise precision, recall and F1 of the clusters (:func:`~labelwise.link.clustering.expected_pairwise_f1`)
are in ``result.attrs["estimate"]``, marked uncalibrated when the weights are cosines.

Shapes: ``table: (n, ...)`` -> the same rows plus ``cluster_id: (n,) int`` (0..c-1, in order of first row),
``representative`` (the id, or row position, of the cluster's representative) and ``score`` (the largest weight
of a pair with another member of its cluster; NaN for singletons).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from labelwise.errors import DataError, ParameterError
from labelwise.link.clustering import CLUSTERINGS, cluster_pairs, connected_clusters, expected_pairwise_f1
from labelwise.link.merge import blocks, check_k_and_threshold, default_encoder, embed_tables
from labelwise.link.serialise import as_columns, check_columns, row_ids, serialise
from labelwise.link.threshold import ThresholdChoice, unsupervised_threshold
from labelwise.neighbours import knn
from labelwise.progress import ProgressCallback

__all__ = ["dedupe", "clusters_from_pairs", "candidate_pairs", "default_id_column"]

PairProbabilities = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def clusters_from_pairs(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the graph with ``n`` nodes and edges ``(a[i], b[i])``: ``(n,) int`` cluster ids,
    numbered in order of each cluster's first row (:func:`labelwise.link.clustering.connected_clusters`)."""
    return connected_clusters(n, a, b)


def default_id_column(table: pd.DataFrame) -> tuple[str | None, str]:
    """The column to take ids from when none was named: ``(column or None, a sentence saying what was chosen)``.

    A column named ``id`` in any case (``id`` itself first) is used when its values are present and unique;
    otherwise, and when there is none, the ids are the row numbers 0..n-1.
    """
    named = [c for c in table.columns if isinstance(c, str) and c.strip().lower() == "id"]
    if not named:
        return None, "ids: row numbers (the table has no 'id' column; pass --id to name one)"
    column = "id" if "id" in named else named[0]
    values = table[column]
    if values.isna().any():
        return None, f"ids: row numbers (column '{column}' has missing values; pass --id to name another column)"
    if values.duplicated().any():
        return None, f"ids: row numbers (column '{column}' repeats values; pass --id to name another column)"
    return column, f"ids: column '{column}' (found in the table; pass --id to name another)"


def candidate_pairs(vectors: np.ndarray, keys: pd.Series, k: int) -> tuple[np.ndarray, ...]:
    """Each row's ``k`` most cosine-similar other rows within its block: ``(a, b, cosine, rank)``, four ``(p,)``
    arrays (``rank`` 1 = the row's best). ``vectors: (n, d)`` L2-normalised; ``keys: (n,)`` block keys (None: never
    compared)."""
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
        s_all.append(np.clip(sim[ok].astype(np.float64), -1.0, 1.0))  # float error can give 1.0000001
        r_all.append(rank[ok])
    if not a_all:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    return tuple(np.concatenate(x) for x in (a_all, b_all, s_all, r_all))


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


def _best_within(n: int, cluster: np.ndarray, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per row, the largest weight of a pair with another member of its cluster ``(n,) float`` (NaN: none)."""
    same = cluster[a] == cluster[b]
    best = np.full(n, -np.inf)
    np.maximum.at(best, a[same], w[same])
    np.maximum.at(best, b[same], w[same])
    best[best == -np.inf] = np.nan
    return best


def _pair_weights(pair_probabilities, a, b, cosine) -> np.ndarray:
    if pair_probabilities is None:
        return np.clip(cosine, 0.0, 1.0)
    p = np.asarray(pair_probabilities(a, b, cosine), dtype=np.float64).ravel()
    if p.shape != cosine.shape or not np.all((p >= 0) & (p <= 1)):  # NaN fails too
        raise ParameterError(f"pair_probabilities must return one probability in [0, 1] per pair ({cosine.size}); "
                             f"got shape {p.shape}.")
    return p


def dedupe(
    table: pd.DataFrame,
    on: str | Sequence[str],
    threshold: float | None = None,
    *,
    id_column: str | None = None,
    block_on: str | Sequence[str] | None = None,
    encoder: Any = None,
    k: int = 10,
    clustering: str = "average",
    pair_probabilities: PairProbabilities | None = None,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Cluster duplicate rows of ``table`` compared on the columns ``on``; see the module docstring.

    threshold: the weight two clusters' pairs must reach on average to merge (``None``: chosen from the cosine
    scores without labels, or 0.5 with ``pair_probabilities``). clustering: ``"average"`` (default) or
    ``"components"``. k: candidate pairs per row; give more than the largest expected cluster.
    pair_probabilities: ``f(a, b, cosine) -> (p,) float`` in [0, 1], the match probability of each candidate pair
    (row positions ``a, b: (p,) int``, their ``cosine: (p,) float``); default: the cosine clipped at 0, which is
    not a calibrated probability. The threshold used and how it was chosen are in ``result.attrs["threshold"]``
    (a ThresholdChoice); the expected pairwise precision/recall/F1 in ``result.attrs["estimate"]`` (a
    :class:`~labelwise.link.clustering.PairwiseEstimate`, ``calibrated`` only with ``pair_probabilities``).
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"dedupe() takes a pandas DataFrame, got {type(table).__name__}.")
    columns = as_columns(on)
    if not columns:
        raise DataError("on= names no columns: give the columns to compare, e.g. on=['name', 'address'].")
    block_columns = as_columns(block_on, "block_on")
    check_k_and_threshold(k, threshold)
    if clustering not in CLUSTERINGS:
        raise ParameterError(f"clustering must be one of {', '.join(CLUSTERINGS)}; got {clustering!r}.")
    check_columns(table, columns, "input")
    check_columns(table, block_columns, "input", what="block_on")
    for name in ("cluster_id", "representative"):
        if name in table.columns:
            raise DataError(f"The table already has a '{name}' column; rename or drop it before de-duplicating.")
    ids = row_ids(table, id_column, "input")
    n = len(table)
    out = table.copy()
    calibrated = pair_probabilities is not None
    if n == 0:
        out["cluster_id"] = pd.Series([], dtype=np.int64)
        out["representative"] = pd.Series([], dtype=object)
        out["score"] = pd.Series([], dtype=np.float64)
        out.attrs["threshold"] = ThresholdChoice(1.0 if threshold is None else float(threshold), "default")
        out.attrs["estimate"] = expected_pairwise_f1(np.zeros(0, np.int64), [], [], [], calibrated=calibrated)
        return out

    encoder = encoder or default_encoder()
    (vectors,) = embed_tables(encoder, [serialise(table, columns)], progress)
    a, b, cosine, rank = candidate_pairs(vectors, blocks(table, block_columns), k)
    weights = _pair_weights(pair_probabilities, a, b, cosine)

    if threshold is not None:
        choice = ThresholdChoice(float(threshold), "given")
    elif calibrated:
        choice = ThresholdChoice(0.5, "probability", "a pair is more likely a match than not")
    else:
        choice = unsupervised_threshold(cosine[rank == 1], cosine[rank == 2])
        # its F1 is for best matches at that cut, not for these clusters: the estimate below replaces it
        choice = replace(choice, detail=choice.detail.partition(", estimated F1")[0])
    if choice.value <= 0:
        raise ParameterError(f"threshold {choice.value:g} is not above 0: every pair would count as a duplicate; "
                             "give a threshold above 0.")
    cluster = cluster_pairs(n, a, b, weights, min(choice.value, 1.0), method=clustering)
    out["cluster_id"] = cluster
    out["representative"] = ids[_representatives(vectors.astype(np.float64), cluster)]
    out["score"] = _best_within(n, cluster, a, b, weights)
    out.attrs["threshold"] = choice
    out.attrs["estimate"] = expected_pairwise_f1(cluster, a, b, weights, calibrated=calibrated)
    return out
