"""Box label files (labelwise.data.boxes): hand-made COCO, YOLO and YOLO-OBB files with known contents read to the
exact arrays, written back byte for byte when unchanged and field for field when changed, and every bad input
stopped with one line naming the file, the image (file name and id) and the annotation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from labelwise.data.boxes import (
    read_coco_boxes, read_coco_predictions, read_yolo_boxes, write_coco_boxes, write_yolo_boxes,
)
from labelwise.errors import DataError, ParameterError

pytest.importorskip("PIL", reason="Pillow is in the vision extra")


def coco(**changes) -> dict:
    """Two images, two categories (ids 3 and 1, so class 0 is 'dog'), three annotations with extra fields."""
    data = {
        "info": {"description": "hand-made", "version": "1.0"},
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80, "license": 2},
                   {"id": 7, "file_name": "sub/b.jpg", "width": 50, "height": 40}],
        "categories": [{"id": 3, "name": "cat", "supercategory": "animal"}, {"id": 1, "name": "dog"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 3, "bbox": [10, 10, 20, 30], "area": 600, "iscrowd": 0},
            {"id": 11, "image_id": 1, "category_id": 1, "bbox": [50.5, 0, 49.5, 80], "area": 3000.0,
             "segmentation": [[50.5, 0, 100, 0, 100, 80]], "iscrowd": 0, "note": "keep me"},
            {"id": 12, "image_id": 7, "category_id": 1, "bbox": [1.25, 2.5, 3.0, 4.0], "area": 12.0},
        ],
    }
    data.update(changes)
    return data


def write(path, data, **dump) -> None:
    path.write_text(json.dumps(data, **dump), encoding="utf-8")


def test_coco_reads_to_the_exact_boxes_and_classes(tmp_path):
    write(tmp_path / "c.json", coco())
    labels = read_coco_boxes(tmp_path / "c.json")
    assert labels.class_names == ["dog", "cat"] and labels.category_ids == [1, 3]
    assert [im.id for im in labels.images] == [1, 7] and labels.images[1].name == "b"
    np.testing.assert_array_equal(labels.boxes[0], [[10, 10, 30, 40], [50.5, 0, 100, 80]])
    np.testing.assert_array_equal(labels.boxes[1], [[1.25, 2.5, 4.25, 6.5]])
    assert labels.classes[0].tolist() == [1, 0] and labels.annotation_ids[0].tolist() == [10, 11]
    cl = labels.to_cleanlab()
    assert cl[1]["image_name"] == "sub/b.jpg" and cl[1]["labels"].tolist() == [0]
    np.testing.assert_array_equal(cl[0]["bboxes"], labels.boxes[0])


@pytest.mark.parametrize("dump", [{}, {"indent": 2}, {"indent": 4}, {"separators": (",", ":")}],
                         ids=["default", "indent2", "indent4", "compact"])
def test_coco_unchanged_is_written_back_byte_for_byte(tmp_path, dump):
    write(tmp_path / "c.json", coco(), **dump)
    write_coco_boxes(read_coco_boxes(tmp_path / "c.json"), tmp_path / "out.json")
    assert (tmp_path / "out.json").read_bytes() == (tmp_path / "c.json").read_bytes()


def test_coco_hand_formatted_unchanged_file_is_kept_byte_for_byte(tmp_path):
    text = '{"images":[ {"id":1,"file_name":"a.jpg","width":10,"height":10} ],\n "categories":[{"id":1,"name":"x"}],' \
           '\n "annotations":[{"id":1,"image_id":1,"category_id":1,"bbox":[1.50,1,2,2]}]}\n'
    (tmp_path / "c.json").write_text(text, encoding="utf-8")
    write_coco_boxes(read_coco_boxes(tmp_path / "c.json"), tmp_path / "out.json")
    assert (tmp_path / "out.json").read_text(encoding="utf-8") == text


def test_a_byte_order_mark_is_kept(tmp_path):
    (tmp_path / "c.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(coco()).encode())
    labels = read_coco_boxes(tmp_path / "c.json")
    write_coco_boxes(labels, tmp_path / "same.json")
    assert (tmp_path / "same.json").read_bytes() == (tmp_path / "c.json").read_bytes()
    labels.classes[0][0] = 0
    write_coco_boxes(labels, tmp_path / "out.json")
    changed = (tmp_path / "out.json").read_bytes()
    assert changed.startswith(b"\xef\xbb\xbf{") and json.loads(changed[3:])["annotations"][0]["category_id"] == 1


def test_rows_that_do_not_agree_are_refused(tmp_path):
    write(tmp_path / "c.json", coco())
    labels = read_coco_boxes(tmp_path / "c.json")
    labels.boxes[1] = np.vstack([labels.boxes[1], [[0, 0, 5, 5]]])  # a box without its class and id
    with pytest.raises(ParameterError, match="give a new box the id -1"):
        write_coco_boxes(labels, tmp_path / "out.json")


def test_coco_changes_touch_only_the_changed_fields(tmp_path):
    write(tmp_path / "c.json", coco(), indent=2)
    labels = read_coco_boxes(tmp_path / "c.json")
    labels.boxes[1][0] = [1.25, 2.5, 11.25, 12.5]  # annotation 12 moved and resized: its area was the box's
    labels.boxes[0][1] = [50, 0, 100, 80]  # annotation 11: its area is the mask's, so it stays
    labels.classes[0][0] = 0  # annotation 10: cat -> dog
    labels.boxes[1] = np.vstack([labels.boxes[1], [[0, 0, 5, 5]]])  # a new box
    labels.classes[1] = np.append(labels.classes[1], 1)
    labels.annotation_ids[1] = np.append(labels.annotation_ids[1], -1)
    write_coco_boxes(labels, tmp_path / "out.json")
    text = (tmp_path / "out.json").read_text(encoding="utf-8")
    out, before = json.loads(text), coco()
    assert text.startswith('{\n  "info": {\n    "description"')  # the file's own layout (indent 2)
    assert {k: v for k, v in out.items() if k != "annotations"} == {k: v for k, v in before.items()
                                                                      if k != "annotations"}
    a10, a11, a12, new = out["annotations"]
    assert a10 == {**before["annotations"][0], "category_id": 1}
    assert a11 == {**before["annotations"][1], "bbox": [50.0, 0.0, 50.0, 80.0]}  # area, segmentation, note kept
    assert a12 == {**before["annotations"][2], "bbox": [1.25, 2.5, 10.0, 10.0], "area": 100.0}
    assert new == {"id": 13, "image_id": 7, "category_id": 3, "iscrowd": 0, "bbox": [0.0, 0.0, 5.0, 5.0],
                   "area": 25.0}
    again = read_coco_boxes(tmp_path / "out.json")
    np.testing.assert_array_equal(again.boxes[1], labels.boxes[1])


def test_coco_deleted_box_is_dropped(tmp_path):
    write(tmp_path / "c.json", coco())
    labels = read_coco_boxes(tmp_path / "c.json")
    labels.boxes[0], labels.classes[0], labels.annotation_ids[0] = (labels.boxes[0][1:], labels.classes[0][1:],
                                                                    labels.annotation_ids[0][1:])
    write_coco_boxes(labels, tmp_path / "out.json")
    assert [a["id"] for a in json.loads((tmp_path / "out.json").read_text())["annotations"]] == [11, 12]


def test_coco_oriented_boxes_in_rbox_degrees(tmp_path):
    data = coco()
    for ann, rbox in zip(data["annotations"], ([30, 30, 20, 10, 90], [60, 40, 30, 10, -45], [20, 20, 8, 4, 0])):
        ann["rbox"] = rbox
    write(tmp_path / "c.json", data)
    labels = read_coco_boxes(tmp_path / "c.json")
    assert labels.oriented and labels.boxes[0].shape == (2, 5)
    np.testing.assert_allclose(labels.boxes[0][0], [30, 30, 20, 10, math.pi / 2])
    np.testing.assert_allclose(labels.xyxy(0)[0], [25, 20, 35, 40])  # the hull of a box turned a quarter
    write_coco_boxes(labels, tmp_path / "same.json")
    assert (tmp_path / "same.json").read_bytes() == (tmp_path / "c.json").read_bytes()
    labels.boxes[1][0, 4] = math.pi / 6
    write_coco_boxes(labels, tmp_path / "out.json")
    changed = json.loads((tmp_path / "out.json").read_text())["annotations"][2]
    assert changed["rbox"] == [20.0, 20.0, 8.0, 4.0, 30.0]


BAD_COCO = [
    ("outside", lambda d: d["annotations"][0].update(bbox=[90, 10, 20, 30]),
     ["image 'a.jpg' (id 1)", "annotation 10", "right edge", "100x80"]),
    ("zero size", lambda d: d["annotations"][2].update(bbox=[1, 1, 0, 4]),
     ["image 'sub/b.jpg' (id 7)", "annotation 12", "zero width or height"]),
    ("negative size", lambda d: d["annotations"][2].update(bbox=[10, 10, -3, 4]),
     ["annotation 12", "negative", "x1, y1, x2, y2"]),
    ("nan", lambda d: d["annotations"][1].update(bbox=[float("nan"), 0, 1, 1]), ["annotation 11", "NaN"]),
    ("unknown image", lambda d: d["annotations"][0].update(image_id=99), ["annotation 10", "image id 99"]),
    ("image id a list", lambda d: d["annotations"][0].update(image_id=[1]), ["annotation 10", "image id [1]"]),
    ("unknown category", lambda d: d["annotations"][0].update(category_id=5),
     ["annotation 10", "image 'a.jpg' (id 1)", "category id 5"]),
    ("duplicate annotation id", lambda d: d["annotations"][2].update(id=10), ["annotation 10", "two annotations"]),
    ("no annotation id", lambda d: d["annotations"][2].pop("id"), ["annotation #3", "no id"]),
    ("duplicate image id", lambda d: d["images"][1].update(id=1), ["'sub/b.jpg' (id 1)", "'a.jpg' has the same id"]),
    ("bbox not four numbers", lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), ["annotation 10", "[x, y, width"]),
    ("rbox missing", lambda d: d["annotations"][0].update(rbox=[30, 30, 20, 10, 0]),
     ["annotation 11", "no rbox", "other annotations"]),
    ("no categories", lambda d: d.update(categories=[]), ["no categories"]),
]


@pytest.mark.parametrize("break_it,expected", [c[1:] for c in BAD_COCO], ids=[c[0] for c in BAD_COCO])
def test_bad_coco_files_fail_with_one_line_naming_image_and_annotation(tmp_path, break_it, expected):
    data = coco()
    break_it(data)
    write(tmp_path / "c.json", data)
    with pytest.raises(DataError) as err:
        read_coco_boxes(tmp_path / "c.json")
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "c.json") in message
    for part in expected:
        assert part in message, message


def test_not_json_and_not_coco(tmp_path):
    (tmp_path / "c.json").write_text("{nope", encoding="utf-8")
    with pytest.raises(DataError, match="not valid JSON"):
        read_coco_boxes(tmp_path / "c.json")
    write(tmp_path / "c.json", [1, 2])
    with pytest.raises(DataError, match="needs the lists 'images', 'categories' and 'annotations'"):
        read_coco_boxes(tmp_path / "c.json")


def test_tolerance_allows_rounding_past_the_edge(tmp_path):
    data = coco()
    data["annotations"][0]["bbox"] = [80, 10, 20.8, 30]  # 0.8 px past the right edge
    write(tmp_path / "c.json", data)
    assert read_coco_boxes(tmp_path / "c.json").boxes[0][0, 2] == pytest.approx(100.8)
    with pytest.raises(DataError, match="right edge"):
        read_coco_boxes(tmp_path / "c.json", tolerance=0.5)


# ---- predictions ---------------------------------------------------------------------------------------------------

def test_predictions_by_id_file_name_or_stem(tmp_path):
    write(tmp_path / "c.json", coco())
    labels = read_coco_boxes(tmp_path / "c.json")
    preds = [{"image_id": 1, "category_id": 3, "bbox": [10, 10, 20, 30], "score": 0.9},
             {"image_id": "b", "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.4},
             {"image_id": "sub/b.jpg", "category_id": 3, "bbox": [1, 1, 2, 2], "score": 0.7},
             {"image_id": 1, "category_id": 1, "bbox": [0, 0, 0, 0], "score": 0.2}]  # a point: allowed here
    write(tmp_path / "p.json", preds)
    got = read_coco_predictions(tmp_path / "p.json", labels)
    assert got.n_boxes == 4 and got.classes[0].tolist() == [1, 0] and got.classes[1].tolist() == [0, 1]
    cl = got.to_cleanlab(2)
    np.testing.assert_array_equal(cl[0][1], [[10, 10, 30, 40, 0.9]])
    np.testing.assert_array_equal(cl[1][0], [[0, 0, 5, 5, 0.4]])
    write(tmp_path / "p2.json", {"annotations": preds[:1]})  # a COCO file with scores works too
    assert read_coco_predictions(tmp_path / "p2.json", labels).n_boxes == 1


BAD_PREDICTIONS = [
    ({"image_id": 5, "category_id": 3, "bbox": [1, 1, 2, 2], "score": 0.5}, ["prediction #1", "image_id 5"]),
    ({"image_id": 1, "category_id": 2, "bbox": [1, 1, 2, 2], "score": 0.5},
     ["prediction #1", "image 'a.jpg' (id 1)", "category_id 2"]),
    ({"image_id": 1, "category_id": 3, "bbox": [1, 1, 2, 2], "score": 1.5}, ["score 1.5"]),
    ({"image_id": 1, "category_id": 3, "bbox": [10, 10, -2, 2], "score": 0.5}, ["negative", "x1, y1, x2, y2"]),
    ({"image_id": 1, "category_id": 3, "bbox": [95, 10, 20, 2], "score": 0.5}, ["right edge"]),
    ({"image_id": 1, "category_id": 3, "score": 0.5}, ["no bbox"]),
]


@pytest.mark.parametrize("entry,expected", BAD_PREDICTIONS)
def test_bad_predictions_name_the_entry(tmp_path, entry, expected):
    write(tmp_path / "c.json", coco())
    write(tmp_path / "p.json", [entry])
    with pytest.raises(DataError) as err:
        read_coco_predictions(tmp_path / "p.json", read_coco_boxes(tmp_path / "c.json"))
    for part in expected:
        assert part in str(err.value), str(err.value)


# ---- YOLO ----------------------------------------------------------------------------------------------------------

@pytest.fixture()
def yolo(tmp_path):
    """images/ (a 100x50 and a 40x40 PNG, and one without labels), labels/ (YOLO lines), classes.txt."""
    from PIL import Image

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.new("RGB", (100, 50)).save(tmp_path / "images" / "wide.png")
    Image.new("RGB", (40, 40)).save(tmp_path / "images" / "square.png")
    Image.new("RGB", (10, 10)).save(tmp_path / "images" / "empty.png")
    (tmp_path / "labels" / "wide.txt").write_text("0 0.5 0.5 0.2 0.4\n1 0.1 0.2 0.2 0.4\n", encoding="utf-8")
    (tmp_path / "labels" / "square.txt").write_text("1 0.25 0.75 0.5 0.5", encoding="utf-8")  # no final newline
    (tmp_path / "labels" / "classes.txt").write_text("car\nperson\n", encoding="utf-8")
    return tmp_path


def test_yolo_reads_pixel_boxes_and_class_names(yolo):
    labels = read_yolo_boxes(yolo / "labels", yolo / "images")
    assert [im.file_name for im in labels.images] == ["empty.png", "square.png", "wide.png"]
    assert labels.class_names == ["car", "person"] and labels.format == "yolo"
    np.testing.assert_allclose(labels.boxes[2], [[40, 15, 60, 35], [0, 0, 20, 20]])
    np.testing.assert_allclose(labels.boxes[1], [[0, 20, 20, 40]])
    assert labels.boxes[0].shape == (0, 4) and labels.annotation_ids[2].tolist() == [1, 2]
    assert read_yolo_boxes(yolo / "labels", yolo / "images", class_names=["a", "b", "c"]).class_names == ["a", "b", "c"]


def test_yolo_round_trip_keeps_unchanged_files_and_lines(yolo):
    labels = read_yolo_boxes(yolo / "labels", yolo / "images")
    write_yolo_boxes(labels, yolo / "out")
    for name in ("wide.txt", "square.txt"):
        assert (yolo / "out" / name).read_bytes() == (yolo / "labels" / name).read_bytes()
    assert not (yolo / "out" / "empty.txt").exists()  # no file before, no boxes now: none written
    labels.boxes[2][1] = [0, 0, 30, 25]
    write_yolo_boxes(labels, yolo / "out")
    assert (yolo / "out" / "wide.txt").read_text() == "0 0.5 0.5 0.2 0.4\n1 0.150000 0.250000 0.300000 0.500000\n"


def test_yolo_obb_corners_to_oriented_boxes_and_back(yolo):
    for name in ("wide.txt", "square.txt"):
        (yolo / "labels" / name).unlink()
    # a 20 x 10 pixel rectangle centred at (50, 25) in the 100x50 image, its width axis turned 90 degrees (+x -> +y)
    corners = np.array([[55, 15], [55, 35], [45, 35], [45, 15]], dtype=float) / [100, 50]
    (yolo / "labels" / "wide.txt").write_text("1 " + " ".join(f"{v:g}" for v in corners.ravel()) + "\n")
    labels = read_yolo_boxes(yolo / "labels", yolo / "images")
    assert labels.oriented and labels.format == "yolo-obb"
    np.testing.assert_allclose(labels.boxes[2], [[50, 25, 20, 10, math.pi / 2]], atol=1e-12)
    labels.boxes[2][0, 0] = 60  # moved 10 px right: the corners move with it
    write_yolo_boxes(labels, yolo / "out")
    values = np.array((yolo / "out" / "wide.txt").read_text().split()[1:], dtype=float).reshape(4, 2)
    np.testing.assert_allclose(values, corners + [0.1, 0], atol=1e-6)


def test_coco_to_yolo_and_back_keeps_the_boxes(tmp_path, yolo):
    labels = read_yolo_boxes(yolo / "labels", yolo / "images")
    write_coco_boxes(labels, tmp_path / "c.json")
    back = read_coco_boxes(tmp_path / "c.json")
    assert back.class_names == labels.class_names and [im.file_name for im in back.images] == \
        [im.file_name for im in labels.images]
    for a, b in zip(back.boxes, labels.boxes):
        np.testing.assert_allclose(a, b, atol=1e-6)
    write_yolo_boxes(back, tmp_path / "yolo")
    assert (tmp_path / "yolo" / "wide.txt").read_text() == \
        "0 0.500000 0.500000 0.200000 0.400000\n1 0.100000 0.200000 0.200000 0.400000\n"


BAD_YOLO = [
    ("wide.txt", "0 0.5 0.5 0.2\n", ["wide.txt line 1", "image 'wide.png' (id 'wide')", "4 values"]),
    ("wide.txt", "0 0.5 0.5 0.2 0.4 0.9\n", ["6 values"]),
    ("wide.txt", "0 50 25 20 10\n", ["line 1", "outside [0, 1]", "pixel coordinates"]),
    ("wide.txt", "0 0.5 0.5 0 0.4\n", ["zero width or height"]),
    ("wide.txt", "0 0.5 nan 0.2 0.4\n", ["NaN"]),
    ("wide.txt", "x 0.5 0.5 0.2 0.4\n", ["not all numbers"]),
    ("wide.txt", "1.5 0.5 0.5 0.2 0.4\n", ["class '1.5'"]),
    ("wide.txt", "0 0.5 0.5 0.2 0.4\n5 0.5 0.5 0.2 0.4\n", ["line 2", "class 5", "2 class names"]),
    ("wide.txt", "0 0.5 0.5 0.2 0.4\n0 0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2\n", ["line 2", "9 values where other"]),
    ("ghost.txt", "0 0.5 0.5 0.2 0.4\n", ["ghost.txt has no image"]),
    ("wide.txt", b"0 0.5 0.5 0.2 0.4 \xe9\n", ["not UTF-8"]),
]


@pytest.mark.parametrize("name,text,expected", BAD_YOLO)
def test_bad_yolo_lines_fail_naming_file_line_and_image(yolo, name, text, expected):
    (yolo / "labels" / name).write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(DataError) as err:
        read_yolo_boxes(yolo / "labels", yolo / "images")
    assert "\n" not in str(err.value)
    for part in expected:
        assert part in str(err.value), str(err.value)


def test_yolo_names_from_data_yaml(yolo):
    (yolo / "labels" / "classes.txt").unlink()
    (yolo / "data.yaml").write_text("names:\n  0: car\n  1: person\n", encoding="utf-8")
    assert read_yolo_boxes(yolo / "labels", yolo / "images").class_names == ["car", "person"]
    (yolo / "data.yaml").unlink()
    assert read_yolo_boxes(yolo / "labels", yolo / "images").class_names == ["0", "1"]
