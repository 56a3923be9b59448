"""Multi-label images made of handwritten digits, for the multi-label learners' experiments (no download).

scikit-learn's bundled ``load_digits`` (1,797 8x8 images, 10 classes) builds two kinds of images:

- :func:`digit_mosaics`: a 2x2 grid of tiles (16x16 pixels), each tile a digit with probability ``p_digit``,
  labelled with the set of digits present; the tiles are the "patches" (the SoftCon, PatchCT and LaSO notes, papers
  27, 31 and 35);
- :func:`digit_pairs`: an 8x16 canvas holding one digit on one side or two different digits side by side (the MLCD
  notes, paper 25).

:func:`split_digits` splits the 1,797 source images into disjoint pools, so images built for training and for
evaluation never share a handwritten digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

__all__ = ["DigitImages", "digit_mosaics", "digit_pairs", "load_digit_pool", "split_digits"]


def load_digit_pool() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: ``images (1797, 8, 8) float32`` in [0, 1], ``digits (1797,) int``."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images / 16.0).astype(np.float32), data.target.astype(np.int64)


def split_digits(fractions: tuple[float, ...] = (0.67, 0.33), seed: int = 0) -> list[np.ndarray]:
    """Disjoint, shuffled index arrays into :func:`load_digit_pool` with the given fractions (the last takes the
    rest)."""
    _, digits = load_digit_pool()
    order = np.random.default_rng(seed).permutation(len(digits))
    cuts = np.cumsum([int(round(f * len(order))) for f in fractions[:-1]])
    return [np.sort(part) for part in np.split(order, cuts)]


@dataclass(frozen=True)
class DigitImages:
    """images: ``(n, H, W) float32``; patches: ``(n, P, 64) float32`` (each 8x8 digit slot flattened);
    Y: ``(n, 10) int`` multi-hot digits present; patch_digits: ``(n, P) int``, the digit in each slot or -1."""

    images: np.ndarray
    patches: np.ndarray
    Y: np.ndarray
    patch_digits: np.ndarray


def _build(n: int, slots: int, fill: np.ndarray, pool: Optional[np.ndarray], noise: float,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patches ``(n, slots, 8, 8)``, their digits ``(n, slots)`` (-1 = empty) and multi-hot ``Y (n, 10)``:
    ``fill[i, s]`` says whether slot ``s`` of image ``i`` holds a digit drawn from ``pool``."""
    images, digits = load_digit_pool()
    pool = np.arange(len(digits)) if pool is None else np.asarray(pool)
    picks = pool[rng.integers(0, len(pool), size=(n, slots))]
    patches = np.where(fill[:, :, None, None], images[picks], np.float32(0))
    patch_digits = np.where(fill, digits[picks], -1)
    if noise:
        patches = patches + rng.normal(0, noise, patches.shape).astype(np.float32)
    Y = np.zeros((n, 10), dtype=np.int64)
    rows, cols = np.nonzero(fill)
    Y[rows, patch_digits[rows, cols]] = 1
    return patches.astype(np.float32), patch_digits, Y


def digit_mosaics(n: int, *, p_digit: float = 0.7, pool: Optional[np.ndarray] = None, noise: float = 0.0,
                  seed: int = 0) -> DigitImages:
    """``n`` 16x16 mosaics of 2x2 tiles; each tile holds a digit from ``pool`` (indices into
    :func:`load_digit_pool`, default all) with probability ``p_digit``, else stays blank. Tiles run row by row:
    patch 0 top left, 1 top right, 2 bottom left, 3 bottom right. A digit may appear in two tiles (Y counts it once);
    an image may be blank (Y all zero). ``noise``: std of Gaussian noise added to every pixel."""
    rng = np.random.default_rng(seed)
    fill = rng.random((n, 4)) < p_digit
    patches, patch_digits, Y = _build(n, 4, fill, pool, noise, rng)
    images = patches.reshape(n, 2, 2, 8, 8).transpose(0, 1, 3, 2, 4).reshape(n, 16, 16)
    return DigitImages(images, patches.reshape(n, 4, 64), Y, patch_digits)


def digit_pairs(n: int, *, single_fraction: float = 0.3, pool: Optional[np.ndarray] = None, noise: float = 0.0,
                seed: int = 0) -> DigitImages:
    """``n`` 8x16 canvases: a share ``single_fraction`` hold one digit on a random side, the rest two *different*
    digits side by side. Patches: the left and right 8x8 halves."""
    rng = np.random.default_rng(seed)
    single = rng.random(n) < single_fraction
    side = rng.integers(0, 2, n)
    fill = np.ones((n, 2), dtype=bool)
    fill[single, 1 - side[single]] = False
    patches, patch_digits, Y = _build(n, 2, fill, pool, noise, rng)
    _, digits = load_digit_pool()
    pool_idx = np.arange(len(digits)) if pool is None else np.asarray(pool)
    same = (patch_digits[:, 0] == patch_digits[:, 1]) & fill.all(axis=1)
    while same.any():  # redraw the right digit until the two differ
        images, _ = load_digit_pool()
        redraw = pool_idx[rng.integers(0, len(pool_idx), size=int(same.sum()))]
        rows = np.flatnonzero(same)
        patches[rows, 1] = images[redraw] + (rng.normal(0, noise, (len(rows), 8, 8)).astype(np.float32) if noise else 0)
        patch_digits[rows, 1] = digits[redraw]
        same = (patch_digits[:, 0] == patch_digits[:, 1]) & fill.all(axis=1)
    Y = np.zeros((n, 10), dtype=np.int64)
    rows, cols = np.nonzero(fill)
    Y[rows, patch_digits[rows, cols]] = 1
    images_out = patches.transpose(0, 2, 1, 3).reshape(n, 8, 16)
    return DigitImages(images_out.astype(np.float32), patches.reshape(n, 2, 64), Y, patch_digits)
