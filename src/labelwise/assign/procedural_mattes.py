"""Procedural alpha mattes with exactly known truth: the matting experiments' data and ``labelwise convert
train-converter --synthetic N`` (no download). Tests import it as :mod:`labelwise.testing.synthetic_mattes`.

Public matting datasets cannot be fetched offline, so the ZIM notes (paper 1, section 1.3) and the MLB notes
(paper 28, section 4) build their data from a generator. Every alpha is drawn at ``supersample`` times the output
size and block-averaged down, so borders are genuinely fractional (a binary "alpha" makes every method look equal;
ZIM notes, pitfalls).

- fine objects (:func:`fine_alpha`): a body made of 2-4 Gaussian bumps, thresholded, with an anti-aliased (or
  blurred, ``soft``) edge, and thin hair-like strands growing out of its upper edge (alpha 0.2-0.8 after averaging);
- coarse objects (:func:`coarse_alpha`): a filled star-shaped polygon or an upsampled handwritten digit, with a hard
  edge: alpha is exactly the binary segment (ZIM's "leave coarse objects unchanged" case);
- backgrounds (:func:`background`): ``"smooth"`` (colour gradients, the composited matting-data domain), ``"noisy"``
  (gradient plus blurred noise texture) or ``"cluttered"`` (texture plus rectangles whose colours overlap the
  foreground palette: MLB's "natural" domain);
- :func:`composite`: ``I = alpha F + (1 - alpha) B`` with a foreground colour field, so colour follows alpha.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

__all__ = ["MatteSet", "background", "coarse_alpha", "composite", "fine_alpha", "synthetic_mattes"]


@dataclass(frozen=True)
class MatteSet:
    """images: ``(n, H, W, 3) float32`` in [0, 1]; alphas: ``(n, H, W) float32`` in [0, 1]; kinds: ``(n,)``
    ``"fine"`` or ``"coarse"``."""

    images: np.ndarray
    alphas: np.ndarray
    kinds: np.ndarray

    def __len__(self) -> int:
        return len(self.alphas)


def _down(big: np.ndarray, factor: int) -> np.ndarray:
    h, w = big.shape[0] // factor, big.shape[1] // factor
    return big[: h * factor, : w * factor].reshape(h, factor, w, factor).mean(axis=(1, 3))


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:n, 0:n].astype(np.float64)
    return (y + 0.5) / n, (x + 0.5) / n


def fine_alpha(size: int, rng: np.random.Generator, *, supersample: int = 4, strands: tuple = (20, 60),
               soft: bool = False) -> np.ndarray:
    """``(size, size) float32``: a Gaussian-bump body with an anti-aliased edge (blurred when ``soft``) and
    ``strands`` thin strands (random walks one sub-pixel wide) growing from its upper edge."""
    big = size * supersample
    yy, xx = _grid(big)
    field = np.zeros((big, big))
    for _ in range(int(rng.integers(2, 5))):
        cy, cx = rng.uniform(0.4, 0.7), rng.uniform(0.3, 0.7)
        sy, sx = rng.uniform(0.08, 0.18, size=2)
        field += np.exp(-((yy - cy) ** 2 / (2 * sy ** 2) + (xx - cx) ** 2 / (2 * sx ** 2)))
    body = (field > 0.5).astype(np.float64)
    if not body.any():
        body[big // 3: 2 * big // 3, big // 3: 2 * big // 3] = 1.0
    if soft:
        body = ndimage.gaussian_filter(body, sigma=rng.uniform(1.0, 2.5) * supersample)
    hair = np.zeros_like(body)
    edge = np.argwhere(body > 0.5)
    top = edge[edge[:, 0] <= np.quantile(edge[:, 0], 0.25)]  # the upper quarter of the body
    for _ in range(int(rng.integers(strands[0], strands[1] + 1))):
        y, x = (top[rng.integers(len(top))]).astype(np.float64)
        angle = rng.uniform(-np.pi * 0.9, -np.pi * 0.1)  # upwards, fanning out
        opacity = rng.uniform(0.5, 1.0)
        for _ in range(int(rng.integers(big // 6, big // 3))):
            angle += rng.normal(0, 0.12)
            y, x = y + np.sin(angle), x + np.cos(angle)
            iy, ix = int(round(y)), int(round(x))
            if not (0 <= iy < big and 0 <= ix < big):
                break
            hair[iy, ix] = max(hair[iy, ix], opacity)
    alpha = _down(np.maximum(body, hair), supersample)
    return alpha.clip(0, 1).astype(np.float32)


def coarse_alpha(size: int, rng: np.random.Generator) -> np.ndarray:
    """``(size, size) float32`` in {0, 1}: a filled star-shaped polygon, or (one time in three) an upsampled
    handwritten digit from scikit-learn's bundled set, thresholded hard."""
    if rng.random() < 1 / 3:
        glyphs = _glyphs()
        glyph = glyphs[rng.integers(len(glyphs))]
        scale = rng.uniform(0.5, 0.9) * size / 8
        big = ndimage.zoom(glyph, scale, order=1)
        out = np.zeros((size, size))
        h, w = min(big.shape[0], size), min(big.shape[1], size)
        oy, ox = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
        out[oy: oy + h, ox: ox + w] = big[:h, :w]
        return (out > 0.4).astype(np.float32)
    yy, xx = _grid(size)
    cy, cx = rng.uniform(0.35, 0.65, size=2)
    k = int(rng.integers(3, 9))
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    radii = rng.uniform(0.15, 0.4, k)
    theta = np.arctan2(yy - cy, xx - cx) % (2 * np.pi)
    r = np.hypot(yy - cy, xx - cx)
    # straight edges between the vertices: the polygon's radius along each ray, by interpolating 1/r (exact for
    # straight lines through polar coordinates is more work than a test fixture needs; this is a smooth star)
    limit = np.interp(theta, np.r_[angles, angles[0] + 2 * np.pi], np.r_[radii, radii[0]],
                      period=2 * np.pi)
    return (r <= limit).astype(np.float32)


@lru_cache(maxsize=1)
def _glyphs() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().images / 16.0


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.05, 0.95, size=3)


def background(size: int, rng: np.random.Generator, kind: str = "smooth") -> np.ndarray:
    """``(size, size, 3) float32`` in [0, 1]: ``"smooth"``, ``"noisy"`` or ``"cluttered"`` (see the module)."""
    if kind not in ("smooth", "noisy", "cluttered"):
        raise ValueError(f"background kind must be 'smooth', 'noisy' or 'cluttered', not {kind!r}")
    yy, xx = _grid(size)
    a, b = _colour(rng), _colour(rng)
    angle = rng.uniform(0, 2 * np.pi)
    t = (np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5) + 0.5).clip(0, 1)[..., None]
    img = (1 - t) * a + t * b
    if kind in ("noisy", "cluttered"):
        noise = ndimage.gaussian_filter(rng.normal(0, 1, (size, size, 3)), sigma=(1.5, 1.5, 0))
        img = img + 0.15 * noise / (noise.std() + 1e-8)
    if kind == "cluttered":
        for _ in range(int(rng.integers(5, 16))):
            h, w = rng.integers(size // 10, size // 3, size=2)
            y, x = rng.integers(0, size - h), rng.integers(0, size - w)
            img[y: y + h, x: x + w] = _colour(rng)
        img = ndimage.gaussian_filter(img, sigma=(0.5, 0.5, 0))
    return img.clip(0, 1).astype(np.float32)


def composite(alpha: np.ndarray, rng: np.random.Generator, bg: np.ndarray) -> np.ndarray:
    """``I = alpha F + (1 - alpha) B``, ``F`` a random colour with a little smooth variation: ``(H, W, 3)``."""
    size = alpha.shape[0]
    fg = _colour(rng) + 0.08 * ndimage.gaussian_filter(rng.normal(0, 1, (size, size, 3)), sigma=(3, 3, 0))
    a = alpha[..., None].astype(np.float64)
    return (a * fg + (1 - a) * bg).clip(0, 1).astype(np.float32)


def synthetic_mattes(n: int, size: int = 64, *, fine_fraction: float = 0.75, background_kind: str = "smooth",
                     soft_fraction: float = 0.3, seed: int = 0) -> MatteSet:
    """``n`` composited images with their true alphas: a share ``fine_fraction`` fine objects (a share
    ``soft_fraction`` of those with blurred edges), the rest coarse; backgrounds of ``background_kind``."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), dtype=np.float32)
    alphas = np.empty((n, size, size), dtype=np.float32)
    kinds = np.empty(n, dtype=object)
    for i in range(n):
        fine = rng.random() < fine_fraction
        alpha = (fine_alpha(size, rng, soft=rng.random() < soft_fraction) if fine else coarse_alpha(size, rng))
        images[i] = composite(alpha, rng, background(size, rng, background_kind))
        alphas[i] = alpha
        kinds[i] = "fine" if fine else "coarse"
    return MatteSet(images, alphas, kinds.astype(str))
