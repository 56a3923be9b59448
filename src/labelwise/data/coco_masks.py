"""COCO JSON segmentation labels -> one class mask per image (vision extra: pycocotools).

Workflow floor: a path in, arrays out. :func:`read_coco` reads and checks the whole file at once (every image id,
category id and segmentation entry), so a bad file fails before any work with a DataError that names the entry and
the fix; :meth:`CocoMasks.mask` then draws one image's ``(H, W) int64`` class mask.

- Classes: COCO category ids, sorted, become the contiguous classes ``1 .. K``; class 0 is the background (every
  pixel no annotation covers). ``names`` is ``["background", <category names in that order>]``.
- Segmentations: polygons (``[[x1, y1, x2, y2, ...], ...]``, pixel-edge coordinates as COCO writes them; a pixel is
  inside when its centre is), uncompressed RLE (``{"size": [h, w], "counts": [ints]}``, column-major as COCO's
  crowd regions) and compressed RLE (``"counts"`` a string), decoded by pycocotools. Crowd regions are drawn like any
  other annotation.
- Overlaps: annotations are drawn largest area first, so where two objects overlap the smaller one (usually the one
  in front: a cup on a table) keeps its pixels; of two with the same area, the later one in the file is drawn last.
- Images: named by their file name's stem, listed in sorted name order (as :func:`labelwise.data.images.pair_folders`
  lists a folder). An image without annotations has an all-background mask.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Union

import numpy as np

from labelwise.data.boxes import BoxImage, coco_categories, coco_images
from labelwise.errors import DataError, MissingExtraError

PathLike = Union[str, Path]

__all__ = ["CocoImage", "CocoMasks", "read_coco"]


def _mask_utils():
    try:
        from pycocotools import mask as mask_utils
    except ImportError as exc:
        raise MissingExtraError("pycocotools", "vision", "reading COCO segmentation labels") from exc
    return mask_utils


CocoImage = BoxImage  # one entry of the file's ``images`` (id, file_name, width, height; ``name``: the stem)


@dataclass
class CocoMasks:
    """A COCO file's segmentation labels, checked (see the module docstring for the rules).

    path: the JSON file; images: its images in sorted name order; names: ``names[c]`` is class ``c``'s name
    (``names[0] == "background"``); category_ids: ``category_ids[c - 1]`` is the COCO id of class ``c``.
    """

    path: Path
    images: list
    names: list
    category_ids: list
    _annotations: dict = field(default_factory=dict, repr=False)  # image id -> [(annotation id, class, segmentation)]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def image_path(self, image: CocoImage, images_dir: PathLike) -> Path:
        """Where ``image`` lies under ``images_dir``: ``images_dir/file_name``, else ``images_dir/<base name>``; a
        DataError when neither exists."""
        images_dir = Path(images_dir)
        for candidate in (images_dir / image.file_name, images_dir / PurePosixPath(image.file_name).name):
            if candidate.is_file():
                return candidate
        raise DataError(f"image {image.file_name!r} (id {image.id}) of {self.path} is not in {images_dir}; give the "
                        f"folder that holds the COCO file's images")

    def mask(self, image: Union[CocoImage, int]) -> np.ndarray:
        """The class mask of ``image`` (a :class:`CocoImage` or an image id): ``(height, width) int64``."""
        if not isinstance(image, CocoImage):
            found = [im for im in self.images if im.id == image]
            if not found:
                raise DataError(f"{self.path} has no image with id {image!r}")
            image = found[0]
        h, w = image.height, image.width
        drawn = []
        for order, (ann_id, cls, segmentation) in enumerate(self._annotations.get(image.id, [])):
            pixels = _decode(segmentation, h, w, f"annotation {ann_id} of {self.path}")
            drawn.append((-int(pixels.sum()), order, cls, pixels))
        mask = np.zeros((h, w), dtype=np.int64)
        for _, _, cls, pixels in sorted(drawn, key=lambda d: (d[0], d[1])):  # largest first, file order among equals
            mask[pixels] = cls
        return mask


def _decode(segmentation, h: int, w: int, where: str) -> np.ndarray:
    """A checked segmentation entry -> ``(h, w) bool``."""
    mask_utils = _mask_utils()
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects([[float(v) for v in poly] for poly in segmentation], h, w))
    elif isinstance(segmentation["counts"], list):
        rle = mask_utils.frPyObjects(segmentation, h, w)
    else:
        counts = segmentation["counts"]
        rle = {"size": [h, w], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    try:
        with warnings.catch_warnings():  # pycocotools 2.0.x's DeprecationWarning about numpy 2's copy keyword
            warnings.simplefilter("ignore", DeprecationWarning)
            return mask_utils.decode(rle).astype(bool)
    except ValueError as exc:  # checked before, so this is pycocotools disagreeing with the check
        raise DataError(f"{where}: its segmentation cannot be decoded ({exc}); re-export it") from None


def _compressed_counts(counts: str) -> list:
    """The run lengths of COCO's compressed RLE string (6 bits per character from '0', 5 of value and a
    continuation bit, the last group's top bit the sign; from the third run on, each value is a difference to the
    run two before). Raises ValueError for a string that is not one."""
    runs: list = []
    value = shift = 0
    for char in counts:
        c = ord(char) - 48
        if not 0 <= c < 64:
            raise ValueError(f"character {char!r} is not part of a compressed RLE")
        value |= (c & 0x1F) << shift
        shift += 5
        if c & 0x20:
            continue
        if c & 0x10:
            value -= 1 << shift
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
        value = shift = 0
    if shift:
        raise ValueError("it ends in the middle of a number")
    return runs


def _check_segmentation(segmentation, h: int, w: int, where: str) -> None:
    """A DataError naming ``where`` unless ``segmentation`` is polygons or an RLE of an ``h`` x ``w`` image."""
    if isinstance(segmentation, list):
        if not segmentation:
            raise DataError(f"{where} has an empty segmentation; give its polygon or remove the annotation")
        for poly in segmentation:
            if (not isinstance(poly, list) or len(poly) < 6 or len(poly) % 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                               for v in poly)):
                raise DataError(f"{where} has a polygon that is not [x1, y1, x2, y2, x3, y3, ...] (at least three "
                                f"points, finite numbers); fix or remove it")
        return
    if not isinstance(segmentation, dict) or not {"size", "counts"} <= set(segmentation):
        raise DataError(f"{where} has a segmentation that is neither polygons ([[x1, y1, ...]]) nor an RLE "
                        f"({{\"size\": [h, w], \"counts\": ...}}); re-export it")
    size, counts = segmentation["size"], segmentation["counts"]
    if list(size) != [h, w]:
        raise DataError(f"{where} has an RLE of size {list(size)}, but its image is [height, width] = [{h}, {w}]; "
                        f"re-export it for this image")
    if isinstance(counts, list):
        runs = counts
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in runs):
            raise DataError(f"{where} has RLE counts that are not whole numbers >= 0; re-export it")
    elif isinstance(counts, str):
        try:
            runs = _compressed_counts(counts)
        except ValueError as exc:
            raise DataError(f"{where} has a compressed RLE that cannot be read ({exc}); re-export it") from None
        if any(v < 0 for v in runs):
            raise DataError(f"{where} has a compressed RLE with a negative run length; re-export it")
    else:
        raise DataError(f"{where} has RLE counts that are neither a list nor a string; re-export it")
    if sum(runs) != h * w:
        raise DataError(f"{where} has an RLE covering {sum(runs)} pixels, but its image has {h} x {w} = {h * w}; "
                        f"re-export it")


def read_coco(path: PathLike) -> CocoMasks:
    """Read and check a COCO JSON file's ``images``, ``categories`` and ``annotations``.

    Raises DataError for: a file that is not COCO JSON, an image without id/file_name/height/width or with a repeated
    id or name, a category without id/name or repeated, an annotation whose ``image_id`` or ``category_id`` the file
    does not list, one without a segmentation (bounding boxes only), and malformed polygons or RLEs.
    """
    _mask_utils()
    path = Path(path)
    if not path.is_file():
        raise DataError(f"COCO file {path} does not exist: check the path")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"COCO file {path} is not valid JSON ({exc}); fix or re-export it") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "categories",
                                                                                     "annotations")):
        raise DataError(f"{path} is not a COCO file: it needs the lists 'images', 'categories' and 'annotations'")
    images, names_seen = coco_images(path, data), {}
    for image in images.values():
        if image.name in names_seen:
            raise DataError(f"{path}: {image.where()}: {image.file_name!r} and {names_seen[image.name]!r} have the same "
                            f"name {image.name!r}; images are matched by name, so rename one")
        names_seen[image.name] = image.file_name
    categories = coco_categories(path, data, "a segmentation needs")
    category_ids = sorted(categories)
    class_of = {cid: i + 1 for i, cid in enumerate(category_ids)}
    annotations: dict = {}
    for number, entry in enumerate(data["annotations"]):
        ann_id = entry.get("id", f"#{number}") if isinstance(entry, dict) else f"#{number}"
        where = f"annotation {ann_id} of {path}"
        if not isinstance(entry, dict) or "image_id" not in entry or "category_id" not in entry:
            raise DataError(f"{where} lacks an image_id or a category_id")
        image = images.get(entry["image_id"])
        if image is None:
            raise DataError(f"{where} refers to image id {entry['image_id']!r}, which the file's 'images' does not "
                            f"list; add the image or remove the annotation")
        if entry["category_id"] not in class_of:
            raise DataError(f"{where} has category id {entry['category_id']!r}, which the file's 'categories' does "
                            f"not list ({', '.join(map(str, category_ids[:10]))}); add the category or fix the id")
        if "segmentation" not in entry:
            raise DataError(f"{where} has no segmentation (a bounding box only?); this needs masks: add its polygon "
                            f"or remove it")
        _check_segmentation(entry["segmentation"], image.height, image.width, where)
        annotations.setdefault(image.id, []).append((ann_id, class_of[entry["category_id"]], entry["segmentation"]))
    ordered = sorted(images.values(), key=lambda im: im.name)
    return CocoMasks(path=path, images=ordered, names=["background"] + [categories[c] for c in category_ids],
                     category_ids=category_ids, _annotations=annotations)
