"""Clusters from weighted candidate pairs, without chaining; and the pairwise F1 the weights imply.

Connected components over the pairs at or above a threshold chain lookalikes: ``a~b``, ``b~c``, ``c~d`` puts ``a``
and ``d`` together however far apart they are (one component held 186 different TVs). :func:`average_linkage`
is agglomerative clustering with average linkage (UPGMA; Sokal & Michener 1958) on the sparse pair graph: two
clusters merge only when the mean weight over *all* their cross pairs, a pair that is not a candidate counting as
weight 0, is at least the threshold, and the pair of clusters with the highest mean merges first. A chain's ends
then stay apart: ``{a, b, c}`` and ``d`` share one close pair out of three.

How the peers group pairs: Splink (``cluster_pairwise_predictions_at_threshold``) takes connected components of
the pairs above a match probability; dedupe.io (dedupe/clustering.py) takes connected components, then
hierarchical clustering with centroid linkage inside each, a missing pair at distance 1 (weight 0), as here.
Average linkage is used here because its merge rule is a statement about pairs (the mean match probability of
the pairs a merge would create), which is also what pairwise precision counts.

Only pairs joined by a chain of pairs at or above the threshold can end in one cluster (a mean is at most the
largest weight), so the work is confined to those components and grows with the number of candidate pairs, not
with ``n ** 2``: 100k rows with 10 candidates each are about a million pairs. Because a missing pair counts 0, a
row joins a cluster of ``s`` rows only if it has candidate pairs with at least ``threshold * s`` of them: give
``k`` (candidates per row) above the largest expected cluster.

:func:`expected_pairwise_f1` reads the weights as match probabilities: expected true pairs = the sum of the
probabilities of the within-cluster pairs; precision = that / the number of within-cluster pairs (a pair that was
never a candidate counts 0); recall = that / the sum of all candidate pairs' probabilities (true pairs never
retrieved as candidates are not counted, so recall is an upper bound). Honest only when the weights are
calibrated probabilities; cosine similarities are not.

Shapes: ``a, b: (p,) int`` row positions in ``0..n-1``; ``weights: (p,) float`` in [0, 1]; cluster ids
``(n,) int`` numbered 0..c-1 in order of each cluster's first row; every row has one (singletons their own).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from labelwise.errors import ParameterError, ShapeError

__all__ = ["CLUSTERINGS", "cluster_pairs", "average_linkage", "connected_clusters", "undirected_pairs",
           "expected_pairwise_f1", "PairwiseEstimate"]

CLUSTERINGS = ("average", "components")


def undirected_pairs(n: int, a, b, weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each unordered pair once, as ``(i, j, w)`` with ``i < j`` and the largest weight given to it; pairs of a row
    with itself are dropped. ``a, b: (p,) int``, ``weights: (p,) float`` -> three ``(q,)`` arrays, sorted by pair."""
    a = np.asarray(a, dtype=np.int64).ravel()
    b = np.asarray(b, dtype=np.int64).ravel()
    w = np.asarray(weights, dtype=np.float64).ravel()
    if not (a.shape == b.shape == w.shape):
        raise ShapeError(f"a, b and weights must have the same length; got {a.size}, {b.size} and {w.size}.")
    if a.size and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= n):
        raise ShapeError(f"pair positions must lie in 0..{n - 1}; got {min(a.min(), b.min())}..{max(a.max(), b.max())}.")
    if not np.isfinite(w).all():
        raise ParameterError("weights contain NaN or infinity; give a number in [0, 1] for every pair.")
    i, j = np.minimum(a, b), np.maximum(a, b)
    keep = i != j
    i, j, w = i[keep], j[keep], w[keep]
    order = np.lexsort((-w, j, i))  # by pair, the largest weight first
    i, j, w = i[order], j[order], w[order]
    first = np.r_[True, (i[1:] != i[:-1]) | (j[1:] != j[:-1])][: i.size]
    return i[first], j[first], w[first]


def _numbered_by_first_row(labels: np.ndarray) -> np.ndarray:
    """Relabel ``(n,)`` cluster labels 0..c-1 in order of each cluster's first row."""
    if labels.size == 0:
        return labels.astype(np.int64)
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inverse.ravel()]


def connected_clusters(n: int, a, b) -> np.ndarray:
    """Connected components of the graph with ``n`` nodes and edges ``(a[i], b[i])``: ``(n,) int`` cluster ids,
    numbered in order of each cluster's first row. Chains: use :func:`average_linkage` for duplicates."""
    a = np.asarray(a, dtype=np.int64).ravel()
    b = np.asarray(b, dtype=np.int64).ravel()
    graph = sparse.coo_matrix((np.ones(a.size), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return _numbered_by_first_row(labels)


def _check_threshold(threshold: float) -> float:
    t = float(threshold)
    if not 0.0 < t <= 1.0:  # NaN fails too
        raise ParameterError(f"threshold is a weight in (0, 1]; got {threshold!r}.")
    return t


def _check_weights(w: np.ndarray) -> None:
    if w.size and (w.min() < 0.0 or w.max() > 1.0):
        raise ParameterError(f"weights must lie in [0, 1] (match probabilities, or cosines clipped at 0); got "
                             f"{w.min():.3g}..{w.max():.3g}.")


def average_linkage(n: int, a, b, weights, threshold: float) -> np.ndarray:
    """Average-linkage (UPGMA) clusters of ``n`` rows from weighted candidate pairs; see the module docstring.

    a, b: ``(p,) int`` candidate pairs (either order, repeats allowed: the largest weight counts); weights: ``(p,)
    float`` in [0, 1]; threshold: in (0, 1]. Returns ``(n,) int`` cluster ids. Deterministic: ties merge the pair
    of lowest cluster numbers first.
    """
    t = _check_threshold(threshold)
    i, j, w = undirected_pairs(n, a, b, weights)
    _check_weights(w)
    strong = w >= t
    component = connected_clusters(n, i[strong], j[strong])
    inside = component[i] == component[j]  # pairs across components can never be merged
    i, j, w = i[inside], j[inside], w[inside]

    # cluster -> {neighbour cluster: sum of the weights of the pairs between them}; clusters n, n+1, ... are merges
    size = [1] * n
    links: dict[int, dict[int, float]] = {}
    for x, y, v in zip(i.tolist(), j.tolist(), w.tolist()):
        links.setdefault(x, {})[y] = v
        links.setdefault(y, {})[x] = v
    heap = [(-v, x, y) for x, y, v in zip(i[w >= t].tolist(), j[w >= t].tolist(), w[w >= t].tolist())]
    heapq.heapify(heap)
    parent = list(range(n))
    alive = [True] * n
    while heap:
        _, x, y = heapq.heappop(heap)
        if not (alive[x] and alive[y]):
            continue  # an entry for a cluster that has merged since; its successor has its own entries
        new = len(size)
        size.append(size[x] + size[y])
        alive[x] = alive[y] = False
        alive.append(True)
        parent[x] = parent[y] = new
        parent.append(new)
        merged = links.pop(x)
        merged.pop(y, None)
        for z, v in links.pop(y).items():
            if z != x:
                merged[z] = merged.get(z, 0.0) + v
        for z, v in merged.items():
            other = links[z]
            other.pop(x, None)
            other.pop(y, None)
            other[new] = v
            mean = v / (size[new] * size[z])
            if mean >= t:
                heapq.heappush(heap, (-mean, z, new))
        links[new] = merged

    root = np.asarray(parent, dtype=np.int64)
    while True:  # path halving on the merge tree, vectorised
        up = root[root]
        if np.array_equal(up, root):
            break
        root = up
    return _numbered_by_first_row(root[:n])


def cluster_pairs(n: int, a, b, weights, threshold: float, method: str = "average") -> np.ndarray:
    """Cluster ids ``(n,) int`` from weighted candidate pairs: ``method="average"`` (:func:`average_linkage`, the
    default) or ``"components"`` (connected components of the pairs with weight >= threshold; chains)."""
    if method == "average":
        return average_linkage(n, a, b, weights, threshold)
    if method == "components":
        _check_threshold(threshold)
        i, j, w = undirected_pairs(n, a, b, weights)
        _check_weights(w)
        return connected_clusters(n, i[w >= threshold], j[w >= threshold])
    raise ParameterError(f"clustering method must be one of {', '.join(CLUSTERINGS)}; got {method!r}.")


@dataclass(frozen=True)
class PairwiseEstimate:
    """Pairwise precision, recall and F1 of a clustering, expected from the pairs' match probabilities.

    calibrated: whether the weights were match probabilities (False: e.g. cosines read as probabilities, which can
    be far from the truth). predicted_pairs: within-cluster pairs; expected_true: the sum of their probabilities.
    """

    precision: float
    recall: float
    f1: float
    predicted_pairs: int
    expected_true: float
    calibrated: bool = True

    def describe(self) -> str:
        label = "" if self.calibrated else " (uncalibrated: similarity scores read as probabilities)"
        return (f"estimated pairwise F1 {self.f1:.3f}, precision {self.precision:.3f}, recall {self.recall:.3f}"
                f"{label}")


def expected_pairwise_f1(cluster, a, b, probabilities, *, calibrated: bool = True) -> PairwiseEstimate:
    """Expected pairwise precision, recall and F1 of ``cluster: (n,) int`` given candidate pairs ``a, b: (p,) int``
    with match ``probabilities: (p,) float`` in [0, 1] (repeats and either order allowed: the largest counts).

    precision = sum of within-cluster pair probabilities / number of within-cluster pairs (a within-cluster pair that
    is not a candidate counts 0); recall = the same sum / the sum over all candidate pairs; F1 their harmonic mean
    (a plug-in estimate). With no within-cluster pair, precision is 1; with no probability mass, recall is 1.
    """
    cluster = np.asarray(cluster, dtype=np.int64).ravel()
    n = cluster.size
    i, j, p = undirected_pairs(n, a, b, probabilities)
    _check_weights(p)
    sizes = np.bincount(cluster) if n else np.zeros(0, np.int64)
    predicted = int((sizes * (sizes - 1) // 2).sum())
    expected_true = float(p[cluster[i] == cluster[j]].sum())
    total = float(p.sum())
    precision = expected_true / predicted if predicted else 1.0
    recall = expected_true / total if total > 0 else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return PairwiseEstimate(precision, recall, f1, predicted, expected_true, calibrated)
