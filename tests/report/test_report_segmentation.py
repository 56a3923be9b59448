"""The segmentation audit's report page: self-contained, data shown as text (never markup), the panels right.

The browser part runs the page in Debian's chromium with networking off, as tests/report/test_report_browser.py does.
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest

from labelwise.report.segmentation import class_colors, report_data, write_segmentation_report
from tests.audit.test_segmentation_result import small_result
from tests.report.test_report_browser import PAYLOADS, needs_chromium, offline_page

HOSTILE = ["background", PAYLOADS[0], PAYLOADS[1]]  # a <script> and an <img onerror> as class names


@pytest.fixture()
def hostile_page(tmp_path):
    result = small_result(tmp_path, class_names=HOSTILE)
    result.names = ["a", PAYLOADS[3], "c"]  # an image name that closes an attribute
    return write_segmentation_report(result, tmp_path / "out", top=3, name=PAYLOADS[4]), result


def _png(uri: str) -> np.ndarray:
    from PIL import Image

    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def test_page_is_self_contained_and_escapes_every_name(hostile_page):
    path, _ = hostile_page
    text = path.read_text(encoding="utf-8")
    lowered = text.lower()
    assert "<script" not in lowered and "<img src=x" not in lowered and "<svg" not in lowered  # as markup
    assert "http://" not in lowered and "https://" not in lowered
    assert "&lt;script&gt;window.__xss" in text  # ... and as text
    assert "&lt;img src=x onerror=" in text
    assert "&#34;&gt;&lt;svg onload=" in text  # the image name, as text
    assert re.search(r"<img [^>]*src=\"data:image/png;base64,", text)
    assert "Content-Security-Policy" in text
    assert not re.search(r"<img [^>]*src=\"(?!data:image/png;base64,)", text)  # every picture is a data URI


def test_panels_show_the_masks_and_the_suspect_pixels(tmp_path):
    result = small_result(tmp_path)
    data = report_data(result, top=3)
    assert [c["name"] for c in data["cards"]] == ["a", "b", "c"]  # worst first
    first = data["cards"][0]
    assert first["issue_pixels"] == 2 and first["confusions"] == [("cat", "dog", 2)]
    colors = class_colors(3)
    np.testing.assert_array_equal(_png(first["panels"]["given"]), colors[result.labels[0]])
    np.testing.assert_array_equal(_png(first["panels"]["predicted"]), colors[result.predicted[0]])
    suspect = _png(first["panels"]["suspect"])
    red = (suspect[..., 0] > 150) & (suspect[..., 1] < 100)
    np.testing.assert_array_equal(red, result.issue_masks[0])  # red exactly where the audit flags
    assert data["cards"][2]["empty"] and data["empty_masks"] == 1


def test_missing_image_file_shows_a_note_not_an_error(tmp_path):
    result = small_result()  # paths under /nowhere
    text = write_segmentation_report(result, tmp_path, top=2).read_text(encoding="utf-8")
    assert "image file not found: /nowhere/a.png" in text


def test_palette_colours_are_used(tmp_path):
    result = small_result(tmp_path)
    result.colors = np.array([[1, 2, 3], [200, 0, 0], [0, 200, 0]], dtype=np.uint8)
    given = _png(report_data(result, top=1)["cards"][0]["panels"]["given"])
    np.testing.assert_array_equal(given, result.colors[result.labels[0]])


def test_class_colors_are_distinct():
    colors = class_colors(256)
    assert len({tuple(c) for c in colors}) == 256 and tuple(colors[0]) == (0, 0, 0)
    assert tuple(colors[1]) == (128, 0, 0) and tuple(colors[2]) == (0, 128, 0)


@pytest.mark.slow
@needs_chromium
def test_page_renders_in_chromium_without_running_data(hostile_page):
    path, _ = hostile_page
    with offline_page(path) as page:
        # four panels per card (the image files exist), each a decoded picture
        assert page.evaluate("() => document.querySelectorAll('.card img').length") == 12
        assert page.evaluate("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
        body = page.inner_text("body")
        assert PAYLOADS[0] in body and "Segmentation label audit" in body
