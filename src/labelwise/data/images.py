"""Pixel labels on disk: images, class-index masks and alpha mattes as files in folders (vision extra).

Workflow floor: paths in, arrays out. Every problem names the file and the fix (:class:`DataError`).

- :func:`read_image`: any image Pillow reads -> ``(H, W, 3) float32`` in [0, 1] (grey is repeated, alpha dropped);
- :func:`read_mask`: a class-index mask -> ``(H, W) int64``. An 8- or 16-bit grey PNG holds the class ids as
  pixel values; a palette ("P" mode) PNG holds them as palette indices (how VOC and most tools save masks);
  a colour (RGB) mask needs ``palette``, a mapping ``(r, g, b) -> class id``, and names the first colour it does
  not know;
- :func:`read_matte`: an alpha matte -> ``(H, W) float32`` in [0, 1] (8-bit / 255, 16-bit / 65535);
- :func:`write_mask`, :func:`write_matte`: atomic PNG writes (temporary file, then rename);
- :func:`pair_folders`: images and labels matched by file stem, with an error listing what has no partner.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Union

import numpy as np

from labelwise.data.atomic import write_bytes_atomic
from labelwise.errors import DataError, MissingExtraError

PathLike = Union[str, Path]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff")  # lossless only: a JPEG mask has invented class ids at edges

__all__ = [
    "IMAGE_SUFFIXES", "MASK_SUFFIXES", "ImagePair", "pair_folders", "read_image", "read_mask", "read_matte",
    "write_mask", "write_matte",
]


def _pil():
    try:
        from PIL import Image
    except ImportError as exc:
        raise MissingExtraError("Pillow", "vision", "reading and writing image labels") from exc
    return Image


def _open(path: PathLike, what: str):
    Image = _pil()
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} {path} does not exist: check the path")
    try:
        img = Image.open(path)
        img.load()
    except Exception as exc:  # Pillow raises UnidentifiedImageError, OSError, SyntaxError... for broken files
        raise DataError(f"{what} {path} cannot be read as an image ({type(exc).__name__}: {exc}); "
                        f"re-export it as PNG") from None
    return img


def read_image(path: PathLike) -> np.ndarray:
    """``(H, W, 3) float32`` in [0, 1]; grey images are repeated over three channels, an alpha channel is dropped."""
    img = _open(path, "image")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max(initial=0) > 255 else 255.0
        arr = np.repeat((arr / top)[:, :, None], 3, axis=2)
        return arr.astype(np.float32)
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return arr


def read_mask(path: PathLike, *, palette: Optional[Mapping[tuple, int]] = None,
              num_classes: Optional[int] = None) -> np.ndarray:
    """A class-index mask: ``(H, W) int64``.

    palette: ``{(r, g, b): class_id}`` for colour masks (required for them; ignored for grey and palette PNGs).
    num_classes: when given, a class id outside ``0 .. num_classes - 1`` is an error naming the file and the id.
    """
    path = Path(path)
    if path.suffix.lower() in (".jpg", ".jpeg", ".webp"):
        raise DataError(f"mask {path} is a lossy {path.suffix} file: compression invents class ids along every edge; "
                        f"save masks as PNG")
    img = _open(path, "mask")
    if img.mode == "P":
        mask = np.asarray(img, dtype=np.int64)
    elif img.mode in ("L", "I", "I;16", "I;16B", "I;16L", "1"):
        mask = np.asarray(img).astype(np.int64)
    elif img.mode in ("RGB", "RGBA", "LA"):
        rgb = np.asarray(img.convert("RGB"))
        if palette is None:
            if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
                mask = rgb[..., 0].astype(np.int64)  # grey stored as RGB
            else:
                raise DataError(f"mask {path} is a colour image: give the colour of each class (a palette, "
                                f"'r,g,b=class' per line) or save class ids as a grey or palette PNG")
        else:
            mask = _apply_palette(rgb, palette, path)
    else:
        raise DataError(f"mask {path} has pixel mode {img.mode!r}; save it as a grey (L), 16-bit grey or palette "
                        f"(P) PNG with one class id per pixel")
    if num_classes is not None and mask.size:
        top = int(mask.max())
        if top >= num_classes or int(mask.min()) < 0:
            raise DataError(f"mask {path} holds class id {top}, but there are {num_classes} classes "
                            f"(0 .. {num_classes - 1}); fix the mask or the class list")
    return mask


def _apply_palette(rgb: np.ndarray, palette: Mapping[tuple, int], path: Path) -> np.ndarray:
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    keys = np.array([(int(r) << 16) | (int(g) << 8) | int(b) for r, g, b in palette], dtype=np.int64)
    values = np.array(list(palette.values()), dtype=np.int64)
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    pos = np.clip(np.searchsorted(keys, codes), 0, len(keys) - 1)
    known = keys[pos] == codes
    if not known.all():
        y, x = np.argwhere(~known)[0]
        r, g, b = (int(v) for v in rgb[y, x])
        raise DataError(f"mask {path} has colour ({r}, {g}, {b}) at row {y}, column {x}, which is not in the palette; "
                        f"add it to the palette or repaint those pixels")
    return values[pos]


def read_matte(path: PathLike) -> np.ndarray:
    """An alpha matte: ``(H, W) float32`` in [0, 1] (8-bit values / 255, 16-bit / 65535; colour mattes must be
    grey)."""
    img = _open(path, "matte")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        return (np.asarray(img, dtype=np.float64) / 65535.0).clip(0, 1).astype(np.float32)
    if img.mode in ("RGBA", "LA"):
        img = img.getchannel("A")  # a cut-out: its alpha is the matte
    elif img.mode != "L":
        rgb = np.asarray(img.convert("RGB"))
        if not ((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()):
            raise DataError(f"matte {path} is a colour image; a matte is one grey channel (or the alpha of an RGBA "
                            f"cut-out)")
        return (rgb[..., 0] / 255.0).astype(np.float32)
    return (np.asarray(img, dtype=np.float32) / 255.0)


def _png_bytes(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_mask(path: PathLike, mask: np.ndarray) -> Path:
    """Write a class-index mask ``(H, W) int`` as an 8-bit grey PNG (16-bit when an id is above 255), atomically."""
    Image = _pil()
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise DataError(f"a mask is (H, W) class ids; got shape {mask.shape} for {path}")
    if mask.size and (mask.min() < 0 or mask.max() > 65535):
        raise DataError(f"mask for {path} holds ids outside 0 .. 65535; map them to class indices first")
    if mask.size == 0 or mask.max() <= 255:
        img = Image.fromarray(mask.astype(np.uint8))
    else:
        img = Image.fromarray(mask.astype(np.uint16))
    return write_bytes_atomic(path, _png_bytes(img))


def write_matte(path: PathLike, matte: np.ndarray, *, bits: int = 8) -> Path:
    """Write an alpha matte ``(H, W) float`` in [0, 1] as an 8-bit (or ``bits=16``) grey PNG, atomically."""
    Image = _pil()
    matte = np.asarray(matte, dtype=np.float64)
    if matte.ndim != 2:
        raise DataError(f"a matte is (H, W) alpha values; got shape {matte.shape} for {path}")
    if not np.isfinite(matte).all():
        raise DataError(f"matte for {path} holds NaN or infinite values")
    matte = matte.clip(0.0, 1.0)
    if bits == 16:
        img = Image.fromarray(np.round(matte * 65535).astype(np.uint16))
    elif bits == 8:
        img = Image.fromarray(np.round(matte * 255).astype(np.uint8))
    else:
        raise DataError(f"bits must be 8 or 16, not {bits}")
    return write_bytes_atomic(path, _png_bytes(img))


@dataclass(frozen=True)
class ImagePair:
    """One image and its label file, matched by file stem (``name``)."""

    name: str
    image: Path
    label: Path


def _files(folder: Path, suffixes: tuple, what: str) -> dict:
    if not folder.is_dir():
        raise DataError(f"{what} folder {folder} does not exist or is not a folder")
    found: dict = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("."):
            if p.stem in found:
                raise DataError(f"{what} folder {folder} has two files named {p.stem!r} "
                                f"({found[p.stem].name}, {p.name}); keep one")
            found[p.stem] = p
    return found


def pair_folders(images_dir: PathLike, labels_dir: PathLike, *, label_suffixes: tuple = MASK_SUFFIXES,
                 allow_unlabelled: bool = False) -> list[ImagePair]:
    """Images and label files (masks or mattes) with the same stem, sorted by name.

    Raises DataError when a folder is empty, when a label has no image, or (unless ``allow_unlabelled``) when an
    image has no label; the message names up to five of the files.
    """
    images_dir, labels_dir = Path(images_dir), Path(labels_dir)
    images = _files(images_dir, IMAGE_SUFFIXES, "images")
    labels = _files(labels_dir, label_suffixes, "labels")
    if not images:
        raise DataError(f"images folder {images_dir} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    if not labels:
        raise DataError(f"labels folder {labels_dir} holds no label files ({', '.join(label_suffixes)})")
    orphans = sorted(set(labels) - set(images))
    if orphans:
        raise DataError(f"{len(orphans)} label file(s) in {labels_dir} have no image of the same name in "
                        f"{images_dir}: {', '.join(labels[s].name for s in orphans[:5])}"
                        f"{' ...' if len(orphans) > 5 else ''}; rename or remove them")
    missing = sorted(set(images) - set(labels))
    if missing and not allow_unlabelled:
        raise DataError(f"{len(missing)} image(s) in {images_dir} have no label file of the same name in "
                        f"{labels_dir}: {', '.join(images[s].name for s in missing[:5])}"
                        f"{' ...' if len(missing) > 5 else ''}; add their labels or move them out")
    return [ImagePair(s, images[s], labels[s]) for s in sorted(set(images) & set(labels))]
