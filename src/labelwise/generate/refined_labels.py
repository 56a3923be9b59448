"""Refined pixel labels from a label-assisted teacher (LAD, paper 8), saved as a labelling product.

The LAD teacher (:class:`labelwise.learn.label_assisted.LabelAssistedSegmenter`) reads an image together with its
mask and returns class probabilities that follow the image where the mask is coarse, wrong at a boundary, or
unlabelled (``ignore_index``). :func:`save_refined_labels` writes them for every image:

- ``<name>.npz``: ``probs``, the teacher's ``(K, H, W) float32`` class probabilities (compressed);
- ``<name>.png``: their argmax, a class-index mask (8-bit grey, 16-bit above 255 classes) through
  :func:`labelwise.data.images.write_mask`.

:func:`refine_label_folder` does the same for a folder of images and a folder of masks (fitting the model on them
when none is given). Every file is written atomically; :func:`read_refined_labels` reads a ``.npz`` back.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from labelwise.data.atomic import write_bytes_atomic
from labelwise.data.images import PathLike, pair_folders, read_image, read_mask, write_mask
from labelwise.errors import DataError, ParameterError
from labelwise.progress import ProgressCallback, report

__all__ = ["RefinedLabels", "read_refined_labels", "refine_label_folder", "save_refined_labels"]


@dataclass(frozen=True)
class RefinedLabels:
    """What :func:`save_refined_labels` wrote: ``names (n,)`` and, per name, the ``.npz`` and ``.png`` paths."""

    out_dir: Path
    names: tuple
    prob_paths: tuple
    mask_paths: tuple

    def __repr__(self) -> str:
        return f"RefinedLabels({len(self.names)} images in {self.out_dir}: <name>.npz probabilities, <name>.png masks)"


def read_refined_labels(path: PathLike) -> np.ndarray:
    """The ``(K, H, W) float32`` probabilities of one ``<name>.npz`` written here."""
    try:
        with np.load(path) as data:
            return np.asarray(data["probs"], dtype=np.float32)
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path} is not a refined-label file written by labelwise ({exc}); write it again") from exc


def _npz_bytes(probs: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, probs=probs.astype(np.float32))
    return buf.getvalue()


def save_refined_labels(model: Any, images: Any, masks: Any, out_dir: PathLike, *,
                        names: Optional[Sequence[str]] = None, temperature: float = 1.0, batch_size: int = 64,
                        progress: Optional[ProgressCallback] = None) -> RefinedLabels:
    """Write the teacher's refined soft labels of ``images (n, H, W, C)`` with ``masks (n, H, W)`` to ``out_dir``.

    model: a fitted :class:`LabelAssistedSegmenter` (anything with ``soft_labels(images, masks, temperature)``).
    names: file stems, one per image (default ``000000``, ``000001``, ...). Images are processed ``batch_size`` at a
    time; ``progress("refined labels", done, n)`` after each batch.
    """
    images, masks = np.asarray(images), np.asarray(masks)
    n = len(images)
    names = [f"{i:06d}" for i in range(n)] if names is None else [str(s) for s in names]
    if len(names) != n or len(set(names)) != n:
        raise ParameterError(f"names must give {n} distinct file stems, one per image; got {len(names)} "
                             f"({len(set(names))} distinct)")
    if len(masks) != n:
        raise DataError(f"{n} images but {len(masks)} masks; give one mask per image")
    out = Path(out_dir)
    prob_paths, mask_paths = [], []
    for start in range(0, n, batch_size):
        soft = model.soft_labels(images[start:start + batch_size], masks[start:start + batch_size],
                                 temperature=temperature)
        for name, probs in zip(names[start:start + batch_size], soft):
            prob_paths.append(write_bytes_atomic(out / f"{name}.npz", _npz_bytes(probs)))
            mask_paths.append(write_mask(out / f"{name}.png", probs.argmax(axis=0)))
        report(progress, "refined labels", min(start + batch_size, n), n)
    return RefinedLabels(out, tuple(names), tuple(prob_paths), tuple(mask_paths))


def refine_label_folder(images_dir: PathLike, masks_dir: PathLike, out_dir: PathLike, *, model: Any = None,
                        palette: Optional[Mapping[tuple, int]] = None, temperature: float = 1.0,
                        progress: Optional[ProgressCallback] = None, **model_params: Any) -> RefinedLabels:
    """Refined labels for a folder of images and a folder of masks (paired by file stem, all of one size).

    model: a fitted :class:`LabelAssistedSegmenter`; ``None`` fits one on these pairs with ``model_params`` (its
    constructor's parameters, e.g. ``num_classes``, ``ignore_index``, ``teacher_epochs``, ``random_state``).
    palette: colour -> class id for RGB masks (see :func:`labelwise.data.images.read_mask`).
    """
    pairs = pair_folders(images_dir, masks_dir)
    images = [read_image(p.image) for p in pairs]
    masks = [read_mask(p.label, palette=palette) for p in pairs]
    for pair, image, mask in zip(pairs, images, masks):
        if mask.shape != image.shape[:2]:
            raise DataError(f"mask {pair.label} is {mask.shape[1]}x{mask.shape[0]} pixels but image {pair.image} "
                            f"is {image.shape[1]}x{image.shape[0]}; give each image a mask of its size")
        if image.shape != images[0].shape:
            raise DataError(f"image {pair.image} is {image.shape[1]}x{image.shape[0]} pixels but "
                            f"{pairs[0].image} is {images[0].shape[1]}x{images[0].shape[0]}; resize the images "
                            f"(and masks) to one size first")
    X, Y = np.stack(images), np.stack(masks)
    if model is None:
        from labelwise.learn.label_assisted import LabelAssistedSegmenter

        model = LabelAssistedSegmenter(**model_params).fit(X, Y, progress=progress)
    elif model_params:
        raise ParameterError(f"model parameters {sorted(model_params)} given with a fitted model; give one or "
                             f"the other")
    return save_refined_labels(model, X, Y, out_dir, names=[p.name for p in pairs], temperature=temperature,
                               progress=progress)
