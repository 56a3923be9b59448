"""Label-quality scores for multi-label data: one score per (row, class) annotation, and one per row.

Mirrors ``cleanlab.multilabel_classification.rank`` (2.9): the same names, signatures and results (tested for
equality), so ``from labelwise.audit.multilabel import rank`` replaces ``from cleanlab.multilabel_classification
import rank``. Each class is scored one-vs-rest on the two-column probabilities ``[1 - p_k, p_k]`` with a
confident-learning score (Northcutt, Jiang, Chuang, "Confident Learning", JAIR 2021); a row's score aggregates its
classes' scores (by default an exponential moving average over the scores sorted from best to worst, which weights
the worst classes most). The per-class scores are computed for all classes at once (elementwise over the (n, K)
matrix) instead of one class at a time.

labels: ``List[List[int]]`` or an (n, K) indicator matrix (see :mod:`labelwise.audit.multilabel._inputs`);
pred_probs: (n, K) float, one-vs-rest probabilities.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import numpy as np

from labelwise.audit.multilabel._inputs import complement, indicator_and_probs
from labelwise.errors import ParameterError

METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
_CLIP = 1e-6  # cleanlab's CLIPPING_LOWER_BOUND
_THRESHOLD_FLOOR = 2e-6  # cleanlab's CONFIDENT_THRESHOLDS_LOWER_BOUND
_MISSING = 2  # threshold of a class no row has: never reached


def get_label_quality_scores(
    labels,
    pred_probs,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    aggregator_kwargs: Optional[dict[str, Any]] = {"method": "exponential_moving_average", "alpha": 0.8},  # noqa: B006
) -> np.ndarray:
    """One label-quality score per row: (n,) float64 in [0, 1], lower = some class of the row is more likely
    wrongly annotated.

    method: the per-class score (:data:`METHODS`); adjust_pred_probs: subtract each class's confident thresholds
    first (not with ``confidence_weighted_entropy``); aggregator_kwargs: ``{"method": "exponential_moving_average",
    "alpha": a}`` (the default, a = 0.8), ``{"method": "softmin", "temperature": t}``, or ``{"method": callable,
    ...}`` called as ``callable(scores (n, K), axis=1, **rest)``; empty or None: the default.
    """
    scores = get_label_quality_scores_per_class(labels, pred_probs, method=method,
                                                adjust_pred_probs=adjust_pred_probs)
    return aggregate(scores, **(aggregator_kwargs or {"alpha": 0.8}))


def get_label_quality_scores_per_class(
    labels, pred_probs, *, method: str = "self_confidence", adjust_pred_probs: bool = False
) -> np.ndarray:
    """How likely each (row, class) annotation is right: (n, K) float64 in [0, 1]; column k scores whether class k
    should or should not apply to each row (lower = more likely wrong)."""
    Y, P = indicator_and_probs(labels, pred_probs)
    return class_scores(Y, P, method, adjust_pred_probs).astype(np.float64)


def class_scores(Y: np.ndarray, P: np.ndarray, method: str, adjust_pred_probs: bool = False) -> np.ndarray:
    """Per-class one-vs-rest scores of checked inputs: Y (n, K) bool, P (n, K) float -> (n, K) in P's dtype (the
    dtype cleanlab ranks in, so that ties sort the same)."""
    if method not in METHODS:
        raise ParameterError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
    if adjust_pred_probs:
        if method == "confidence_weighted_entropy":
            raise ParameterError("adjust_pred_probs is not supported with method='confidence_weighted_entropy'.")
        present = np.empty_like(P)
        absent = np.empty_like(P)
        for c in range(P.shape[1]):
            adjusted = adjusted_probs(Y[:, c].astype(np.int64), complement(P[:, c]))
            absent[:, c], present[:, c] = adjusted[:, 0], adjusted[:, 1]
    else:
        present, absent = P, 1 - P
    given = np.where(Y, present, absent)  # P(the given annotation is right): self-confidence
    if method == "self_confidence":
        return given
    if method == "normalized_margin":
        return (given - np.where(Y, absent, present) + 1) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -(_xlogx(absent) + _xlogx(present)) / np.log(2)
    ratio = entropy / np.clip(given, _CLIP, None)
    return np.log(ratio + 1) / np.clip(ratio, _CLIP, None)


def _xlogx(p: np.ndarray) -> np.ndarray:
    from scipy.special import xlogy

    return xlogy(p, p)


def binary_thresholds(y: np.ndarray, P2: np.ndarray) -> np.ndarray:
    """Confident thresholds of one class one-vs-rest: (2,) mean P2[:, c] over the rows whose given value is c
    (2 when no row has it), floored at 2e-6. y: (n,) int in {0, 1}; P2: (n, 2)."""
    thresholds = [np.mean(P2[:, c][y == c]) if (y == c).any() else _MISSING for c in (0, 1)]
    return np.clip(thresholds, a_min=_THRESHOLD_FLOOR, a_max=None)


def adjusted_probs(y: np.ndarray, P2: np.ndarray) -> np.ndarray:
    """P2 (n, 2) minus its confident thresholds, shifted by the largest threshold and renormalised (cleanlab's
    ``adjust_pred_probs``: evens out class imbalance)."""
    thresholds = binary_thresholds(y, P2)
    adjusted = P2 - thresholds
    adjusted += thresholds.max()
    adjusted /= adjusted.sum(axis=1, keepdims=True)
    return adjusted


# ---- aggregating per-class scores into one per row ------------------------------------------------------------


def exponential_moving_average(s: np.ndarray, *, alpha: Optional[float] = None, axis: int = 1, **_) -> np.ndarray:
    """(n, K) -> (n,): sort each row's scores from largest to smallest, then EMA_1 = s_1,
    EMA_t = alpha * s_t + (1 - alpha) * EMA_{t-1}; alpha defaults to 2 / (K + 1). The worst scores weigh most."""
    s = np.asarray(s)
    if alpha is None:
        alpha = float(2 / (s.shape[1] + 1))
    if not 0 <= alpha <= 1:
        raise ParameterError(f"alpha must be in [0, 1]; got {alpha}.")
    ordered = np.fliplr(np.sort(s, axis=axis)).T
    ema = ordered[0]
    for column in ordered[1:]:
        ema = alpha * column + (1 - alpha) * ema
    return ema


def softmin(s: np.ndarray, *, temperature: float = 0.1, axis: int = 1, **_) -> np.ndarray:
    """(n, K) -> (n,): each row's scores averaged with softmax(-score / temperature) weights (a soft minimum)."""
    s = np.asarray(s)
    x = (1 - s) / max(temperature, 1e-6)
    x = x - np.max(x, axis=axis, keepdims=True)
    weights = np.exp(x)
    weights = weights / np.sum(weights, axis=axis, keepdims=True)
    return np.einsum("ij,ij->i", s, weights)


AGGREGATORS: dict[str, Callable[..., np.ndarray]] = {
    "exponential_moving_average": exponential_moving_average,
    "softmin": softmin,
}


def aggregate(scores: np.ndarray, method: Union[str, Callable] = "exponential_moving_average", **kwargs) -> np.ndarray:
    """Per-class scores (n, K) -> one score per row (n,), with one of :data:`AGGREGATORS` or a callable, given
    ``kwargs`` (e.g. ``alpha``)."""
    if isinstance(method, str):
        if method not in AGGREGATORS:
            raise ParameterError(f"aggregator method must be one of {', '.join(AGGREGATORS)} or a callable; got "
                                 f"{method!r}.")
        method = AGGREGATORS[method]
    elif not callable(method):
        raise ParameterError(f"aggregator method must be a name or a callable; got {type(method).__name__}.")
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ParameterError(f"scores to aggregate must be a 2-D (n, K) array; got shape {scores.shape}.")
    return method(scores, **{**kwargs, "axis": 1})
