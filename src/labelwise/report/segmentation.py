"""The segmentation audit's report page: one self-contained HTML file showing the worst images and their suspect
pixels.

Like the Dataset Nutrition Label (:mod:`labelwise.report.build`): inline CSS, no script, no network (a
Content-Security-Policy allows only inline styles and ``data:`` images); every string from the data (image names,
class names, paths) is escaped by Jinja2's autoescape. Each of the worst images is shown as four PNG data URIs made
with Pillow: the image | the given mask | the suspect pixels (red) over the dimmed image | the model's classes. Masks
are drawn in the palette's colours (the palette file's, or the mask PNGs' own colour table), else in a fixed colour
map (class 0 black).
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
from pathlib import Path
from typing import Optional

import numpy as np

from labelwise.data.atomic import write_text_atomic
from labelwise.errors import LabelwiseError, ParameterError

REPORT_FILE = "report.html"
PANEL_PX = 192  # the longest side of a panel on the page (small images are scaled up, pixelated)
MAX_PANEL_PIXELS = 384  # panels are stored at most this large on their longest side: the page stays light
SUSPECT = np.array([230, 30, 30], dtype=np.float32)


def class_colors(k: int) -> np.ndarray:
    """``(k, 3) uint8``: a fixed colour per class id, distinct for neighbours (the bit-interleaved colour map the
    PASCAL VOC tools use: class 0 black, 1 dark red, 2 dark green, ...)."""
    colors = np.zeros((k, 3), dtype=np.uint8)
    for c in range(k):
        r = g = b = 0
        value = c
        for bit in range(8):
            r |= ((value >> 0) & 1) << (7 - bit)
            g |= ((value >> 1) & 1) << (7 - bit)
            b |= ((value >> 2) & 1) << (7 - bit)
            value >>= 3
        colors[c] = (r, g, b)
    return colors


def _png_uri(rgb: np.ndarray, *, smooth: bool) -> str:
    from PIL import Image

    img = Image.fromarray(np.asarray(rgb, dtype=np.uint8), mode="RGB")
    longest = max(img.size)
    if longest > MAX_PANEL_PIXELS:
        scale = MAX_PANEL_PIXELS / longest
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _panels(result, i: int, colors: np.ndarray) -> dict:
    """The four data URIs of image ``i`` (``image`` is None when its file cannot be read any more)."""
    labels, predicted, suspect = result.labels[i], result.predicted[i], result.issue_masks[i]
    try:
        image = np.round(result.image(i) * 255)
    except LabelwiseError:
        image = None
    base = image if image is not None else colors[labels].astype(np.float32)
    overlay = base * 0.45
    overlay[suspect] = 0.25 * base[suspect] + 0.75 * SUSPECT
    return {
        "image": _png_uri(image, smooth=True) if image is not None else None,
        "given": _png_uri(colors[labels], smooth=False),
        "suspect": _png_uri(overlay, smooth=image is not None),
        "predicted": _png_uri(colors[predicted], smooth=False),
    }


def report_data(result, *, top: int = 20) -> dict:
    """What the page shows, as plain values (the panels as data URIs)."""
    from labelwise import __version__

    if top < 0:
        raise ParameterError(f"top counts images to show: 0 or more; got {top}")
    k = len(result.class_names)
    colors = result.colors if result.colors is not None else class_colors(k)
    frame = result.to_frame()
    worst = result.worst(top)
    per_class = result.per_class()
    h, w = result.labels.shape[1:] if result.n_images else (0, 0)
    cards = []
    for i in worst.index:
        row = frame.loc[i]
        cards.append({
            "name": str(row["image"]), "path": str(row["path"]), "score": float(row["label_quality"]),
            "flagged": bool(row["is_label_issue"]), "issue_pixels": int(row["issue_pixels"]),
            "issue_share": float(row["issue_share"]), "empty": bool(row["empty_mask"]),
            "confusions": result.confusion_of(int(i), top=3), "panels": _panels(result, int(i), colors),
        })
    return {
        "version": __version__,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "settings": {"images_dir": "", "masks": "", "resize": None, "pred_probs": "not recorded", **result.settings},
        "images": result.n_images, "width": int(w), "height": int(h),
        "classes": k, "flagged": int(result.is_label_issue.sum()), "threshold": result.threshold,
        "issue_pixels": int(result.issue_pixels.sum()), "pixels": int(result.labels.size),
        "empty_masks": int(result.empty_mask.sum()),
        "legend": [{"name": str(n), "color": "#%02x%02x%02x" % tuple(int(v) for v in colors[c])}
                   for c, n in enumerate(result.class_names)],
        "per_class": per_class.to_dict("records"),
        "confused": result.confused_pairs().head(15).to_dict("records"),
        "cards": cards, "panel_px": PANEL_PX,
    }


def render_html(data: dict) -> str:
    """The page, from :func:`report_data`: Jinja2 with autoescape on (nothing inserted as markup)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("labelwise.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True), undefined=StrictUndefined)
    env.globals.update(pct=lambda x: f"{100 * float(x):.1f}%", count=lambda x: f"{int(x):,}")
    return env.get_template("segmentation.html.j2").render(d=data)


def write_segmentation_report(result, directory, *, top: int = 20, name: Optional[str] = None) -> Path:
    """Write ``report.html`` for a :class:`~labelwise.audit.images.SegmentationAuditResult` into ``directory``
    (atomically); ``top``: how many of the worst images to show. Returns the path."""
    data = report_data(result, top=top)
    data["name"] = name or Path(str(result.settings.get("images_dir", "images"))).name
    return write_text_atomic(Path(directory) / REPORT_FILE, render_html(data))
