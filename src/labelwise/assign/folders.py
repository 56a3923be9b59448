"""Folders in, folders out: masks -> matte PNGs, and training a matte converter from files (the ``labelwise
convert`` commands' workflows).

:func:`masks_to_mattes`: for every image of ``images_dir`` and its mask of the same file stem in ``masks_dir``
(class-index PNGs as :func:`labelwise.data.images.read_mask` reads them, or 0/255 binary masks), the foreground
segment is turned into an alpha matte and written as an 8-bit grey PNG in ``out_dir``:

- which pixels are foreground: by default every non-zero class (one matte per image, ``<stem>.png``); ``classes``
  restricts it to those class ids (their union); ``per_class=True`` writes one matte per class present in the mask
  instead (``<stem>_class<id>.png``), e.g. for a person matte and a dog matte from one mask. VOC-style masks mark an
  unlabelled band around objects with 255: pass ``classes`` so that band is not read as an object;
- how: ``method`` ``"guided"`` (the default: He's guided filter, untrained, works on any photograph), ``"feather"``,
  ``"closed-form"`` (pymatting; slow on large images) or ``"converter"`` (ZIM's learned converter, from ``weights``
  written by :meth:`MatteLabelConverter.save` / ``labelwise convert train-converter``). The default is a classical
  filter on principle: a converter trained on 64 x 64 procedural mattes has never seen a photograph, and one trained
  on the user's own matting pairs only knows their domain; the guided filter assumes nothing but that the object's
  edge is a colour edge;
- every file is written atomically; an output that already exists is skipped unless ``overwrite`` (a run killed
  half way resumes where it stopped); a mask whose size differs from its image is a :class:`DataError` naming both.

:func:`train_converter`: a :class:`MatteLabelConverter` fitted on a folder of images and their matte PNGs, optional
coarse pairs (images + masks, for STL) and/or ``synthetic`` procedural pairs, saved to ``out``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from labelwise.data.images import (as_palette, pair_folders, read_image, read_mask, read_matte, size_mismatch,
                                   write_matte)
from labelwise.errors import DataError, ParameterError
from labelwise.progress import ProgressCallback, report

PathLike = Union[str, Path]
METHODS = ("guided", "feather", "closed-form", "converter")
DEFAULT_METHOD = "guided"

__all__ = ["DEFAULT_METHOD", "METHODS", "ConversionResult", "masks_to_mattes", "train_converter"]


@dataclass
class ConversionResult:
    """What :func:`masks_to_mattes` did: the mattes ``written`` and ``skipped`` (already there), and the images
    whose mask holds none of the chosen classes (``empty``: an all-zero matte was written for them, or with
    ``per_class`` none)."""

    out_dir: Path
    method: str
    written: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    empty: list = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"ConversionResult({self.method}: {len(self.written)} written, {len(self.skipped)} skipped, "
                f"{len(self.empty)} without foreground, in {self.out_dir})")


def _matte_function(method: str, weights: Optional[PathLike]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``f(image (H, W, 3), seg (H, W)) -> matte (H, W)`` for ``method``."""
    if method not in METHODS:
        raise ParameterError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if weights is not None and method != "converter":
        raise ParameterError(f"weights are used by method 'converter' only, not {method!r}; drop them or choose "
                             f"method 'converter'")
    from labelwise.assign import matte_baselines as base

    if method == "guided":
        return base.guided_filter_matte
    if method == "feather":
        return lambda image, seg: base.feather_matte(seg)
    if method == "closed-form":
        return base.closed_form_matte
    if weights is None:
        raise ParameterError("method 'converter' needs the converter's weights: train them with 'labelwise convert "
                             "train-converter' (or MatteLabelConverter.save) and pass the file (--weights FILE; "
                             "weights= in Python)")
    try:
        from labelwise.assign.matte_converter import MatteLabelConverter
    except ImportError as exc:
        from labelwise.errors import MissingExtraError

        raise MissingExtraError("torch", "learn", "the learned matte converter") from exc
    converter = MatteLabelConverter.load(weights)
    return lambda image, seg: converter.convert(image[None], seg[None])[0]


def _targets(mask: np.ndarray, classes: Optional[Sequence[int]], per_class: bool) -> list:
    """``[(suffix, seg (H, W) float32 {0, 1})]`` for one mask: one union segment, or one per present class."""
    if per_class:
        present = [int(c) for c in np.unique(mask) if c != 0 and (classes is None or c in classes)]
        return [(f"_class{c}", (mask == c).astype(np.float32)) for c in present]
    chosen = mask != 0 if classes is None else np.isin(mask, list(classes))
    return [("", chosen.astype(np.float32))]


def masks_to_mattes(images_dir: PathLike, masks_dir: PathLike, out_dir: PathLike, *, method: str = DEFAULT_METHOD,
                    weights: Optional[PathLike] = None, classes: Optional[Sequence[int]] = None,
                    per_class: bool = False, overwrite: bool = False, palette: Optional[Any] = None,
                    progress: Optional[ProgressCallback] = None) -> ConversionResult:
    """Write one matte PNG per image (or per image and class) of ``images_dir`` into ``out_dir`` (see the module
    docstring). ``palette``: for colour masks, a palette file, a :class:`labelwise.data.images.Palette` or
    ``{(r, g, b): class_id}``. ``progress("mattes", done, total)`` per image."""
    if classes is not None:
        classes = [int(c) for c in classes]
        if not classes:
            raise ParameterError("classes is empty: give at least one class id, or None for every non-zero class")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"output folder {out_dir} is a file; give a folder (created if missing)")
    pairs = pair_folders(images_dir, masks_dir)
    matte = _matte_function(method, weights)
    palette = as_palette(palette)
    for pair in pairs:  # image headers only: a wrong pair fails now, not after an hour of work
        _same_size(pair, _header_size(pair.image), _header_size(pair.label))
    result = ConversionResult(out_dir, method)
    out_dir.mkdir(parents=True, exist_ok=True)
    report(progress, "mattes", 0, len(pairs))
    for done, pair in enumerate(pairs, 1):
        single = out_dir / f"{pair.name}.png"
        if not per_class and single.exists() and not overwrite:
            result.skipped.append(single)
            report(progress, "mattes", done, len(pairs))
            continue
        mask = read_mask(pair.label, palette=palette)
        image = read_image(pair.image)
        _same_size(pair, image.shape[1::-1], mask.shape[::-1])
        targets = _targets(mask, classes, per_class)
        if not targets or not any(seg.any() for _, seg in targets):
            result.empty.append(pair.name)
        for suffix, seg in targets:
            path = out_dir / f"{pair.name}{suffix}.png"
            if path.exists() and not overwrite:
                result.skipped.append(path)
                continue
            write_matte(path, matte(image, seg) if seg.any() else seg)
            result.written.append(path)
        report(progress, "mattes", done, len(pairs))
    return result


def _header_size(path: Path) -> tuple:
    """(width, height) from the file's header (the pixels are not decoded); None when Pillow cannot tell."""
    try:
        from PIL import Image

        with Image.open(path) as img:
            return img.size
    except Exception:  # unreadable: read_image / read_mask name the file and the fix when they get to it
        return None


def _same_size(pair, image_size, label_size, what: str = "mask") -> None:
    """:func:`labelwise.data.images.size_mismatch` when the image and its label differ in size ((width, height);
    None: unknown)."""
    if image_size is not None and label_size is not None and tuple(image_size) != tuple(label_size):
        raise size_mismatch(pair.label, tuple(label_size)[::-1], pair.image, tuple(image_size)[::-1], what=what)


def _read_pairs(images_dir: PathLike, labels_dir: PathLike, read_label: Callable,
                what: str) -> tuple[list, list]:
    images, labels = [], []
    for pair in pair_folders(images_dir, labels_dir, label_suffixes=(".png", ".bmp", ".tif", ".tiff")):
        image, label = read_image(pair.image), read_label(pair.label)
        _same_size(pair, image.shape[1::-1], label.shape[::-1], what)
        images.append(image)
        labels.append(label)
    return images, labels


def train_converter(out: PathLike, *, images_dir: Optional[PathLike] = None, mattes_dir: Optional[PathLike] = None,
                    coarse_images_dir: Optional[PathLike] = None, coarse_masks_dir: Optional[PathLike] = None,
                    synthetic: int = 0, synthetic_size: int = 64, random_state: int = 0,
                    progress: Optional[ProgressCallback] = None, **params: Any):
    """Fit a :class:`MatteLabelConverter` (``params`` go to its constructor) and save it to ``out``; returns it.

    Matting pairs: ``images_dir`` + ``mattes_dir`` (matte PNGs, same stems) and/or ``synthetic`` procedural pairs
    (75 % fine objects, whose mattes are the targets; the coarse quarter become STL pairs). Coarse pairs for STL:
    ``coarse_images_dir`` + ``coarse_masks_dir`` (masks: every non-zero class is the object).
    """
    from labelwise.assign.matte_converter import MatteLabelConverter

    if (images_dir is None) != (mattes_dir is None):
        raise ParameterError("give both the images folder and the mattes folder, or neither (with synthetic pairs)")
    if (coarse_images_dir is None) != (coarse_masks_dir is None):
        raise ParameterError("give both the coarse images folder and the coarse masks folder, or neither")
    if images_dir is None and not synthetic:
        raise ParameterError("nothing to train on: give an images folder and a mattes folder, or synthetic pairs")
    if synthetic < 0:
        raise ParameterError(f"synthetic must be a number of pairs (0 or more); got {synthetic}")
    images, alphas, coarse_images, coarse_segs = [], [], [], []
    if images_dir is not None:
        images, alphas = _read_pairs(images_dir, mattes_dir, read_matte, "matte")
    if coarse_images_dir is not None:
        coarse_images, masks = _read_pairs(coarse_images_dir, coarse_masks_dir, read_mask, "mask")
        coarse_segs = [(m != 0).astype(np.float32) for m in masks]
    if synthetic:
        from labelwise.assign.procedural_mattes import synthetic_mattes

        data = synthetic_mattes(int(synthetic), int(synthetic_size), seed=random_state)
        fine = data.kinds == "fine"
        images += list(data.images[fine])
        alphas += list(data.alphas[fine])
        coarse_images += list(data.images[~fine])
        coarse_segs += list(data.alphas[~fine])
    if not images:
        raise ParameterError("the synthetic pairs drawn hold no fine object; draw more (at least 4)")
    converter = MatteLabelConverter(random_state=random_state, **params)
    converter.fit(images, alphas, coarse_images or None, coarse_segs or None, progress=progress)
    converter.save(out)
    return converter
