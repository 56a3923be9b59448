"""Which rows to label next: active selection on arrays.

Scores from a model's ``pred_probs: (n, k) float`` (higher = more worth labelling):

- :func:`least_confidence`: ``1 - max_c p_c``;
- :func:`margin_gain`: ``1 - (p_(1) - p_(2))``, one minus the gap between the two largest probabilities;
- :func:`entropy`: ``-sum_c p_c log p_c`` (natural log).

Diversity from ``embeddings: (n, d) float``: :func:`k_center_greedy`, the greedy 2-approximation of k-center
(Gonzalez 1985; the "core-set" selection of Sener & Savarese, ICLR 2018), optionally seeded with the rows already
labelled.

Robust Active Distillation (Baykal, Trinh, Iliopoulos, Menghani, Vee, ICLR 2023, arXiv 2210.01213):
:func:`rad_sampling_probs` turns the student's margin gains into inclusion probabilities that stay useful when an
adversary (the teacher's mistakes) removes the ``k`` largest contributions ``p_i g_i``; :func:`sample_with_inclusion`
draws exactly ``budget`` rows without replacement with those inclusion probabilities (systematic sampling).

The rule is reconstructed from the paper's game (``../shared/papers/specs`` section 6.2); Algorithm 1's text could not
be read here, so the details below (nested supports of the top gains, equalised contributions, ``k`` from the teacher's
error or confidence) are ours, not checked line by line against the paper.

:func:`select_next` is the one entry point: ``strategy`` in :data:`STRATEGIES`, returns ``(budget,) int`` row indices.
Arrays in, arrays out: no I/O, no printing.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from labelwise.errors import ParameterError, ShapeError

__all__ = [
    "STRATEGIES",
    "entropy",
    "k_center_greedy",
    "least_confidence",
    "margin_gain",
    "rad_sampling_probs",
    "sample_with_inclusion",
    "select_next",
    "worst_case_value",
]

STRATEGIES = ("random", "least_confidence", "margin", "entropy", "k_center", "rad")
_MIN_GAIN = 1e-6


def _probs(pred_probs) -> np.ndarray:
    p = np.asarray(pred_probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ShapeError(f"pred_probs has shape {p.shape}; expected (n, k) with k >= 2 classes")
    return p


def least_confidence(pred_probs) -> np.ndarray:
    """``1 - max_c p_c``: ``(n,) float`` from ``pred_probs: (n, k)``."""
    return 1.0 - _probs(pred_probs).max(axis=1)


def margin_gain(pred_probs) -> np.ndarray:
    """RAD's gain ``g_i = 1 - (p_(1) - p_(2))`` in ``[0, 1]``: ``(n,) float`` from ``pred_probs: (n, k)``."""
    p = _probs(pred_probs)
    top2 = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy(pred_probs) -> np.ndarray:
    """Shannon entropy (nats) of each row: ``(n,) float`` from ``pred_probs: (n, k)``."""
    p = _probs(pred_probs)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis=1)


def k_center_greedy(embeddings, budget: int, *, labelled=None, random_state=0) -> np.ndarray:
    """Greedy k-center: each pick is the row farthest (Euclidean) from everything picked or labelled so far.

    embeddings: (n, d) float; labelled: (m,) int rows already labelled (the first pick is then the row farthest from
    them; without any, the first pick is a random row drawn with ``random_state``). Returns ``(budget,) int`` rows, none
    of them labelled. Its covering radius is at most twice the optimal one (Gonzalez 1985).
    """
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise ShapeError(f"embeddings has shape {x.shape}; expected (n, d)")
    n = len(x)
    labelled = np.unique(np.asarray([] if labelled is None else labelled, dtype=np.int64))
    if len(labelled) and (labelled.min() < 0 or labelled.max() >= n):
        raise ParameterError(f"labelled holds row indices outside 0..{n - 1}")
    if not 0 <= int(budget) <= n - len(labelled):
        raise ParameterError(f"budget={budget} but only {n - len(labelled)} unlabelled rows remain; lower the budget")
    sq = np.einsum("ij,ij->i", x, x)

    def dist_to(i: int) -> np.ndarray:
        return np.sqrt(np.maximum(sq - 2.0 * x @ x[i] + sq[i], 0.0))

    nearest = np.full(n, np.inf)
    for i in labelled:
        nearest = np.minimum(nearest, dist_to(int(i)))
    nearest[labelled] = -1.0
    picks = []
    for _ in range(budget):
        if not picks and not len(labelled):
            rng = np.random.default_rng(random_state)
            i = int(rng.integers(n))
        else:
            i = int(np.argmax(nearest))
        picks.append(i)
        nearest = np.minimum(nearest, dist_to(i))
        nearest[i] = -1.0
    return np.asarray(picks, dtype=np.int64)


def _top_k_sum(c: np.ndarray, k: float) -> float:
    """Sum of the ``k`` largest values of ``c``, ``k`` fractional (the last one counted by its fraction)."""
    k = min(max(float(k), 0.0), float(len(c)))
    s = np.sort(c)[::-1]
    whole = int(np.floor(k))
    return float(s[:whole].sum() + (k - whole) * (s[whole] if whole < len(s) else 0.0))


def worst_case_value(p, gain, k: float) -> float:
    """RAD's game value ``min_{|M| <= k} sum_{i not in M} p_i g_i``: the expected gain left after an adversary removes
    the ``k`` largest contributions (``k`` may be fractional). p, gain: (n,) float."""
    c = np.asarray(p, dtype=np.float64) * np.asarray(gain, dtype=np.float64)
    return float(c.sum() - _top_k_sum(c, k))


def rad_sampling_probs(gain, budget: int, *, k: Optional[float] = None, teacher_conf=None,
                       teacher_error: Optional[float] = None) -> np.ndarray:
    """Robust Active Distillation's inclusion probabilities ``p: (n,) float``, ``sum(p) = budget``, ``0 <= p <= 1``.

    gain: (n,) float, the student's informativeness (``margin_gain``). The learner plays inclusion probabilities, the
    adversary (the teacher's mistakes) removes the ``k`` largest contributions ``p_i g_i``. On the support of the
    solution the contributions are equal, ``p_i g_i = v``, so ``p_i ∝ 1 / g_i``. Over the nested supports ``S_m`` (the
    ``m`` largest gains, ``m >= budget``) ``v_m = budget / sum_{S_m} 1/g_i``; the value is ``(m - k_m) v_m`` and the
    support kept is the best one with every ``p_i <= 1``.

    The number of mistakes ``k_m`` on ``S_m`` (parameter-free, one of):
    ``k`` a fixed count; ``teacher_conf: (n,) float`` the teacher's max probability on each row,
    ``k_m = sum_{S_m} (1 - conf)``; ``teacher_error`` the teacher's validation error, ``k = error * n``: the mistakes
    it makes over the whole pool, which the adversary places on the largest contributions (the mode for a teacher not
    yet queried on the pool). The notes' ``k_m = error * m`` is not offered: it makes the value
    ``(1 - error) * budget * (harmonic mean of the top-m gains)``, largest for the smallest support, i.e. top-margin
    again whatever the error. None given: ``k = 0``.
    Rows with gain below 1e-6 stay out of the support. When no support of the top gains is feasible (gains spread over
    many orders of magnitude), ``p_i = min(1, v / g_i)`` over all rows with positive gain, ``v`` set so ``sum(p) = budget``.
    """
    g = np.asarray(gain, dtype=np.float64)
    if g.ndim != 1:
        raise ShapeError(f"gain has shape {g.shape}; expected (n,)")
    if sum(x is not None for x in (k, teacher_conf, teacher_error)) > 1:
        raise ParameterError("rad_sampling_probs: give at most one of k, teacher_conf, teacher_error")
    n = len(g)
    budget = int(budget)
    if not 0 <= budget <= n:
        raise ParameterError(f"budget={budget} is outside 0..{n} (the number of rows); lower the budget")
    p = np.zeros(n)
    if budget == 0:
        return p
    g = np.clip(np.nan_to_num(g, nan=0.0), 0.0, None)
    order = np.argsort(-g, kind="stable")
    positive = int((g >= _MIN_GAIN).sum())
    if positive <= budget:  # every informative row and then the best of the rest
        p[order[:budget]] = 1.0
        return p
    gs = g[order[:positive]]
    m = np.arange(1, positive + 1, dtype=np.float64)
    v = budget / np.cumsum(1.0 / gs)
    if teacher_conf is not None:
        conf = np.asarray(teacher_conf, dtype=np.float64)
        if conf.shape != g.shape:
            raise ShapeError(f"teacher_conf has shape {conf.shape}; expected {g.shape} like gain")
        k_m = np.cumsum(1.0 - np.clip(conf[order[:positive]], 0.0, 1.0))
    elif teacher_error is not None:
        if not 0.0 <= float(teacher_error) <= 1.0:
            raise ParameterError(f"teacher_error={teacher_error} is not in [0, 1]; give the teacher's error rate")
        k_m = np.full(positive, float(teacher_error) * n)
    else:
        k_m = np.full(positive, 0.0 if k is None else float(k))
    value = np.maximum(m - k_m, 0.0) * v
    feasible = (m >= budget) & (v <= gs * (1.0 + 1e-12))
    if feasible.any():
        best = int(np.flatnonzero(feasible)[np.argmax(value[feasible])])
        p[order[:best + 1]] = v[best] / gs[:best + 1]
        return np.minimum(p, 1.0)
    # water-filling over every positive gain: sum(min(1, v / g)) = budget
    lo, hi = 0.0, float(gs.max())
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.minimum(1.0, mid / gs).sum() < budget else (lo, mid)
    p[order[:positive]] = np.minimum(1.0, hi / gs)
    return p * (budget / p.sum())


def sample_with_inclusion(p, random_state=0) -> np.ndarray:
    """Exactly ``round(sum(p))`` distinct rows, row ``i`` included with probability ``p_i`` (systematic sampling
    over a random order). p: (n,) float in [0, 1] with an integer sum. Returns sorted ``(budget,) int``."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or (p < -1e-12).any() or (p > 1 + 1e-9).any():
        raise ParameterError("inclusion probabilities must be a (n,) array of values in [0, 1]")
    budget = int(round(p.sum()))
    if abs(p.sum() - budget) > 1e-6:
        raise ParameterError(f"inclusion probabilities sum to {p.sum():.6g}, not a whole number of rows")
    rng = np.random.default_rng(random_state)
    perm = rng.permutation(len(p))
    edges = np.concatenate([[0.0], np.cumsum(np.clip(p[perm], 0.0, 1.0))])
    points = rng.random() + np.arange(budget)
    slots = np.searchsorted(edges, points, side="right") - 1
    return np.sort(perm[np.clip(slots, 0, len(p) - 1)])


def _top(scores: np.ndarray, budget: int) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")  # ties: the lower row first
    return order[:budget]


def select_next(pred_probs=None, embeddings=None, *, strategy: str, budget: int, labelled=None, random_state=0,
                teacher_error: Optional[float] = None, teacher_conf=None) -> np.ndarray:
    """The ``budget`` rows to label next: ``(budget,) int`` indices into the pool, none of them in ``labelled``.

    pred_probs: (n, k) float, the current model's probabilities (``least_confidence``, ``margin``, ``entropy``,
    ``rad``); embeddings: (n, d) float (``k_center``); labelled: (m,) int rows already labelled (never picked; they
    seed ``k_center``); ``random``: uniform without replacement. ``rad`` samples with
    :func:`rad_sampling_probs` of the margin gains and needs ``teacher_error`` (the labeller's error rate, e.g. from a
    validation set) or ``teacher_conf: (n,) float`` (the labeller's confidence on each row).
    Score ties go to the lower row index.
    """
    if strategy not in STRATEGIES:
        raise ParameterError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if strategy == "k_center":
        if embeddings is None:
            raise ParameterError("strategy 'k_center' needs embeddings (n, d)")
        n = len(embeddings)
    elif strategy == "random":
        source = pred_probs if pred_probs is not None else embeddings
        if source is None:
            raise ParameterError("strategy 'random' needs pred_probs or embeddings to know the number of rows")
        n = len(source)
    else:
        if pred_probs is None:
            raise ParameterError(f"strategy {strategy!r} needs pred_probs (n, k) from the current model")
        n = len(_probs(pred_probs))
    labelled = np.unique(np.asarray([] if labelled is None else labelled, dtype=np.int64))
    if len(labelled) and (labelled.min() < 0 or labelled.max() >= n):
        raise ParameterError(f"labelled holds row indices outside 0..{n - 1}")
    free = np.setdiff1d(np.arange(n), labelled)
    budget = int(budget)
    if not 0 <= budget <= len(free):
        raise ParameterError(f"budget={budget} but only {len(free)} unlabelled rows remain; lower the budget")
    if strategy == "k_center":
        return k_center_greedy(embeddings, budget, labelled=labelled, random_state=random_state)
    if strategy == "random":
        return np.sort(np.random.default_rng(random_state).choice(free, size=budget, replace=False))
    if strategy == "rad":
        if teacher_error is None and teacher_conf is None:
            raise ParameterError("strategy 'rad' needs teacher_error (the labeller's error rate) or teacher_conf")
        conf = None if teacher_conf is None else np.asarray(teacher_conf, dtype=np.float64)[free]
        p = rad_sampling_probs(margin_gain(pred_probs)[free], budget, teacher_error=teacher_error, teacher_conf=conf)
        return free[sample_with_inclusion(p, random_state)]
    score = {"least_confidence": least_confidence, "margin": margin_gain, "entropy": entropy}[strategy](pred_probs)
    return free[_top(score[free], budget)]
