"""The box audit's report page: self-contained, every name from the data shown as text (never markup), the boxes
drawn where the labels and the model put them.

The browser part runs the page in Debian's chromium with networking off, as tests/report/test_report_browser.py does.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from labelwise.audit.boxes import audit_boxes
from labelwise.report.boxes import report_data, write_box_report
from tests.report.test_report_browser import PAYLOADS, needs_chromium, offline_page

pytest.importorskip("PIL", reason="Pillow is in the vision extra")


def small_audit(tmp_path, names=("cat", "dog"), file_names=("a.png", "b.png", "c.png")):
    """Three 40x30 images: a's dog box is labelled cat (swap), b has an object without a label box (overlooked), c
    is right. Twelve more right images give the classes an AP (cleanlab's cuts depend on it). A PNG for a only."""
    from PIL import Image

    files = list(file_names) + [f"ok{i}.png" for i in range(12)]
    coco = {"images": [{"id": i + 1, "file_name": f, "width": 40, "height": 30} for i, f in enumerate(files)],
            "categories": [{"id": 1, "name": names[0]}, {"id": 2, "name": names[1]}], "annotations": []}
    preds = []
    for i in range(len(files)):
        truth = [(2, [2, 2, 12, 10]), (1, [20, 12, 14, 14])] if i < 3 else [(1 + i % 2, [5, 5, 10, 10])]
        for j, (cat, box) in enumerate(truth):
            preds.append({"image_id": i + 1, "category_id": cat, "bbox": [b + 0.2 for b in box], "score": 0.99})
            if i == 1 and j == 1:
                continue  # overlooked
            given = 1 if (i, j) == (0, 0) else cat  # swapped
            coco["annotations"].append({"id": 10 * i + j, "image_id": i + 1, "category_id": given, "bbox": box})
    (tmp_path / "labels.json").write_text(json.dumps(coco))
    (tmp_path / "predictions.json").write_text(json.dumps(preds))
    (tmp_path / "images").mkdir(exist_ok=True)
    Image.new("RGB", (40, 30), (200, 180, 20)).save(tmp_path / "images" / files[0])
    return audit_boxes(tmp_path / "labels.json", tmp_path / "predictions.json")


@pytest.fixture()
def hostile_page(tmp_path):
    result = small_audit(tmp_path, names=(PAYLOADS[0], PAYLOADS[1]), file_names=("a.png", PAYLOADS[3], "c.png"))
    return write_box_report(result, tmp_path / "out", top=3, images_dir=tmp_path / "images", name=PAYLOADS[4]), result


def test_page_is_self_contained_and_escapes_every_name(hostile_page):
    path, _ = hostile_page
    text = path.read_text(encoding="utf-8")
    lowered = text.lower()
    assert "<script" not in lowered and "<img src=x" not in lowered and "<svg onload" not in lowered  # as markup
    assert "http://" not in lowered and "https://" not in lowered
    assert "&lt;script&gt;window.__xss" in text and "&lt;img src=x onerror=" in text  # ... and as text
    assert "&#34;&gt;&lt;svg onload=" in text  # the file name, as text
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert not re.search(r"href=\"(?!data:image/png;base64,)", text)  # every picture is a data URI


def test_the_boxes_are_drawn_where_they_are(tmp_path):
    result = small_audit(tmp_path)
    data = report_data(result, top=15, images_dir=tmp_path / "images")
    cards = {card["name"]: card for card in data["cards"]}
    a, b, c = cards["a.png"], cards["b.png"], cards["c.png"]
    assert [box["points"] for box in a["labels"]] == ["2.0,2.0 14.0,2.0 14.0,12.0 2.0,12.0",
                                                      "20.0,12.0 34.0,12.0 34.0,26.0 20.0,26.0"]
    assert [(box["name"], box["flagged"], box["issue"]) for box in a["labels"]] == [("cat", True, "swap"),
                                                                                    ("cat", False, "")]
    assert [(p["name"], p["overlooked"]) for p in b["predictions"]] == [("dog", False), ("cat", True)]
    assert b["predictions"][1]["points"] == "20.2,12.2 34.4,12.2 34.4,26.4 20.2,26.4"
    assert a["image"].startswith("data:image/png;base64,") and c["image"] is None  # c.png is not in the folder
    assert (a["width"], a["height"]) == (40, 30)
    assert data["counts"] == {"overlooked": 1, "swap": 1, "badloc": 0}
    assert data["swapped"] == [{"given": "cat", "suggested": "dog", "boxes": 1}]
    page = write_box_report(result, tmp_path / "out", top=15, images_dir=tmp_path / "images").read_text()
    assert page.count("<polygon") == (2 + 2) + (1 + 2) + (2 + 2) + 12 * (1 + 1)  # label boxes + the model's, a b c ok*
    assert "image file not found or unreadable" in page
    assert "the model sees a cat (confidence 0.99) that no label box covers" in page
    bare = write_box_report(result, tmp_path / "bare", top=3).read_text()
    assert "data:image/png" not in bare and "give the images folder (--images)" in bare


def test_worst_images_first(tmp_path):
    result = small_audit(tmp_path)
    names = [card["name"] for card in report_data(result, top=2)["cards"]]
    assert names == [result.labels.images[i].file_name for i in np.argsort(result.image_scores)[:2]]
    assert set(names) == {"a.png", "b.png"}


@pytest.mark.slow
@needs_chromium
def test_page_renders_in_chromium_without_running_data(hostile_page):
    path, _ = hostile_page
    with offline_page(path) as page:
        assert page.evaluate("() => document.querySelectorAll('.card svg').length") == 3
        assert page.evaluate("() => document.querySelectorAll('.card svg image').length") == 1  # a.png only
        body = page.inner_text("body")
        assert PAYLOADS[0] in body and "Box label audit" in body
