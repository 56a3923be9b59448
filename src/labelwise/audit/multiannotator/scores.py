"""Label-quality scores of many annotators' labels at once: cleanlab's ``rank.get_label_quality_scores`` applied to
every column of a label matrix, computed from per-row summaries of the probabilities instead of column by column.

labels: (n, m) float (class indices, NaN where missing); pred_probs: (n, K) float.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from labelwise.errors import ParameterError

METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
_CLIP = 1e-6  # cleanlab's CLIPPING_LOWER_BOUND
_THRESHOLD_FLOOR = 2e-6  # cleanlab's CONFIDENT_THRESHOLDS_LOWER_BOUND
_MISSING_CLASS = 2.0  # the threshold of a class nobody gave: never reached


def check_score_kwargs(kwargs: dict | None) -> dict:
    """The ``label_quality_score_kwargs`` cleanlab accepts (method, adjust_pred_probs), checked."""
    kwargs = dict(kwargs or {})
    unknown = sorted(set(kwargs) - {"method", "adjust_pred_probs"})
    if unknown:
        raise ParameterError(
            f"label_quality_score_kwargs takes 'method' and 'adjust_pred_probs'; got {', '.join(map(repr, unknown))}."
        )
    method = kwargs.get("method", "self_confidence")
    if method not in METHODS:
        raise ParameterError(f"label_quality_score_kwargs['method'] must be one of {', '.join(METHODS)}; got {method!r}.")
    adjust = bool(kwargs.get("adjust_pred_probs", False))
    if adjust and method == "confidence_weighted_entropy":
        raise ParameterError("adjust_pred_probs is not supported with method='confidence_weighted_entropy'.")
    return {"method": method, "adjust_pred_probs": adjust}


def label_scores(labels: np.ndarray, pred_probs: np.ndarray, *, method: str = "self_confidence",
                 adjust_pred_probs: bool = False) -> np.ndarray:
    """(n, m) float64: the score of each given label (NaN where none), each column scored as cleanlab scores one
    annotator's labels; lower = less likely correct. labels: (n, m) float with NaN, or (n,) int."""
    matrix = labels.reshape(len(labels), -1).astype(np.float64, copy=False)
    out = np.full(matrix.shape, np.nan)
    if adjust_pred_probs:  # the thresholds depend on each annotator's own rows: one column at a time
        for j in range(matrix.shape[1]):
            rows = np.flatnonzero(~np.isnan(matrix[:, j]))
            given = matrix[rows, j].astype(np.int64)
            out[rows, j] = _dense_scores(given[:, None], adjusted_probs(given, pred_probs[rows]), method)[:, 0]
    else:
        present = ~np.isnan(matrix)
        given = np.where(present, matrix, 0).astype(np.int64)
        out[present] = _dense_scores(given, pred_probs, method)[present]
    return out.reshape(labels.shape)


def _dense_scores(given: np.ndarray, pred_probs: np.ndarray, method: str) -> np.ndarray:
    """given: (n, m) int; pred_probs: (n, K) -> (n, m) scores from per-row summaries (top two, entropy)."""
    self_conf = np.take_along_axis(pred_probs, given, axis=1)
    if method == "self_confidence":
        return self_conf
    if method == "normalized_margin":
        if pred_probs.shape[1] < 2:
            return (self_conf + 1) / 2
        top2 = -np.partition(-pred_probs, 1, axis=1)[:, :2]
        best = np.argmax(pred_probs, axis=1)
        other = np.where(given == best[:, None], top2[:, 1:2], top2[:, 0:1])
        return (self_conf - other + 1) / 2
    entropy = -np.sum(xlogy(pred_probs, pred_probs), axis=1, keepdims=True) / np.log(pred_probs.shape[1])
    ratio = entropy / np.clip(self_conf, _CLIP, None)
    return np.log(ratio + 1) / np.clip(ratio, _CLIP, None)


def adjusted_probs(given: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """cleanlab's ``adjust_pred_probs``: subtract each class's confident threshold (mean P[:, c] over the rows
    given c; 2 for a class nobody gave; floored at 2e-6), shift by the largest threshold and renormalise."""
    k = pred_probs.shape[1]
    counts = np.bincount(given, minlength=k)
    sums = np.bincount(given, weights=pred_probs[np.arange(len(given)), given], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        thresholds = np.where(counts > 0, sums / np.maximum(counts, 1), _MISSING_CLASS)
    thresholds = np.clip(thresholds, _THRESHOLD_FLOOR, None)
    adjusted = pred_probs - thresholds
    adjusted += thresholds.max()
    adjusted /= adjusted.sum(axis=1, keepdims=True)
    return adjusted
