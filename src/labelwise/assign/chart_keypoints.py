"""Chart key points as training targets and back (numpy): ChartReader's Gaussian heatmap targets with sub-pixel
offsets, peak decoding, axis calibration and the bar decoding from grouped key points (paper 15: Cheng et al.,
"ChartReader: A Unified Framework for Chart Derendering and Comprehension without Heuristic Rules", ICCV 2023; the
notes' section 15.2, scaled down to a stride-1 heatmap as in 15.3).

Coordinates are continuous pixels ``(x, y)``: x to the right, y down, pixel ``(r, c)`` covers ``[c, c + 1) x
[r, r + 1)``. A point ``(x, y)`` is assigned to the cell ``(floor(y), floor(x))`` (its heatmap peak, value exactly
1) with the sub-pixel offset ``(x - floor(x), y - floor(y))`` in [0, 1); decoding adds the offset back to the cell.

An axis is ``(value_lo, value_hi, row_lo, row_hi)``: two values and the pixel rows where they lie (what a tick
reader would give; the notes replace OCR by the renderer's axis). Image y grows downward, so the value of a row is
``value_lo + (row_lo - row) * (value_hi - value_lo) / (row_lo - row_hi)`` (the notes' pitfall: calibrate from the
axis, never from the image height).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from labelwise.errors import ParameterError, ShapeError

__all__ = ["bar_values", "heatmap_peaks", "keypoint_targets", "rows_to_values", "values_to_rows"]


def _axis(axis) -> np.ndarray:
    a = np.asarray(axis, dtype=np.float64)
    if a.shape != (4,) or not np.all(np.isfinite(a)):
        raise ShapeError(f"an axis must be 4 finite numbers (value_lo, value_hi, row_lo, row_hi), got {axis!r}.")
    if a[2] == a[3] or a[0] == a[1]:
        raise ParameterError(f"axis {a.tolist()} has two equal values or rows: it cannot be calibrated; give two "
                             f"distinct tick values and their rows.")
    return a


def rows_to_values(rows, axis) -> np.ndarray:
    """Pixel rows ``(k,)`` -> data values ``(k,)`` by the linear axis ``(value_lo, value_hi, row_lo, row_hi)``."""
    v0, v1, r0, r1 = _axis(axis)
    return v0 + (r0 - np.asarray(rows, dtype=np.float64)) * (v1 - v0) / (r0 - r1)


def values_to_rows(values, axis) -> np.ndarray:
    """Data values ``(k,)`` -> pixel rows ``(k,)``; the inverse of :func:`rows_to_values`."""
    v0, v1, r0, r1 = _axis(axis)
    return r0 - (np.asarray(values, dtype=np.float64) - v0) * (r0 - r1) / (v1 - v0)


def keypoint_targets(points: Sequence, shape: tuple, sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian heatmap targets for ``C`` point types on an ``H x W`` grid (stride 1).

    points: ``C`` arrays ``(k_c, 2)`` of ``(x, y)`` pixels (points outside the grid are dropped); sigma: the
    Gaussian's standard deviation in cells. Returns ``heat (C, H, W) float32``: ``max`` over the type's points of
    ``exp(-((r - r0)^2 + (c - c0)^2) / (2 sigma^2))`` with ``(r0, c0) = (floor(y), floor(x))`` (1 exactly at each
    point's cell, CornerNet's "unnormalised Gaussian"); ``cells (m, 3) int64``: ``type, row, col`` of every kept
    point (in the input order, type by type); ``offsets (m, 2) float32``: its ``(dx, dy)`` in [0, 1).
    """
    h, w = int(shape[0]), int(shape[1])
    if sigma <= 0:
        raise ParameterError(f"sigma must be > 0, got {sigma}.")
    heat = np.zeros((len(points), h, w), dtype=np.float32)
    rr, cc = np.arange(h)[:, None], np.arange(w)[None, :]
    cells, offsets = [], []
    for t, pts in enumerate(points):
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        for x, y in pts:
            c0, r0 = int(np.floor(x)), int(np.floor(y))
            if not (0 <= r0 < h and 0 <= c0 < w):
                continue
            g = np.exp(-((rr - r0) ** 2 + (cc - c0) ** 2) / (2.0 * sigma ** 2)).astype(np.float32)
            np.maximum(heat[t], g, out=heat[t])
            cells.append((t, r0, c0))
            offsets.append((x - c0, y - r0))
    return (heat, np.asarray(cells, dtype=np.int64).reshape(-1, 3),
            np.asarray(offsets, dtype=np.float32).reshape(-1, 2))


def heatmap_peaks(heat: np.ndarray, offsets: np.ndarray | None = None, *, threshold: float = 0.3,
                  max_peaks: int = 100) -> np.ndarray:
    """Local maxima of one heatmap ``(H, W)``: cells that equal their 3 x 3 neighbourhood's maximum and reach
    ``threshold``, at most ``max_peaks`` by score. offsets: ``(2, H, W)`` ``(dx, dy)`` added to the cell (None: 0).
    Returns ``(m, 3) float64`` rows ``x, y, score``, highest score first (ties: row-major order)."""
    heat = np.asarray(heat, dtype=np.float64)
    if heat.ndim != 2:
        raise ShapeError(f"heat must be (H, W), got shape {heat.shape}.")
    padded = np.pad(heat, 1, constant_values=-np.inf)
    h, w = heat.shape
    neigh = np.max(np.stack([padded[i:i + h, j:j + w] for i in range(3) for j in range(3)]), axis=0)
    rows, cols = np.nonzero((heat >= neigh) & (heat >= threshold))
    scores = heat[rows, cols]
    order = np.argsort(-scores, kind="stable")[:max_peaks]
    rows, cols, scores = rows[order], cols[order], scores[order]
    dx = offsets[0][rows, cols] if offsets is not None else np.zeros(len(rows))
    dy = offsets[1][rows, cols] if offsets is not None else np.zeros(len(rows))
    return np.stack([cols + dx, rows + dy, scores], axis=1).reshape(-1, 3)


def bar_values(centers: np.ndarray, top_left: np.ndarray, top_right: np.ndarray, p_left: np.ndarray,
               p_right: np.ndarray, axis, *, min_prob: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Bars from grouped key points: each centre takes the top-left and the top-right corner it most probably owns
    (when that probability reaches ``min_prob``); its top row is the mean of those corners' rows, or, with neither,
    the centre's row reflected about the baseline (the row of value 0 when it is on the axis, else ``row_lo``).

    centers ``(m, 2)``, top_left ``(a, 2)``, top_right ``(b, 2)`` pixel points; p_left ``(m, a)``, p_right
    ``(m, b)`` grouping probabilities. Returns ``x (m,)`` (the bars' centre columns: the mean of the centre and its
    corners' midpoint when both corners are found) and ``values (m,)``, sorted by ``x``.
    """
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
    ax = _axis(axis)
    lo, hi = min(ax[0], ax[1]), max(ax[0], ax[1])
    baseline = float(values_to_rows(0.0, ax)) if lo <= 0 <= hi else ax[2]
    xs, tops = np.empty(len(centers)), np.empty(len(centers))
    for i, (cx, cy) in enumerate(centers):
        found = []
        for pts, prob in ((top_left, p_left), (top_right, p_right)):
            pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
            if len(pts):
                j = int(np.argmax(prob[i]))
                if prob[i, j] >= min_prob:
                    found.append(pts[j])
        if found:
            tops[i] = np.mean([p[1] for p in found])
        else:
            tops[i] = 2.0 * cy - baseline
        xs[i] = (cx + np.mean([p[0] for p in found])) / 2.0 if len(found) == 2 else cx
    order = np.argsort(xs, kind="stable")
    return xs[order], rows_to_values(tops[order], ax)
