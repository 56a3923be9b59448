"""Labelling instructions as a few real examples per class, scored by a training-free proxy annotator.

Seed paper 16: Chang, Ferroni, Tarr, Hebert, Ramanan, "Thinking Like an Annotator: Generation of Dataset Labeling
Instructions" (arXiv 2306.14035, 2023). An instruction for class c is a small set of real examples of c. A proxy
annotator that has read only those examples scores any item x by its closest example,
``s_c(x) = max_k <q_k, e_x>`` (cosine of L2-normalised embeddings). The instruction is as good as the average
precision (AP) of ranking the items by ``s_c`` with the items of class c as positives; a set of instructions is
as good as the macro mean of AP over classes (mAP). The paper picks examples by greedy forward selection on AP
(:func:`greedy_ap_exemplars`) and reports mAP on held-out folds (:func:`cross_validated_map`), so the examples
never see the items they are judged on.

Besides greedy-AP this module offers the cheaper choices a labelling guide can use, all on one class's vectors:
centrality (cosine to the class mean), centrality plus max-marginal-relevance (:func:`central_diverse_examples`,
Carbonell & Goldstein 1998), k-center (:func:`k_center_examples`, Gonzalez 1985) and k-medoids
(:func:`k_medoids_examples`); ``"random"`` is the paper's unoptimised baseline and ``"class-mean"`` a reference
that ranks well but is not a real example, so it is not a valid instruction.

Everything here is numpy in, numpy out: ``embeddings: (n, d) float``, rows L2-normalised; ``labels: (n,) int``
class codes in ``0..n_classes-1``. The costliest step, greedy-AP, scores ``K * pool`` trial rankings per class.
Three things keep it cheap: the candidate pool is capped (``candidate_pool``); each class is ranked against its
``max_negatives`` hardest other rows (:func:`hard_negatives`) instead of the whole table; and a trial's AP is
computed from a histogram of its scores (:func:`binned_average_precision_rows`, linear time) instead of a sort.
The figures the guide reports (:func:`cross_validated_ap`) always rank every held-out row with the exact AP.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from threadpoolctl import threadpool_limits

from labelwise.neighbours import normalise
from labelwise.errors import ShapeError

METHODS = ("random", "centrality", "mmr", "k-center", "k-medoids", "greedy-ap", "class-mean")
#: Real-example methods: a chosen set is a list of row indices a person can read.
EXAMPLE_METHODS = tuple(m for m in METHODS if m != "class-mean")

#: MMR's trade-off between centrality and novelty. 0.5 weighs them equally, Carbonell & Goldstein's neutral
#: setting: both terms are cosines on the same scale, so neither dominates by units alone. Larger values drift to
#: "the k most central rows" (near-duplicates of one prototype); smaller ones to k-center (outliers first).
DEFAULT_LAMBDA = 0.5
#: Candidates per class that greedy-AP tries at each step (the paper's search is over the training fold; the spec's
#: pilot used 150).
DEFAULT_POOL = 60
#: Other classes' rows that greedy-AP ranks per class: the ones closest to the class's mean (its hard negatives).
#: See bench/labelling_guide.py and docs/guide.md for its cost and held-out mAP against the full search (None).
DEFAULT_NEGATIVES = 2000
#: Score levels of greedy-AP's search objective (:func:`binned_average_precision_rows`): cosines in steps of about
#: 1/1000, finer than the differences the search decides on.
SEARCH_BINS = 1024

Progress = Optional[Callable[[str, int, int], None]]


# ---- validation -------------------------------------------------------------------------------------------------


def _as_embeddings(embeddings) -> np.ndarray:
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ShapeError(f"embeddings must be a non-empty (n, d) array; got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise ShapeError("embeddings contain NaN or infinite values; fix or drop those rows first.")
    return x


def normalise_rows(embeddings) -> np.ndarray:
    """``(n, d)`` -> the same rows scaled to unit L2 norm (zero rows stay zero), float32; checked first."""
    return normalise(_as_embeddings(embeddings))


def _as_labels(labels, n: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer) or (n and y.min() < 0):
        raise ShapeError(f"labels must be (n,) = ({n},) non-negative integer class codes; got {y.dtype} {y.shape}.")
    return y.astype(np.int64)


def _check_k(k: int) -> int:
    if not (isinstance(k, (int, np.integer)) and k >= 1):
        raise ShapeError(f"k (examples per class) must be a positive integer; got {k!r}.")
    return int(k)


# ---- the proxy annotator and its score ---------------------------------------------------------------------------


def proxy_scores(exemplar_vectors, item_vectors, combine: str = "max") -> np.ndarray:
    """The proxy annotator's score of each item for one class: ``(k, d)``, ``(n, d)`` -> ``(n,)`` float.

    ``combine="max"``: ``s(x) = max_k <q_k, e_x>``, the closest example (the paper's rule; rewards diverse examples).
    ``combine="mean"``: the mean cosine, which ranks items exactly as the cosine to the examples' mean does (a
    prototype; it can rank better but loses a class's sub-modes).
    """
    q = np.atleast_2d(np.asarray(exemplar_vectors, dtype=np.float32))
    e = np.asarray(item_vectors, dtype=np.float32)
    if q.shape[0] == 0 or q.ndim != 2 or e.ndim != 2 or q.shape[1] != e.shape[1]:
        raise ShapeError(f"exemplar_vectors (k, d) and item_vectors (n, d) must share d and k >= 1; got {q.shape} "
                         f"and {e.shape}.")
    sims = e @ q.T
    if combine == "max":
        return sims.max(axis=1)
    if combine == "mean":
        return sims.mean(axis=1)
    raise ShapeError(f"combine must be 'max' or 'mean'; got {combine!r}.")


def average_precision_rows(scores, positives) -> np.ndarray:
    """Average precision of ranking items by each row of ``scores: (m, n)`` with ``positives: (n,) bool`` -> ``(m,)``.

    AP = the mean over positives p of (positives scoring >= s_p) / (items scoring >= s_p): the precision at the end
    of p's tie group, so ties are handled exactly as scikit-learn's ``average_precision_score`` does. NaN where
    there is no positive. One sort of all ``m * n`` scores (each row shifted into its own value range) and two
    binary searches, instead of an argsort per row.
    """
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    y = np.asarray(positives, dtype=bool)
    if s.ndim != 2 or y.shape != (s.shape[1],):
        raise ShapeError(f"scores must be (m, n) and positives (n,); got {s.shape} and {y.shape}.")
    m, n = s.shape
    n_pos = int(y.sum())
    if n_pos == 0 or m == 0:
        return np.full(m, np.nan)
    if not np.isfinite(s).all():
        raise ShapeError("scores contain NaN or infinite values; every item needs a finite score.")
    low, span = s.min(), float(s.max() - s.min()) + 1.0
    shifted = s + (np.arange(m) * span - low)[:, None]  # row r lives in [r * span, r * span + span - 1]
    pos = shifted[:, y]
    rows = np.arange(1, m + 1)[:, None]
    all_ge = rows * n - np.searchsorted(np.sort(shifted, axis=None), pos, side="left")
    pos_ge = rows * n_pos - np.searchsorted(np.sort(pos, axis=None), pos, side="left")
    return (pos_ge / all_ge).mean(axis=1)


def binned_average_precision_rows(scores, positives, bins: int = SEARCH_BINS) -> np.ndarray:
    """:func:`average_precision_rows` of the scores rounded down to ``bins`` equal steps of their range: ``(m, n)``,
    ``(n,) bool`` -> ``(m,)``. Scores in one step tie (scikit-learn's tie rule), so it is exact for scores already on
    the grid and within a step's worth of the exact AP otherwise. Linear time (a histogram per row instead of a
    sort): the objective of greedy-AP's search, where it is computed ``K * pool`` times per class."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    y = np.asarray(positives, dtype=bool)
    if s.ndim != 2 or y.shape != (s.shape[1],):
        raise ShapeError(f"scores must be (m, n) and positives (n,); got {s.shape} and {y.shape}.")
    m = s.shape[0]
    if not y.any() or m == 0:
        return np.full(m, np.nan)
    low, high = float(s.min()), float(s.max())
    step = (high - low) / (bins - 1) if high > low else 1.0
    level = np.minimum((s - low) / step + 1e-4, bins - 1).astype(np.int64)  # 0 .. bins - 1 (+1e-4: grid values)
    level += (np.arange(m) * bins)[:, None]  # row r's levels live in [r * bins, r * bins + bins)
    at = level[:, y]
    counts_pos = np.bincount(at.ravel(), minlength=m * bins).reshape(m, bins)
    counts_all = np.bincount(level.ravel(), minlength=m * bins).reshape(m, bins)
    # items at or above a level = row total - items below it
    above_pos = (at.shape[1] - np.cumsum(counts_pos, axis=1) + counts_pos).ravel()
    above_all = (s.shape[1] - np.cumsum(counts_all, axis=1) + counts_all).ravel()
    return (above_pos[at] / above_all[at]).mean(axis=1)


def instruction_ap(exemplar_vectors, item_vectors, positives, combine: str = "max") -> float:
    """AP of one instruction: rank ``item_vectors: (n, d)`` by :func:`proxy_scores` of ``exemplar_vectors: (k, d)``
    with ``positives: (n,) bool`` (the items of the class) as the relevant ones. NaN without positives."""
    return float(average_precision_rows(proxy_scores(exemplar_vectors, item_vectors, combine)[None, :], positives)[0])


# ---- example choices on one class ---------------------------------------------------------------------------------


def centrality(class_vectors) -> np.ndarray:
    """``(m, d)`` -> ``(m,)``: each row's cosine to the class's mean direction (1 = the most typical)."""
    x = normalise_rows(class_vectors)
    mean = x.mean(axis=0)
    norm = np.linalg.norm(mean)
    return x @ (mean / norm) if norm > 0 else np.zeros(len(x), dtype=np.float32)


def central_diverse_examples(class_vectors, k: int, lambda_: float = DEFAULT_LAMBDA) -> np.ndarray:
    """Up to ``k`` representative and diverse rows of one class: ``(m, d)`` -> ``(min(k, m),)`` int row indices.

    Max-marginal-relevance (Carbonell & Goldstein 1998) with centrality as relevance: start from the most central
    row, then add ``argmax_i  lambda_ * centrality_i - (1 - lambda_) * max_{j chosen} cos(x_i, x_j)``.
    ``lambda_=1`` is plain centrality (top-k most typical); ``lambda_=0`` is farthest-first after the first pick.
    Deterministic: ties go to the lower index.
    """
    k = _check_k(k)
    if not 0.0 <= lambda_ <= 1.0:
        raise ShapeError(f"lambda_ must be in [0, 1]; got {lambda_!r}.")
    x = normalise_rows(class_vectors)
    relevance = centrality(x).astype(np.float64)
    chosen = [int(np.argmax(relevance))]
    redundancy = (x @ x[chosen[0]]).astype(np.float64)
    while len(chosen) < min(k, len(x)):
        gain = lambda_ * relevance - (1.0 - lambda_) * redundancy
        gain[chosen] = -np.inf
        nxt = int(np.argmax(gain))
        chosen.append(nxt)
        redundancy = np.maximum(redundancy, x @ x[nxt])
    return np.asarray(chosen, dtype=np.int64)


def k_center_examples(class_vectors, k: int) -> np.ndarray:
    """Greedy k-center (Gonzalez 1985): the most central row, then repeatedly the row farthest (lowest max-cosine)
    from those chosen. ``(m, d)`` -> ``(min(k, m),)`` int. Covers the class's spread; tends to pick outliers."""
    return central_diverse_examples(class_vectors, k, lambda_=0.0)


def k_medoids_examples(class_vectors, k: int, random_state: Optional[int] = 0, max_iter: int = 20,
                       max_rows: int = 2000) -> np.ndarray:
    """k-medoids on cosine distance (alternating assignment / medoid update, Park & Jun 2009), seeded with the MMR
    rows. ``(m, d)`` -> ``(min(k, m),)`` int row indices. A class above ``max_rows`` rows is subsampled (seeded) so
    the ``(m, m)`` similarity matrix stays small."""
    k = _check_k(k)
    x = normalise_rows(class_vectors)
    rows = np.arange(len(x))
    if len(x) > max_rows:
        rows = np.sort(np.random.default_rng(random_state).choice(len(x), max_rows, replace=False))
    sims = x[rows] @ x[rows].T
    medoids = central_diverse_examples(x[rows], k)
    for _ in range(max_iter):
        assign = np.argmax(sims[:, medoids], axis=1)
        updated = medoids.copy()
        for j in range(len(medoids)):
            members = np.flatnonzero(assign == j)
            if len(members):
                updated[j] = members[np.argmax(sims[np.ix_(members, members)].sum(axis=1))]
        if np.array_equal(updated, medoids):
            break
        medoids = updated
    return rows[medoids]  # clusters are disjoint, so the medoids stay distinct


def random_examples(m: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``min(k, m)`` distinct row indices out of ``m``, uniformly at random (the paper's unoptimised baseline)."""
    return np.sort(rng.choice(m, size=min(_check_k(k), m), replace=False)).astype(np.int64)


# ---- greedy forward selection on AP (the paper's search) ----------------------------------------------------------


def greedy_ap_class(embeddings, positives, candidates, k: int, combine: str = "max",
                    stop_without_gain: bool = True, bins: Optional[int] = None) -> tuple[np.ndarray, list[float]]:
    """Greedy forward selection of one class's examples by AP on the items given.

    embeddings: ``(n, d)`` L2-normalised, the items ranked (the training fold: the class's rows and all others).
    positives: ``(n,) bool``, the class's rows. candidates: ``(p,) int`` row indices that may be chosen.
    Each step adds the candidate whose addition gives the highest AP of ranking all ``n`` items by
    :func:`proxy_scores`; it stops at ``k`` examples or, with ``stop_without_gain``, when no candidate raises AP.
    bins: score AP on that many levels (:func:`binned_average_precision_rows`, linear time) instead of exactly
    (None: a sort per step). Returns (chosen row indices ``(<= k,)`` in the order chosen, AP after each step).
    """
    k = _check_k(k)
    x = np.asarray(embeddings, dtype=np.float32)
    cand = np.asarray(candidates, dtype=np.int64)
    sims = x[cand] @ x.T  # (p, n): all the dot products the search needs, once
    chosen: list[int] = []
    trace: list[float] = []
    total = np.zeros(x.shape[0], dtype=np.float32)
    best = np.full(x.shape[0], -np.inf, dtype=np.float32)
    open_ = np.ones(len(cand), dtype=bool)
    while len(chosen) < min(k, len(cand)):
        if combine == "max":
            trial = np.maximum(best[None, :], sims)
        elif combine == "mean":
            trial = (total[None, :] + sims) / (len(chosen) + 1)
        else:
            raise ShapeError(f"combine must be 'max' or 'mean'; got {combine!r}.")
        ap = (average_precision_rows(trial, positives) if bins is None
              else binned_average_precision_rows(trial, positives, bins))
        ap[~open_] = -np.inf
        j = int(np.argmax(ap))
        if stop_without_gain and trace and ap[j] <= trace[-1]:
            break
        chosen.append(int(cand[j]))
        trace.append(float(ap[j]))
        open_[j] = False
        best = np.maximum(best, sims[j])
        total = total + sims[j]
    return np.asarray(chosen, dtype=np.int64), trace


def hard_negatives(closeness: np.ndarray, positives: np.ndarray, limit: Optional[int]) -> np.ndarray:
    """The rows greedy-AP ranks for a class: all its ``positives: (n,) bool`` plus the ``limit`` other rows with the
    highest ``closeness: (n,)`` to it (cosine to the class's mean direction: its hard negatives; None: every row).
    ``(m,) int`` row indices, sorted."""
    if limit is None or (~positives).sum() <= limit:
        return np.arange(len(positives))
    score = np.where(positives, np.inf, closeness)
    return np.sort(np.argpartition(-score, int(positives.sum()) + limit - 1)[:int(positives.sum()) + limit])


def greedy_ap_exemplars(embeddings, labels, k: int, candidate_pool: int = DEFAULT_POOL,
                        random_state: Optional[int] = 0, combine: str = "max", stop_without_gain: bool = True,
                        progress: Progress = None, eligible=None, max_negatives: Optional[int] = DEFAULT_NEGATIVES,
                        search_bins: Optional[int] = SEARCH_BINS) -> dict[int, np.ndarray]:
    """Greedy-AP examples for every class (paper 16's search): ``{class code: (<= k,) int row indices}``.

    embeddings: ``(n, d)``, L2-normalised; labels: ``(n,) int``. For each class the candidates are at most
    ``candidate_pool`` of its ``eligible`` rows (``(n,) bool``, default all) drawn at random (seeded), and AP ranks
    the class's rows against its ``max_negatives`` hardest other rows (:func:`hard_negatives`; None: all rows, the
    paper's exact search). Rows far from a class's mean sit at the bottom of every ranking its examples make, where
    they move the AP little; leaving them out makes the search's cost grow with the class, not the table. The AP of
    each trial is scored on ``search_bins`` levels (:func:`binned_average_precision_rows`; None: exactly). Both
    shortcuts together make the search 44-59x faster on 10k-16k rows at a held-out mAP within 0.006 of the exact
    search (bench/guide_speed.py; ``max_negatives=None, search_bins=None`` is the exact search).
    """
    x = normalise_rows(embeddings)
    y = _as_labels(labels, len(x))
    allowed = _as_eligible(eligible, len(x))
    rng = np.random.default_rng(random_state)
    classes = np.unique(y)
    closeness = x @ normalise(np.stack([x[y == c].mean(axis=0) for c in classes])).T  # (n, classes)
    out: dict[int, np.ndarray] = {}
    with threadpool_limits(limits=1, user_api="blas"):  # many small products: threads only wait on each other
        for step, c in enumerate(classes):
            members = np.flatnonzero((y == c) & allowed)
            pool = members if len(members) <= candidate_pool else np.sort(rng.choice(members, candidate_pool,
                                                                                     replace=False))
            out[int(c)] = np.zeros(0, dtype=np.int64)
            if len(pool):
                items = hard_negatives(closeness[:, step], y == c, max_negatives)
                local, _ = greedy_ap_class(x[items], y[items] == c, np.searchsorted(items, pool), k, combine,
                                           stop_without_gain, search_bins)
                out[int(c)] = items[local]
            if progress is not None:
                progress("choosing examples", step + 1, len(classes))
    return out


def _as_eligible(eligible, n: int) -> np.ndarray:
    if eligible is None:
        return np.ones(n, dtype=bool)
    mask = np.asarray(eligible)
    if mask.shape != (n,) or mask.dtype != bool:
        raise ShapeError(f"eligible must be an (n,) = ({n},) bool mask of the rows that may be examples; got "
                         f"{mask.dtype} {mask.shape}.")
    return mask


# ---- any method, every class ------------------------------------------------------------------------------------


def select_exemplars(embeddings, labels, k: int, method: str = "mmr", *, lambda_: float = DEFAULT_LAMBDA,
                     candidate_pool: int = DEFAULT_POOL, combine: str = "max", random_state: Optional[int] = 0,
                     progress: Progress = None, eligible=None, max_negatives: Optional[int] = DEFAULT_NEGATIVES,
                     search_bins: Optional[int] = SEARCH_BINS) -> dict[int, np.ndarray]:
    """Examples per class by ``method`` (one of :data:`EXAMPLE_METHODS`): ``{class code: (<= k,) int row indices
    into embeddings}``. Only rows with ``eligible: (n,) bool`` (default: all) may be chosen, for example to keep
    rows an audit flagged out of a guide; a class with fewer than ``k`` eligible rows gets all of them (greedy-AP
    may stop earlier), a class with none gets an empty array. Every row still counts in greedy-AP's ranking."""
    x = normalise_rows(embeddings)
    y = _as_labels(labels, len(x))
    allowed = _as_eligible(eligible, len(x))
    _check_k(k)
    if method == "greedy-ap":
        return greedy_ap_exemplars(x, y, k, candidate_pool, random_state, combine, progress=progress,
                                   eligible=allowed, max_negatives=max_negatives, search_bins=search_bins)
    if method not in EXAMPLE_METHODS:
        raise ShapeError(f"method must be one of {', '.join(EXAMPLE_METHODS)}; got {method!r}.")
    rng = np.random.default_rng(random_state)
    classes = np.unique(y)
    out: dict[int, np.ndarray] = {}
    for step, c in enumerate(classes):
        members = np.flatnonzero((y == c) & allowed)
        if not len(members):
            local = np.zeros(0, dtype=np.int64)
        elif method == "random":
            local = random_examples(len(members), k, rng)
        elif method == "centrality":
            local = np.argsort(-centrality(x[members]), kind="stable")[:k]
        elif method == "mmr":
            local = central_diverse_examples(x[members], k, lambda_)
        elif method == "k-center":
            local = k_center_examples(x[members], k)
        else:
            local = k_medoids_examples(x[members], k, random_state=random_state)
        out[int(c)] = members[local]
        if progress is not None:
            progress("choosing examples", step + 1, len(classes))
    return out


def _query_vectors(x: np.ndarray, y: np.ndarray, method: str, k: int, **options) -> dict[int, np.ndarray]:
    """Per class, the ``(k_c, d)`` query vectors of the proxy annotator (the mean direction for "class-mean")."""
    if method == "class-mean":
        return {int(c): normalise_rows(x[y == c].mean(axis=0, keepdims=True)) for c in np.unique(y)}
    return {c: x[rows] for c, rows in select_exemplars(x, y, k, method, **options).items()}


def held_out_ap(queries: dict[int, np.ndarray], embeddings, labels, n_classes: int,
                combine: str = "max") -> np.ndarray:
    """``(n_classes,)`` AP per class of the proxy annotator on ``embeddings: (n, d)`` / ``labels: (n,)``; NaN for a
    class with no query or no positive among the items."""
    out = np.full(n_classes, np.nan)
    for c, q in queries.items():
        positives = labels == c
        if positives.any() and len(q):
            out[c] = instruction_ap(q, embeddings, positives, combine)
    return out


def stratified_folds(labels, folds: int = 5, random_state: Optional[int] = 0) -> np.ndarray:
    """``(n,) int`` fold number per row: each class's rows shuffled (seeded) and dealt round-robin, so every fold
    holds about ``1/folds`` of every class."""
    y = np.asarray(labels)
    if not (isinstance(folds, (int, np.integer)) and folds >= 2):
        raise ShapeError(f"folds must be an integer >= 2; got {folds!r}.")
    rng = np.random.default_rng(random_state)
    fold = np.empty(len(y), dtype=np.int64)
    start = 0
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        fold[members] = (start + np.arange(len(members))) % folds
        start = (start + len(members)) % folds  # spread the remainders of small classes across folds
    return fold


def cross_validated_ap(embeddings, labels, method: str = "greedy-ap", k: int = 3, folds: int = 5,
                       random_state: Optional[int] = 0, *, combine: str = "max", lambda_: float = DEFAULT_LAMBDA,
                       candidate_pool: int = DEFAULT_POOL, progress: Progress = None, eligible=None,
                       max_negatives: Optional[int] = DEFAULT_NEGATIVES,
                       search_bins: Optional[int] = SEARCH_BINS) -> np.ndarray:
    """Held-out AP per fold and class, ``(folds, n_classes)`` float (NaN where undefined), by the paper's protocol.

    For each fold, examples are chosen by ``method`` (one of :data:`METHODS`) from the other folds only, and the
    proxy annotator ranks every held-out row, all classes included, so nothing leaks from the evaluation items.
    ``eligible: (n,) bool`` limits the rows that may be examples (the ranking still holds every held-out row).
    A class with a single row has no training example in the fold that holds it, and no AP there.
    """
    if method not in METHODS:
        raise ShapeError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
    x = normalise_rows(embeddings)
    y = _as_labels(labels, len(x))
    allowed = _as_eligible(eligible, len(x))
    n_classes = int(y.max()) + 1
    fold = stratified_folds(y, folds, random_state)
    out = np.full((folds, n_classes), np.nan)
    with threadpool_limits(limits=1, user_api="blas"):  # one small product per class: threads only wait
        for f in range(folds):
            train, test = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
            queries = _query_vectors(x[train], y[train], method, k, lambda_=lambda_, candidate_pool=candidate_pool,
                                     combine=combine, random_state=None if random_state is None else random_state + f,
                                     eligible=allowed[train], max_negatives=max_negatives, search_bins=search_bins)
            out[f] = held_out_ap(queries, x[test], y[test], n_classes, combine)
            if progress is not None:
                progress(f"held-out mAP ({method})", f + 1, folds)
    return out


def cross_validated_map(embeddings, labels, method: str = "greedy-ap", k: int = 3, folds: int = 5,
                        random_state: Optional[int] = 0, **options) -> np.ndarray:
    """Held-out mAP per fold, ``(folds,)`` float: the macro mean over classes of :func:`cross_validated_ap`
    (every class counts the same, rare ones included). Paper 16's figure of merit."""
    return np.nanmean(cross_validated_ap(embeddings, labels, method, k, folds, random_state, **options), axis=1)
