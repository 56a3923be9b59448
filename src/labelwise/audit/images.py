"""The segmentation label audit of a folder a user brings: images plus masks in, a :class:`SegmentationAuditResult` out.

Workflow floor. :func:`audit_images` reads the images and their masks (a folder of mask PNGs matched by file stem, or
one COCO JSON file), takes the user's out-of-sample class probabilities or computes them out of fold, and runs the
segmentation audit of :mod:`labelwise.audit.segmentation` (cleanlab's ``segmentation`` functions, mirrored):

- image scores: ``get_label_quality_scores(..., method="softmin")``, in [0, 1], lower meaning more likely mislabelled;
- suspect pixels: ``find_label_issues`` (confident learning with every pixel an example);
- the model's own class per pixel (the argmax of the probabilities), to say what a suspect pixel probably is.

Image order, everywhere (the arrays, ``pred_probs``' first axis, the saved files): the images sorted by name (their
file stem).

Sizes: every image is audited at one size (the arrays are ``(N, H, W)``). Images of different sizes are an error
that lists the sizes, unless ``resize=(height, width)`` is given: images are then resized bilinearly and masks by
nearest neighbour (class ids are never blended). Before anything large is read, the memory the audit needs is
estimated (see :func:`memory_needed`); above the limit (default: half the physical memory) it stops with an error
that says how small a ``resize`` would fit.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from labelwise.data.atomic import atomic_path, write_text_atomic
from labelwise.data.images import (
    Palette, as_palette, pair_folders, png_palette, read_image, read_mask, size_mismatch,
)
from labelwise.errors import DataError, ParameterError, ShapeError
from labelwise.progress import ProgressCallback, report

PathLike = Union[str, Path]
FORMAT_VERSION = 1
ARRAYS_FILE = "segmentation_arrays.npz"
SUMMARY_FILE = "segmentation_summary.json"
IMAGES_TABLE = "images.csv"
CLASSES_TABLE = "per_class.csv"
CONFUSED_TABLE = "confused_pixels.csv"
DEFAULT_THRESHOLD = 0.1  # cleanlab's issues_from_scores threshold on the image scores

__all__ = ["SegmentationAuditResult", "audit_images", "memory_needed"]


# ---- the result ----------------------------------------------------------------------------------------------------

@dataclass
class SegmentationAuditResult:
    """What :func:`audit_images` found, image by image and pixel by pixel.

    names: ``(N,)`` image names (file stems), sorted; image_paths: ``(N,)`` the image files;
    class_names: ``(K,)``, class 0 first; image_scores: ``(N,) float`` label quality in [0, 1] (softmin of the
    pixels' self-confidence; lower is worse); issue_masks: ``(N, H, W) bool``, the suspect pixels; labels:
    ``(N, H, W) int64`` the given masks (as audited, after any resize); predicted: ``(N, H, W) int64`` the model's
    class per pixel; colors: ``(K, 3) uint8`` class colours from the palette (or the masks' own colour table), None
    when the masks had none; settings: how the audit ran (sources, size, resize, threshold, where the probabilities
    came from).
    """

    names: list
    image_paths: list
    class_names: list
    image_scores: np.ndarray
    issue_masks: np.ndarray
    labels: np.ndarray
    predicted: np.ndarray
    colors: Optional[np.ndarray] = None
    settings: dict = field(default_factory=dict)

    # ---- derived figures ---------------------------------------------------------------------------------------
    @property
    def n_images(self) -> int:
        return len(self.names)

    @property
    def threshold(self) -> float:
        return float(self.settings.get("threshold", DEFAULT_THRESHOLD))

    @property
    def issue_pixels(self) -> np.ndarray:
        """``(N,) int64``: suspect pixels per image."""
        return self.issue_masks.reshape(self.n_images, -1).sum(axis=1).astype(np.int64)

    @property
    def is_label_issue(self) -> np.ndarray:
        """``(N,) bool``: images whose score is below :attr:`threshold` (cleanlab's image-level cut)."""
        return self.image_scores < self.threshold

    @property
    def empty_mask(self) -> np.ndarray:
        """``(N,) bool``: masks that are all background (class 0): an image with nothing in it, or a label
        forgotten. They are audited like the others; the model's class shows which is which."""
        return ~self.labels.reshape(self.n_images, -1).any(axis=1)

    def confusion(self) -> np.ndarray:
        """``(K, K) int64``: suspect pixels by given class (rows) and the model's class (columns)."""
        k = len(self.class_names)
        pairs = self.labels[self.issue_masks] * k + self.predicted[self.issue_masks]
        return np.bincount(pairs, minlength=k * k).reshape(k, k).astype(np.int64)

    def confusion_of(self, i: int, top: int = 3) -> list:
        """Image ``i``'s most frequent (given class, model's class, pixels) among its suspect pixels."""
        k = len(self.class_names)
        sel = self.issue_masks[i]
        counts = np.bincount(self.labels[i][sel] * k + self.predicted[i][sel], minlength=k * k)
        order = [j for j in np.argsort(-counts, kind="stable")[:top] if counts[j] > 0]
        return [(self.class_names[j // k], self.class_names[j % k], int(counts[j])) for j in order]

    def per_class(self):
        """A DataFrame, one row per class: ``class, pixels`` (labelled so), ``issue_pixels`` (of those, suspect),
        ``issue_share``, ``suggested_pixels`` (suspect pixels the model puts in this class), ``images`` (images
        holding the class)."""
        import pandas as pd

        k = len(self.class_names)
        pixels = np.bincount(self.labels.ravel(), minlength=k)[:k]
        conf = self.confusion()
        present = np.zeros(k, dtype=np.int64)
        for mask in self.labels:
            present[np.unique(mask)] += 1
        return pd.DataFrame({
            "class": list(self.class_names), "pixels": pixels.astype(np.int64),
            "issue_pixels": conf.sum(axis=1), "issue_share": conf.sum(axis=1) / np.maximum(pixels, 1),
            "suggested_pixels": conf.sum(axis=0), "images": present,
        })

    def confused_pairs(self):
        """A DataFrame of (given, suggested, pixels) over all suspect pixels, most frequent first."""
        import pandas as pd

        conf = self.confusion()
        rows = [(self.class_names[a], self.class_names[b], int(conf[a, b]))
                for a, b in zip(*np.nonzero(conf)) if a != b]
        frame = pd.DataFrame(rows, columns=["given", "suggested", "pixels"])
        return frame.sort_values("pixels", ascending=False, kind="stable").reset_index(drop=True)

    def to_frame(self):
        """One row per image, in name order: ``image, path, label_quality, is_label_issue, issue_pixels,
        issue_share, empty_mask, main_confusion`` (the most frequent ``given -> suggested`` among its suspect
        pixels)."""
        import pandas as pd

        pixels = self.issue_pixels
        area = max(1, self.labels[0].size) if self.n_images else 1
        main = []
        for i in range(self.n_images):
            top = self.confusion_of(i, top=1)
            main.append(f"{top[0][0]} -> {top[0][1]}" if top else "")
        return pd.DataFrame({
            "image": list(self.names), "path": [str(p) for p in self.image_paths],
            "label_quality": self.image_scores.astype(np.float64), "is_label_issue": self.is_label_issue,
            "issue_pixels": pixels, "issue_share": pixels / area, "empty_mask": self.empty_mask,
            "main_confusion": main,
        })

    def worst(self, n: int = 10):
        """The ``n`` images of lowest label quality (rows of :meth:`to_frame`, worst first; ties by name)."""
        frame = self.to_frame()
        return frame.sort_values(["label_quality", "image"], kind="stable").head(n)

    def image(self, i: int) -> np.ndarray:
        """Image ``i`` read again from its file, at the audited size: ``(H, W, 3) float32`` (for the report)."""
        image = read_image(self.image_paths[i])
        if image.shape[:2] != self.labels.shape[1:]:
            image = _resize_image(image, self.labels.shape[1:])
        return image

    # ---- files -------------------------------------------------------------------------------------------------
    def save(self, directory: PathLike) -> Path:
        """Write the audit into ``directory``, each file atomically: ``images.csv`` (one row per image),
        ``per_class.csv``, ``confused_pixels.csv`` and ``segmentation_summary.json`` for people; for :meth:`load`,
        ``segmentation_arrays.npz`` (compressed: scores, suspect-pixel masks, given and predicted masks, colours)
        with the summary."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        store = _small_int(max(len(self.class_names) - 1, 0))
        arrays = {"image_scores": self.image_scores.astype(np.float64),
                  "issue_masks": np.packbits(self.issue_masks.astype(bool), axis=-1),
                  "labels": self.labels.astype(store), "predicted": self.predicted.astype(store)}
        if self.colors is not None:
            arrays["colors"] = np.asarray(self.colors, dtype=np.uint8)
        with atomic_path(directory / ARRAYS_FILE) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        from labelwise.data.io import write_table_atomic

        write_table_atomic(self.to_frame(), directory / IMAGES_TABLE)
        write_table_atomic(self.per_class(), directory / CLASSES_TABLE)
        write_table_atomic(self.confused_pairs(), directory / CONFUSED_TABLE)
        summary = {
            "format_version": FORMAT_VERSION, "kind": "segmentation", "images": self.n_images,
            "height": int(self.labels.shape[1]) if self.n_images else 0,
            "width": int(self.labels.shape[2]) if self.n_images else 0,
            "classes": len(self.class_names), "flagged_images": int(self.is_label_issue.sum()),
            "issue_pixels": int(self.issue_pixels.sum()), "empty_masks": int(self.empty_mask.sum()),
            "threshold": self.threshold, "class_names": list(map(str, self.class_names)),
            "names": list(map(str, self.names)), "image_paths": [str(p) for p in self.image_paths],
            "settings": self.settings,
        }
        write_text_atomic(directory / SUMMARY_FILE, json.dumps(summary, indent=1) + "\n")
        return directory

    @classmethod
    def load(cls, directory: PathLike) -> "SegmentationAuditResult":
        """The audit :meth:`save` wrote into ``directory``; a DataError for a folder that is not one."""
        directory = Path(directory)
        missing = [n for n in (SUMMARY_FILE, ARRAYS_FILE) if not (directory / n).is_file()]
        if missing:
            raise DataError(f"{directory} is not a segmentation audit folder (it lacks {', '.join(missing)}); give "
                            f"the folder that `labelwise audit-images IMAGES MASKS --out DIR` wrote")
        try:
            summary = json.loads((directory / SUMMARY_FILE).read_text(encoding="utf-8"))
            if summary["format_version"] > FORMAT_VERSION:
                raise DataError(f"{directory} was written by a newer labelwise (segmentation audit format "
                                f"{summary['format_version']}; this one reads {FORMAT_VERSION}); upgrade labelwise")
            with np.load(directory / ARRAYS_FILE, allow_pickle=False) as stored:
                arrays = {key: stored[key] for key in stored.files}
            n, h, w = summary["images"], summary["height"], summary["width"]
            issues = np.unpackbits(arrays["issue_masks"], axis=-1, count=w).astype(bool).reshape(n, h, w)
            result = cls(names=summary["names"], image_paths=[Path(p) for p in summary["image_paths"]],
                         class_names=summary["class_names"], image_scores=arrays["image_scores"],
                         issue_masks=issues, labels=arrays["labels"].astype(np.int64),
                         predicted=arrays["predicted"].astype(np.int64), colors=arrays.get("colors"),
                         settings=summary["settings"])
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
            raise DataError(f"{directory} holds a damaged segmentation audit ({type(err).__name__}: {err}); run "
                            f"`labelwise audit-images` again") from None
        if len({len(result.names), len(result.image_scores), len(result.labels)}) != 1:
            raise DataError(f"{directory}: its files do not belong together (different image counts); run the audit "
                            f"again")
        return result

    def __repr__(self) -> str:
        h, w = self.labels.shape[1:] if self.n_images else (0, 0)
        return (f"SegmentationAuditResult({self.n_images:,} images of {w}x{h}, {len(self.class_names)} classes, "
                f"{int(self.is_label_issue.sum()):,} flagged, {int(self.issue_pixels.sum()):,} suspect pixels)")


def _small_int(top: int):
    return np.uint8 if top <= 255 else np.uint16 if top <= 65535 else np.int64


# ---- reading the inputs --------------------------------------------------------------------------------------------

@dataclass
class _Source:
    """The images and how to read each one's mask, before anything large is read."""

    masks: Path
    names: list
    image_paths: list
    read_mask: object  # (i, num_classes or None) -> (H, W) int64, checked to hold ids below num_classes
    class_names: Optional[list]
    colors: Optional[np.ndarray]
    mask_paths: Optional[list] = None  # the mask files (None for a COCO file)


def _open_source(images_dir: Path, masks: Path, palette: Optional[Palette]) -> _Source:
    if not masks.exists():
        raise DataError(f"masks {masks} do not exist: give a folder of mask PNGs or a COCO .json file")
    if masks.is_file():
        if masks.suffix.lower() != ".json":
            raise DataError(f"masks {masks} is a file but not a COCO .json file; give a folder of mask PNGs "
                            f"(one per image, same name) or a COCO JSON file")
        from labelwise.data.coco_masks import read_coco

        coco = read_coco(masks)
        if not images_dir.is_dir():
            raise DataError(f"images folder {images_dir} does not exist or is not a folder")
        paths = [coco.image_path(im, images_dir) for im in coco.images]
        return _Source(masks=masks, names=[im.name for im in coco.images], image_paths=paths,
                       read_mask=lambda i, k: coco.mask(coco.images[i]), class_names=list(coco.names), colors=None)
    pairs = pair_folders(images_dir, masks)
    labels = [p.label for p in pairs]
    colors = None
    if palette is not None:
        colors = np.array([palette.color_of(c) for c in range(len(palette.names))], dtype=np.uint8)
    else:
        table = png_palette(labels[0])
        if table is not None:
            colors = table
    return _Source(masks=masks, names=[p.name for p in pairs], image_paths=[p.image for p in pairs],
                   read_mask=lambda i, k: read_mask(labels[i], palette=palette, num_classes=k),
                   class_names=list(palette.names) if palette is not None else None, colors=colors,
                   mask_paths=labels)


def _image_size(path: Path) -> tuple:
    """``(H, W)`` from the file's header, without decoding the pixels."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            width, height = img.size
    except Exception as exc:
        raise DataError(f"image {path} cannot be read as an image ({type(exc).__name__}: {exc}); re-export it as "
                        f"PNG") from None
    return height, width


def _size_groups(sizes: Sequence[tuple], names: Sequence[str]) -> str:
    groups: dict = {}
    for size, name in zip(sizes, names):
        groups.setdefault(size, []).append(name)
    parts = sorted(groups.items(), key=lambda g: -len(g[1]))
    return "; ".join(f"{w}x{h}: {len(members)} ({', '.join(members[:3])}{' ...' if len(members) > 3 else ''})"
                     for (h, w), members in parts[:5]) + (" ..." if len(parts) > 5 else "")


def memory_needed(n: int, height: int, width: int, k: int, *, probs: str = "file") -> int:
    """Bytes the audit holds at its peak for ``n`` images of ``height x width`` and ``k`` classes: per pixel, the
    given and predicted masks and the suspect pixels (17 bytes) and the pixel scores (8), and by where the
    probabilities come from (``probs``): ``"file"`` (a .npy read in batches) nothing more; ``"array"`` (held in
    memory) ``4 k`` (float32); ``"model"`` (the out-of-fold pixel model) the images (12), the probabilities
    (``4 k``), one fold's float64 probabilities (at most ``4 k``) and the model's 54 float32 features, twice while
    they are assembled (432)."""
    extra = {"file": 0, "array": 4 * k, "model": 12 + 8 * k + 432}
    if probs not in extra:
        raise ParameterError(f"probs must be one of {', '.join(extra)}; got {probs!r}")
    return int(n) * int(height) * int(width) * (17 + 8 + extra[probs])


def _check_memory(n, size, k, probs, limit, resize_given) -> None:
    from labelwise.audit.memory_budget import parse_memory, physical_memory

    limit_bytes = parse_memory(limit) if limit is not None else (physical_memory() or 8 * 2**30) // 2
    need = memory_needed(n, size[0], size[1], k, probs=probs)
    if need <= limit_bytes:
        return
    scale = (limit_bytes / need) ** 0.5
    h, w = max(1, int(size[0] * scale)), max(1, int(size[1] * scale))
    how = f"a smaller resize (at most about {w}x{h})" if resize_given else f"resize (e.g. --resize {w}x{h})"
    raise DataError(f"auditing {n:,} images of {size[1]}x{size[0]} with {k} classes needs about "
                    f"{need / 2**30:.1f} GiB of memory, more than the {limit_bytes / 2**30:.1f} GiB allowed; pass "
                    f"{how}, audit the images in smaller folders, or raise the memory limit")


def _resize_image(image: np.ndarray, size: tuple) -> np.ndarray:
    from PIL import Image

    channels = [Image.fromarray(image[..., c].astype(np.float32), mode="F").resize((size[1], size[0]),
                                                                                  Image.Resampling.BILINEAR)
                for c in range(image.shape[2])]
    return np.stack([np.asarray(c) for c in channels], axis=-1).clip(0, 1).astype(np.float32)


def _resize_mask(mask: np.ndarray, size: tuple) -> np.ndarray:
    h, w = mask.shape
    rows = np.minimum(((np.arange(size[0]) + 0.5) * h / size[0]).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(size[1]) + 0.5) * w / size[1]).astype(np.int64), w - 1)
    return mask[rows][:, cols]


def _load_probs(pred_probs, n: int, size: tuple, k: Optional[int], names: list):
    """``pred_probs`` as an ``(N, K, H, W)`` array (a ``.npy`` path is memory-mapped), checked against the images."""
    source = None
    if isinstance(pred_probs, (str, Path)):
        source = Path(pred_probs)
        if not source.is_file():
            raise DataError(f"pred_probs file {source} does not exist: check the path")
        if source.suffix.lower() != ".npy":
            raise DataError(f"pred_probs {source} must be a .npy file of shape (N, K, H, W) (np.save); got "
                            f"{source.suffix or 'no suffix'}")
        try:
            pred_probs = np.load(source, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"pred_probs {source} cannot be read as a .npy array ({exc}); save it with np.save") \
                from None
    elif not hasattr(pred_probs, "shape"):  # nested lists
        pred_probs = np.asarray(pred_probs)
    where = f"pred_probs {source}" if source is not None else "pred_probs"
    shape = tuple(getattr(pred_probs, "shape", np.shape(pred_probs)))
    order = f"images in sorted name order: {', '.join(names[:3])}{' ...' if n > 3 else ''}"
    if len(shape) != 4 or shape[0] != n or shape[2:] != tuple(size):
        hint = ""
        if len(shape) == 4 and shape[0] == n and shape[1:3] == tuple(size):
            hint = "; the classes look to be on the last axis: pass np.moveaxis(probs, -1, 1)"
        raise ShapeError(f"{where} has shape {shape}, but the audit has {n} images of {size[1]}x{size[0]}: it must "
                         f"be (N, K, H, W) = ({n}, K, {size[0]}, {size[1]}), {order}{hint}")
    if k is not None and shape[1] != k:
        raise ShapeError(f"{where} has {shape[1]} classes on axis 1, but the class list has {k}; give one "
                         f"probability per class, in class-id order")
    if not np.issubdtype(np.dtype(getattr(pred_probs, "dtype", np.float64)), np.floating):
        raise ShapeError(f"{where} holds {pred_probs.dtype} values; it must hold probabilities (floats)")
    return pred_probs, source


def _predicted(pred_probs, chunk: int = 16) -> np.ndarray:
    """``(N, H, W) int64``: the argmax over classes, read ``chunk`` images at a time (memmap-friendly)."""
    n, _, h, w = pred_probs.shape
    out = np.empty((n, h, w), dtype=np.int64)
    for start in range(0, n, chunk):
        out[start:start + chunk] = np.asarray(pred_probs[start:start + chunk]).argmax(axis=1)
    return out


def _class_names(known: Optional[list], given: Optional[Sequence[str]], masks: Path) -> Optional[list]:
    """The class names: ``given`` (checked against the palette's or COCO file's count), else ``known``."""
    if given is None:
        return known
    given = [str(c) for c in given]
    if len(set(given)) != len(given):
        raise ParameterError(f"class names must differ from each other; got {', '.join(given)}")
    if known is not None and len(known) != len(given):
        what = "the COCO file's categories (with background first)" if masks.is_file() else "the palette"
        raise ParameterError(f"{len(given)} class names were given, but {what} defines {len(known)} classes "
                             f"({', '.join(known[:10])}); give as many names, or leave them out")
    return given


def _read_arrays(source: _Source, sizes: list, size: tuple, k: Optional[int], *, with_images: bool,
                 progress: Optional[ProgressCallback]) -> tuple:
    """``(images (N, H, W, 3) float32 or None, labels (N, H, W) int64)`` at ``size``, each mask checked against its
    image's size and (with ``k``) the class count."""
    n = len(source.names)
    images = np.empty((n, *size, 3), dtype=np.float32) if with_images else None
    labels = np.empty((n, *size), dtype=np.int64)
    for i in range(n):
        report(progress, "reading images", i, n)
        mask = source.read_mask(i, k)
        if mask.shape != sizes[i] and source.mask_paths is None:  # COCO
            raise DataError(f"{source.masks} gives image {source.names[i]!r} as {mask.shape[1]}x{mask.shape[0]} "
                            f"(width x height) but {source.image_paths[i]} is {sizes[i][1]}x{sizes[i][0]}; fix its "
                            f"width and height in the COCO file (and its polygons if they were drawn on another size)")
        if mask.shape != sizes[i]:
            raise size_mismatch(source.mask_paths[i], mask.shape, source.image_paths[i], sizes[i])
        labels[i] = _resize_mask(mask, size) if mask.shape != size else mask
        if images is not None:
            image = read_image(source.image_paths[i])
            images[i] = _resize_image(image, size) if image.shape[:2] != size else image
    report(progress, "reading images", n, n)
    return images, labels


def audit_images(
    images_dir: PathLike,
    masks: PathLike,
    *,
    pred_probs=None,
    palette: Union[PathLike, Palette, Mapping, None] = None,
    class_names: Optional[Sequence[str]] = None,
    n_splits: int = 5,
    random_state: int = 0,
    resize: Optional[tuple] = None,
    threshold: float = DEFAULT_THRESHOLD,
    memory_limit: Union[str, int, None] = None,
    progress: Optional[ProgressCallback] = None,
) -> SegmentationAuditResult:
    """Audit the segmentation labels of a folder of images.

    images_dir: the images (PNG, JPEG, ...). masks: a folder of masks with the images' file stems (grey or palette
    PNG class ids, or colour PNGs with ``palette``), or a COCO JSON file (polygons / RLE; images found by
    ``file_name`` under images_dir).
    pred_probs: ``(N, K, H, W)`` out-of-sample class probabilities per pixel, images in sorted name order: an array
    or a ``.npy`` path (memory-mapped, read in batches). None: a small per-pixel model is trained out of fold
    (``n_splits`` folds by image, ``random_state``) with :func:`labelwise.audit.segmentation.pixel_model
    .out_of_fold_pixel_probs`.
    palette: a palette file path, a :class:`~labelwise.data.images.Palette` or ``{(r, g, b): id}``: colour masks are
    read through it and its names name the classes. class_names: ``(K,)`` names of classes ``0 .. K-1`` (for
    class-id masks; with a palette or COCO file they must agree in number).
    resize: ``(height, width)`` to audit images of mixed sizes (or large ones) at one size; pred_probs then has that
    size. threshold: image score below which an image is flagged (cleanlab's 0.1). memory_limit: e.g. ``"8GB"``
    (default half the physical memory). progress: ``progress(stage, done, total)``.
    """
    images_dir, masks = Path(images_dir), Path(masks)
    if not 0 <= float(threshold) <= 1:
        raise ParameterError(f"threshold is an image score between 0 and 1; got {threshold}")
    if int(n_splits) < 2:
        raise ParameterError(f"n_splits must be 2 or more (folds by image); got {n_splits}")
    if resize is not None:
        resize = tuple(int(v) for v in resize)
        if len(resize) != 2 or min(resize) < 1:
            raise ParameterError(f"resize is (height, width) in pixels, both 1 or more; got {resize}")
    if palette is not None and masks.is_file():
        raise ParameterError(f"a palette maps the colours of mask images to classes, but {masks} is a COCO file, which "
                             f"names its own classes; leave the palette out (class_names / --classes renames them)")
    palette = as_palette(palette)
    source = _open_source(images_dir, masks, palette)
    names = _class_names(source.class_names, class_names, masks)
    n = len(source.names)
    if pred_probs is None and n < 2:
        raise DataError(f"there is {n} image in {images_dir}: the out-of-fold model needs 2 or more (it scores each "
                        f"image with a model trained on the others); add images or give pred_probs")
    sizes = [_image_size(p) for p in source.image_paths]
    if resize is None and len(set(sizes)) > 1:
        raise DataError(f"the {n} images in {images_dir} have {len(set(sizes))} sizes "
                        f"({_size_groups(sizes, source.names)}); the audit compares them at one size: pass resize (--resize WIDTHxHEIGHT) or audit each "
                        f"size in its own folder")
    size = resize if resize is not None else sizes[0]
    probs_kind = ("model" if pred_probs is None else "file" if isinstance(pred_probs, (str, Path, np.memmap))
                  else "array")
    k_guess = len(names) if names is not None else 2  # known after the masks are read: checked again then
    _check_memory(n, size, k_guess, probs_kind, memory_limit, resize is not None)
    probs_from = "out-of-fold pixel model" if pred_probs is None else "array"
    if pred_probs is not None:
        pred_probs, probs_path = _load_probs(pred_probs, n, size, None if names is None else len(names),
                                               source.names)
        probs_from = str(probs_path) if probs_path is not None else probs_from
        if names is None:
            names = [str(i) for i in range(pred_probs.shape[1])]
    k = None if names is None else len(names)

    images, labels = _read_arrays(source, sizes, size, k, with_images=pred_probs is None, progress=progress)
    if k is None:
        k = int(labels.max()) + 1 if labels.size else 1
        names = [str(i) for i in range(k)]
        if probs_kind == "model":
            _check_memory(n, size, k, probs_kind, memory_limit, resize is not None)
    if k < 2:
        raise DataError(f"every mask in {masks} is all background (class 0): there is nothing to audit; check that "
                        f"the masks hold class ids (a palette for colour masks)")
    from labelwise.audit.segmentation import find_label_issues, get_label_quality_scores

    if pred_probs is None:
        from labelwise.audit.segmentation.pixel_model import out_of_fold_pixel_probs

        pred_probs = out_of_fold_pixel_probs(images, labels, k, n_splits=min(int(n_splits), n),
                                             random_state=random_state, progress=progress)
        del images
    try:
        image_scores, _ = get_label_quality_scores(labels, pred_probs, method="softmin", progress=progress)
        issues = find_label_issues(labels, pred_probs, progress=progress)
    except ShapeError as err:  # values checked batch by batch (NaN, logits): say which file, and the image order
        if probs_from in ("array", "out-of-fold pixel model"):
            raise
        raise ShapeError(f"{probs_from}: {err} (its images are in sorted name order: {source.names[0]}, ...)") \
            from None
    predicted = _predicted(pred_probs)
    settings = {
        "images_dir": str(images_dir), "masks": str(masks), "masks_kind": "coco" if masks.is_file() else "folder",
        "pred_probs": probs_from,
        "n_splits": int(n_splits), "random_state": int(random_state),
        "resize": list(resize) if resize is not None else None, "threshold": float(threshold),
    }
    return SegmentationAuditResult(names=source.names, image_paths=source.image_paths, class_names=names,
                                   image_scores=np.asarray(image_scores, dtype=np.float64), issue_masks=issues,
                                   labels=labels, predicted=predicted, colors=_colors(source.colors, k),
                                   settings=settings)


def _colors(colors: Optional[np.ndarray], k: int) -> Optional[np.ndarray]:
    if colors is None or len(colors) < k:
        return None
    return np.asarray(colors[:k], dtype=np.uint8)
