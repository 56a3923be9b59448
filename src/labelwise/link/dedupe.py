"""``dedupe(table, on=...)``: clusters of rows that describe the same entity, and a representative for each.

LinkTransformer (Arora & Dell 2023) de-duplicates by embedding the serialised rows and clustering them
(DBSCAN/agglomerative/HDBSCAN) and keeps one row per cluster, which deletes all "noise" singletons but the first.
labelwise links the table to itself instead, with the scorer ``link`` uses (:mod:`~labelwise.link.score`): each
row's ``k`` nearest rows by embedding cosine and by character n-gram TF-IDF are its candidate pairs (each unordered
pair once, within its block when ``block_on`` is given), each pair gets a match probability from per-column
lexical comparisons and the embedding cosine, weighed by a Fellegi-Sunter model fitted by EM without labels, and
the pairs are clustered by average linkage (:mod:`~labelwise.link.clustering`: two clusters merge only when the mean
match probability over all their cross pairs reaches the threshold, so a chain of close pairs does not join two
distant rows); ``clustering="components"`` gives the connected components of the pairs above the threshold
instead, which chain.

The threshold is 0.5 when not given: average linkage merges two groups when the pairs the merge creates are, on
average, more likely matches than not. (``link`` takes the cut that maximises the expected F1 of independent pair
decisions; a clustering's pairs are not independent decisions, every merge creates ``s1 * s2`` of them, and
searching the cut would re-run the clustering per candidate value.)

``pair_probabilities`` replaces the scorer's probabilities with the caller's; ``scorer="cosine"`` gives the
earlier weights: each row's ``k`` most cosine-similar rows, the cosine clipped at 0 as the weight, and a threshold
chosen from the cosines without labels (not calibrated). Every row keeps a cluster: singletons get their own
``cluster_id``. The representative of a cluster is its most central row, the one with the highest total similarity
to the other members (``argmax_i x_i . sum_j x_j`` over the row embeddings, or the rows' TF-IDF vectors without an
encoder; exact and linear in the cluster size).

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
from scipy import sparse

from labelwise.errors import DataError, ParameterError
from labelwise.link.clustering import CLUSTERINGS, cluster_pairs, connected_clusters, expected_pairwise_f1
from labelwise.link.compare import char_tfidf
from labelwise.link.merge import (block_groups, blocks, check_k_and_threshold, default_encoder, default_executor,
                                  embed_tables)
from labelwise.link.score import candidate_pairs as scored_candidate_pairs, score_candidates
from labelwise.link.serialise import _text, as_columns, check_columns, find_id_column, row_ids, serialise
from labelwise.link.threshold import ThresholdChoice, unsupervised_threshold
from labelwise.neighbours import knn
from labelwise.progress import ProgressCallback, report

__all__ = ["dedupe", "clusters_from_pairs", "candidate_pairs", "SCORERS"]

PairProbabilities = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
SCORERS = ("hybrid", "cosine")


def clusters_from_pairs(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the graph with ``n`` nodes and edges ``(a[i], b[i])``: ``(n,) int`` cluster ids,
    numbered in order of each cluster's first row (:func:`labelwise.link.clustering.connected_clusters`)."""
    return connected_clusters(n, a, b)


def candidate_pairs(vectors: np.ndarray, keys: pd.Series, k: int, search: Callable = knn) -> tuple[np.ndarray, ...]:
    """Each row's ``k`` most cosine-similar other rows within its block: ``(a, b, cosine, rank)``, four ``(p,)``
    arrays (``rank`` 1 = the row's best). ``vectors: (n, d)`` L2-normalised; ``keys: (n,)`` block keys (None: never
    compared). search: the kNN search, as :func:`labelwise.neighbours.knn` (e.g. an executor's ``knn``)."""
    a_all, b_all, s_all, r_all = [], [], [], []
    for _, pos in block_groups(keys):
        if pos.size < 2:
            continue
        idx, sim = search(vectors[pos], min(k, pos.size - 1))  # each row's nearest others, never itself
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


def _representatives(vectors, cluster: np.ndarray) -> np.ndarray:
    """Per row, the position of its cluster's most central row: ``(n,) int``. ``vectors: (n, d)``, a numpy array
    or a scipy sparse matrix."""
    n = cluster.size
    members = sparse.csr_matrix((np.ones(n), (cluster, np.arange(n))), shape=(int(cluster.max()) + 1, n))
    sums = members @ vectors  # (c, d): each cluster's sum of vectors
    if sparse.issparse(vectors):
        spread = sparse.csr_matrix(sums)[cluster]  # (n, d): each row's cluster sum
        centrality = np.asarray(sparse.csr_matrix(vectors).multiply(spread).sum(axis=1)).ravel()
    else:
        centrality = np.einsum("ij,ij->i", vectors, np.asarray(sums)[cluster])
    order = np.lexsort((np.arange(n), -centrality, cluster))  # by cluster, most central first, ties by row
    best = np.empty(members.shape[0], dtype=np.int64)
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


def _check_probabilities(p, size: int) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64).ravel()
    if p.shape != (size,) or not np.all((p >= 0) & (p <= 1)):  # NaN fails too
        raise ParameterError(f"pair_probabilities must return one probability in [0, 1] per pair ({size}); "
                             f"got shape {p.shape}.")
    return p


def _hybrid_pairs(columns: list[list[str]], vectors: np.ndarray | None, keys: pd.Series,
                  k: int, search: Callable = knn) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs ``a < b`` (``(p,) int`` each) of the hybrid scorer, searched within each block."""
    a_all, b_all = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for _, pos in block_groups(keys):
        if pos.size < 2:
            continue
        a, b = scored_candidate_pairs([[col[i] for i in pos] for col in columns], None,
                                      left_vectors=None if vectors is None else vectors[pos], k=k, search=search)
        a_all.append(pos[a])
        b_all.append(pos[b])
    return np.concatenate(a_all), np.concatenate(b_all)


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
    scorer: str = "hybrid",
    pair_probabilities: PairProbabilities | None = None,
    progress: ProgressCallback | None = None,
    executor: Any = None,
) -> pd.DataFrame:
    """Cluster duplicate rows of ``table`` compared on the columns ``on``; see the module docstring.

    threshold: the weight two clusters' pairs must reach on average to merge (``None``: 0.5 for match
    probabilities; with ``scorer="cosine"``, chosen from the cosines without labels). id_column: the ids of
    ``representative`` (default: the table's ``id`` column, any case, when complete and unique, else row positions).
    encoder: anything with ``encode(texts) -> (n, d)``; default :class:`labelwise.features.TextEncoder`; ``False``
    compares without embeddings (hybrid scorer only). k: candidate pairs per row from each search; give more than
    the largest expected cluster. clustering: ``"average"`` (default) or ``"components"``. scorer: ``"hybrid"``
    (default, calibrated match probabilities) or ``"cosine"`` (uncalibrated). pair_probabilities:
    ``f(a, b, cosine) -> (p,) float`` in [0, 1], the match probability of each candidate pair (row positions
    ``a, b: (p,) int``, their embedding ``cosine: (p,) float``, NaN without an encoder), instead of the scorer's.
    The threshold used and how it was chosen are in ``result.attrs["threshold"]`` (a ThresholdChoice); the expected
    pairwise precision/recall/F1 in ``result.attrs["estimate"]`` (a
    :class:`~labelwise.link.clustering.PairwiseEstimate`, ``calibrated`` unless the weights are cosines); the fitted
    Fellegi-Sunter weights per level (hybrid scorer) in ``result.attrs["comparisons"]``. executor: where embedding
    and the embedding kNN run (a :class:`labelwise.scale.executor.Executor`; default ``LocalExecutor()``;
    ``executor_for("auto")`` for a Ray cluster); the clusters do not depend on it.
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"dedupe() takes a pandas DataFrame, got {type(table).__name__}.")
    columns = as_columns(on)
    if not columns:
        raise DataError("on= names no columns: give the columns to compare, e.g. on=['name', 'address'].")
    block_columns = as_columns(block_on, "block_on")
    check_k_and_threshold(k, None)
    if threshold is not None and not (0.0 < float(threshold) <= 1.0):  # NaN fails too
        raise ParameterError(f"threshold is a weight in (0, 1] (a match probability, or a cosine with "
                             f"scorer='cosine'); got {threshold!r}.")
    if clustering not in CLUSTERINGS:
        raise ParameterError(f"clustering must be one of {', '.join(CLUSTERINGS)}; got {clustering!r}.")
    if scorer not in SCORERS:
        raise ParameterError(f"scorer must be one of {', '.join(SCORERS)}; got {scorer!r}.")
    cosine_only = scorer == "cosine" and pair_probabilities is None
    if cosine_only and encoder is False:
        raise ParameterError("scorer='cosine' needs row embeddings; give an encoder, or use scorer='hybrid' "
                             "(the default), which also works without one.")
    check_columns(table, columns, "input")
    check_columns(table, block_columns, "input", what="block_on")
    for name in ("cluster_id", "representative"):
        if name in table.columns:
            raise DataError(f"The table already has a '{name}' column; rename or drop it before de-duplicating.")
    ids = row_ids(table, id_column if id_column is not None else find_id_column(table)[0], "input")
    n = len(table)
    out = table.copy()
    calibrated = not cosine_only
    if n == 0:
        out["cluster_id"] = pd.Series([], dtype=np.int64)
        out["representative"] = pd.Series([], dtype=object)
        out["score"] = pd.Series([], dtype=np.float64)
        out.attrs["threshold"] = ThresholdChoice(1.0 if threshold is None else float(threshold), "default")
        out.attrs["estimate"] = expected_pairwise_f1(np.zeros(0, np.int64), [], [], [], calibrated=calibrated)
        return out

    executor = default_executor(executor)
    vectors = None
    if encoder is not False:
        (vectors,) = embed_tables(encoder or default_encoder(), [serialise(table, columns)], progress,
                                  executor=executor)
    keys = blocks(table, block_columns)
    texts = [[_text(v) for v in table[c].tolist()] for c in columns]
    if cosine_only:
        a, b, cosine, rank = candidate_pairs(vectors, keys, k, executor.knn)
        weights = np.clip(cosine, 0.0, 1.0)
    else:
        report(progress, "searching", 0, 1)
        a, b = _hybrid_pairs(texts, vectors, keys, int(k), executor.knn)
        report(progress, "searching", 1, 1)
        cosine = (np.einsum("ij,ij->i", vectors[a], vectors[b]).astype(np.float64) if vectors is not None
                  else np.full(a.size, np.nan))
        if pair_probabilities is not None:
            weights = _check_probabilities(pair_probabilities(a, b, cosine), a.size)
        else:
            report(progress, "scoring pairs", 0, 1)
            scores = score_candidates(texts, None, a, b, left_vectors=vectors, names=columns)
            report(progress, "scoring pairs", 1, 1)
            weights = scores.probability
            out.attrs["comparisons"] = scores.describe()

    if threshold is not None:
        choice = ThresholdChoice(float(threshold), "given")
    elif calibrated:
        choice = ThresholdChoice(0.5, "probability", "the merged pairs are more likely matches than not")
    else:
        choice = unsupervised_threshold(cosine[rank == 1], cosine[rank == 2])
        # its F1 is for best matches at that cut, not for these clusters: the estimate below replaces it
        choice = replace(choice, detail=choice.detail.partition(", estimated F1")[0])
    if choice.value <= 0:
        raise ParameterError(f"threshold {choice.value:g} is not above 0: every pair would count as a duplicate; "
                             "give a threshold above 0.")
    cluster = cluster_pairs(n, a, b, weights, min(choice.value, 1.0), method=clustering)
    out["cluster_id"] = cluster
    central = vectors.astype(np.float64) if vectors is not None else char_tfidf([" ".join(r) for r in zip(*texts)])[0]
    out["representative"] = ids[_representatives(central, cluster)]
    out["score"] = _best_within(n, cluster, a, b, weights)
    out.attrs["threshold"] = choice
    out.attrs["estimate"] = expected_pairwise_f1(cluster, a, b, weights, calibrated=calibrated)
    return out
