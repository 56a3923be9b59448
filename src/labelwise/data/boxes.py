"""Box labels: COCO JSON and YOLO txt readers and writers, COCO-style predictions, and cleanlab's input formats.

Workflow floor: paths in, arrays out. Each reader checks the whole input before returning, so a bad file fails at
once with one DataError line that names the file, the image (file name and id) and the annotation (COCO id, or YOLO
line number), says what is wrong and how to fix it.

Boxes in memory (:class:`BoxLabels`, :class:`BoxPredictions`), per image, in pixels:

- axis-aligned: ``(k, 4) float64`` xyxy (``x1, y1, x2, y2``);
- oriented: ``(k, 5) float64`` ``cx, cy, w, h, angle``, the angle in radians from +x towards +y (clockwise on
  screen), the convention of :mod:`labelwise.assign.box_geometry`. Values are kept as the file gives them (no
  ``w >= h`` normalisation), so an unchanged box is written back unchanged.

Formats on disk:

- **COCO JSON** (:func:`read_coco_boxes`, :func:`write_coco_boxes`): ``images`` (``id``, ``file_name``, ``width``,
  ``height``), ``categories`` (``id``, ``name``), ``annotations`` (``id``, ``image_id``, ``category_id``, ``bbox``
  = ``[x, y, w, h]`` in pixels). Oriented boxes: an extra ``"rbox": [cx, cy, w, h, angle_degrees]`` field per
  annotation (degrees, same direction as above); a file is oriented when any annotation has one (then every
  annotation needs one; ``bbox`` is kept as the box's axis-aligned hull). Classes: the categories sorted by id
  become ``0 .. K-1``.
- **YOLO txt** (:func:`read_yolo_boxes`, :func:`write_yolo_boxes`): one ``<image stem>.txt`` per image, a line per
  box, ``class cx cy w h`` normalised by the image's width and height; **YOLO-OBB** lines are ``class x1 y1 x2 y2 x3
  y3 x4 y4`` (the four corners, normalised; read back as the rectangle through them: width along corners 1-2,
  height along 2-3). An image without a txt file has no boxes. Image sizes come from the image files.
- **Predictions** (:func:`read_coco_predictions`): COCO's results format, a list of ``{"image_id", "category_id",
  "bbox", "score"}`` (also inside ``{"annotations": [...]}``), with ``"rbox"`` for oriented boxes. ``image_id`` is the
  COCO image id, or an image's file name or stem (as Ultralytics writes for YOLO datasets).

Round trip: a reader keeps the file as read. The writers write every value nobody changed as it was: an unchanged
file is written back byte for byte; in a changed COCO file only the changed annotations' ``bbox`` / ``rbox`` /
``category_id`` (and ``area`` when it was the box's area) differ, every other field and the file's JSON layout (when
Python's ``json`` wrote it: indent, separators) stay; in a changed YOLO file the unchanged lines are kept as text.

Tolerance: a box may extend past the image by ``tolerance`` pixels (default 1, for rounding); further is an error.
"""

from __future__ import annotations

import codecs
import json
import math
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Optional, Sequence, Union

import numpy as np

from labelwise.assign.box_geometry import oriented_box_corners
from labelwise.data.atomic import write_bytes_atomic, write_text_atomic
from labelwise.data.images import IMAGE_SUFFIXES
from labelwise.errors import DataError, ParameterError

PathLike = Union[str, Path]
TOLERANCE = 1.0

__all__ = ["BoxImage", "BoxLabels", "BoxPredictions", "read_coco_boxes", "write_coco_boxes", "read_yolo_boxes",
           "write_yolo_boxes", "read_coco_predictions", "hull_xyxy"]


# ---- the data ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BoxImage:
    """One image: ``id`` (COCO's image id; a YOLO image's file stem), ``file_name``, ``width``, ``height``."""

    id: Union[int, str]
    file_name: str
    width: int
    height: int

    @property
    def name(self) -> str:
        """The file name's stem."""
        return PurePosixPath(self.file_name.replace("\\", "/")).stem

    def where(self) -> str:
        """How an error names the image: ``image 'a.jpg' (id 3)``."""
        return f"image {self.file_name!r} (id {self.id!r})"


def hull_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``(k, 4)`` xyxy boxes as they are, or the axis-aligned hull of ``(k, 5)`` oriented boxes."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim == 2 and boxes.shape[1] == 5:
        corners = oriented_box_corners(boxes)
        return np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
    return boxes.reshape(-1, 4)


@dataclass
class BoxLabels:
    """Box labels of a set of images (see the module docstring for formats and conventions).

    images: ``(N,)`` :class:`BoxImage` in file order (COCO) or name order (YOLO); class_names: ``(K,)``;
    category_ids: ``(K,)`` the file's id of each class (COCO category id; YOLO class number); boxes: ``N`` arrays
    ``(k_i, 4)`` xyxy or ``(k_i, 5)`` oriented, in pixels; classes: ``N`` arrays ``(k_i,) int64`` in ``0 .. K-1``;
    annotation_ids: ``N`` arrays ``(k_i,)`` (COCO annotation ids; YOLO line numbers, from 1), ``-1`` for a box added
    in memory; oriented: whether boxes have 5 columns; format: ``"coco"``, ``"yolo"`` or ``"yolo-obb"``.
    Edit ``boxes`` / ``classes`` / ``annotation_ids`` in place (or replace an image's arrays) and write the labels back
    with the same format's writer: only what changed is rewritten.
    """

    images: list
    class_names: list
    category_ids: list
    boxes: list
    classes: list
    annotation_ids: list
    oriented: bool = False
    format: str = "coco"
    source: Optional[Path] = None
    _original: Any = field(default=None, repr=False)  # what the reader read, for the writer (format-specific)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_boxes(self) -> int:
        return int(sum(len(c) for c in self.classes))

    def _lookup(self) -> dict:
        """Image position by id, file name and stem (an id wins over another image's name)."""
        lookup: dict = {}
        for i, im in enumerate(self.images):
            lookup.setdefault(im.name, i)
            lookup[im.file_name] = i
        lookup.update({im.id: i for i, im in enumerate(self.images)})
        return lookup

    def xyxy(self, i: int) -> np.ndarray:
        """Image ``i``'s boxes as ``(k, 4)`` xyxy (oriented boxes: their axis-aligned hull)."""
        return hull_xyxy(self.boxes[i])

    def to_cleanlab(self) -> list:
        """cleanlab's ``labels``: one dict per image, ``{"bboxes": (L, 4) xyxy, "labels": (L,) int, "image_name":
        file_name}`` (oriented boxes: their axis-aligned hull, as cleanlab audits axis-aligned boxes)."""
        return [{"bboxes": self.xyxy(i), "labels": np.asarray(self.classes[i], dtype=np.int64),
                 "image_name": im.file_name} for i, im in enumerate(self.images)]

    def image_path(self, i: int, images_dir: PathLike) -> Path:
        """Where image ``i`` lies under ``images_dir``: ``images_dir/file_name``, else ``images_dir/<base name>``; a
        DataError when neither exists."""
        images_dir = Path(images_dir)
        image = self.images[i]
        for candidate in (images_dir / image.file_name, images_dir / PurePosixPath(image.file_name).name):
            if candidate.is_file():
                return candidate
        raise DataError(f"{image.where()} of {self.source} is not in {images_dir}; give the folder that holds the "
                        f"labels' images")


@dataclass
class BoxPredictions:
    """A model's boxes for the images of a :class:`BoxLabels` (same order): boxes ``N`` arrays ``(m_i, 4)`` xyxy or
    ``(m_i, 5)`` oriented, scores ``N`` arrays ``(m_i,) float64`` in [0, 1], classes ``N`` arrays ``(m_i,) int64``."""

    boxes: list
    scores: list
    classes: list
    source: Optional[Path] = None

    def __len__(self) -> int:
        return len(self.boxes)

    @property
    def n_boxes(self) -> int:
        return int(sum(len(s) for s in self.scores))

    def xyxy(self, i: int) -> np.ndarray:
        return hull_xyxy(self.boxes[i])

    def to_cleanlab(self, num_classes: int) -> list:
        """cleanlab's ``predictions``: per image a ``(K,)`` object array whose entry ``k`` is ``(M_k, 5)``
        ``[x1, y1, x2, y2, score]`` of the class-``k`` boxes (oriented boxes: their axis-aligned hull)."""
        out = []
        for i in range(len(self)):
            rows = np.column_stack([self.xyxy(i), np.asarray(self.scores[i], dtype=np.float64)])
            per_class = np.empty(num_classes, dtype=object)
            for k in range(num_classes):
                per_class[k] = rows[self.classes[i] == k].reshape(-1, 5)
            out.append(per_class)
        return out


# ---- shared checks -------------------------------------------------------------------------------------------------

def whole_number(value, where: str, what: str) -> int:
    """``value`` if it is an int (not a bool), else a DataError naming ``where`` and ``what``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{where}: {what} must be a whole number, not {value!r}")
    return value


def _numbers(value, n: int, where: str, what: str, form: str) -> list:
    if (not isinstance(value, (list, tuple)) or len(value) != n
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise DataError(f"{where}: {what} must be {form} ({n} numbers), not {value!r}")
    if not all(math.isfinite(v) for v in value):
        raise DataError(f"{where}: {what} {list(value)} holds NaN or infinity; fix or remove the box")
    return [float(v) for v in value]


def _check_extent(xyxy: Sequence[float], image: BoxImage, where: str, tolerance: float, shown: str) -> None:
    """A DataError when the box (its hull for an oriented one) extends past ``image`` by more than ``tolerance``."""
    x1, y1, x2, y2 = xyxy
    past = [side for side, beyond in (("left", -x1), ("top", -y1), ("right", x2 - image.width),
                                      ("bottom", y2 - image.height)) if beyond > tolerance]
    if past:
        raise DataError(f"{where}: box {shown} extends past the {' and '.join(past)} edge of the {image.width}x"
                        f"{image.height} image by more than {tolerance:g} pixel(s); fix the box (or its image's width "
                        f"and height), or allow more with tolerance")


def _key(value):
    """``value`` when it can be an id (a number or a string), else None (a list or dict from a malformed file)."""
    return value if isinstance(value, (int, float, str)) else None


def _rbox(values: list) -> np.ndarray:
    cx, cy, w, h, degrees = values
    return np.array([cx, cy, w, h, math.radians(degrees)])


def _entry_box(entry: dict, image: BoxImage, where: str, oriented: bool, tolerance: float, *,
               allow_zero: bool) -> np.ndarray:
    """The checked box of a COCO annotation or prediction: ``rbox`` as ``(5,)`` radians, else ``bbox`` as ``(4,)``
    xyxy. A box of zero width or height is an error unless ``allow_zero`` (a prediction); a negative one always."""
    if oriented:
        values = _numbers(entry["rbox"], 5, where, "rbox", "[cx, cy, w, h, angle_degrees]")
        w, h, shown = values[2], values[3], f"rbox {values}"
    else:
        if "bbox" not in entry:
            raise DataError(f"{where} has no bbox; give its [x, y, width, height] in pixels or remove it")
        values = _numbers(entry["bbox"], 4, where, "bbox", "[x, y, width, height]")
        w, h, shown = values[2], values[3], f"bbox {values}"
    if min(w, h) < 0 or (min(w, h) == 0 and not allow_zero):
        hint = " (COCO boxes are [x, y, width, height]: were these x1, y1, x2, y2?)" if min(w, h) < 0 else ""
        raise DataError(f"{where}: {shown} has {'a negative' if min(w, h) < 0 else 'zero'} width or height{hint}; "
                        f"fix or remove it")
    box = _rbox(values) if oriented else np.array([values[0], values[1], values[0] + w, values[1] + h])
    _check_extent(hull_xyxy(box[None])[0], image, where, tolerance, shown)
    return box


# ---- COCO ----------------------------------------------------------------------------------------------------------

def _read_json(path: Path, what: str):
    if not path.is_file():
        raise DataError(f"{what} {path} does not exist: check the path")
    try:
        raw = path.read_bytes()
        return raw, json.loads(raw.decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{what} {path} is not valid JSON ({exc}); fix or re-export it") from None


def coco_images(path: Path, data: dict) -> dict:
    """A COCO file's ``images`` list checked (id, file name, width and height present and whole; sizes positive;
    ids and file names unique): ``{image id: BoxImage}``. Shared with :mod:`labelwise.data.coco_masks`."""
    images: dict = {}
    names: dict = {}
    for entry in data["images"]:
        where = f"{path}: image {entry.get('id', '?') if isinstance(entry, dict) else entry!r}"
        if not isinstance(entry, dict) or not {"id", "file_name", "width", "height"} <= set(entry):
            raise DataError(f"{where} lacks one of id, file_name, width, height; COCO lists all four per image")
        image = BoxImage(whole_number(entry["id"], where, "id"), str(entry["file_name"]),
                         whole_number(entry["width"], where, "width"), whole_number(entry["height"], where, "height"))
        where = f"{path}: {image.where()}"
        if image.width <= 0 or image.height <= 0:
            raise DataError(f"{where} has size {image.width}x{image.height}; give its real width and height")
        if image.id in images:
            raise DataError(f"{where}: image {images[image.id].file_name!r} has the same id; give each image its "
                            f"own id")
        if image.file_name in names:
            raise DataError(f"{where}: the file name is listed twice (ids {names[image.file_name]} and {image.id}); "
                            f"list each image once")
        images[image.id], names[image.file_name] = image, image.id
    return images


def coco_categories(path: Path, data: dict, needs: str = "box labels need") -> dict:
    """A COCO file's ``categories`` list checked: ``{category id: name}``. Raises DataError for an entry without
    id or name, a repeated id or name, or an empty list (``needs`` says who needs one: "box labels need")."""
    categories: dict = {}
    for entry in data["categories"]:
        where = f"{path}: category {entry.get('id', '?') if isinstance(entry, dict) else entry!r}"
        if not isinstance(entry, dict) or not {"id", "name"} <= set(entry):
            raise DataError(f"{where} lacks an id or a name")
        cid = whole_number(entry["id"], where, "id")
        if cid in categories:
            raise DataError(f"{where}: the id is used by two categories; give each its own id")
        if str(entry["name"]) in categories.values():
            raise DataError(f"{where}: the name {entry['name']!r} is used by two categories; merge or rename them")
        categories[cid] = str(entry["name"])
    if not categories:
        raise DataError(f"{path} lists no categories; {needs} at least one class")
    return categories


def read_coco_boxes(path: PathLike, *, tolerance: float = TOLERANCE) -> BoxLabels:
    """Read and check the boxes of a COCO JSON file (see the module docstring for the format).

    Raises DataError for: a file that is not COCO JSON; an image without id/file_name/width/height, a repeated image
    id or file name; a category without id/name or repeated; an annotation without an id, with a repeated id, an
    image id or category id the file does not list, a ``bbox`` (or ``rbox``) that is not 4 (5) finite numbers, of
    zero or negative width/height, or past the image by more than ``tolerance`` pixels; an oriented file where an
    annotation has no ``rbox``.
    """
    path = Path(path)
    raw, data = _read_json(path, "COCO file")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "categories",
                                                                                     "annotations")):
        raise DataError(f"{path} is not a COCO file: it needs the lists 'images', 'categories' and 'annotations'")
    images = coco_images(path, data)
    categories = coco_categories(path, data)
    category_ids = sorted(categories)
    class_of = {cid: c for c, cid in enumerate(category_ids)}
    oriented = any(isinstance(a, dict) and "rbox" in a for a in data["annotations"])
    per_image: dict = {im: ([], [], []) for im in images}
    seen: dict = {}
    for number, entry in enumerate(data["annotations"]):
        if not isinstance(entry, dict) or "id" not in entry:
            raise DataError(f"{path}: annotation #{number + 1} (in file order) has no id; give every annotation a "
                            f"unique id")
        ann_id = entry["id"]
        where = f"{path}: annotation {ann_id!r}"
        if ann_id in seen:
            raise DataError(f"{where} is the id of two annotations (#{seen[ann_id] + 1} and #{number + 1} in file "
                            f"order); give each its own id")
        seen[ann_id] = number
        if "image_id" not in entry or "category_id" not in entry:
            raise DataError(f"{where} lacks an image_id or a category_id")
        image = images.get(_key(entry["image_id"]))
        if image is None:
            raise DataError(f"{where} refers to image id {entry['image_id']!r}, which the file's 'images' does not "
                            f"list; add the image or remove the annotation")
        where = f"{path}: annotation {ann_id!r} of {image.where()}"
        if _key(entry["category_id"]) not in class_of:
            raise DataError(f"{where} has category id {entry['category_id']!r}, which the file's 'categories' does "
                            f"not list ({', '.join(map(str, category_ids[:10]))}); add the category or fix the id")
        if oriented and "rbox" not in entry:
            raise DataError(f"{where} has no rbox, but other annotations have one (oriented boxes); give every "
                            f"annotation an rbox [cx, cy, w, h, angle_degrees]")
        box = _entry_box(entry, image, where, oriented, tolerance, allow_zero=False)
        boxes, classes, ids = per_image[image.id]
        boxes.append(box)
        classes.append(class_of[entry["category_id"]])
        ids.append(ann_id)
    width = 5 if oriented else 4
    order = list(images)
    labels = BoxLabels(
        images=[images[i] for i in order], class_names=[categories[c] for c in category_ids],
        category_ids=category_ids,
        boxes=[np.array(per_image[i][0], dtype=np.float64).reshape(-1, width) for i in order],
        classes=[np.array(per_image[i][1], dtype=np.int64) for i in order],
        annotation_ids=[np.array(per_image[i][2], dtype=object) for i in order],
        oriented=oriented, format="coco", source=path)
    labels._original = {"raw": raw, "data": data, "state": _state(labels)}
    return labels


def _state(labels: BoxLabels) -> dict:
    """(image id, annotation id) -> (box, class): what was read, to find what changed."""
    return {(im.id, _plain(ann)): (np.asarray(box, dtype=np.float64).copy(), int(cls))
            for im, boxes, classes, ids in zip(labels.images, labels.boxes, labels.classes, labels.annotation_ids)
            for box, cls, ann in zip(boxes, classes, ids)}


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _same(old: Optional[tuple], box: np.ndarray, cls: int) -> bool:
    return old is not None and old[1] == int(cls) and np.array_equal(old[0], box)


def _json_layout(text: str, data) -> Optional[dict]:
    """The ``json.dumps`` keywords that write ``data`` exactly as ``text`` (None when Python's json did not)."""
    body = text.rstrip("\n")
    for ensure_ascii in (True, False):
        for indent, separators in ((None, (", ", ": ")), (None, (",", ":")), (2, (",", ": ")), (4, (",", ": ")),
                                   (1, (",", ": ")), (2, (", ", ": ")), (4, (", ", ": ")), ("\t", (",", ": "))):
            options = {"indent": indent, "separators": separators, "ensure_ascii": ensure_ascii}
            if json.dumps(data, **options) == body:
                return options
    return None


def _changed(labels: BoxLabels, state: dict) -> bool:
    now = _state(labels)
    return now.keys() != state.keys() or any(not _same(state[key], *now[key]) for key in state)


def _rows(labels: BoxLabels):
    """``(image, boxes (k, 4 | 5) float64, classes (k,), annotation ids (k,))`` per image, checked to agree in
    length (a box added without its class or id would otherwise be dropped silently)."""
    width = 5 if labels.oriented else 4
    for image, boxes, classes, ids in zip(labels.images, labels.boxes, labels.classes, labels.annotation_ids):
        boxes = np.asarray(boxes, dtype=np.float64)
        if boxes.size == 0:
            boxes = boxes.reshape(0, width)
        if boxes.ndim != 2 or boxes.shape[1] != width or not len(boxes) == len(classes) == len(ids):
            raise ParameterError(f"{image.where()}: boxes {boxes.shape}, classes ({len(classes)},) and annotation_ids "
                                 f"({len(ids)},) must agree: (k, {width}), (k,), (k,); give a new box the id -1")
        yield image, boxes, np.asarray(classes), ids


def _coco_box_fields(entry: dict, box: np.ndarray, oriented: bool) -> None:
    """Set ``entry``'s ``bbox`` (and ``rbox``) from ``box``; ``area`` too when it was the old box's area."""
    old = entry.get("bbox")
    if oriented:
        cx, cy, w, h, angle = (float(v) for v in box)
        entry["rbox"] = [round(cx, 6), round(cy, 6), round(w, 6), round(h, 6), round(math.degrees(angle), 6)]
        x1, y1, x2, y2 = hull_xyxy(box[None])[0]
        area = w * h
    else:
        x1, y1, x2, y2 = (float(v) for v in box)
        area = (x2 - x1) * (y2 - y1)
    was_box_area = ("area" not in entry or (isinstance(old, list) and len(old) == 4
                                           and math.isclose(float(entry["area"]), float(old[2]) * float(old[3]),
                                                            rel_tol=1e-6)))
    entry["bbox"] = [round(float(x1), 6), round(float(y1), 6), round(float(x2 - x1), 6), round(float(y2 - y1), 6)]
    if was_box_area:
        entry["area"] = round(float(area), 6)


def write_coco_boxes(labels: BoxLabels, path: PathLike) -> Path:
    """Write ``labels`` as a COCO JSON file at ``path`` (atomically; see the module docstring for what is kept).

    Labels read from a COCO file keep every field of the file; an annotation whose id is ``-1`` (added in memory)
    gets the next free id. Labels from YOLO become a new COCO file (image ids 1..N in order, category ids the YOLO
    class numbers). Returns the path.
    """
    path = Path(path)
    rows = list(_rows(labels))
    original = labels._original if labels.format == "coco" and isinstance(labels._original, dict) else None
    if original is not None and not _changed(labels, original["state"]) and \
            labels.class_names == [str(c["name"]) for c in sorted(original["data"]["categories"],
                                                                  key=lambda c: c["id"])]:
        return write_bytes_atomic(path, original["raw"])
    if original is not None:
        data = dict(original["data"])
        by_id = {a["id"]: a for a in data["annotations"]}
        layout = _json_layout(original["raw"].decode("utf-8-sig"), original["data"])
        names = dict(zip(labels.category_ids, labels.class_names))
        data["categories"] = [c if str(c["name"]) == names[c["id"]] else {**c, "name": names[c["id"]]}
                              for c in data["categories"]]
    else:
        by_id, layout = {}, {"indent": 1, "separators": (",", ": "), "ensure_ascii": False}
        data = {"images": [{"id": i + 1, "file_name": im.file_name, "width": im.width, "height": im.height}
                           for i, im in enumerate(labels.images)],
                "categories": [{"id": int(cid), "name": name} for cid, name in zip(labels.category_ids,
                                                                                    labels.class_names)],
                "annotations": []}
    image_ids = {im.id: im.id if original is not None else n + 1 for n, im in enumerate(labels.images)}
    state = original["state"] if original is not None else {}
    used = [a for a in by_id if isinstance(a, int) and not isinstance(a, bool)]
    next_id = max(used, default=0) + 1
    kept: dict = {}
    added = []
    for image, boxes, classes, ids in rows:
        image_id = image_ids[image.id]
        for box, cls, ann in zip(boxes, classes, ids):
            ann = _plain(ann)
            category = int(labels.category_ids[int(cls)])
            if ann in by_id and ann not in kept:
                old = state.get((image_id, ann))
                entry = by_id[ann]
                if not _same(old, box, cls):
                    entry = dict(entry)
                    entry["image_id"], entry["category_id"] = image_id, category
                    if old is None or not np.array_equal(old[0], box):
                        _coco_box_fields(entry, box, labels.oriented)
                kept[ann] = entry
                continue
            entry = {"id": next_id, "image_id": image_id, "category_id": category, "iscrowd": 0}
            next_id += 1
            _coco_box_fields(entry, box, labels.oriented)
            added.append(entry)
    data["annotations"] = [kept[a] for a in by_id if a in kept] + added
    text = json.dumps(data, **(layout or {"indent": None, "separators": (", ", ": "), "ensure_ascii": True}))
    raw = original["raw"] if original is not None else b"\n"
    bom = codecs.BOM_UTF8 if raw.startswith(codecs.BOM_UTF8) else b""
    return write_bytes_atomic(path, bom + (text + ("\n" if raw.endswith(b"\n") else "")).encode("utf-8"))


# ---- predictions ---------------------------------------------------------------------------------------------------

def read_coco_predictions(path: PathLike, labels: BoxLabels, *, tolerance: float = TOLERANCE) -> BoxPredictions:
    """Read a model's boxes in COCO's results format for the images of ``labels``.

    ``[{"image_id", "category_id", "bbox": [x, y, w, h], "score"}, ...]`` (or those inside ``{"annotations":
    [...]}``); ``"rbox": [cx, cy, w, h, angle_degrees]`` instead of ``bbox`` when the labels are oriented.
    ``image_id``: the labels' image id, else an image's file name or stem; ``category_id``: the labels' category id
    (COCO) or class number (YOLO). Images without predictions get none. Raises DataError naming the entry (its
    position, from 1) and its image for: an unknown image or category, a score outside [0, 1] or not a number, a box
    that is not finite numbers, of negative size, or past the image by more than ``tolerance`` pixels.
    """
    path = Path(path)
    _, data = _read_json(path, "predictions file")
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        data = data["annotations"]
    if not isinstance(data, list):
        raise DataError(f"{path} is not COCO-style predictions: it must be a list of {{image_id, category_id, bbox, "
                        f"score}} objects")
    class_of = {cid: c for c, cid in enumerate(labels.category_ids)}
    lookup = labels._lookup()
    n, width = len(labels), 5 if labels.oriented else 4
    rows: list = [([], [], []) for _ in range(n)]
    for number, entry in enumerate(data, start=1):
        where = f"{path}: prediction #{number}"
        if not isinstance(entry, dict) or not {"image_id", "category_id", "score"} <= set(entry):
            raise DataError(f"{where} lacks one of image_id, category_id, score; each prediction needs all three and "
                            f"a {'rbox' if labels.oriented else 'bbox'}")
        key = entry["image_id"]
        i = lookup.get(_key(key), lookup.get(str(key)))
        if i is None:
            raise DataError(f"{where} has image_id {key!r}, which is not an image id, file name or stem of "
                            f"{labels.source or 'the labels'}; predict on the labelled images or fix the id")
        image = labels.images[i]
        where = f"{where} (of {image.where()})"
        if _key(entry["category_id"]) not in class_of:
            raise DataError(f"{where} has category_id {entry['category_id']!r}, which the labels do not list "
                            f"({', '.join(map(str, labels.category_ids[:10]))}); map the model's classes to the "
                            f"labels' category ids")
        score = entry["score"]
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
            raise DataError(f"{where} has score {score!r}; a score is a probability between 0 and 1")
        if labels.oriented and "rbox" not in entry:
            raise DataError(f"{where} has no rbox; the labels are oriented boxes, so predictions need "
                            f"[cx, cy, w, h, angle_degrees]")
        box = _entry_box(entry, image, where, labels.oriented, tolerance, allow_zero=True)
        rows[i][0].append(box)
        rows[i][1].append(float(score))
        rows[i][2].append(class_of[entry["category_id"]])
    return BoxPredictions(boxes=[np.array(r[0], dtype=np.float64).reshape(-1, width) for r in rows],
                          scores=[np.array(r[1], dtype=np.float64) for r in rows],
                          classes=[np.array(r[2], dtype=np.int64) for r in rows], source=path)


# ---- YOLO ----------------------------------------------------------------------------------------------------------

def _image_size(path: Path) -> tuple:
    """``(width, height)`` from the file's header."""
    from labelwise.data.images import _pil

    try:
        with _pil().open(path) as img:
            return img.size
    except Exception as exc:
        raise DataError(f"image {path} cannot be read as an image ({type(exc).__name__}: {exc}); re-export it") \
            from None


def _yolo_class_names(labels_dir: Path, class_names: Optional[Sequence[str]], top: int) -> list:
    """``class_names`` if given, else ``classes.txt`` (a name per line) or the ``names`` of ``data.yaml`` /
    ``dataset.yaml`` in the labels folder or above it, else ``"0" .. str(top)``."""
    if class_names is not None:
        return [str(c) for c in class_names]
    for folder in (labels_dir, labels_dir.parent, labels_dir.parent.parent):
        listed = folder / "classes.txt"
        if listed.is_file():
            return [line.strip() for line in listed.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
        for yaml_name in ("data.yaml", "dataset.yaml"):
            if (folder / yaml_name).is_file():
                import yaml

                try:
                    names = (yaml.safe_load((folder / yaml_name).read_text(encoding="utf-8")) or {}).get("names")
                except (yaml.YAMLError, AttributeError) as exc:
                    raise DataError(f"{folder / yaml_name} cannot be read as YAML with 'names' ({exc}); fix it or "
                                    f"give the class names") from None
                if isinstance(names, dict):
                    if sorted(names) != list(range(len(names))):
                        raise DataError(f"{folder / yaml_name}: its names are numbered {sorted(names)}; number them "
                                        f"0, 1, 2, ... without gaps")
                    return [str(names[k]) for k in range(len(names))]
                if isinstance(names, list):
                    return [str(n) for n in names]
    return [str(k) for k in range(top + 1)]


def read_yolo_boxes(labels_dir: PathLike, images_dir: PathLike, *, class_names: Optional[Sequence[str]] = None,
                    tolerance: float = TOLERANCE) -> BoxLabels:
    """Read a folder of YOLO (or YOLO-OBB) label files for the images of ``images_dir``.

    Images: the image files in ``images_dir`` (sorted by name); each image's labels are ``labels_dir/<stem>.txt``
    (none: no boxes). class_names: ``(K,)`` names of classes ``0 .. K-1``; default ``classes.txt`` or a
    ``data.yaml`` / ``dataset.yaml`` ``names`` beside or above the labels, else the class numbers. Raises DataError
    naming the file and line for: a label file without an image, a line of other than 5 (or 9, OBB) values, a class
    that is not a whole number in ``0 .. K-1``, a coordinate that is not a number or outside [0, 1] (with
    ``tolerance`` pixels' slack), a box of zero or negative size, 5- and 9-value lines mixed.
    """
    labels_dir, images_dir = Path(labels_dir), Path(images_dir)
    for folder, what in ((labels_dir, "labels"), (images_dir, "images")):
        if not folder.is_dir():
            raise DataError(f"{what} folder {folder} does not exist or is not a folder")
    image_files = sorted((p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                         key=lambda p: p.name)
    by_stem: dict = {}
    for p in image_files:
        if p.stem in by_stem:
            raise DataError(f"{images_dir} holds {by_stem[p.stem].name} and {p.name}: YOLO matches label files to "
                            f"images by name, so rename one")
        by_stem[p.stem] = p
    texts = {p.stem: p for p in labels_dir.glob("*.txt") if p.name != "classes.txt"}
    orphans = sorted(set(texts) - set(by_stem))
    if orphans:
        raise DataError(f"{texts[orphans[0]]} has no image {orphans[0]}.* in {images_dir} ({len(orphans)} label "
                        f"file(s) without an image); give the images folder of these labels or remove the file")
    parsed, width = [], None
    for stem, image_path in by_stem.items():
        w_img, h_img = _image_size(image_path)
        image = BoxImage(stem, image_path.name, int(w_img), int(h_img))
        rows = []
        if stem in texts:
            raw = texts[stem].read_bytes()
            try:
                lines = raw.decode("utf-8-sig").splitlines()
            except UnicodeDecodeError as exc:
                raise DataError(f"{texts[stem]} ({image.where()}) is not UTF-8 text ({exc}); re-export it") from None
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                where = f"{texts[stem]} line {number} ({image.where()})"
                values = line.split()
                if len(values) not in (5, 9):
                    raise DataError(f"{where} has {len(values)} values; a YOLO line is 'class cx cy w h' (5 values) "
                                    f"or YOLO-OBB 'class x1 y1 x2 y2 x3 y3 x4 y4' (9)")
                if width is not None and len(values) != width:
                    raise DataError(f"{where} has {len(values)} values where other lines have {width}; one dataset "
                                    f"is either YOLO boxes (5) or YOLO-OBB corners (9)")
                width = len(values)
                rows.append((number, _yolo_box(values, image, where, tolerance)))
        parsed.append((image, texts.get(stem), raw if stem in texts else None, rows))
    oriented = width == 9
    top = max((cls for *_, rows in parsed for _, (cls, _) in rows), default=-1)
    names = _yolo_class_names(labels_dir, class_names, top)
    if top >= len(names):
        image, file, _, rows = next(p for p in parsed if any(cls >= len(names) for _, (cls, _) in p[3]))
        number = next(n for n, (cls, _) in rows if cls >= len(names))
        raise DataError(f"{file} line {number} ({image.where()}) has class {top}, but there are {len(names)} class "
                        f"names ({', '.join(names[:10])}); give every class a name")
    labels = BoxLabels(
        images=[p[0] for p in parsed], class_names=names, category_ids=list(range(len(names))),
        boxes=[np.array([b for _, (_, b) in p[3]], dtype=np.float64).reshape(-1, 5 if oriented else 4)
               for p in parsed],
        classes=[np.array([c for _, (c, _) in p[3]], dtype=np.int64) for p in parsed],
        annotation_ids=[np.array([n for n, _ in p[3]], dtype=object) for p in parsed],
        oriented=oriented, format="yolo-obb" if oriented else "yolo", source=labels_dir)
    labels._original = {"files": {p[0].id: p[2] for p in parsed if p[2] is not None}, "state": _state(labels)}
    return labels


def _yolo_box(values: list, image: BoxImage, where: str, tolerance: float) -> tuple:
    """``(class, box in pixels)`` of one checked YOLO / YOLO-OBB line."""
    try:
        cls_value = float(values[0])
        coords = [float(v) for v in values[1:]]
    except ValueError:
        raise DataError(f"{where}: {' '.join(values)!r} is not all numbers; a YOLO line is 'class cx cy w h'") \
            from None
    if not cls_value.is_integer() or cls_value < 0:
        raise DataError(f"{where}: class {values[0]!r} is not a whole number 0 or more")
    if not all(math.isfinite(v) for v in coords):
        raise DataError(f"{where} holds NaN or infinity; fix or remove the line")
    slack = tolerance / min(image.width, image.height)
    if len(coords) == 4:
        cx, cy, w, h = coords
        if w <= 0 or h <= 0:
            raise DataError(f"{where}: box {coords} has {'a negative' if min(w, h) < 0 else 'zero'} width or height; "
                            f"fix or remove it")
        ends = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    else:
        ends = tuple(coords)
    if max(coords) > 1 + slack or min(ends) < -slack or max(ends) > 1 + slack:
        hint = (" (pixel coordinates? YOLO wants them divided by the image's width and height)"
                if max(coords) > 1 + slack else "")
        raise DataError(f"{where}: normalised coordinates {coords} fall outside [0, 1]{hint}; fix the line")
    if len(coords) == 4:
        return int(cls_value), np.array([(cx - w / 2) * image.width, (cy - h / 2) * image.height,
                                         (cx + w / 2) * image.width, (cy + h / 2) * image.height])
    corners = np.array(coords).reshape(4, 2) * [image.width, image.height]
    edge_w, edge_h = corners[1] - corners[0], corners[2] - corners[1]
    w, h = float(np.hypot(*edge_w)), float(np.hypot(*edge_h))
    if w <= 0 or h <= 0:
        raise DataError(f"{where}: the corners {coords} enclose no area; fix or remove the line")
    cx, cy = corners.mean(axis=0)
    return int(cls_value), np.array([cx, cy, w, h, math.atan2(edge_w[1], edge_w[0])])


def _yolo_line(box: np.ndarray, cls: int, image: BoxImage, oriented: bool) -> str:
    if oriented:
        corners = oriented_box_corners(box[None])[0] / [image.width, image.height]
        values = corners.ravel()
    else:
        x1, y1, x2, y2 = box
        values = [(x1 + x2) / 2 / image.width, (y1 + y2) / 2 / image.height, (x2 - x1) / image.width,
                  (y2 - y1) / image.height]
    return " ".join([str(int(cls))] + [f"{float(v):.6f}" for v in values])


def write_yolo_boxes(labels: BoxLabels, labels_dir: PathLike) -> Path:
    """Write ``labels`` as one YOLO txt file per image into ``labels_dir`` (YOLO-OBB corner lines for oriented
    boxes), each file atomically. A file read from YOLO whose boxes did not change is written back byte for byte;
    in a changed one, the unchanged lines are kept as text and changed or new boxes are written with 6 decimals. An
    image without boxes that had no file gets none. Returns the folder."""
    labels_dir = Path(labels_dir)
    rows = list(_rows(labels))
    labels_dir.mkdir(parents=True, exist_ok=True)
    original = labels._original if labels.format.startswith("yolo") and isinstance(labels._original, dict) else None
    files = original["files"] if original is not None else {}
    state = original["state"] if original is not None else {}
    for image, boxes, classes, ids in rows:
        raw = files.get(image.id)
        text = raw.decode("utf-8-sig") if raw is not None else None
        lines_read = text.splitlines() if text is not None else []
        out = []
        for box, cls, ann in zip(boxes, classes, ids):
            if _same(state.get((image.id, _plain(ann))), box, cls):
                out.append(lines_read[int(ann) - 1])
            else:
                out.append(_yolo_line(box, int(cls), image, labels.oriented))
        if text is not None and out == [line for line in lines_read if line.strip()]:
            write_bytes_atomic(labels_dir / f"{image.name}.txt", raw)
        elif text is not None or out:
            newline = text.endswith("\n") if text else True
            write_text_atomic(labels_dir / f"{image.name}.txt", "\n".join(out) + ("\n" if newline and out else ""))
    return labels_dir
