"""COCO files with known label errors, built from :func:`labelwise.testing.box_scenes.shape_scenes`, for the box
audit's tests (workflow, CLI, report).

The predictions are the true boxes (score 0.99, each side moved by up to half a pixel, so they are not the labels'
copies); the labels are the true boxes with three kinds of errors injected at known places: a box deleted
(overlooked), a box's class changed (swap), a box moved off its object (badly located).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from labelwise.testing.box_scenes import shape_scenes


def write_scene_files(folder: Path, n: int = 40, *, seed: int = 0, images: bool = False,
                      names: tuple = ("labels.json", "predictions.json")) -> dict:
    """Write ``folder/labels.json`` (COCO, with errors) and ``folder/predictions.json`` (or the two ``names``); with
    ``images``, the scenes as PNGs in ``folder/images``. Returns ``{"overlooked": {(image_id, x1, y1)}, "swap":
    {annotation ids}, "badloc": {annotation ids}, "scenes": the BoxScenes}``.

    Every fourth image (0, 4, 8, ...) has one error in its first box, in turn overlooked, swap, badloc. Objects do not
    overlap (so a deleted object's predicted box overlaps no label box, as ObjectLab needs to call it overlooked); a
    badly located box is moved by 0.7 of its width and 0.6 of its height, inside the image."""
    scenes = shape_scenes(n, size=64, objects=(2, 3), side_px=(14, 22), max_overlap=0.0, seed=seed)
    rng = np.random.default_rng(seed + 1)
    folder.mkdir(parents=True, exist_ok=True)
    coco = {"images": [], "categories": [{"id": c + 1, "name": name} for c, name in enumerate(scenes.class_names)],
            "annotations": []}
    preds = []
    truth = {"overlooked": set(), "swap": set(), "badloc": set(), "scenes": scenes}
    ann_id = 100
    for i, (boxes, classes) in enumerate(zip(scenes.boxes, scenes.classes)):
        image_id = i + 1
        coco["images"].append({"id": image_id, "file_name": f"scene{i:02d}.png", "width": 64, "height": 64})
        for j, (box, cls) in enumerate(zip(boxes, classes)):
            x1, y1, x2, y2 = (float(v) for v in box)
            jitter = rng.uniform(-0.5, 0.5, size=4)
            preds.append({"image_id": image_id, "category_id": int(cls) + 1, "score": 0.99,
                          "bbox": [x1 + jitter[0], y1 + jitter[1], x2 - x1 + jitter[2], y2 - y1 + jitter[3]]})
            error = ("overlooked", "swap", "badloc")[i % 3] if i % 4 == 0 and j == 0 else None
            if error == "overlooked":
                truth["overlooked"].add((image_id, x1, y1))
                continue
            category = int(cls) + 1
            if error == "swap":
                category = int(cls + 1) % 3 + 1
                truth["swap"].add(ann_id)
            w, h = x2 - x1, y2 - y1
            if error == "badloc":
                x1 = x1 + 0.7 * w if x1 + 1.7 * w <= 64 else x1 - 0.7 * w
                y1 = y1 + 0.6 * h if y1 + 1.6 * h <= 64 else y1 - 0.6 * h
                truth["badloc"].add(ann_id)
            coco["annotations"].append({"id": ann_id, "image_id": image_id, "category_id": category,
                                        "bbox": [x1, y1, w, h], "area": w * h, "iscrowd": 0})
            ann_id += 1
    (folder / names[0]).write_text(json.dumps(coco, indent=2))
    (folder / names[1]).write_text(json.dumps(preds))
    if images:
        from PIL import Image

        (folder / "images").mkdir(exist_ok=True)
        for i, image in enumerate(scenes.images):
            Image.fromarray(np.round(image * 255).astype(np.uint8)).save(folder / "images" / f"scene{i:02d}.png")
    return truth
