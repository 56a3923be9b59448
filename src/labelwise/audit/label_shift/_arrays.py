"""Shared by the label-shift modules: input validation of probabilities and labels, and numeric constants."""

from __future__ import annotations

from typing import Optional

import numpy as np

from labelwise.errors import ShapeError

# The matrix products here are small ((block x n) @ (n x k)); multi-threaded BLAS spends more time waking and
# syncing threads than computing, and on a busy machine (2 cores, another job running) it was measured 5-100x
# slower than one thread. The heavy loops therefore run with BLAS limited to one thread.
BLAS_THREADS = 1

LOG_FLOOR = 1e-300  # probabilities are floored here before taking logs (exact zeros stay finite)
TINY = 1e-300


def check_labels(labels, n_classes: int, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ShapeError(f"{name} must be a 1-D array of class indices; got shape {labels.shape}.")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise ShapeError(f"{name} must be integer class indices 0..k-1; encode string labels first.")
    labels = labels.astype(np.int64, copy=False)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ShapeError(
            f"{name} must lie in 0..{n_classes - 1} ({n_classes} classes); found {labels.min()}..{labels.max()}."
        )
    return labels


def check_probs(probs, name: str, n_classes: Optional[int] = None) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ShapeError(f"{name} must be a 2-D array (n_rows, n_classes); got shape {probs.shape}.")
    if probs.shape[0] == 0:
        raise ShapeError(f"{name} has no rows.")
    if probs.shape[1] < 2:
        raise ShapeError(f"{name} needs at least two classes (columns); got {probs.shape[1]}.")
    if n_classes is not None and probs.shape[1] != n_classes:
        raise ShapeError(
            f"{name} has {probs.shape[1]} columns but source_probs has {n_classes}; both splits must be scored "
            "by the same classifier over the same classes."
        )
    lo, hi = probs.min(), probs.max()
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < -1e-6 or hi > 1 + 1e-3:
        raise ShapeError(
            f"{name} must hold probabilities in [0, 1]; found values from {lo:.4g} to {hi:.4g}. "
            "Pass softmax outputs, not logits, and check for NaN."
        )
    return probs


def check_source(source_probs, source_labels) -> tuple[np.ndarray, np.ndarray]:
    source_probs = check_probs(source_probs, "source_probs")
    labels = check_labels(source_labels, source_probs.shape[1], "source_labels")
    if labels.shape[0] != source_probs.shape[0]:
        raise ShapeError(
            f"source_labels has {labels.shape[0]} rows but source_probs has {source_probs.shape[0]}; they must "
            "describe the same rows."
        )
    return source_probs, labels
