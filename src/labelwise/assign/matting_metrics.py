"""The five alpha-matting errors, defined as in ZIM's official evaluation code (paper 1, ``eval/metric.py``).

``pred`` and ``gt`` are mattes in [0, 1]: ``(H, W)`` for one image or ``(n, H, W)`` for several; with several,
each error is computed per image and averaged over the images (as the official code does). The scales follow the
official code, so numbers compare with the paper's tables:

- ``sad``: sum of absolute differences / 1000;
- ``mse``: mean squared difference x 1e3;
- ``mad``: mean absolute difference x 1e3;
- ``grad``: mean absolute difference of the gradient magnitudes x 1e3, the gradient taken with the two 3x3 Sobel
  kernels over a zero-padded image, magnitude ``sqrt(gx^2 + gy^2 + 1e-8)``;
- ``conn``: connectivity error / 1000. For the thresholds ``t = 0.1, 0.2, ..., 1.0`` take the largest
  4-connected component of ``(pred >= t) & (gt >= t)``; a pixel's level ``l`` is the threshold just below the
  first one at which it leaves that component (1 if it never does); ``phi = 1 - d [d >= 0.15]`` with
  ``d = alpha - l``; ``conn = sum |phi_pred - phi_gt| / 1000``. Vectorised: the ten thresholded maps of every image
  are labelled in one ``scipy.ndimage.label`` call (components never cross a threshold or an image).

``mask``: an optional region ``(H, W)`` or ``(n, H, W)`` bool (e.g. the transition band of a trimap) for the
pixel-wise errors (sad, mse, mad, grad): sums and means run over its pixels only; an image whose region is empty is
left out of the average. ``conn`` always uses the whole image (connectivity needs it).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from scipy import ndimage

from labelwise.errors import ShapeError

__all__ = ["conn_error", "grad_error", "mad", "matting_metrics", "mse", "sad"]

_SOBEL_Y = np.array([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]])
_SOBEL_X = _SOBEL_Y.T
_THRESHOLDS = np.arange(11) / 10.0  # 0.0, 0.1, ..., 1.0
_CONN_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_CONN_STRUCTURE[1] = ndimage.generate_binary_structure(2, 1)  # 4-connected within one map, never across maps


def _pair(pred, gt, mask=None) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """pred, gt as ``(n, H, W) float64``; mask as ``(n, H, W) bool`` or None."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim not in (2, 3):
        raise ShapeError(f"pred and gt must both be (H, W) or (n, H, W) mattes of the same shape; got {pred.shape} "
                         f"and {gt.shape}")
    if pred.ndim == 2:
        pred, gt = pred[None], gt[None]
    if not (np.isfinite(pred).all() and np.isfinite(gt).all()):
        raise ShapeError("pred and gt must be finite (a NaN or infinite alpha value was found)")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != bool:
            raise ShapeError(f"mask must be bool, got {mask.dtype}")
        if mask.shape == pred.shape[1:]:
            mask = np.broadcast_to(mask, pred.shape)
        elif mask.shape != pred.shape:
            raise ShapeError(f"mask must be (H, W) or (n, H, W) like pred {pred.shape}; got {mask.shape}")
        if not mask.any():
            raise ShapeError("mask selects no pixel: give a region with at least one True pixel, or mask=None")
    return pred, gt, mask


def _per_image(error: np.ndarray, mask: Optional[np.ndarray], reduce: str) -> float:
    """Sum or mean of an error map ``(n, H, W)`` per image (inside ``mask``), then the mean over images."""
    if mask is None:
        values = error.sum(axis=(1, 2)) if reduce == "sum" else error.mean(axis=(1, 2))
        return float(values.mean())
    counts = mask.sum(axis=(1, 2))
    sums = np.where(mask, error, 0.0).sum(axis=(1, 2))
    keep = counts > 0
    values = sums[keep] if reduce == "sum" else sums[keep] / counts[keep]
    return float(values.mean())


def sad(pred, gt, mask=None) -> float:
    """Sum of absolute differences / 1000, mean over images."""
    pred, gt, mask = _pair(pred, gt, mask)
    return _per_image(np.abs(pred - gt), mask, "sum") / 1000.0


def mse(pred, gt, mask=None) -> float:
    """Mean squared difference x 1e3, mean over images."""
    pred, gt, mask = _pair(pred, gt, mask)
    return _per_image((pred - gt) ** 2, mask, "mean") * 1e3


def mad(pred, gt, mask=None) -> float:
    """Mean absolute difference x 1e3, mean over images."""
    pred, gt, mask = _pair(pred, gt, mask)
    return _per_image(np.abs(pred - gt), mask, "mean") * 1e3


def _gradient_magnitude(alpha: np.ndarray) -> np.ndarray:
    """``(n, H, W)`` -> Sobel gradient magnitude over a zero-padded border, ``sqrt(gx^2 + gy^2 + 1e-8)``."""
    gy = ndimage.correlate(alpha, _SOBEL_Y[None], mode="constant", cval=0.0)
    gx = ndimage.correlate(alpha, _SOBEL_X[None], mode="constant", cval=0.0)
    return np.sqrt(gx * gx + gy * gy + 1e-8)


def grad_error(pred, gt, mask=None) -> float:
    """Mean absolute difference of the Sobel gradient magnitudes x 1e3, mean over images."""
    pred, gt, mask = _pair(pred, gt, mask)
    return _per_image(np.abs(_gradient_magnitude(pred) - _gradient_magnitude(gt)), mask, "mean") * 1e3


def _largest_components(maps: np.ndarray) -> np.ndarray:
    """``(m, H, W)`` bool -> ``(m, H, W)`` bool: the largest 4-connected component of each map (the first one in
    raster order on a tie, as ``argmax`` of the component sizes picks it); all False where a map is empty."""
    labels, count = ndimage.label(maps, structure=_CONN_STRUCTURE)
    if count == 0:
        return np.zeros_like(maps)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    # labels grow in raster order and a component lies in one map, so map j holds the labels up to the largest one
    # seen in maps 0..j: the map of label k is the first j whose running maximum reaches k
    last = np.maximum.accumulate(labels.reshape(len(maps), -1).max(axis=1))
    which_map = np.searchsorted(last, np.arange(count + 1))
    order = np.lexsort((np.arange(count + 1), -sizes, which_map))  # per map: largest first, then lowest label
    first = order[np.r_[True, which_map[order][1:] != which_map[order][:-1]]]
    best = np.zeros(len(maps), dtype=labels.dtype)
    best[which_map[first]] = first
    best[sizes[best] == 0] = -1  # an empty map has no component
    return labels == best[:, None, None]


def _conn_levels(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``(n, H, W)``: each pixel's level ``l`` (see the module docstring)."""
    n = len(pred)
    t = _THRESHOLDS[1:, None, None, None]  # (10, 1, 1, 1)
    both = (pred[None] >= t) & (gt[None] >= t)  # (10, n, H, W)
    kept = _largest_components(both.reshape((10 * n,) + pred.shape[1:])).reshape(both.shape)
    leaves = ~kept
    first = leaves.argmax(axis=0)  # index into thresholds 1..10 of the first map the pixel is not in
    return np.where(leaves.any(axis=0), _THRESHOLDS[first], 1.0)


def conn_error(pred, gt) -> float:
    """Connectivity error / 1000 (thresholds 0.1 .. 1.0, 4-connectivity, ``d >= 0.15``), mean over images."""
    pred, gt, _ = _pair(pred, gt)
    level = _conn_levels(pred, gt)
    d_pred, d_gt = pred - level, gt - level
    phi_pred = 1.0 - d_pred * (d_pred >= 0.15)
    phi_gt = 1.0 - d_gt * (d_gt >= 0.15)
    return float(np.abs(phi_pred - phi_gt).sum(axis=(1, 2)).mean()) / 1000.0


def matting_metrics(pred, gt, mask=None) -> dict:
    """All five errors: ``{"sad", "mse", "mad", "grad", "conn"}`` (scales in the module docstring); ``mask``
    restricts the pixel-wise four, never ``conn``."""
    return {"sad": sad(pred, gt, mask), "mse": mse(pred, gt, mask), "mad": mad(pred, gt, mask),
            "grad": grad_error(pred, gt, mask), "conn": conn_error(pred, gt)}
