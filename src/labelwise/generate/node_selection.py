"""Which graph nodes an LLM should label, and which of its answers to keep: LLM-GNN's selection and filtering.

Chen, Mao, Wen, Han, Jin, Zhang, Liu, Tang, *Label-free Node Classification on Graphs with Large Language Models*,
ICLR 2024 (arXiv 2310.04668), reimplemented from the paper and the notes in ``../shared/papers/specs`` section 21
(the authors' repository has no licence). An LLM labels a budget of ``B`` nodes of a text-attributed graph; a GNN
trained on those noisy labels labels the rest. Two ideas decide how good those labels are:

1. **Difficulty-aware selection.** An LLM is more often right on nodes near the centre of a cluster of the node
   embeddings: ``C-density(v) = 1 / (1 + ||x_v - mu_c(v)||)`` with k-means on ``k = C`` (the number of classes)
   clusters, :func:`c_density`. It is mixed with a classic active-learning score ``f_act`` (representativeness) by
   *percentile ranks* (the scores live on different scales): ``s(v) = pct(f_act(v)) + beta * pct(C-density(v))``
   (:func:`difficulty_aware_scores`, ``beta = 0.33`` from the authors' README), and the top ``B`` nodes are labelled.
   ``f_act`` (:func:`active_scores`): ``pagerank``, ``degree``, ``density`` (the same density with k-means on
   ``k = B`` clusters) or ``pagerank_density``, the README's ``pagerank2``:
   ``alpha * pct(density_B) + (1 - alpha) * pct(PageRank)``, ``alpha = 0.33``.
2. **Post-filtering** (:func:`post_filter`): remove ``floor(ratio * m)`` of the ``m <= B`` answered nodes greedily,
   each time the one with the lowest ``pct(confidence) + pct(D)``, where ``D(v) = H(labels) - H(labels without v)`` is the label diversity
   (entropy of the label distribution) lost by removing ``v``; ``D`` is recomputed after every removal, the
   confidence ranks are computed once, and a label's last example is never removed. Low confidence goes first,
   and among equally confident nodes those of the most frequent labels (removing them raises the entropy), so the
   filter does not wipe out a class.

The notes write the diversity term as ``COE(v) = H(labels without v) - H(labels)`` *and* say that nodes whose
removal lowers diversity are kept and that a last example has ``COE = -inf`` and is never removed; with "remove the
lowest score" only ``D = -COE`` satisfies all three, so that is the sign used here. The notes' three bugs of the
official filter are avoided: confidence is ranked once with low = low score, the entropy is computed on the LLM's
labels (never the true ones), and masks are boolean.

:func:`select_graph_nodes` is the one entry point for selection (``strategy`` in :data:`GRAPH_STRATEGIES`). Arrays in,
arrays out: ``adjacency`` is an ``(n, n)`` scipy sparse or dense matrix (undirected; a directed one is symmetrised),
``embeddings: (n, d) float``. No I/O, no printing.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from labelwise.errors import ParameterError, ShapeError

__all__ = [
    "ACTIVE_SCORES",
    "GRAPH_STRATEGIES",
    "active_scores",
    "c_density",
    "cluster_density",
    "difficulty_aware_scores",
    "label_diversity_loss",
    "pagerank",
    "percentile_rank",
    "post_filter",
    "select_graph_nodes",
    "symmetric_adjacency",
]

ACTIVE_SCORES = ("pagerank", "degree", "density", "pagerank_density")
GRAPH_STRATEGIES = ("random",) + ACTIVE_SCORES
FILTERS = ("conf+diversity", "conf", "none")


def symmetric_adjacency(adjacency, n: int | None = None) -> sp.csr_matrix:
    """``(n, n)`` sparse or dense -> symmetric 0/1 ``csr_matrix`` without self-loops (edges in either direction
    count once)."""
    a = sp.csr_matrix(adjacency, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ShapeError(f"adjacency has shape {a.shape}; expected a square (n, n) matrix")
    if n is not None and a.shape[0] != n:
        raise ShapeError(f"adjacency is {a.shape[0]} x {a.shape[0]} but there are {n} nodes; give one row per node")
    a = ((a + a.T) != 0).astype(np.float64).tocsr()
    a = (a - sp.diags(a.diagonal())).tocsr()
    a.eliminate_zeros()
    return a


def percentile_rank(values) -> np.ndarray:
    """``pct(v) = rank / n`` in ``(0, 1]`` (ties share their average rank): ``(n,) float`` from ``values: (n,)``."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ShapeError(f"values has shape {v.shape}; expected (n,)")
    return rankdata(v, method="average") / max(len(v), 1)


def pagerank(adjacency, *, damping: float = 0.85, tol: float = 1e-10, max_iter: int = 500) -> np.ndarray:
    """PageRank of every node of an undirected graph by power iteration: ``(n,) float`` summing to 1.

    The graph is :func:`symmetric_adjacency`'s: edge weights are ignored, a repeated edge counts once, loops are
    dropped. A node without edges spreads its rank uniformly (the usual dangling-node rule, as networkx does)."""
    if not 0.0 < damping < 1.0:
        raise ParameterError(f"damping={damping} must be between 0 and 1 (exclusive), e.g. 0.85")
    a = symmetric_adjacency(adjacency)
    n = a.shape[0]
    if n == 0:
        return np.zeros(0)
    degree = np.asarray(a.sum(axis=1)).ravel()
    dangling = degree == 0
    inv = np.where(dangling, 0.0, 1.0 / np.maximum(degree, 1e-300))
    walk = a.T.multiply(inv).tocsr()  # column-stochastic on the nodes with edges: walk[j, i] = a[i, j] / deg(i)
    r = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        new = damping * (walk @ r + r[dangling].sum() / n) + (1.0 - damping) / n
        if np.abs(new - r).sum() < tol:
            return new
        r = new
    return r


def cluster_density(embeddings, n_clusters: int, *, random_state=0) -> np.ndarray:
    """``1 / (1 + ||x_v - mu_c(v)||)``, ``mu_c(v)`` the nearest of ``n_clusters`` k-means centres: ``(n,) float`` in
    ``(0, 1]`` from ``embeddings: (n, d)``."""
    from sklearn.cluster import KMeans

    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise ShapeError(f"embeddings has shape {x.shape}; expected (n, d)")
    k = int(n_clusters)
    if not 1 <= k <= len(x):
        raise ParameterError(f"n_clusters={k} must be between 1 and the {len(x)} nodes")
    km = KMeans(n_clusters=k, n_init=3, random_state=random_state).fit(x)
    distance = np.linalg.norm(x - km.cluster_centers_[km.labels_], axis=1)
    return 1.0 / (1.0 + distance)


def c_density(embeddings, n_classes: int, *, random_state=0) -> np.ndarray:
    """LLM-GNN's annotation-difficulty proxy: :func:`cluster_density` with one cluster per class. ``(n,) float``;
    higher = nearer a cluster centre = likelier to be labelled right by the LLM."""
    return cluster_density(embeddings, n_classes, random_state=random_state)


def active_scores(embeddings, adjacency, *, kind: str = "pagerank_density", budget: int | None = None,
                  alpha: float = 0.33, random_state=0) -> np.ndarray:
    """The representativeness score ``f_act: (n,) float`` (higher = label first).

    ``pagerank``; ``degree``; ``density``: :func:`cluster_density` with ``budget`` clusters; ``pagerank_density``
    (the paper's PS / README ``pagerank2``): ``alpha * pct(density) + (1 - alpha) * pct(pagerank)``.
    embeddings: (n, d) float (for the densities); adjacency: (n, n)."""
    if kind not in ACTIVE_SCORES:
        raise ParameterError(f"unknown active score {kind!r}; use one of {', '.join(ACTIVE_SCORES)}")
    n = len(embeddings)
    if kind == "degree":
        return np.asarray(symmetric_adjacency(adjacency, n).sum(axis=1), dtype=np.float64).ravel()
    if kind == "pagerank":
        return pagerank(symmetric_adjacency(adjacency, n))
    if budget is None:
        raise ParameterError(f"active score {kind!r} needs the budget (the number of k-means clusters)")
    density = cluster_density(embeddings, budget, random_state=random_state)
    if kind == "density":
        return density
    if not 0.0 <= alpha <= 1.0:
        raise ParameterError(f"alpha={alpha} must be in [0, 1] (the weight of density against PageRank)")
    return alpha * percentile_rank(density) + (1.0 - alpha) * percentile_rank(pagerank(symmetric_adjacency(adjacency, n)))


def difficulty_aware_scores(active, difficulty, *, beta: float = 0.33) -> np.ndarray:
    """``pct(active) + beta * pct(difficulty)``: ``(n,) float`` from two ``(n,)`` scores (``difficulty`` = C-density,
    higher = easier for the LLM)."""
    a = np.asarray(active, dtype=np.float64)
    d = np.asarray(difficulty, dtype=np.float64)
    if a.shape != d.shape:
        raise ShapeError(f"active has shape {a.shape} but difficulty {d.shape}; give one score per node to both")
    if beta < 0:
        raise ParameterError(f"beta={beta} must be 0 or more (the weight of the difficulty term)")
    return percentile_rank(a) + beta * percentile_rank(d)


def select_graph_nodes(embeddings, adjacency, *, budget: int, n_classes: int, strategy: str = "pagerank_density",
                       difficulty_aware: bool = True, alpha: float = 0.33, beta: float = 0.33,
                       candidates=None, random_state=0) -> np.ndarray:
    """The ``budget`` nodes to send to the LLM: ``(budget,) int``, best first (ties: the lower index).

    embeddings: (n, d) float node embeddings; adjacency: (n, n); n_classes: C, the number of labels (C-density's
    k-means). ``strategy``: ``random`` (uniform, sorted; ``difficulty_aware`` ignored) or an :data:`ACTIVE_SCORES`
    kind; ``difficulty_aware`` adds ``beta * pct(C-density)``. candidates: (n,) bool, the nodes that may be chosen
    (default all; the scores are still computed on the whole graph): identical embeddings, such as those of empty
    texts, sit on a k-means centre and would otherwise win every density score."""
    if strategy not in GRAPH_STRATEGIES:
        raise ParameterError(f"unknown strategy {strategy!r}; use one of {', '.join(GRAPH_STRATEGIES)}")
    n = len(embeddings)
    pool = np.ones(n, dtype=bool) if candidates is None else np.asarray(candidates, dtype=bool)
    if pool.shape != (n,):
        raise ShapeError(f"candidates has shape {pool.shape}; expected ({n},), one flag per node")
    budget = int(budget)
    if not 1 <= budget <= pool.sum():
        raise ParameterError(f"budget={budget} must be between 1 and the {int(pool.sum())} nodes"
                             + ("" if candidates is None else " that may be chosen"))
    if int(n_classes) < 2:
        raise ParameterError(f"n_classes={n_classes}: node classification needs at least two classes")
    if strategy == "random":
        return np.sort(np.random.default_rng(random_state).choice(np.flatnonzero(pool), size=budget, replace=False))
    score = active_scores(embeddings, adjacency, kind=strategy, budget=budget, alpha=alpha, random_state=random_state)
    if difficulty_aware:
        score = difficulty_aware_scores(score, c_density(embeddings, min(int(n_classes), n),
                                                         random_state=random_state), beta=beta)
    score[~pool] = -np.inf
    return np.argsort(-score, kind="stable")[:budget]


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def label_diversity_loss(labels, *, n_classes: int | None = None) -> np.ndarray:
    """``D(v) = H(labels) - H(labels without v)``: ``(m,) float``, the entropy (nats) of the label distribution lost
    by removing each annotation; ``+inf`` for a label's only example. labels: (m,) int >= 0."""
    y = np.asarray(labels, dtype=np.int64)
    if y.ndim != 1 or (len(y) and y.min() < 0):
        raise ShapeError("labels must be a (m,) array of class indices >= 0")
    if len(y) == 0:
        return np.zeros(0)
    counts = np.bincount(y, minlength=n_classes or 0).astype(np.float64)
    h = _entropy(counts)
    loss = np.empty(len(counts))
    for c in np.flatnonzero(counts):
        without = counts.copy()
        without[c] -= 1
        loss[c] = np.inf if counts[c] == 1 else h - _entropy(without)
    return loss[y]


def post_filter(labels, confidence, *, ratio: float = 0.2, strategy: str = "conf+diversity") -> np.ndarray:
    """Which LLM annotations to train on: ``(m,) bool`` (True = keep).

    labels: (m,) int, the LLM's labels (-1 = no usable answer: never kept, still counted in ``m``);
    confidence: (m,) float, the LLM's confidence in each. Removes ``floor(ratio * v)`` of the ``v`` usable
    annotations. ``conf+diversity`` (the paper's ``conf+entropy``): greedily the lowest
    ``pct(confidence) + pct(D)``, :func:`label_diversity_loss` ``D`` recomputed after each removal, a label's last
    example never removed; ``conf``: the least confident (ties: the lower index); ``none``: keep every usable one."""
    y = np.asarray(labels, dtype=np.int64)
    conf = np.asarray(confidence, dtype=np.float64)
    if y.ndim != 1 or conf.shape != y.shape:
        raise ShapeError(f"labels {y.shape} and confidence {conf.shape} must both be (m,)")
    if strategy not in FILTERS:
        raise ParameterError(f"unknown filter {strategy!r}; use one of {', '.join(FILTERS)}")
    if not 0.0 <= ratio < 1.0:
        raise ParameterError(f"ratio={ratio} must be in [0, 1): the share of annotations to remove")
    keep = y >= 0
    usable = np.flatnonzero(keep)
    if not np.isfinite(conf[usable]).all():
        bad = int(usable[~np.isfinite(conf[usable])][0])
        raise ParameterError(f"confidence[{bad}] is {conf[bad]}; give a finite confidence for every answered node")
    n_remove = int(np.floor(ratio * len(usable)))
    if strategy == "none" or n_remove == 0:
        return keep
    if strategy == "conf":
        keep[usable[np.argsort(conf[usable], kind="stable")[:n_remove]]] = False
        return keep
    conf_rank = percentile_rank(conf[usable])  # once: low confidence = low score
    alive = np.ones(len(usable), dtype=bool)
    for _ in range(n_remove):
        loss = label_diversity_loss(y[usable[alive]])
        candidates = np.isfinite(loss)  # a label's last example stays
        if not candidates.any():
            break
        score = conf_rank[alive] + percentile_rank(loss)
        score[~candidates] = np.inf
        alive[np.flatnonzero(alive)[int(np.argmin(score))]] = False
    keep[usable[~alive]] = False
    return keep
