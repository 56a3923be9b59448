"""Box geometry shared by the box-label assigners and the box audit: formats, areas, IoU and generalised IoU, and
oriented boxes (numpy; algorithm floor).

Formats of axis-aligned boxes, ``(n, 4) float``:

- ``"xyxy"``: ``x1, y1, x2, y2`` (corners; ``x2 >= x1``, ``y2 >= y1``);
- ``"xywh"``: ``x, y, w, h`` (top-left corner and size: COCO's ``bbox``);
- ``"cxcywh"``: ``cx, cy, w, h`` (centre and size: YOLO's, DETR's).

Oriented boxes, ``(n, 5) float``: ``cx, cy, w, h, angle``, the angle in radians from the x axis to the box's width
axis, turning from +x towards +y (in image coordinates, where y points down, a positive angle turns clockwise on
screen).

IoU (intersection over union) and GIoU (Rezatofighi et al., CVPR 2019: IoU minus the share of the smallest enclosing
box that the union does not cover, in [-1, 1]) follow their usual definitions; boxes of zero area have IoU 0 with
everything (no 0/0).
"""

from __future__ import annotations

import numpy as np

from labelwise.errors import ShapeError

FORMATS = ("xyxy", "xywh", "cxcywh")

__all__ = ["FORMATS", "box_area", "box_convert", "box_iou", "generalized_box_iou", "oriented_box_corners",
           "oriented_box_iou"]


def _boxes(boxes, name: str, width: int = 4) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, width)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ShapeError(f"{name} must be (n, {width}) boxes; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ShapeError(f"{name} holds NaN or infinite coordinates (row {int(np.argwhere(~np.isfinite(arr))[0, 0])})")
    return arr


def _xyxy(boxes, name: str) -> np.ndarray:
    arr = _boxes(boxes, name)
    bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ShapeError(f"{name} row {i} is {arr[i].tolist()}: an xyxy box needs x2 >= x1 and y2 >= y1 (is it in "
                         f"xywh or cxcywh format? convert it with box_convert)")
    return arr


def box_convert(boxes, in_fmt: str, out_fmt: str) -> np.ndarray:
    """``(n, 4)`` boxes from ``in_fmt`` to ``out_fmt`` (``"xyxy"``, ``"xywh"``, ``"cxcywh"``), as float64."""
    for fmt in (in_fmt, out_fmt):
        if fmt not in FORMATS:
            raise ShapeError(f"box format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    arr = _boxes(boxes, "boxes")
    if in_fmt == "xywh":
        arr = np.column_stack([arr[:, 0], arr[:, 1], arr[:, 0] + arr[:, 2], arr[:, 1] + arr[:, 3]])
    elif in_fmt == "cxcywh":
        arr = np.column_stack([arr[:, 0] - arr[:, 2] / 2, arr[:, 1] - arr[:, 3] / 2,
                               arr[:, 0] + arr[:, 2] / 2, arr[:, 1] + arr[:, 3] / 2])
    if out_fmt == "xyxy":
        return arr.copy() if in_fmt == "xyxy" else arr
    w, h = arr[:, 2] - arr[:, 0], arr[:, 3] - arr[:, 1]
    if out_fmt == "xywh":
        return np.column_stack([arr[:, 0], arr[:, 1], w, h])
    return np.column_stack([arr[:, 0] + w / 2, arr[:, 1] + h / 2, w, h])


def box_area(boxes) -> np.ndarray:
    """``(n,)`` areas of ``(n, 4)`` xyxy boxes."""
    arr = _xyxy(boxes, "boxes")
    return (arr[:, 2] - arr[:, 0]) * (arr[:, 3] - arr[:, 1])


def _inter_union(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter, area_a[:, None] + area_b[None, :] - inter


def box_iou(boxes_a, boxes_b) -> np.ndarray:
    """``(n, m)`` IoU of every xyxy box of ``boxes_a (n, 4)`` with every one of ``boxes_b (m, 4)``."""
    a, b = _xyxy(boxes_a, "boxes_a"), _xyxy(boxes_b, "boxes_b")
    inter, union = _inter_union(a, b)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def generalized_box_iou(boxes_a, boxes_b) -> np.ndarray:
    """``(n, m)`` GIoU: ``IoU - (C - U) / C`` with ``C`` the area of the smallest box enclosing both, ``U`` the
    union (Rezatofighi et al., 2019). 1 for identical boxes; tends to -1 for small boxes far apart."""
    a, b = _xyxy(boxes_a, "boxes_a"), _xyxy(boxes_b, "boxes_b")
    inter, union = _inter_union(a, b)
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    lt = np.minimum(a[:, None, :2], b[None, :, :2])
    rb = np.maximum(a[:, None, 2:], b[None, :, 2:])
    hull = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    return iou - np.divide(hull - union, hull, out=np.zeros_like(hull), where=hull > 0)


def oriented_box_corners(boxes) -> np.ndarray:
    """``(n, 4, 2)`` corners of ``(n, 5)`` oriented boxes ``cx, cy, w, h, angle``, in order around the box (the
    corner at ``-w/2, -h/2`` in the box's own frame first)."""
    arr = _boxes(boxes, "boxes", width=5)
    if (arr[:, 2:4] < 0).any():
        i = int(np.flatnonzero((arr[:, 2:4] < 0).any(axis=1))[0])
        raise ShapeError(f"boxes row {i} has a negative width or height: {arr[i].tolist()}")
    local = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    half = local[None] * arr[:, None, 2:4]  # (n, 4, 2) in the box's frame
    cos, sin = np.cos(arr[:, 4])[:, None], np.sin(arr[:, 4])[:, None]
    x = half[..., 0] * cos - half[..., 1] * sin + arr[:, None, 0]
    y = half[..., 0] * sin + half[..., 1] * cos + arr[:, None, 1]
    return np.stack([x, y], axis=-1)


def _clip(subject: np.ndarray, clipper: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman: the part of convex polygon ``subject (k, 2)`` inside convex ``clipper (4, 2)`` (both
    counter-clockwise in the x/y frame)."""
    out = subject
    for i in range(len(clipper)):
        if len(out) == 0:
            break
        p, q = clipper[i], clipper[(i + 1) % len(clipper)]
        edge = q - p
        side = edge[0] * (out[:, 1] - p[1]) - edge[1] * (out[:, 0] - p[0])  # >= 0: inside (left of p -> q)
        kept = []
        for j in range(len(out)):
            cur, nxt = out[j], out[(j + 1) % len(out)]
            s_cur, s_nxt = side[j], side[(j + 1) % len(out)]
            if s_cur >= 0:
                kept.append(cur)
            if (s_cur >= 0) != (s_nxt >= 0):
                t = s_cur / (s_cur - s_nxt)
                kept.append(cur + t * (nxt - cur))
        out = np.array(kept).reshape(-1, 2)
    return out


def _polygon_area(poly: np.ndarray) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def oriented_box_iou(boxes_a, boxes_b) -> np.ndarray:
    """``(n, m)`` IoU of oriented boxes ``(n, 5)`` and ``(m, 5)`` (``cx, cy, w, h, angle``), by clipping one box's
    polygon with the other's (exact up to float rounding; a Python loop over the pairs whose circumscribed circles
    meet, so meant for the few boxes of one image, not millions of pairs)."""
    ca, cb = oriented_box_corners(boxes_a), oriented_box_corners(boxes_b)
    a, b = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 5), np.asarray(boxes_b, dtype=np.float64).reshape(-1, 5)
    area_a, area_b = a[:, 2] * a[:, 3], b[:, 2] * b[:, 3]
    radius_a, radius_b = np.hypot(a[:, 2], a[:, 3]) / 2, np.hypot(b[:, 2], b[:, 3]) / 2
    centre_gap = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    iou = np.zeros((len(a), len(b)))
    for i, j in zip(*np.nonzero(centre_gap < radius_a[:, None] + radius_b[None, :])):
        union_base = area_a[i] + area_b[j]
        if area_a[i] <= 0 or area_b[j] <= 0:
            continue
        inter = _polygon_area(_clip(ca[i], _ccw(cb[j])))
        iou[i, j] = inter / (union_base - inter)
    return iou


def _ccw(poly: np.ndarray) -> np.ndarray:
    """``poly`` in counter-clockwise order (positive signed area) in the x/y frame."""
    x, y = poly[:, 0], poly[:, 1]
    signed = np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))
    return poly if signed >= 0 else poly[::-1]
