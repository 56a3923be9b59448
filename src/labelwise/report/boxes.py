"""The box audit's report page: one self-contained HTML file showing the worst images with their label boxes and the
model's boxes drawn.

Like the segmentation report (:mod:`labelwise.report.segmentation`): inline CSS, no script, no network (a
Content-Security-Policy allows only inline styles and ``data:`` images); every string from the data (file names,
class names, ids, paths) is escaped by Jinja2's autoescape. Each image is an inline SVG in the image's own pixel
coordinates: the image itself as a PNG data URI (when the images folder is given and the file can be read; scaled
to at most 480 pixels), label boxes as solid outlines (red when flagged: swap or badloc), the model's boxes of score
0.5 or more as dashed outlines (orange and thicker when overlooked: an object no label box covers).
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
from pathlib import Path
from typing import Optional

import numpy as np

from labelwise.assign.box_geometry import oriented_box_corners
from labelwise.data.atomic import write_text_atomic
from labelwise.errors import LabelwiseError, ParameterError

REPORT_FILE = "report.html"
PANEL_PX = 420  # the width an image is shown at on the page
MAX_IMAGE_PIXELS = 480  # images are stored at most this large on their longest side: the page stays light
SHOWN_SCORE = 0.5  # the model's boxes drawn: at least this score (cleanlab's low-probability threshold), or flagged


def _corners(boxes: np.ndarray) -> np.ndarray:
    """``(k, 4, 2)`` corners of ``(k, 4)`` xyxy or ``(k, 5)`` oriented boxes."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.shape[1] == 5:
        return oriented_box_corners(boxes)
    x1, y1, x2, y2 = boxes.T
    return np.stack([np.stack([x1, y1], -1), np.stack([x2, y1], -1), np.stack([x2, y2], -1),
                     np.stack([x1, y2], -1)], axis=1)


def _points(corners: np.ndarray) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in corners)


def _image_uri(path: Path) -> Optional[str]:
    """The image as a PNG data URI at most :data:`MAX_IMAGE_PIXELS` on its longest side; None if it cannot be read."""
    try:
        from PIL import Image

        with Image.open(path) as img:
            img = img.convert("RGB")
            longest = max(img.size)
            if longest > MAX_IMAGE_PIXELS:
                scale = MAX_IMAGE_PIXELS / longest
                img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                                 Image.Resampling.BILINEAR)
            buf = io.BytesIO()
            img.save(buf, format="PNG", optimize=True)
    except Exception:  # a missing or broken file: the page shows the boxes alone and says so
        return None
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _card(result, i: int, images_dir: Optional[Path]) -> dict:
    labels, preds = result.labels, result.predictions
    image = labels.images[i]
    uri, path = None, None
    if images_dir is not None:
        try:
            path = labels.image_path(i, images_dir)
            uri = _image_uri(path)
        except LabelwiseError:
            uri = None
    names = labels.class_names
    flagged = result.is_swap[i] | result.is_badloc[i]
    label_boxes = [{"points": _points(c), "x": float(c[:, 0].min()), "y": float(c[:, 1].min()),
                    "name": names[int(k)], "id": str(ann), "flagged": bool(f),
                    "issue": "swap" if s else "badloc" if b else ""}
                   for c, k, ann, f, s, b in zip(_corners(labels.boxes[i]) if len(labels.classes[i]) else [],
                                                 labels.classes[i], labels.annotation_ids[i], flagged,
                                                 result.is_swap[i], result.is_badloc[i])]
    shown = (preds.scores[i] >= SHOWN_SCORE) | result.is_overlooked[i]
    pred_boxes = [{"points": _points(c), "name": names[int(k)], "score": float(s), "overlooked": bool(o)}
                  for c, k, s, o, keep in zip(_corners(preds.boxes[i]) if len(preds.scores[i]) else [],
                                              preds.classes[i], preds.scores[i], result.is_overlooked[i], shown)
                  if keep]
    return {"name": image.file_name, "id": str(image.id), "width": image.width, "height": image.height,
            "score": float(result.image_scores[i]), "flagged": bool(result.is_label_issue[i]),
            "image": uri, "path": str(path) if path is not None else "", "issues": result.image_issues(i),
            "labels": label_boxes, "predictions": pred_boxes,
            "stroke": max(image.width, image.height) / 160, "font": max(image.width, image.height) / 22}


def report_data(result, *, top: int = 20, images_dir=None) -> dict:
    """What the page shows, as plain values (images as data URIs)."""
    from labelwise import __version__

    if top < 0:
        raise ParameterError(f"top counts images to show: 0 or more; got {top}")
    images_dir = Path(images_dir) if images_dir is not None else None
    k = result.labels.num_classes
    given = np.bincount(np.concatenate([np.asarray(c, dtype=np.int64) for c in result.labels.classes]), minlength=k)
    predicted = np.bincount(np.concatenate([np.asarray(c, dtype=np.int64) for c in result.predictions.classes]),
                            minlength=k)

    def flagged_per_class(flags, classes):
        return np.bincount(np.concatenate([np.asarray(c, dtype=np.int64)[np.asarray(f, dtype=bool)]
                                           for f, c in zip(flags, classes)]), minlength=k)

    swap = flagged_per_class(result.is_swap, result.labels.classes)
    badloc = flagged_per_class(result.is_badloc, result.labels.classes)
    overlooked = flagged_per_class(result.is_overlooked, result.predictions.classes)
    pairs: dict = {}
    for classes, flags, suggested in zip(result.labels.classes, result.is_swap, result.suggested):
        for c, s in zip(classes[flags], suggested[flags]):
            key = (result.class_names[int(c)], result.class_names[int(s)] if s >= 0 else "?")
            pairs[key] = pairs.get(key, 0) + 1
    return {
        "version": __version__,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "settings": {"annotations": "", "predictions": "", **result.settings},
        "images": result.n_images, "label_boxes": result.labels.n_boxes, "predicted_boxes": result.predictions.n_boxes,
        "classes": k, "flagged": int(result.is_label_issue.sum()), "counts": result.issue_counts(),
        "oriented": bool(result.labels.oriented), "shown_score": SHOWN_SCORE,
        "per_class": [{"name": str(n), "boxes": int(given[c]), "predicted": int(predicted[c]), "swap": int(swap[c]),
                       "badloc": int(badloc[c]), "overlooked": int(overlooked[c])}
                      for c, n in enumerate(result.class_names)],
        "swapped": [{"given": g, "suggested": s, "boxes": n}
                    for (g, s), n in sorted(pairs.items(), key=lambda item: -item[1])[:15]],
        "cards": [_card(result, i, images_dir) for i in result.worst(top)],
        "panel_px": PANEL_PX, "images_given": images_dir is not None,
    }


def render_html(data: dict) -> str:
    """The page, from :func:`report_data`: Jinja2 with autoescape on (nothing inserted as markup)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("labelwise.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True), undefined=StrictUndefined)
    env.globals.update(count=lambda x: f"{int(x):,}")
    return env.get_template("boxes.html.j2").render(d=data)


def write_box_report(result, directory, *, top: int = 20, images_dir=None, name: Optional[str] = None) -> Path:
    """Write ``report.html`` for a :class:`~labelwise.audit.boxes.BoxAuditResult` into ``directory`` (atomically);
    ``top``: how many of the worst images to show; ``images_dir``: the images, drawn under the boxes. Returns the
    path."""
    data = report_data(result, top=top, images_dir=images_dir)
    data["name"] = name or Path(str(result.settings.get("annotations") or "boxes")).name
    return write_text_atomic(Path(directory) / REPORT_FILE, render_html(data))
