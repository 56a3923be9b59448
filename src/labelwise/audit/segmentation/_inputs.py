"""The inputs every segmentation audit function takes, checked at the door.

labels: ``(N, H, W)`` int, each pixel's given class in ``0..K-1``; pred_probs: ``(N, K, H, W)`` float, each pixel's
class probabilities (cleanlab's layout), summing to 1 over K. ``pred_probs`` may be a ``np.memmap`` (or any array
that slices like one): the shape is checked here, the values batch by batch as the work reads them
(:func:`check_probs`), so a big file is never loaded whole.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from labelwise.errors import ParameterError, ShapeError

SUM_TOLERANCE = 1e-3
"""How far a pixel's probabilities may sum from 1 (float32 softmax outputs are within 1e-6; this allows float16)."""

DEFAULT_BATCH_SIZE = 10000
"""cleanlab's default ``batch_size``: the number of pred_probs entries (images x K x H x W) per threshold batch."""


def batch_size_or_default(batch_size: Optional[int]) -> int:
    """cleanlab's ``_get_valid_optional_params``: ``None`` means 10000; it must be positive."""
    if batch_size is None:
        return DEFAULT_BATCH_SIZE
    if int(batch_size) <= 0:
        raise ParameterError(f"batch_size must be greater than 0, got {batch_size}.")
    return int(batch_size)


def check_shapes(labels, pred_probs) -> tuple[np.ndarray, object]:
    """``(labels as an int array, pred_probs untouched)`` after checking shapes, dtypes and the label values.

    pred_probs is not read here (it may be a memmap); call :func:`check_probs` on each batch read from it.
    """
    labels = np.asarray(labels)
    shape = getattr(pred_probs, "shape", None)
    if shape is None:
        pred_probs = np.asarray(pred_probs)
        shape = pred_probs.shape
    if labels.ndim != 3:
        raise ShapeError(f"labels must have the shape (N, H, W) (one class index per pixel); got shape "
                         f"{labels.shape}. One-hot labels (N, K, H, W): pass labels.argmax(axis=1).")
    if len(shape) != 4:
        raise ShapeError(f"pred_probs must have the shape (N, K, H, W) (class probabilities per pixel, classes on "
                         f"axis 1); got shape {tuple(shape)}.")
    n, k, h, w = shape
    if labels.shape != (n, h, w):
        raise ShapeError(f"labels {labels.shape} and pred_probs {tuple(shape)} must match in N, H and W (labels "
                         f"(N, H, W), pred_probs (N, K, H, W)); check that classes are on axis 1 of pred_probs.")
    dtype = np.dtype(getattr(pred_probs, "dtype", np.float64))
    if not np.issubdtype(dtype, np.floating):
        raise ShapeError(f"pred_probs must hold floats (probabilities), got dtype {dtype}.")
    if labels.dtype == bool:
        labels = labels.astype(np.int64)
    if not np.issubdtype(labels.dtype, np.integer):
        if not (np.issubdtype(labels.dtype, np.floating) and np.array_equal(labels, np.round(labels))):
            raise ShapeError(f"labels must hold integer class indices in 0..{k - 1}; got dtype {labels.dtype} "
                             f"with non-integer values.")
        labels = labels.astype(np.int64)
    if labels.size:
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= k:
            bad = low if low < 0 else high
            where = tuple(int(i) for i in np.argwhere(labels == bad)[0])
            raise ShapeError(f"labels{list(where)} = {bad}: class indices must be in 0..{k - 1} (pred_probs has "
                             f"{k} classes on axis 1).")
    return labels, pred_probs


def check_probs(block: np.ndarray, start: int) -> None:
    """Raise ShapeError when a batch ``block (b, K, H, W)`` (images ``start..``) holds NaN, negative values or
    pixels whose probabilities do not sum to 1."""
    sums = block.sum(axis=1)
    bad = ~(np.abs(sums - 1.0) <= SUM_TOLERANCE)
    if bad.any():
        i, y, x = (int(v) for v in np.argwhere(bad)[0])
        if np.isnan(sums[i, y, x]):
            raise ShapeError(f"pred_probs[{start + i}, :, {y}, {x}] holds NaN: give finite probabilities (check the "
                             f"model's output for that image).")
        raise ShapeError(f"pred_probs[{start + i}, :, {y}, {x}] sums to {sums[i, y, x]:.6g}, not 1: give "
                         f"probabilities (a softmax over axis 1), not logits or scores.")
    if block.size and block.min() < 0:
        i, _, y, x = (int(v) for v in np.argwhere(block < 0)[0])
        raise ShapeError(f"pred_probs[{start + i}, :, {y}, {x}] holds a negative value: give probabilities (a "
                         f"softmax over axis 1), not logits.")
