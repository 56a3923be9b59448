"""GGHL: oriented Gaussian heatmap label assignment for oriented boxes (paper 33; numpy, torch only for the loss).

Huang, Li, Xia and Tao, "A General Gaussian Heatmap Label Assignment for Arbitrary-Oriented Object Detection",
IEEE TIP 31:1895-1910, 2022 (arXiv 2109.12848). Re-implemented from the paper and the project's notes
(``papers/specs/papers-27-38.md``, section 33); no line of the GPL-3.0 official code is used.

The method turns oriented-box labels into dense per-cell training targets on each level of a stride-``s`` grid:

- **long-side boxes** (:func:`poly_to_longside`): a quadrilateral -> ``cx, cy, w, h, angle`` with ``w >= h``;
- **ORC** (:func:`poly_to_orc`, :func:`orc_to_poly`): a box as its horizontal box (HBB) plus four "gliding" offsets
  ``a1..a4`` of its vertices along the HBB's top, right, bottom and left sides, and the area ratio ``r``;
- **OLA** (:class:`OrientedGaussianAssigner`): each object is put on the level(s) its size belongs to and spreads a
  2-D Gaussian oriented along its long side, with semi-axes ``r^(1 - tau)`` (``r`` the half side in cells): a cell
  is a positive of the object where the Gaussian exceeds ``heat_thresh``, the cell centre lies inside the HBB, and
  the value is at least the heat already written there *for the same class* (overlaps: the higher Gaussian wins,
  per class channel);
- the baseline a user would pick instead, :class:`CentrePointAssigner` (CenterNet-like): one positive per object at
  its centre cell and an isotropic Gaussian from the HBB size that only softens the negatives around it;
- **JOL** (:class:`JointOptimizationLoss`, torch): the joint loss with area normalisation and dynamic confidence
  weighting, whose adaptive label refinement (:func:`refine_labels`) mixes the Gaussian prior with the current
  localisation quality.

Angles. Oriented boxes follow :mod:`labelwise.assign.box_geometry`: ``cx, cy, w, h, angle`` in pixels, ``angle`` in
radians from +x towards +y in image coordinates (y down: clockwise on screen), ``w >= h``, ``angle`` in [0, pi).
The paper's long-side angle in degrees, [0, 180), is ``degrees(angle)`` (``poly_to_longside(..., degrees=True)``);
a convention that counts counter-clockwise on screen uses ``(180 - theta) % 180``.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from labelwise.assign.box_geometry import oriented_box_corners
from labelwise.errors import MissingExtraError, ParameterError, ShapeError

__all__ = ["CentrePointAssigner", "JointOptimizationLoss", "OrientedGaussianAssigner", "centre_radius",
           "min_area_rectangle", "orc_to_poly", "poly_to_longside", "poly_to_orc", "refine_labels",
           "stack_targets"]

#: ORC's rule: a box whose area fills more than this share of its HBB is treated as axis-aligned (offsets 0).
AXIS_ALIGNED_RATIO = 0.9


def _polys(polys, name: str = "polys") -> np.ndarray:
    arr = np.asarray(polys, dtype=np.float64)
    if arr.shape[-2:] != (4, 2):
        raise ShapeError(f"{name} must be (4, 2) or (n, 4, 2) quadrilateral corners; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ShapeError(f"{name} holds NaN or infinite coordinates")
    return arr


def _signed_area(poly: np.ndarray) -> np.ndarray:
    """``(...,)`` shoelace area of ``(..., k, 2)`` polygons, positive for the order top -> right -> bottom -> left
    (clockwise on screen, y down)."""
    x, y = poly[..., 0], poly[..., 1]
    return 0.5 * (np.sum(x * np.roll(y, -1, axis=-1), axis=-1) - np.sum(y * np.roll(x, -1, axis=-1), axis=-1))


def poly_to_longside(polys, *, degrees: bool = False) -> np.ndarray:
    """Long-side box of quadrilaterals: ``(4, 2) -> (5,)`` or ``(n, 4, 2) -> (n, 5)`` ``cx, cy, w, h, angle``.

    The centre is the mean of the four vertices; ``w`` and ``h`` are the means of the two pairs of opposite edges,
    ``w`` the longer; ``angle`` is the direction of the long pair (radians in [0, pi), or degrees in [0, 180) with
    ``degrees=True``). A square's angle, defined only modulo 90 degrees, is taken in [0, 90). Exact for rectangles
    in any vertex order around the box.
    """
    p = _polys(polys)
    edges = np.roll(p, -1, axis=-2) - p  # e_i = p_{i+1} - p_i
    length = np.linalg.norm(edges, axis=-1)
    len_a, len_b = (length[..., 0] + length[..., 2]) / 2, (length[..., 1] + length[..., 3]) / 2
    dir_a, dir_b = edges[..., 0, :] - edges[..., 2, :], edges[..., 1, :] - edges[..., 3, :]
    ang_a = np.mod(np.arctan2(dir_a[..., 1], dir_a[..., 0]), np.pi)
    ang_b = np.mod(np.arctan2(dir_b[..., 1], dir_b[..., 0]), np.pi)
    tol = 1e-9 * np.maximum(len_a + len_b, 1.0)
    tie = np.abs(len_a - len_b) <= tol
    use_a = np.where(tie, np.mod(ang_a, np.pi / 2) <= np.mod(ang_b, np.pi / 2), len_a > len_b)
    angle = np.where(use_a, ang_a, ang_b)
    angle = np.where(tie, np.mod(angle, np.pi / 2), angle)
    angle = np.where(angle >= np.pi - 1e-12, 0.0, angle)
    centre = p.mean(axis=-2)
    out = np.stack([centre[..., 0], centre[..., 1], np.maximum(len_a, len_b), np.minimum(len_a, len_b),
                    np.degrees(angle) if degrees else angle], axis=-1)
    return out


def min_area_rectangle(points) -> np.ndarray:
    """``(5,)`` long-side box of the smallest-area rectangle holding ``points (k, 2)``: one of its sides lies along
    an edge of the convex hull, so every direction between two points is tried (``O(k^3)``: meant for the corners of
    one polygon)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    best, best_area = None, np.inf
    for i, j in zip(*np.triu_indices(len(pts), 1)):
        edge = pts[j] - pts[i]
        norm = np.hypot(*edge)
        if norm == 0:
            continue
        ux, uy = edge / norm
        u = pts @ np.array([ux, uy])
        v = pts @ np.array([-uy, ux])
        area = (u.max() - u.min()) * (v.max() - v.min())
        if area < best_area - 1e-12:
            best_area = area
            cu, cv = (u.max() + u.min()) / 2, (v.max() + v.min()) / 2
            centre = cu * np.array([ux, uy]) + cv * np.array([-uy, ux])
            box = np.array([centre[0], centre[1], u.max() - u.min(), v.max() - v.min(), np.arctan2(uy, ux)])
            best = poly_to_longside(oriented_box_corners(box[None])[0])
    if best is None:
        raise ShapeError("min_area_rectangle needs points that are not all equal")
    return best


def poly_to_orc(poly, *, axis_aligned_ratio: float = AXIS_ALIGNED_RATIO) -> dict:
    """ORC encoding of one convex quadrilateral ``(4, 2)`` (any vertex order).

    Returns ``{"hbb": (4,) xyxy, "a": (4,) a1..a4 in [0, 1], "r": area(poly) / area(hbb), "vertices": (4, 2) the
    quad ordered top, right, bottom, left, "approximated": bool}`` with ``a1 = (x_top - xmin) / w``,
    ``a2 = (y_right - ymin) / h``, ``a3 = (xmax - x_bottom) / w``, ``a4 = (ymax - y_left) / h``. The offsets are
    all 0 when ``r > axis_aligned_ratio`` (a nearly axis-aligned box is its HBB). A quad with a vertex on none of
    the HBB's sides (not a rectangle; about 5 % of DOTA's quads) cannot be written this way: it is replaced by its
    minimum-area rectangle and ``approximated`` is True (the paper's code uses a 16-case rule there instead).
    """
    p = _polys(poly, "poly")
    if p.ndim != 2:
        raise ShapeError(f"poly_to_orc takes one (4, 2) quadrilateral; got shape {p.shape}")
    if _signed_area(p) < 0:
        p = p[::-1]
    xmin, ymin = p.min(axis=0)
    xmax, ymax = p.max(axis=0)
    w, h = xmax - xmin, ymax - ymin
    if w <= 0 or h <= 0:
        raise ShapeError(f"poly {p.tolist()} has no area (its horizontal box is {w:g} x {h:g})")
    # which rotation of the (clockwise) vertex list puts one vertex on each HBB side: top, right, bottom, left
    costs = [(p[k, 1] - ymin) + (xmax - p[(k + 1) % 4, 0]) + (ymax - p[(k + 2) % 4, 1]) + (p[(k + 3) % 4, 0] - xmin)
             for k in range(4)]
    k = int(np.argmin(costs))
    approximated = costs[k] > 1e-6 * (w + h)
    if approximated:
        p = oriented_box_corners(min_area_rectangle(p)[None])[0]
        return {**poly_to_orc(p, axis_aligned_ratio=axis_aligned_ratio), "approximated": True}
    v = np.roll(p, -k, axis=0)
    r = float(abs(_signed_area(p)) / (w * h))
    a = np.array([(v[0, 0] - xmin) / w, (v[1, 1] - ymin) / h, (xmax - v[2, 0]) / w, (ymax - v[3, 1]) / h])
    if r > axis_aligned_ratio:
        a = np.zeros(4)
    return {"hbb": np.array([xmin, ymin, xmax, ymax]), "a": a.clip(0, 1), "r": r, "vertices": v,
            "approximated": False}


def orc_to_poly(hbb, a) -> np.ndarray:
    """Decode ORC: ``hbb (..., 4)`` xyxy and offsets ``a (..., 4)`` -> ``(..., 4, 2)`` vertices top, right, bottom,
    left (the top vertex slid ``a1 w`` right of the top-left corner, the right one ``a2 h`` down the right side, the
    bottom one ``a3 w`` left of the bottom-right corner, the left one ``a4 h`` up the left side)."""
    b, a = np.asarray(hbb, dtype=np.float64), np.asarray(a, dtype=np.float64)
    x1, y1, x2, y2 = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    w, h = x2 - x1, y2 - y1
    top = np.stack([x1 + a[..., 0] * w, y1], axis=-1)
    right = np.stack([x2, y1 + a[..., 1] * h], axis=-1)
    bottom = np.stack([x2 - a[..., 2] * w, y2], axis=-1)
    left = np.stack([x1, y2 - a[..., 3] * h], axis=-1)
    return np.stack([top, right, bottom, left], axis=-2)


def centre_radius(height, width, min_overlap: float = 0.7) -> np.ndarray:
    """CenterNet's Gaussian radius (Zhou et al. 2019, from CornerNet) for a box ``height x width`` (any unit), as
    the released code computes it: the smallest of three quadratic roots ``(b + sqrt(b^2 - 4 a c)) / 2`` for the
    box moved, shrunk and grown at IoU ``min_overlap``. (Solving those equations exactly gives smaller radii; the
    released detectors were tuned with this form, so the baseline keeps it.)"""
    h, w, o = np.asarray(height, dtype=np.float64), np.asarray(width, dtype=np.float64), float(min_overlap)
    b1, c1 = h + w, w * h * (1 - o) / (1 + o)
    r1 = (b1 + np.sqrt(b1 ** 2 - 4 * c1)) / 2
    b2, c2 = 2 * (h + w), (1 - o) * w * h
    r2 = (b2 + np.sqrt(b2 ** 2 - 16 * c2)) / 2
    a3, b3, c3 = 4 * o, -2 * o * (h + w), (o - 1) * w * h
    r3 = (b3 + np.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return np.minimum(np.minimum(r1, r2), r3)


class _GridAssigner:
    """What both assigners share: input checks, the kept objects, the level choice and the target arrays."""

    def __init__(self, img_size, strides, tau, level_overlap, min_size, min_area, level_bounds):
        self.img_size = img_size
        self.strides = strides
        self.tau = tau
        self.level_overlap = level_overlap
        self.min_size = min_size
        self.min_area = min_area
        self.level_bounds = level_bounds

    # -- checks and levels
    def _shape(self) -> tuple[int, int]:
        size = self.img_size
        hw = (size, size) if np.isscalar(size) else tuple(size)
        if len(hw) != 2 or min(hw) <= 0:
            raise ParameterError(f"img_size must be a positive int or (height, width); got {size!r}")
        return int(hw[0]), int(hw[1])

    def _bounds(self) -> list[float]:
        """The level boundaries ``T_0 < T_1 < ...`` (one fewer than the levels)."""
        strides = list(self.strides)
        if not strides or any(s <= 0 for s in strides) or strides != sorted(strides):
            raise ParameterError(f"strides must be positive and increasing; got {self.strides!r}")
        if not 0 <= self.tau < 1:
            raise ParameterError(f"tau must be in [0, 1); got {self.tau!r}")
        if self.level_bounds is not None:
            bounds = [float(t) for t in self.level_bounds]
            if len(bounds) != len(strides) - 1:
                raise ParameterError(f"level_bounds needs {len(strides) - 1} values for {len(strides)} strides; "
                                     f"got {len(bounds)}")
            return bounds
        if len(strides) == 1:
            return []
        if len(strides) != 3:
            raise ParameterError(f"the paper's level bounds are defined for 3 strides; give level_bounds for "
                                 f"{len(strides)} strides {tuple(strides)}")
        scale = max(self._shape()) / 800.0
        return [3 * 2 * strides[0] / (1 - self.tau) * scale, 3 * 2 * strides[2] / (1 - self.tau) * scale]

    def levels_for(self, length: float) -> list[int]:
        """The levels an object of HBB long side ``length`` (pixels) is assigned to: level ``k`` holds
        ``T_{k-1} < length <= level_overlap * T_k``, so sizes near a boundary train two levels."""
        bounds = self._bounds()
        lo = [-np.inf] + bounds
        hi = [self.level_overlap * t for t in bounds] + [np.inf]
        return [k for k in range(len(self.strides)) if lo[k] < length <= hi[k]]

    def _objects(self, boxes, classes, n_classes):
        arr = np.asarray(boxes, dtype=np.float64)
        if arr.size == 0:
            polys = np.zeros((0, 4, 2))
        elif arr.ndim == 2 and arr.shape[1] == 5:
            polys = oriented_box_corners(arr)
        else:
            polys = _polys(arr, "boxes")
            if polys.ndim != 3:
                raise ShapeError(f"boxes must be (k, 5) oriented boxes or (k, 4, 2) quadrilaterals; got {arr.shape}")
        cls = np.asarray(classes).reshape(-1)
        if len(cls) != len(polys):
            raise ShapeError(f"classes has {len(cls)} entries but boxes has {len(polys)} objects")
        if len(cls) and (not np.issubdtype(cls.dtype, np.integer) or cls.min() < 0 or cls.max() >= n_classes):
            raise ParameterError(f"classes must be integers in [0, {n_classes}); got {np.unique(cls).tolist()}")
        return polys, cls.astype(np.int64)

    def _empty(self, stride: int, n_classes: int, n_objects: int) -> dict:
        height, width = self._shape()
        gh, gw = -(-height // stride), -(-width // stride)
        return {"stride": stride, "heat": np.zeros((gh, gw, n_classes), np.float32),
                "mask": np.zeros((gh, gw), bool), "object": np.full((gh, gw), -1, np.int64),
                "cls": np.full((gh, gw), -1, np.int64), "gauss": np.zeros((gh, gw), np.float32),
                "ltrb": np.zeros((gh, gw, 4), np.float32), "hbb": np.zeros((gh, gw, 4), np.float32),
                "obb": np.zeros((gh, gw, 5), np.float32), "orc": np.zeros((gh, gw, 4), np.float32),
                "ratio": np.zeros((gh, gw), np.float32), "area_weight": np.zeros((gh, gw), np.float32),
                "positives": np.zeros(n_objects, np.int64)}

    @staticmethod
    def _write(level: dict, j: int, i: int, obj: int, cls: int, v: float, ltrb, hbb, obb, orc: dict,
               area_weight: float) -> None:
        previous = level["object"][j, i]
        if previous >= 0 and level["mask"][j, i]:
            level["positives"][previous] -= 1
        level["heat"][j, i, cls] = max(level["heat"][j, i, cls], v)
        level["mask"][j, i] = True
        level["object"][j, i] = obj
        level["cls"][j, i] = cls
        level["gauss"][j, i] = v
        level["ltrb"][j, i] = ltrb
        level["hbb"][j, i] = hbb
        level["obb"][j, i] = obb
        level["orc"][j, i] = orc["a"]
        level["ratio"][j, i] = orc["r"]
        level["area_weight"][j, i] = area_weight
        level["positives"][obj] += 1

    def _kept(self, hbb: np.ndarray) -> bool:
        w, h = hbb[2] - hbb[0], hbb[3] - hbb[1]
        return bool(max(w, h) > self.min_size or w * h > self.min_area)

    def _placements(self, polys: np.ndarray, cls: np.ndarray):
        """``(object index, class, level, ORC dict, long-side box)`` for every kept object on each of its levels."""
        for n, (poly, c) in enumerate(zip(polys, cls)):
            orc = poly_to_orc(poly)
            hbb = orc["hbb"]
            if self._kept(hbb):
                obb = poly_to_longside(poly)
                for k in self.levels_for(max(hbb[2] - hbb[0], hbb[3] - hbb[1])):
                    yield n, int(c), k, orc, obb


def _area_weight(rw: float, rh: float) -> float:
    """JOL's area normalisation ``ln 2 / ln(sqrt(r_w r_h) + 1)`` for half sides in cells (1 at r_w = r_h = 1)."""
    return float(np.log(2) / np.log(np.sqrt(rw * rh) + 1))


class OrientedGaussianAssigner(_GridAssigner):
    """GGHL's object-adaptive label assignment (OLA): oriented boxes -> per-level dense targets.

    Parameters
    ----------
    img_size : int or (height, width)
        The input size; grids are ``ceil(size / stride)`` cells, and the level bounds scale with
        ``max(size) / 800`` as in the paper.
    strides : increasing ints, default (8, 16, 32)
    tau : float, default 0.3
        The semi-axes of an object's Gaussian are ``r^(1 - tau)`` cells for a half side of ``r`` cells: small
        objects (``r < 1``) get a wider Gaussian than their size, large ones a narrower one.
    heat_thresh : float, default 0.05
        A cell is a positive only where the object's Gaussian exceeds this.
    level_overlap : float, default 1.2
        Objects up to ``level_overlap * T_k`` long also train level ``k`` (``T_k`` the paper's bounds
        ``6 s_0 / (1 - tau)`` and ``6 s_2 / (1 - tau)``, times ``max(img_size) / 800``; one stride: one level).
    min_size, min_area : objects whose HBB has ``max(w, h) <= min_size`` and ``w * h <= min_area`` are skipped.
    level_bounds : optional ``len(strides) - 1`` bounds in pixels (required for 2 or more than 3 strides).
    max_window : optional per-level cap (cells) of the search window's half size; default ``4 - k`` on level k
        (at least 1). The window is ``clip(hbb_side / (2 s), 1, cap)`` cells (truncated) plus one.
    centre_always : bool, default True
        The centre cell (Gaussian value 1) is a positive even when its centre falls outside an HBB thinner than a
        stride (otherwise such an object would get no positive). Its ``ltrb`` then has a negative entry.

    ``assign`` returns one dict per level (see :meth:`assign`).
    """

    def __init__(self, img_size=800, strides: Sequence[int] = (8, 16, 32), tau: float = 0.3,
                 heat_thresh: float = 0.05, level_overlap: float = 1.2, min_size: float = 4, min_area: float = 80,
                 level_bounds: Optional[Sequence[float]] = None, max_window: Optional[Sequence[int]] = None,
                 centre_always: bool = True):
        super().__init__(img_size, strides, tau, level_overlap, min_size, min_area, level_bounds)
        self.heat_thresh = heat_thresh
        self.max_window = max_window
        self.centre_always = centre_always

    def gaussian(self, d, angle: float, semi_axes) -> np.ndarray:
        """The oriented Gaussian at cell offsets ``d (..., 2)`` (dx, dy in cells) of an object with long-side
        ``angle`` (radians) and half sides ``semi_axes = (r_w, r_h)`` in cells:
        ``exp(-|E R d|^2 / 2)``, ``R = [[cos, sin], [-sin, cos]]``, ``E = diag(2 / r_w^(1-tau), 2 / r_h^(1-tau))``."""
        d = np.asarray(d, dtype=np.float64)
        c, s = np.cos(angle), np.sin(angle)
        u = c * d[..., 0] + s * d[..., 1]
        v = -s * d[..., 0] + c * d[..., 1]
        e = 1.0 - self.tau
        u = u * 2.0 / max(semi_axes[0], 1e-12) ** e
        v = v * 2.0 / max(semi_axes[1], 1e-12) ** e
        return np.exp(-(u ** 2 + v ** 2) / 2)

    def assign(self, boxes, classes, n_classes: int) -> list[dict]:
        """Targets for one image.

        boxes: ``(k, 5)`` oriented boxes (``cx, cy, w, h, angle``) or ``(k, 4, 2)`` quadrilaterals, pixels;
        classes: ``(k,) int`` in ``[0, n_classes)``.

        Returns one dict per stride: ``stride``; ``heat (H, W, C) float32`` the soft class labels (each positive
        cell holds its object's Gaussian value in its class channel, the maximum where objects of one class
        overlap); ``mask (H, W) bool`` positives; ``object (H, W) int64`` the object whose targets a cell holds
        (-1: none); ``cls (H, W) int64``; ``gauss (H, W)`` that object's Gaussian value; ``ltrb (H, W, 4)`` the
        distances (pixels) from the cell centre ``((i + 0.5) s, (j + 0.5) s)`` to the HBB's left, top, right and
        bottom sides; ``hbb (H, W, 4)`` xyxy; ``obb (H, W, 5)`` the long-side box; ``orc (H, W, 4)`` a1..a4;
        ``ratio (H, W)`` r; ``area_weight (H, W)`` ``ln 2 / ln(sqrt(r_w r_h) + 1)``; ``positives (k,) int64``
        positive cells per object on this level (0 for skipped objects).

        A box whose centre lies outside the image is centred on the nearest cell. Objects are written in the given
        order; where two of one class meet, a cell goes to the higher Gaussian
        (ties: the later object). Where objects of different classes meet, both class channels keep their heat and
        the later object's box targets are written (the paper's per-class overlap rule).
        """
        polys, cls = self._objects(boxes, classes, n_classes)
        levels = [self._empty(s, n_classes, len(polys)) for s in self.strides]
        caps = self.max_window if self.max_window is not None else [max(1, 4 - k) for k in range(len(self.strides))]
        for n, c, k, orc, obb in self._placements(polys, cls):
            hbb = orc["hbb"]
            cx, cy, long_w, long_h, angle = obb
            bw, bh = hbb[2] - hbb[0], hbb[3] - hbb[1]
            level, s = levels[k], self.strides[k]
            gh, gw = level["mask"].shape
            gx, gy = int(np.clip(cx // s, 0, gw - 1)), int(np.clip(cy // s, 0, gh - 1))
            rw, rh = long_w / (2 * s), long_h / (2 * s)
            area_weight = _area_weight(rw, rh)
            win_x = int(np.clip(bw / (2 * s), 1, caps[k])) + 1
            win_y = int(np.clip(bh / (2 * s), 1, caps[k])) + 1
            jj, ii = np.mgrid[max(0, gy - win_y): min(gh, gy + win_y + 1), max(0, gx - win_x): min(gw, gx + win_x + 1)]
            v = self.gaussian(np.stack([ii - gx, jj - gy], axis=-1), angle, (rw, rh))
            px, py = (ii + 0.5) * s, (jj + 0.5) * s
            ltrb = np.stack([px - hbb[0], py - hbb[1], hbb[2] - px, hbb[3] - py], axis=-1)
            inside = ltrb.min(axis=-1) > 0
            centre = (ii == gx) & (jj == gy)
            candidate = (v > self.heat_thresh) & (inside | (centre & self.centre_always))
            for j, i, val, dist in zip(jj[candidate], ii[candidate], v[candidate], ltrb[candidate]):
                if val >= level["heat"][j, i, c]:
                    self._write(level, j, i, n, c, float(val), dist, hbb, obb, orc, area_weight)
        return levels


class CentrePointAssigner(_GridAssigner):
    """The centre-point baseline (CenterNet-like, Zhou et al. 2019): each object has one positive, its centre cell
    (the cell holding the long-side centre), with the same box targets as OLA writes; its class channel holds an
    isotropic Gaussian ``exp(-|d|^2 / (2 sigma^2))`` around the centre, ``sigma = (2 r + 1) / 6`` with ``r`` the
    :func:`centre_radius` of the HBB in cells (at least 0), and this heat only softens the negatives near the
    centre in the loss (``(1 - heat)^4``). Same level choice, ``heat`` maximum per class, and output dict as
    :class:`OrientedGaussianAssigner`."""

    def __init__(self, img_size=800, strides: Sequence[int] = (8, 16, 32), tau: float = 0.3,
                 level_overlap: float = 1.2, min_size: float = 4, min_area: float = 80,
                 level_bounds: Optional[Sequence[float]] = None, min_overlap: float = 0.7):
        super().__init__(img_size, strides, tau, level_overlap, min_size, min_area, level_bounds)
        self.min_overlap = min_overlap

    def assign(self, boxes, classes, n_classes: int) -> list[dict]:
        """Targets for one image; arguments and result as :meth:`OrientedGaussianAssigner.assign` (``gauss`` is 1
        at every positive; ``heat`` is non-zero around the positives too)."""
        polys, cls = self._objects(boxes, classes, n_classes)
        levels = [self._empty(s, n_classes, len(polys)) for s in self.strides]
        for n, c, k, orc, obb in self._placements(polys, cls):
            hbb = orc["hbb"]
            bw, bh = hbb[2] - hbb[0], hbb[3] - hbb[1]
            level, s = levels[k], self.strides[k]
            gh, gw = level["mask"].shape
            gx, gy = int(np.clip(obb[0] // s, 0, gw - 1)), int(np.clip(obb[1] // s, 0, gh - 1))
            radius = max(0, int(centre_radius(bh / s, bw / s, self.min_overlap)))
            sigma = (2 * radius + 1) / 6
            jj, ii = np.mgrid[max(0, gy - radius): min(gh, gy + radius + 1),
                              max(0, gx - radius): min(gw, gx + radius + 1)]
            splat = np.exp(-((ii - gx) ** 2 + (jj - gy) ** 2) / (2 * sigma ** 2))
            heat = level["heat"][..., c]
            heat[jj, ii] = np.maximum(heat[jj, ii], splat)
            rw, rh = obb[2] / (2 * s), obb[3] / (2 * s)
            px, py = (gx + 0.5) * s, (gy + 0.5) * s
            ltrb = np.array([px - hbb[0], py - hbb[1], hbb[2] - px, hbb[3] - py])
            self._write(level, gy, gx, n, c, 1.0, ltrb, hbb, obb, orc,
                        _area_weight(rw, rh))
        return levels


def stack_targets(per_image: Sequence[Sequence[dict]], level: int = 0):
    """The targets of one level for a batch: ``per_image[b]`` is an assigner's output for image ``b``; returns a
    dict of torch tensors with a leading batch axis (``heat (B, H, W, C)``, ``mask (B, H, W)``, ...) and the
    ``stride``."""
    torch = _torch("stack_targets")
    keys = ("heat", "mask", "gauss", "ltrb", "hbb", "orc", "ratio", "area_weight", "cls")
    out = {key: torch.from_numpy(np.stack([img[level][key] for img in per_image])) for key in keys}
    out["stride"] = int(per_image[0][level]["stride"])
    return out


def _torch(what: str):
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is installed wherever tests run
        raise MissingExtraError("torch", "learn", what) from exc
    return torch


def refine_labels(gauss, quality):
    """GGHL's adaptive label refinement (dynamic confidence weighting): the positive's confidence label is the mean
    of its Gaussian centre prior and the current localisation quality, ``(gauss + quality) / 2`` (arrays or
    tensors of one shape). Cells near the centre whose box is already good count most; far cells with a poor box
    count least."""
    return (gauss + quality) / 2


def _make_jol():
    torch = _torch("JointOptimizationLoss")
    nn, F = torch.nn, torch.nn.functional

    def elementwise_giou(a, b):
        """GIoU of matching xyxy boxes ``(..., 4)``."""
        lt, rb = torch.maximum(a[..., :2], b[..., :2]), torch.minimum(a[..., 2:], b[..., 2:])
        inter = (rb - lt).clamp(min=0).prod(-1)
        area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
        area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
        union = area_a + area_b - inter
        hull = (torch.maximum(a[..., 2:], b[..., 2:]) - torch.minimum(a[..., :2], b[..., :2])).clamp(min=0).prod(-1)
        return inter / union.clamp(min=1e-9) - (hull - union) / hull.clamp(min=1e-9)

    class JointOptimizationLoss(nn.Module):
        """GGHL's joint-optimisation loss (JOL) on one level, averaged over the batch (each image's sums divided by
        its number of positives, at least 1).

        With the quality ``q = exp(-[beta (1 - GIoU) + |a_hat - a|^2 + (r_hat - r)^2])``, ``beta = 2 - w h / S^2``
        (``w, h`` the true HBB, ``S`` the image size; small boxes weigh more), computed from the predictions:

        - objectness: focal BCE (gamma 2) with target 1 at positives, weighted by the refined label
          :func:`refine_labels` ``(gauss + q) / 2``, and target 0 elsewhere weighted by ``(1 - max heat)^4``
          (1 for OLA, whose heat is zero off the positives; CenterNet's penalty reduction for the centre-point
          baseline); both x ``obj_weight`` (2);
        - class at positives: BCE of ``sigmoid(s_true) * q`` against the cell's class label, the other classes'
          logits against theirs, x ``area_weight``. The label is one-hot with label smoothing ``delta``:
          ``1 - delta`` / ``delta / C`` (the notes' loss line, "smoothed 1"; the default), or with
          ``soft_class_targets=True`` the assigner's ``heat`` smoothed the same way, ``heat (1 - delta) + delta / C``
          (the notes' target list puts the Gaussian value in the class channel; then ``sigmoid(s) * q`` learns the
          centre prior and far cells score low). On the benchmark's scenes the one-hot label is much better
          (bench/gghl.py, docs/assign.md);
        - box at positives, weighted by ``area_weight * (sigmoid(s_true) + gauss) / 2``: ``1 - GIoU`` (x
          ``giou_weight``), ORC offsets MSE (x ``orc_weight``), area ratio MSE (x ``ratio_weight`` 16) and
          ``smooth_l1_weight * beta * SmoothL1(ltrb_hat / s, ltrb / s)``.

        ``q`` is detached in the weights and kept in the class term (the joint part: the class score is trained
        through the localisation quality). ``forward(pred, target, img_size)``: ``pred`` a dict of tensors
        ``obj (B, H, W)`` and ``cls (B, H, W, C)`` logits, ``ltrb (B, H, W, 4)`` pixels (>= 0), ``orc (B, H, W, 4)``
        and ``ratio (B, H, W)`` in [0, 1]; ``target`` from :func:`stack_targets`. Returns the scalar loss; the
        parts of the last call are in ``.parts``.
        """

        def __init__(self, obj_weight: float = 2.0, giou_weight: float = 1.0, orc_weight: float = 1.0,
                     ratio_weight: float = 16.0, smooth_l1_weight: float = 0.2, delta: float = 0.01,
                     gamma: float = 2.0, refine: bool = True, soft_class_targets: bool = False):
            super().__init__()
            self.soft_class_targets = soft_class_targets
            self.obj_weight, self.giou_weight, self.orc_weight = obj_weight, giou_weight, orc_weight
            self.ratio_weight, self.smooth_l1_weight = ratio_weight, smooth_l1_weight
            self.delta, self.gamma, self.refine = delta, gamma, refine
            self.parts: dict = {}

        def forward(self, pred: dict, target: dict, img_size: float):
            s = float(target["stride"])
            pos = target["mask"].bool()
            b, gh, gw = pos.shape
            n_pos = pos.flatten(1).sum(1).clamp(min=1).float()  # (B,)
            jj, ii = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
            px, py = (ii.float() + 0.5) * s, (jj.float() + 0.5) * s
            ltrb = pred["ltrb"]
            box = torch.stack([px - ltrb[..., 0], py - ltrb[..., 1], px + ltrb[..., 2], py + ltrb[..., 3]], -1)
            hbb = target["hbb"].float()
            giou = elementwise_giou(box, hbb)
            beta = 2 - (hbb[..., 2] - hbb[..., 0]) * (hbb[..., 3] - hbb[..., 1]) / float(img_size) ** 2
            orc_err = ((pred["orc"] - target["orc"]) ** 2).sum(-1)
            ratio_err = (pred["ratio"] - target["ratio"]) ** 2
            q = torch.exp(-(beta * (1 - giou) + orc_err + ratio_err))
            gauss = target["gauss"].float()
            area_w = target["area_weight"].float()
            # objectness
            p_obj = torch.sigmoid(pred["obj"])
            bce_obj1 = F.binary_cross_entropy_with_logits(pred["obj"], torch.ones_like(p_obj), reduction="none")
            bce_obj0 = F.binary_cross_entropy_with_logits(pred["obj"], torch.zeros_like(p_obj), reduction="none")
            w_pos = refine_labels(gauss, q.detach()) if self.refine else gauss
            heat_max = target["heat"].float().amax(-1)
            obj_pos = (w_pos * (1 - p_obj) ** self.gamma * bce_obj1 * pos).flatten(1).sum(1)
            obj_neg = ((1 - heat_max) ** 4 * p_obj ** self.gamma * bce_obj0 * ~pos).flatten(1).sum(1)
            # classes at positives
            n_cls = pred["cls"].shape[-1]
            true = target["cls"].clamp(min=0)
            onehot = F.one_hot(true, n_cls).bool()
            p_cls = torch.sigmoid(pred["cls"])
            p_true = (p_cls * onehot).sum(-1)
            joint = (p_true * q).clamp(1e-6, 1 - 1e-6)
            if self.soft_class_targets:  # the heat is the class label: Gaussian value in its channel(s)
                label = target["heat"].float() * (1 - self.delta) + self.delta / n_cls
            else:
                label = torch.where(onehot, 1 - self.delta, self.delta / n_cls)
            cls_pos = F.binary_cross_entropy(joint, (label * onehot).sum(-1), reduction="none")
            cls_neg = (F.binary_cross_entropy_with_logits(pred["cls"], label, reduction="none") * ~onehot).sum(-1)
            cls_loss = ((cls_pos + cls_neg) * area_w * pos).flatten(1).sum(1)
            # localisation
            w_loc = area_w * (p_true.detach() + gauss) / 2 * pos
            l1 = F.smooth_l1_loss(ltrb / s, target["ltrb"].float().clamp(min=0.01 * s) / s, reduction="none").sum(-1)
            loc = (self.giou_weight * (1 - giou) + self.orc_weight * orc_err + self.ratio_weight * ratio_err
                   + self.smooth_l1_weight * beta * l1)
            loc_loss = (w_loc * loc).flatten(1).sum(1)
            parts = {"obj": self.obj_weight * (obj_pos + obj_neg) / n_pos, "cls": cls_loss / n_pos,
                     "loc": loc_loss / n_pos}
            self.parts = {k: float(v.detach().mean()) for k, v in parts.items()}
            return sum(v.mean() for v in parts.values())

    return JointOptimizationLoss


def __getattr__(name: str):
    # JointOptimizationLoss is a torch module: built on first use so that importing this module needs numpy only
    if name == "JointOptimizationLoss":
        cls = _make_jol()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
