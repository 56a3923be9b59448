"""The inputs every multi-label function takes, checked once: the given label sets and the probabilities.

labels: cleanlab's ``List[List[int]]`` (the classes of each row, e.g. ``[[1, 2], [0], []]``), or an ``(n, K)``
indicator matrix (a numpy array of bools, or of 0/1 with the shape of ``pred_probs``); pred_probs: ``(n, K)``
float, P(class k applies to row i), each column its own one-vs-rest probability (rows need not sum to 1).
"""

from __future__ import annotations

import numpy as np

from labelwise.errors import ShapeError


def indicator_and_probs(labels, pred_probs) -> tuple[np.ndarray, np.ndarray]:
    """``(Y (n, K) bool, P (n, K) float)`` after checking shapes and values; integer P becomes float64."""
    P = np.asarray(pred_probs)
    if P.ndim != 2 or P.shape[1] < 1:
        raise ShapeError(f"pred_probs must be a 2-D array (n_rows, n_classes); got shape {P.shape}.")
    if not np.issubdtype(P.dtype, np.floating):
        P = P.astype(np.float64)
    elif P.dtype == np.float16:
        P = P.astype(np.float32)
    n, k = P.shape
    if n and (not np.isfinite(P).all() or P.min() < 0 or P.max() > 1):
        raise ShapeError("pred_probs must hold probabilities in [0, 1] (one sigmoid output per class, not logits), "
                         "with no NaN.")
    return indicator(labels, n, k), P


def indicator(labels, n: int, k: int) -> np.ndarray:
    """(n, K) bool from a list of class lists or an indicator matrix (see the module docstring)."""
    if isinstance(labels, np.ndarray) and labels.ndim == 2 and (
        labels.dtype == bool or (labels.shape == (n, k) and np.isin(labels, (0, 1)).all())
    ):
        if labels.shape != (n, k):
            raise ShapeError(f"labels as an indicator matrix must have the shape of pred_probs {(n, k)}; got "
                             f"{labels.shape}.")
        return labels.astype(bool)
    if len(labels) != n:
        raise ShapeError(f"labels has {len(labels)} rows but pred_probs has {n}: give one label list per row.")
    rows = []
    for i, row in enumerate(labels):
        if isinstance(row, (str, bytes)) or not hasattr(row, "__iter__"):
            raise ShapeError(f"labels[{i}] is {row!r}; multi-label labels are one list of class indices per row, "
                             "e.g. [[0, 2], [1], []].")
        rows.append(row if isinstance(row, list) else list(row))
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=n)
    flat = np.asarray([c for row in rows for c in row])
    Y = np.zeros((n, k), dtype=bool)
    if flat.size:
        bad = (flat < 0) | (flat >= k) if np.issubdtype(flat.dtype, np.integer) else np.ones(flat.shape, bool)
        if bad.any():
            i = int(np.searchsorted(np.cumsum(lengths), np.argmax(bad), side="right"))
            raise ShapeError(f"labels[{i}] = {rows[i]!r}: class indices must be integers in 0..{k - 1} "
                             f"(pred_probs has {k} columns).")
        Y[np.repeat(np.arange(n), lengths), flat] = True
    return Y


def complement(p: np.ndarray) -> np.ndarray:
    """(n,) probability of one class -> (n, 2) probabilities of [absent, present], as cleanlab stacks them (the
    same arithmetic, so every later comparison sees the same bits)."""
    return np.vstack((1 - p, p)).T
