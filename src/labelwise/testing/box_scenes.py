"""Box scenes: small detection images with exactly known boxes (no download).

Two generators, one per paper's verification experiment:

- :func:`shape_scenes` (the StageInteractor notes, paper 2, section 2.4): a ``size`` x ``size`` canvas with 1-3
  objects from 3 classes (0 a filled square, 1 a ring, 2 a handwritten digit from scikit-learn's bundled
  ``load_digits``, upsampled), axis-aligned boxes ``(k, 4)`` xyxy in pixels;
- :func:`oriented_scenes` (the GGHL notes, paper 33, section 4b): 1-3 rotated objects of 2 classes (0 a rectangle,
  1 an ellipse) with aspect ratios up to 6, oriented boxes ``(k, 5)`` ``cx, cy, w, h, angle`` (the convention of
  :mod:`labelwise.assign.box_geometry`: ``w >= h``, angle in radians in [0, pi)).

A box is the object's true extent (a digit's box is the bounding box of its glyph pixels above the threshold, so
the box is tight). Objects do not overlap by more than ``max_overlap`` IoU, so every box is visible. Images are
``(n, H, W, 3) float32`` in [0, 1] on a smooth noise background with random object colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import ndimage

from labelwise.testing.mosaics import load_digit_pool

__all__ = ["BoxScenes", "SHAPE_CLASSES", "ORIENTED_CLASSES", "shape_scenes", "oriented_scenes"]

SHAPE_CLASSES = ("square", "ring", "digit")
ORIENTED_CLASSES = ("rectangle", "ellipse")


@dataclass(frozen=True)
class BoxScenes:
    """images: ``(n, H, W, 3) float32``; boxes: ``n`` arrays ``(k_i, 4)`` xyxy or ``(k_i, 5)`` oriented;
    classes: ``n`` arrays ``(k_i,) int64``; class_names: one name per class id."""

    images: np.ndarray
    boxes: list
    classes: list
    class_names: tuple

    def __len__(self) -> int:
        return len(self.images)


def _background(rng: np.random.Generator, size: int, noise: float) -> np.ndarray:
    base = rng.uniform(0.0, 0.45, size=3)
    texture = ndimage.gaussian_filter(rng.normal(0, 1, (size, size, 3)), sigma=(1.5, 1.5, 0))
    return base + noise * texture / (texture.std() + 1e-8)


def _paint(img: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> None:
    colour = rng.uniform(0.55, 1.0, size=3)
    a = alpha[..., None]
    img[:] = a * colour + (1 - a) * img


def _axis_iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _scenes(n: int, size: int, objects: tuple, noise: float, seed: int, width: int, names: tuple,
            place) -> BoxScenes:
    """The loop both generators share: ``place(rng, img, boxes)`` tries to add one object to ``img`` (in place) and
    returns ``(box, class)`` or ``None``; up to 20 tries per object."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), dtype=np.float32)
    all_boxes, all_classes = [], []
    for i in range(n):
        img = _background(rng, size, noise)
        boxes, classes = [], []
        for _ in range(int(rng.integers(objects[0], objects[1] + 1))):
            for _attempt in range(20):
                placed = place(rng, img, boxes)
                if placed is not None:
                    boxes.append(placed[0])
                    classes.append(placed[1])
                    break
        images[i] = img.clip(0, 1)
        all_boxes.append(np.array(boxes, dtype=np.float64).reshape(-1, width))
        all_classes.append(np.array(classes, dtype=np.int64))
    return BoxScenes(images, all_boxes, all_classes, names)


def shape_scenes(n: int, size: int = 48, *, objects: tuple = (1, 3), side_px: tuple = (10, 20),
                 pool: Optional[np.ndarray] = None, max_overlap: float = 0.3, noise: float = 0.12,
                 seed: int = 0) -> BoxScenes:
    """``n`` scenes of squares, rings and digits with their xyxy boxes (pixels; ``x2``, ``y2`` exclusive).

    objects: inclusive range of objects per scene; side_px: inclusive range of an object's side; pool: indices into
    :func:`labelwise.testing.mosaics.load_digit_pool` for the digit class (use ``split_digits`` pools to keep train
    and test glyphs apart); max_overlap: the largest IoU a new object may have with one already placed.
    """
    glyphs, _ = load_digit_pool()
    pool = np.arange(len(glyphs)) if pool is None else np.asarray(pool)

    def place(rng, img, boxes):
        cls = int(rng.integers(3))
        side = int(rng.integers(side_px[0], side_px[1] + 1))
        y, x = (int(v) for v in rng.integers(0, size - side + 1, size=2))
        alpha = np.zeros((side, side))
        if cls == 0:
            alpha[:] = 1.0
        elif cls == 1:
            ring = max(2, side // 4)
            alpha[:] = 1.0
            alpha[ring:side - ring, ring:side - ring] = 0.0
        else:
            glyph = ndimage.zoom(glyphs[pool[rng.integers(len(pool))]], side / 8.0, order=1).clip(0, 1)
            alpha[: glyph.shape[0], : glyph.shape[1]] = glyph[:side, :side]
        inside = alpha > 0.25
        if not inside.any():
            return None
        rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
        box = np.array([x + cols[0], y + rows[0], x + cols[-1] + 1, y + rows[-1] + 1], dtype=np.float64)
        if any(_axis_iou(box, other) > max_overlap for other in boxes):
            return None
        _paint(img[y: y + side, x: x + side], alpha, rng)
        return box, cls

    return _scenes(n, size, objects, noise, seed, 4, SHAPE_CLASSES, place)


def oriented_scenes(n: int, size: int = 64, *, objects: tuple = (1, 3), long_px: tuple = (12, 30),
                    aspect: tuple = (1.0, 6.0), short_min_px: float = 3.0, max_overlap: float = 0.1,
                    noise: float = 0.12, seed: int = 0) -> BoxScenes:
    """``n`` scenes of rotated rectangles and ellipses with oriented boxes ``cx, cy, w, h, angle`` (``w`` the long
    side, ``angle`` in [0, pi) radians; pixel centres at integer + 0.5).

    long_px: inclusive range of the long side; aspect: range of long / short (short side at least ``short_min_px``);
    max_overlap: the largest oriented IoU between two objects of a scene.
    """
    from labelwise.assign.box_geometry import oriented_box_iou

    yy, xx = np.mgrid[0:size, 0:size] + 0.5

    def place(rng, img, boxes):
        cls = int(rng.integers(2))
        w = float(rng.uniform(long_px[0], long_px[1]))
        h = max(short_min_px, w / float(rng.uniform(aspect[0], aspect[1])))
        angle = float(rng.uniform(0, np.pi))
        reach = np.hypot(w, h) / 2
        if reach * 2 >= size:
            return None
        cx, cy = (float(v) for v in rng.uniform(reach, size - reach, size=2))
        box = np.array([cx, cy, w, h, angle])
        if boxes and oriented_box_iou(box[None], np.array(boxes)).max() > max_overlap:
            return None
        # the pixel grid in the box's own frame
        u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
        v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
        if cls == 0:
            alpha = ((np.abs(u) <= w / 2) & (np.abs(v) <= h / 2)).astype(float)
        else:
            alpha = ((u / (w / 2)) ** 2 + (v / (h / 2)) ** 2 <= 1.0).astype(float)
        if not alpha.any():
            return None
        _paint(img, alpha, rng)
        return box, cls

    return _scenes(n, size, objects, noise, seed, 5, ORIENTED_CLASSES, place)
