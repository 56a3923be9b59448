"""Pixel labels on disk: images, class-index masks and alpha mattes as files in folders (vision extra).

Workflow floor: paths in, arrays out. Every problem names the file and the fix (:class:`DataError`).

- :func:`read_image`: any image Pillow reads -> ``(H, W, 3) float32`` in [0, 1] (grey is repeated, alpha dropped);
- :func:`read_mask`: a class-index mask -> ``(H, W) int64``. An 8- or 16-bit grey PNG holds the class ids as
  pixel values; a palette ("P" mode) PNG holds them as palette indices (how VOC and most tools save masks);
  a colour (RGB) mask needs ``palette``, a mapping ``(r, g, b) -> class id``, and names the first colour it does
  not know. With a palette given, a "P" PNG is read by colour too (its pixels' colours, looked up in the palette),
  so the class ids follow the palette file, not the order of the PNG's own colour table;
- :func:`read_palette`: a palette file (``r,g,b=class_name`` per line, or JSON) -> :class:`Palette` (colours and
  class names); :func:`png_palette`: the colour table of a "P" PNG;
- :func:`read_pair`: an image and its mask, checked to be the same size;
- :func:`read_matte`: an alpha matte -> ``(H, W) float32`` in [0, 1] (8-bit / 255, 16-bit / 65535);
- :func:`write_mask`, :func:`write_matte`: atomic PNG writes (temporary file, then rename);
- :func:`pair_folders`: images and labels matched by file stem, with an error listing what has no partner.
"""

from __future__ import annotations

import io
import re
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
    "IMAGE_SUFFIXES", "MASK_SUFFIXES", "ImagePair", "Palette", "pair_folders", "png_palette", "read_image",
    "read_mask", "read_matte", "read_pair", "read_palette", "size_mismatch", "write_mask", "write_matte",
]
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L")


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
    if img.mode in (*_SIXTEEN_BIT, "I"):
        arr = np.asarray(img, dtype=np.float64)
        # a 16-bit file is scaled by 65535 (a dark one stays dark); a 32-bit "I" image by its likely range
        top = 65535.0 if img.mode in _SIXTEEN_BIT or arr.max(initial=0) > 255 else 255.0
        arr = np.repeat((arr / top)[:, :, None], 3, axis=2)
        return arr.astype(np.float32)
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return arr


def read_mask(path: PathLike, *, palette: Optional[Mapping[tuple, int]] = None,
              num_classes: Optional[int] = None) -> np.ndarray:
    """A class-index mask: ``(H, W) int64``.

    palette: ``{(r, g, b): class_id}`` (or a :class:`Palette`) for colour masks: required for them; a palette ("P")
    PNG is then read by colour as well; ignored for grey masks.
    num_classes: when given, a class id outside ``0 .. num_classes - 1`` is an error naming the file and the id.
    """
    if isinstance(palette, Palette):
        palette = palette.colors
    path = Path(path)
    if path.suffix.lower() in (".jpg", ".jpeg", ".webp"):
        raise DataError(f"mask {path} is a lossy {path.suffix} file: compression invents class ids along every edge; "
                        f"save masks as PNG")
    img = _open(path, "mask")
    if img.mode == "P" and palette is not None:
        indices = np.asarray(img)
        mask = _apply_palette(np.asarray(img.convert("RGB")), palette, path, indices=indices)
    elif img.mode == "P":
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
            y, x = np.argwhere(mask == top)[0]
            void = " (255 often marks 'void' or 'ignore' pixels, as in VOC: map them to a class)" if top == 255 else ""
            raise DataError(f"mask {path} holds class id {top} (first at row {y}, column {x}), but there are "
                            f"{num_classes} classes (0 .. {num_classes - 1}){void}; fix the mask or the class list")
    return mask


def _apply_palette(rgb: np.ndarray, palette: Mapping[tuple, int], path: Path,
                   indices: Optional[np.ndarray] = None) -> np.ndarray:
    if not palette:
        raise DataError(f"the palette for mask {path} is empty; give one colour per class ('r,g,b=class' per line)")
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
        index = f" (palette index {int(indices[y, x])})" if indices is not None else ""
        raise DataError(f"mask {path} has colour ({r}, {g}, {b}){index} at row {y}, column {x}, which is not in the "
                        f"palette; add it to the palette or repaint those pixels")
    return values[pos]


def read_matte(path: PathLike) -> np.ndarray:
    """An alpha matte: ``(H, W) float32`` in [0, 1] (8-bit values / 255, 16-bit / 65535; colour mattes must be
    grey)."""
    img = _open(path, "matte")
    if img.mode in (*_SIXTEEN_BIT, "I"):
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
    if mask.dtype.kind == "f" and not (np.isfinite(mask).all() and (mask == np.round(mask)).all()):
        raise DataError(f"mask for {path} holds values that are not whole class ids; round or map them first")
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
class Palette:
    """Class colours and names, as a palette file gives them.

    colors: ``{(r, g, b): class_id}`` (several colours may share a class); names: ``names[class_id]`` is the class's
    name, class 0 first (usually the background).
    """

    colors: Mapping[tuple, int]
    names: tuple

    def color_of(self, class_id: int) -> tuple:
        """The first colour listed for ``class_id`` (for drawing masks in the colours the user knows)."""
        return next(color for color, cid in self.colors.items() if cid == class_id)


def as_palette(palette) -> Optional[Palette]:
    """A :class:`Palette` from what a caller may give: a palette file's path (:func:`read_palette`), a Palette, or a
    mapping ``{(r, g, b): class_id}`` (its classes named by their ids); None stays None."""
    if palette is None or isinstance(palette, Palette):
        return palette
    if isinstance(palette, (str, Path)):
        return read_palette(palette)
    colors = {tuple(int(v) for v in c): int(i) for c, i in dict(palette).items()}
    return Palette(colors=colors, names=tuple(str(i) for i in range(max(colors.values(), default=-1) + 1)))


_HEX_ENTRY = re.compile(r"#[0-9a-fA-F]{6}\s*=")


def _color(text: str, where: str) -> tuple:
    text = text.strip()
    if text.startswith("#") and len(text) == 7:
        try:
            return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))
        except ValueError:
            pass
    parts = [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise DataError(f"{where}: {text!r} is not a colour; write r,g,b with each value 0 .. 255 (or #rrggbb)")
    return values


def read_palette(path: PathLike) -> Palette:
    """A palette file -> :class:`Palette`.

    Text (any suffix but ``.json``): one class per line, ``r,g,b=class_name`` (or ``#rrggbb=class_name``); blank lines
    and other lines starting with ``#`` (comments) are skipped. JSON: ``{"class_name": [r, g, b], ...}`` or
    ``[{"name": "class_name", "color": [r, g, b]}, ...]``. Class ids follow the order in which names first appear
    (the first is class 0, usually the background); a name written again with another colour adds that colour to the
    same class. A colour given twice, a value outside 0 .. 255 or an empty file is a DataError naming the line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"palette {path} does not exist: check the path")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"palette {path} cannot be read as UTF-8 text ({exc}); save it as a text file") from None
    entries: list = []  # (where, name, colour)
    if path.suffix.lower() == ".json":
        import json

        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"palette {path} is not valid JSON ({exc}); fix the file") from None
        items = loaded.items() if isinstance(loaded, dict) else None
        if isinstance(loaded, list) and all(isinstance(e, dict) and {"name", "color"} <= set(e) for e in loaded):
            items = [(e["name"], e["color"]) for e in loaded]
        if items is None:
            raise DataError(f"palette {path} must be a JSON object {{\"class_name\": [r, g, b]}} or a list of "
                            f"{{\"name\": ..., \"color\": [r, g, b]}}")
        for name, color in items:
            where = f"palette {path}, class {str(name)!r}"
            if not isinstance(color, list):
                raise DataError(f"{where}: {color!r} is not a colour; write [r, g, b] with each value 0 .. 255")
            entries.append((where, str(name), _color(",".join(map(str, color)), where)))
    else:
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or (line.startswith("#") and not _HEX_ENTRY.match(line)):
                continue  # a comment
            where = f"palette {path}, line {number}"
            if "=" not in line:
                raise DataError(f"{where}: {line!r} is not 'r,g,b=class_name'; write one class per line that way")
            color, name = line.split("=", 1)
            if not name.strip():
                raise DataError(f"{where}: the colour {color.strip()} has no class name; write 'r,g,b=class_name'")
            entries.append((where, name.strip(), _color(color, where)))
    if not entries:
        raise DataError(f"palette {path} lists no colours; write one class per line as 'r,g,b=class_name'")
    names: list = []
    colors: dict = {}
    for where, name, color in entries:
        if color in colors:
            raise DataError(f"{where}: colour {color} is given twice ({names[colors[color]]!r} and {name!r}); a "
                            f"colour names one class")
        if name not in names:
            names.append(name)
        colors[color] = names.index(name)
    return Palette(colors=colors, names=tuple(names))


def png_palette(path: PathLike) -> Optional[np.ndarray]:
    """The colour table of a palette ("P") image: ``(n, 3) uint8``, row ``i`` the colour of index ``i``; None for an
    image of another mode."""
    img = _open(path, "mask")
    if img.mode != "P":
        return None
    table = np.asarray(img.getpalette() or [], dtype=np.uint8)
    return table[: len(table) // 3 * 3].reshape(-1, 3)


def read_pair(pair: "ImagePair", *, palette: Optional[Mapping[tuple, int]] = None,
              num_classes: Optional[int] = None) -> tuple:
    """An image and its mask, ``((H, W, 3) float32, (H, W) int64)``; a DataError naming both files when their sizes
    differ (a mask holds one class per image pixel)."""
    image = read_image(pair.image)
    mask = read_mask(pair.label, palette=palette, num_classes=num_classes)
    if image.shape[:2] != mask.shape:
        raise size_mismatch(pair.label, mask.shape, pair.image, image.shape[:2])
    return image, mask


def size_mismatch(mask_path: PathLike, mask_shape: tuple, image_path: PathLike, image_shape: tuple, *,
                  what: str = "mask") -> DataError:
    """The error for a label (``what``: a mask, a matte) of ``(H, W)`` ``mask_shape`` beside an image of
    ``image_shape``: both files, both sizes (width x height), and a hint when they are the same size turned by 90
    degrees."""
    turned = (" (the same size turned by 90 degrees: is one of them rotated, e.g. by an EXIF orientation tag the "
              "labelling tool applied?)" if tuple(mask_shape) == tuple(image_shape)[::-1] else "")
    return DataError(f"{what} {mask_path} is {mask_shape[1]}x{mask_shape[0]} (width x height) but its image "
                     f"{image_path} is {image_shape[1]}x{image_shape[0]}{turned}; save the {what} at the image's "
                     f"size")


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


def _name_hint(orphans: list, images: dict) -> str:
    """`` (their names add '_mask' to the image's: ...)`` when every unmatched label is an image's stem plus one
    common ending (``a_mask.png`` for ``a.jpg``), else ``""``."""
    endings = set()
    for stem in orphans:
        found = {stem[len(image):] for image in images if stem.startswith(image) and len(stem) > len(image)}
        if len(found) != 1:
            return ""
        endings |= found
    if len(endings) != 1:
        return ""
    return f" (each name adds {endings.pop()!r} to its image's name: remove that ending from the label files)"


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
        lossy = [q.name for q in labels_dir.iterdir() if q.suffix.lower() in (".jpg", ".jpeg", ".webp")]
        why = (f"; it holds {len(lossy)} JPEG/WebP file(s) ({', '.join(sorted(lossy)[:3])}), but lossy compression "
               f"invents class ids along every edge: export the masks as PNG") if lossy else ""
        raise DataError(f"labels folder {labels_dir} holds no label files ({', '.join(label_suffixes)}){why}")
    orphans = sorted(set(labels) - set(images))
    if orphans:
        raise DataError(f"{len(orphans)} label file(s) in {labels_dir} have no image of the same name in "
                        f"{images_dir}: {', '.join(labels[s].name for s in orphans[:5])}"
                        f"{' ...' if len(orphans) > 5 else ''}; rename or remove them{_name_hint(orphans, images)}")
    missing = sorted(set(images) - set(labels))
    if missing and not allow_unlabelled:
        raise DataError(f"{len(missing)} image(s) in {images_dir} have no label file of the same name in "
                        f"{labels_dir}: {', '.join(images[s].name for s in missing[:5])}"
                        f"{' ...' if len(missing) > 5 else ''}; add their labels or move them out")
    return [ImagePair(s, images[s], labels[s]) for s in sorted(set(images) & set(labels))]
