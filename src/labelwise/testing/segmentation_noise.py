"""Known corruptions of segmentation masks, for testing a label audit against a pixel-exact truth.

:func:`corrupt_masks` damages a chosen share of the masks of a scene set (e.g. :func:`labelwise.testing.digit_scenes
.digit_scenes`) in the ways annotators do: an object's mask shifted by a few pixels, an object given the wrong class,
an object left unlabelled, a spurious blob drawn on the background. The true masks stay untouched; the pixels that
changed are the truth an audit should find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["KINDS", "CorruptedMasks", "corrupt_masks"]

KINDS = ("shift", "wrong_class", "missing", "blob")


@dataclass(frozen=True)
class CorruptedMasks:
    """masks: ``(n, H, W) int64`` the noisy masks; changed: ``(n, H, W) bool`` pixels whose class differs from the
    clean mask; corrupted: ``(n,) bool`` images given a corruption; kinds: ``(n,)`` str, the corruption or ``""``."""

    masks: np.ndarray
    changed: np.ndarray
    corrupted: np.ndarray
    kinds: np.ndarray


def corrupt_masks(masks: np.ndarray, num_classes: int, fraction: float = 0.3, *, kinds: tuple = KINDS,
                  shift_px: tuple = (3, 5), blob_radius: tuple = (3, 5), seed: int = 0) -> CorruptedMasks:
    """Corrupt ``round(fraction * n)`` of ``masks (n, H, W)`` (classes ``0..num_classes-1``, 0 the background), one
    corruption per chosen image, the kinds taken in turn from ``kinds``:

    - ``shift``: one object's pixels move by ``shift_px`` (inclusive range) along a random diagonal direction; the
      place it left becomes background;
    - ``wrong_class``: one object takes another foreground class;
    - ``missing``: one object becomes background;
    - ``blob``: a disc of radius ``blob_radius`` with a random foreground class is drawn on the background.

    An object is a connected region of one foreground class. An image without objects gets a blob.
    """
    rng = np.random.default_rng(seed)
    masks = np.asarray(masks)
    noisy = masks.copy()
    n, height, width = masks.shape
    chosen = np.sort(rng.choice(n, size=int(round(fraction * n)), replace=False))
    names = np.full(n, "", dtype=object)
    for turn, i in enumerate(chosen):
        kind = kinds[turn % len(kinds)]
        objects = _objects(masks[i])
        if not objects:
            kind = "blob"
        names[i] = kind
        if kind == "blob":
            noisy[i] = _blob(masks[i], num_classes, blob_radius, rng)
            continue
        cls, where = objects[int(rng.integers(len(objects)))]
        if kind == "wrong_class":
            noisy[i][where] = rng.choice([c for c in range(1, num_classes) if c != cls])
        elif kind == "missing":
            noisy[i][where] = 0
        elif kind == "shift":
            step = int(rng.integers(shift_px[0], shift_px[1] + 1))
            dy, dx = (step * s for s in rng.choice([-1, 1], size=2))
            ys, xs = np.nonzero(where)
            noisy[i][where] = 0
            ys, xs = ys + dy, xs + dx
            keep = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
            noisy[i][ys[keep], xs[keep]] = cls
        else:
            raise ValueError(f"unknown corruption kind {kind!r}; choose from {KINDS}")
    corrupted = np.zeros(n, dtype=bool)
    corrupted[chosen] = True
    return CorruptedMasks(noisy, noisy != masks, corrupted, names)


def _objects(mask: np.ndarray) -> list:
    """``[(class, (H, W) bool), ...]`` the connected regions of each foreground class with at least 10 pixels."""
    found = []
    for cls in np.unique(mask[mask > 0]):
        regions, count = ndimage.label(mask == cls)
        for r in range(1, count + 1):
            where = regions == r
            if where.sum() >= 10:
                found.append((int(cls), where))
    return found


def _blob(mask: np.ndarray, num_classes: int, radius: tuple, rng) -> np.ndarray:
    height, width = mask.shape
    r = int(rng.integers(radius[0], radius[1] + 1))
    yy, xx = np.mgrid[:height, :width]
    out = mask.copy()
    background = np.argwhere(mask == 0)
    cy, cx = background[rng.integers(len(background))] if len(background) else (height // 2, width // 2)
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    out[disc & (mask == 0)] = int(rng.integers(1, num_classes))
    return out
