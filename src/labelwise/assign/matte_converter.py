"""ZIM's label converter: a network that turns a coarse binary segment into a fine alpha matte (paper 1: Kim et
al., "ZIM: Zero-Shot Image Matting for Anything", 2024, section 3.1; notes ``papers-01-13.md`` section 1).

The converter ``C(I, S) -> alpha`` reads an image ``I`` and a segment ``S`` of one object and returns that object's
matte. It is trained on matting pairs ``(I, alpha)``, with the segment derived from the true matte on the fly:

- :func:`seg_from_alpha`: ``S`` = the matte thresholded at a random level, then opened or closed by a disk of random
  radius, so ``S`` looks like a polygon-ish segmentation label (a fixed threshold would teach the network to undo
  that one threshold; notes, pitfalls);
- :func:`spatial_generalization_augment` (SGA): with probability ``p`` the **same** random box cuts both the segment
  and the target matte, so the converter also sees parts of objects (a sleeve, a tuft of hair) and learns not to
  invent matte outside the segment it is given;
- selective transformation learning (STL): coarse objects (crisp edges, from ordinary segmentation data) are mixed
  into every batch (share ``stl_ratio``) with the target equal to the input segment, so the converter learns to
  leave coarse objects unchanged and to add soft transitions only where the image shows fine structure;
- the loss is ``|alpha_hat - alpha|_1 + grad_weight |Sobel(alpha_hat) - Sobel(alpha)|_1`` (means over pixels).

CPU scale: the network is :class:`labelwise.learn.segmentation_nets.TinyUNet` with 4 input channels (RGB + segment)
and one output (a sigmoid gives the matte), 0.12 M parameters at ``base=8, depth=3`` (the notes' 0.1-0.3 M),
trained on ``patch_size`` crops with Adam at ``lr=3e-3`` and cosine decay (3e-3 rather than the notes' 1e-3: on the
procedural mattes 1e-3 had learned far less after a few hundred steps); the paper's converter is a large matting
network at 1024 px. The SA-1B-scale use (convert every segment of a
dataset once, offline) is :meth:`MatteLabelConverter.convert`. Details marked [reconstructed] in the notes (the
perturbation ranges, the SGA box, the STL share, the loss weight) are the notes' defaults, not the paper's.

Shapes: images ``(n, H, W, 3)`` float in [0, 1] (or a list of ``(H_i, W_i, 3)`` arrays for :meth:`fit`), alphas and
segments ``(n, H, W)`` in [0, 1] / {0, 1}; mattes out ``(n, H, W) float32``.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from scipy import ndimage
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from torch.nn import functional as F

from labelwise.errors import DataError, ParameterError, ShapeError
from labelwise.learn.segmentation_nets import TinyUNet
from labelwise.progress import ProgressCallback, report

__all__ = ["MatteLabelConverter", "matte_loss", "seg_from_alpha", "spatial_generalization_augment"]

FORMAT = "labelwise-matte-converter"
VERSION = 1


def _disk(radius: int) -> np.ndarray:
    y, x = np.mgrid[-radius: radius + 1, -radius: radius + 1]
    return x * x + y * y <= radius * radius


def seg_from_alpha(alpha: np.ndarray, rng: np.random.Generator, thr_range: tuple = (0.1, 0.9),
                   morph_max: int = 2) -> np.ndarray:
    """A coarse binary segment ``(H, W) float32`` in {0, 1} from a matte ``alpha (H, W)``.

    Threshold ``tau ~ U(thr_range)``, then with equal chance a morphological opening or closing by a disk of radius
    ``r ~ U{0 .. morph_max}`` (``r = 0``: none). Never empty where ``alpha`` is not: if the perturbation removes
    every pixel, the segment is ``alpha >= max(alpha) / 2``.
    """
    alpha = np.asarray(alpha, dtype=np.float32)
    lo, hi = thr_range
    if not 0.0 <= lo <= hi < 1.0:
        raise ParameterError(f"thr_range must satisfy 0 <= low <= high < 1; got {thr_range}")
    seg = alpha > rng.uniform(lo, hi)
    radius = int(rng.integers(0, int(morph_max) + 1))
    opening = rng.random() < 0.5
    if radius > 0:
        disk = _disk(radius)
        if opening:
            seg = ndimage.binary_opening(seg, structure=disk)
        else:
            seg = ndimage.binary_closing(seg, structure=disk, border_value=0)
    if not seg.any() and alpha.max() > 0:
        seg = alpha >= alpha.max() / 2
    return seg.astype(np.float32)


def spatial_generalization_augment(seg: np.ndarray, alpha: np.ndarray, rng: np.random.Generator, p: float = 0.5,
                                   frac: tuple = (0.2, 0.8), *, return_region: bool = False):
    """SGA: with probability ``p``, keep only a random box ``R`` of both the segment and the matte.

    ``R`` covers a share ``f ~ U(frac)`` of the object's bounding box (the box around ``seg`` and ``alpha > 0``),
    with a random aspect (height share ``f^u``, width share ``f^(1-u)``, ``u ~ U(0, 1)``), at a random place inside
    it; the result is ``(seg * R, alpha * R)``, the same ``R`` for both (cropping only the input would teach the
    converter to invent matte outside its segment). A box that leaves the segment empty is drawn again (up to 10
    times, then no crop). seg, alpha: ``(H, W)``; returns copies (and ``R`` as ``(H, W) bool`` when
    ``return_region``; all True when nothing was cut).
    """
    seg = np.asarray(seg, dtype=np.float32)
    alpha = np.asarray(alpha, dtype=np.float32)
    if seg.shape != alpha.shape or seg.ndim != 2:
        raise ShapeError(f"seg and alpha must be (H, W) of the same shape; got {seg.shape} and {alpha.shape}")
    region = np.ones(seg.shape, dtype=bool)
    rows, cols = np.nonzero((seg > 0) | (alpha > 0))
    if rng.random() < p and len(rows):
        y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        for _ in range(10):
            f, u = rng.uniform(*frac), rng.random()
            h = max(1, int(round((y1 - y0) * f ** u)))
            w = max(1, int(round((x1 - x0) * f ** (1 - u))))
            top = int(rng.integers(y0, y1 - h + 1))
            left = int(rng.integers(x0, x1 - w + 1))
            box = np.zeros(seg.shape, dtype=bool)
            box[top: top + h, left: left + w] = True
            if (seg[box] > 0).any():
                region = box
                break
    out = (seg * region, alpha * region)
    return out + (region,) if return_region else out


_SOBEL = torch.tensor([[[[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]],
                       [[[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]]]])


def matte_loss(pred: torch.Tensor, target: torch.Tensor, grad_weight: float = 1.0) -> torch.Tensor:
    """``mean |pred - target| + grad_weight * mean |Sobel(pred) - Sobel(target)|`` (both Sobel directions);
    pred, target: ``(B, 1, H, W)`` mattes in [0, 1]."""
    loss = (pred - target).abs().mean()
    if grad_weight:
        kernel = _SOBEL.to(pred.dtype)
        diff = F.conv2d(pred, kernel, padding=1) - F.conv2d(target, kernel, padding=1)
        loss = loss + grad_weight * diff.abs().mean()
    return loss


def _as_images(images: Any, name: str) -> list:
    """A list of ``(H, W, 3) float32`` arrays in [0, 1] from an ``(n, H, W, 3)`` array or a sequence of them."""
    if isinstance(images, np.ndarray) and images.ndim == 4:
        items = list(images)
    elif isinstance(images, (list, tuple)):
        items = list(images)
    else:
        shape = getattr(np.asarray(images), "shape", None)
        raise ShapeError(f"{name} must be (n, H, W, 3) or a list of (H, W, 3) images; got shape {shape}")
    if not items:
        raise ShapeError(f"{name} is empty")
    out = []
    for i, img in enumerate(items):
        img = np.asarray(img, dtype=np.float32)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ShapeError(f"{name}[{i}] must be (H, W, 3) RGB; got shape {img.shape}")
        if not np.isfinite(img).all() or img.min() < 0 or img.max() > 1:
            raise ShapeError(f"{name}[{i}] must hold finite values in [0, 1]; got [{img.min()}, {img.max()}]")
        out.append(img)
    return out


def _as_maps(maps: Any, images: list, name: str, *, binary: bool) -> list:
    """A list of ``(H, W) float32`` maps, one per image and of its size; binary: values 0/1 only."""
    items = list(maps) if isinstance(maps, (np.ndarray, list, tuple)) else None
    if items is None or (isinstance(maps, np.ndarray) and maps.ndim != 3):
        raise ShapeError(f"{name} must be (n, H, W) or a list of (H, W) arrays; got "
                         f"{getattr(np.asarray(maps), 'shape', None)}")
    if len(items) != len(images):
        raise ShapeError(f"{name} has {len(items)} entries for {len(images)} images")
    out = []
    for i, (m, img) in enumerate(zip(items, images)):
        m = np.asarray(m)
        if m.shape != img.shape[:2]:
            raise ShapeError(f"{name}[{i}] has shape {m.shape}, its image {img.shape[:2]}: they must match")
        m = m.astype(np.float32)
        if not np.isfinite(m).all() or m.min() < 0 or m.max() > 1:
            raise ShapeError(f"{name}[{i}] must hold values in [0, 1]")
        if binary and not np.isin(m, (0.0, 1.0)).all():
            raise ShapeError(f"{name}[{i}] must be a binary segment (0 and 1 only); threshold it or pick a class")
        out.append(m)
    return out


def _crop(arrays: tuple, size: int, rng: np.random.Generator, focus: np.ndarray) -> tuple:
    """The same random ``size x size`` window of every array (zero-padded when an image is smaller); half the time
    centred near a pixel of ``focus`` (the object's edge), so small objects in large images are seen."""
    h, w = focus.shape
    ph, pw = max(size - h, 0), max(size - w, 0)
    if ph or pw:
        arrays = tuple(np.pad(a, ((0, ph), (0, pw)) + ((0, 0),) * (a.ndim - 2)) for a in arrays)
        focus = np.pad(focus, ((0, ph), (0, pw)))
        h, w = focus.shape
    if h == size and w == size:
        return arrays
    points = np.argwhere(focus)
    if len(points) and rng.random() < 0.5:
        cy, cx = points[rng.integers(len(points))]
        top = int(np.clip(cy - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, h - size))
        left = int(np.clip(cx - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, w - size))
    else:
        top, left = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    return tuple(a[top: top + size, left: left + size] for a in arrays)


def _dihedral(arrays: tuple, rng: np.random.Generator) -> tuple:
    """One of the 8 flips/rotations, the same for every array."""
    k, flip = int(rng.integers(4)), rng.random() < 0.5
    out = []
    for a in arrays:
        a = np.rot90(a, k, axes=(0, 1))
        out.append(np.ascontiguousarray(a[:, ::-1] if flip else a))
    return tuple(out)


def _net_input(images: np.ndarray, segs: np.ndarray) -> torch.Tensor:
    """``(B, H, W, 3)``, ``(B, H, W)`` -> ``(B, 4, H, W)`` centred on 0."""
    x = np.concatenate([images, segs[..., None]], axis=-1).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(x * 2.0 - 1.0, dtype=np.float32))


class MatteLabelConverter(BaseEstimator):
    """ZIM's label converter as an estimator: ``fit(images, alphas)`` on matting pairs, ``convert(images, segs)``
    turns segments into mattes.

    Parameters: ``base``, ``depth`` (the TinyUNet); ``steps`` Adam steps of ``batch_size`` crops of
    ``patch_size`` pixels at learning rate ``lr``; ``sga_prob`` and ``sga_frac`` (SGA; ``sga_prob=0`` turns it
    off); ``stl_ratio`` (the share of each batch taken from the coarse pairs when :meth:`fit` gets them; STL is off
    without them); ``grad_weight`` (the Sobel term of the loss); ``thr_range``, ``morph_max``
    (:func:`seg_from_alpha`); ``augment`` (random flips and quarter turns); ``n_threads`` (torch threads while
    fitting and converting; None leaves torch's setting); ``random_state``.

    Learned: ``model_`` (the TinyUNet), ``loss_curve_`` (the loss of each step), ``stl_`` (whether coarse pairs were
    used). :meth:`save` / :meth:`load` keep the weights and the parameters in one file (a torch state_dict and a
    JSON config, read back with ``weights_only=True``: loading runs no code from the file).
    """

    def __init__(self, *, base: int = 8, depth: int = 3, steps: int = 1500, batch_size: int = 16,
                 patch_size: int = 64, lr: float = 3e-3, sga_prob: float = 0.5, sga_frac: tuple = (0.2, 0.8),
                 stl_ratio: float = 0.25, grad_weight: float = 1.0, thr_range: tuple = (0.1, 0.9),
                 morph_max: int = 2, augment: bool = True, n_threads: Optional[int] = None,
                 random_state: Any = 0):
        self.base, self.depth, self.steps, self.batch_size = base, depth, steps, batch_size
        self.patch_size, self.lr, self.sga_prob, self.sga_frac = patch_size, lr, sga_prob, sga_frac
        self.stl_ratio, self.grad_weight, self.thr_range, self.morph_max = stl_ratio, grad_weight, thr_range, morph_max
        self.augment, self.n_threads, self.random_state = augment, n_threads, random_state

    # -- checks -------------------------------------------------------------------------------------------------
    def _check_params(self) -> None:
        for name in ("base", "depth", "steps", "batch_size", "patch_size"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{name} must be a positive integer; got {value!r}")
        if not 0 <= self.sga_prob <= 1:
            raise ParameterError(f"sga_prob must be in [0, 1]; got {self.sga_prob}")
        if not 0 <= self.stl_ratio < 1:
            raise ParameterError(f"stl_ratio must be in [0, 1); got {self.stl_ratio}")
        lo, hi = self.sga_frac
        if not 0 < lo <= hi <= 1:
            raise ParameterError(f"sga_frac must satisfy 0 < low <= high <= 1; got {self.sga_frac}")
        if not self.lr > 0 or self.grad_weight < 0:
            raise ParameterError(f"lr must be positive and grad_weight non-negative; got {self.lr}, "
                                 f"{self.grad_weight}")

    def _new_model(self) -> TinyUNet:
        return TinyUNet(4, 1, base=int(self.base), depth=int(self.depth))

    # -- training -----------------------------------------------------------------------------------------------
    def fit(self, images, alphas, coarse_images=None, coarse_segs=None,
            progress: Optional[ProgressCallback] = None) -> "MatteLabelConverter":
        """Train on matting pairs (``images`` ``(n, H, W, 3)`` or a list of ``(H_i, W_i, 3)``; ``alphas`` the same
        with ``(H, W)`` mattes), plus optional coarse pairs for STL (``coarse_images``, ``coarse_segs`` binary
        segments whose target is themselves). ``progress("train converter", step, steps)``."""
        self._check_params()
        imgs = _as_images(images, "images")
        mattes = _as_maps(alphas, imgs, "alphas", binary=False)
        if (coarse_images is None) != (coarse_segs is None):
            raise ParameterError("give both coarse_images and coarse_segs (STL), or neither")
        coarse = []
        if coarse_images is not None:
            c_imgs = _as_images(coarse_images, "coarse_images")
            coarse = list(zip(c_imgs, _as_maps(coarse_segs, c_imgs, "coarse_segs", binary=True)))
        rng = np.random.default_rng(check_random_state(self.random_state).randint(0, 2**31 - 1))
        seed = int(rng.integers(0, 2**31 - 1))
        n_coarse = int(round(self.stl_ratio * self.batch_size)) if coarse else 0
        losses = []
        with _threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = self._new_model()
            optimiser = torch.optim.Adam(model.parameters(), lr=self.lr)
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=int(self.steps))
            model.train()
            every = max(1, int(self.steps) // 100)
            for step in range(int(self.steps)):
                batch = [self._matting_sample(imgs, mattes, rng) for _ in range(self.batch_size - n_coarse)]
                batch += [self._coarse_sample(coarse, rng) for _ in range(n_coarse)]
                img, seg, target = (np.stack(parts) for parts in zip(*batch))
                pred = torch.sigmoid(model(_net_input(img, seg)))
                loss = matte_loss(pred, torch.from_numpy(target[:, None]), self.grad_weight)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                losses.append(float(loss.detach()))
                if (step + 1) % every == 0 or step + 1 == self.steps:
                    report(progress, "train converter", step + 1, int(self.steps))
        model.eval()
        self.model_, self.loss_curve_, self.stl_ = model, losses, bool(coarse)
        return self

    def _matting_sample(self, imgs: list, mattes: list, rng: np.random.Generator) -> tuple:
        i = int(rng.integers(len(imgs)))
        alpha = mattes[i]
        image, alpha = _crop((imgs[i], alpha), self.patch_size, rng, (alpha > 0.02) & (alpha < 0.98))
        if self.augment:
            image, alpha = _dihedral((image, alpha), rng)
        seg = seg_from_alpha(alpha, rng, tuple(self.thr_range), int(self.morph_max))
        seg, alpha = spatial_generalization_augment(seg, alpha, rng, self.sga_prob, tuple(self.sga_frac))
        return image, seg, alpha

    def _coarse_sample(self, coarse: list, rng: np.random.Generator) -> tuple:
        image, seg = coarse[int(rng.integers(len(coarse)))]
        edge = seg.astype(bool) ^ ndimage.binary_erosion(seg.astype(bool))
        image, seg = _crop((image, seg), self.patch_size, rng, edge)
        if self.augment:
            image, seg = _dihedral((image, seg), rng)
        return image, seg, seg  # STL: the target is the input segment

    # -- use ----------------------------------------------------------------------------------------------------
    def convert(self, images, segs, *, batch_size: int = 8,
                progress: Optional[ProgressCallback] = None) -> np.ndarray:
        """Mattes ``(n, H, W) float32`` in [0, 1] for ``images (n, H, W, 3)`` and binary ``segs (n, H, W)``.
        ``progress("convert", done, n)``."""
        check_is_fitted(self, "model_")
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4:
            raise ShapeError(f"images must be (n, H, W, 3); got shape {images.shape} (use images[None] for one)")
        imgs = _as_images(images, "images")
        segs = np.stack(_as_maps(segs, imgs, "segs", binary=True))
        out = np.empty(segs.shape, dtype=np.float32)
        with _threads(self.n_threads), torch.no_grad():
            for start in range(0, len(imgs), batch_size):
                stop = min(start + batch_size, len(imgs))
                logits = self.model_(_net_input(images[start:stop], segs[start:stop]))
                out[start:stop] = torch.sigmoid(logits)[:, 0].numpy()
                report(progress, "convert", stop, len(imgs))
        return out

    # -- persistence --------------------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the weights and parameters to ``path`` (one file, atomically: a temporary file, then a rename)."""
        check_is_fitted(self, "model_")
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()}
        if not isinstance(params["random_state"], (int, type(None))):
            params["random_state"] = None
        payload = {"format": FORMAT, "version": VERSION, "stl": self.stl_,
                   "config": json.dumps(params, sort_keys=True),
                   "state_dict": {k: v.detach().clone() for k, v in self.model_.state_dict().items()}}
        buf = io.BytesIO()
        torch.save(payload, buf)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(buf.getvalue())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path) -> "MatteLabelConverter":
        """A fitted converter from a file :meth:`save` wrote (``torch.load(..., weights_only=True)``)."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"converter weights {path} do not exist: check the path, or train them with "
                            f"'labelwise convert train-converter'")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle / zip errors of a file that is not a torch checkpoint
            raise DataError(f"{path} is not a matte converter weights file ({type(exc).__name__}); give a file "
                            f"written by MatteLabelConverter.save or 'labelwise convert train-converter'") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise DataError(f"{path} is a torch file but not a labelwise matte converter's weights; give a file "
                            f"written by MatteLabelConverter.save")
        if payload.get("version") != VERSION:
            raise DataError(f"{path} holds converter weights of format version {payload.get('version')}; this "
                            f"labelwise reads version {VERSION}: train the converter again")
        params = json.loads(payload["config"])
        for key in ("sga_frac", "thr_range"):
            params[key] = tuple(params[key])
        est = cls(**params)
        model = est._new_model()
        try:
            model.load_state_dict(payload["state_dict"])
        except RuntimeError as exc:
            raise DataError(f"{path}: the weights do not fit the network its config describes ({exc})") from None
        model.eval()
        est.model_, est.loss_curve_, est.stl_ = model, [], bool(payload.get("stl", False))
        return est


class _threads:
    """Set torch's intra-op threads for a block (None: leave them)."""

    def __init__(self, n: Optional[int]):
        self.n, self.before = n, None

    def __enter__(self):
        if self.n is not None:
            self.before = torch.get_num_threads()
            torch.set_num_threads(int(self.n))

    def __exit__(self, *exc):
        if self.before is not None:
            torch.set_num_threads(self.before)
