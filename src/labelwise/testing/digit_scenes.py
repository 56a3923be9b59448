"""Digit scenes: small segmentation images with exactly known pixel labels (no download).

The LAD notes (paper 8, section 8.4): a canvas of noise-textured background holding 2-3 handwritten digits from
scikit-learn's bundled ``load_digits``, upsampled to 12-16 pixels at random positions. A pixel's class is the digit's
id + 1 where the upsampled glyph's intensity exceeds 0.25, else 0 (background): 11 classes. A later digit covers an
earlier one where they overlap, in the image and in the mask alike.

Use :func:`labelwise.testing.mosaics.split_digits` pools so training and test scenes never share a handwritten
digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import ndimage

from labelwise.testing.mosaics import load_digit_pool

__all__ = ["DigitScenes", "NUM_CLASSES", "digit_scenes"]

NUM_CLASSES = 11  # background + ten digits


@dataclass(frozen=True)
class DigitScenes:
    """images: ``(n, H, W, 3) float32`` in [0, 1]; masks: ``(n, H, W) int64`` in 0..10 (0 background, d + 1 for
    digit d)."""

    images: np.ndarray
    masks: np.ndarray

    def __len__(self) -> int:
        return len(self.masks)


def digit_scenes(n: int, size: int = 32, *, digits_per_scene: tuple = (2, 3), glyph_px: tuple = (12, 16),
                 pool: Optional[np.ndarray] = None, threshold: float = 0.25, noise: float = 0.15,
                 seed: int = 0) -> DigitScenes:
    """``n`` scenes of ``size`` x ``size`` pixels.

    digits_per_scene: inclusive range of how many digits a scene holds; glyph_px: inclusive range of a digit's
    side in pixels; pool: indices into :func:`load_digit_pool` to draw from (default all); threshold: glyph intensity
    above which a pixel belongs to the digit; noise: std of the background's smoothed noise texture.
    """
    glyphs, digits = load_digit_pool()
    pool = np.arange(len(digits)) if pool is None else np.asarray(pool)
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=np.int64)
    for i in range(n):
        base = rng.uniform(0.0, 0.5, size=3)
        texture = ndimage.gaussian_filter(rng.normal(0, 1, (size, size, 3)), sigma=(1.0, 1.0, 0))
        img = base + noise * texture / (texture.std() + 1e-8)
        for _ in range(int(rng.integers(digits_per_scene[0], digits_per_scene[1] + 1))):
            pick = pool[rng.integers(len(pool))]
            side = int(rng.integers(glyph_px[0], glyph_px[1] + 1))
            glyph = ndimage.zoom(glyphs[pick], side / 8.0, order=1).clip(0, 1)[:side, :side]
            y, x = (int(v) for v in rng.integers(0, size - side + 1, size=2))
            colour = rng.uniform(0.5, 1.0, size=3)
            g = glyph[..., None]
            img[y: y + side, x: x + side] = g * colour + (1 - g) * img[y: y + side, x: x + side]
            inside = glyph > threshold
            masks[i, y: y + side, x: x + side][inside] = digits[pick] + 1
        images[i] = img.clip(0, 1)
    return DigitScenes(images, masks)
