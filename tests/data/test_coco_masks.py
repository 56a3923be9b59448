"""labelwise.data.coco_masks: hand-made COCO files whose pixels are known, and every malformed entry named."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from labelwise.data.coco_masks import _compressed_counts, read_coco
from labelwise.errors import DataError

pytest.importorskip("pycocotools", reason="pycocotools is in the vision extra")

H, W = 6, 8
RECT = [1, 1, 5, 1, 5, 4, 1, 4]  # pixel edges x 1..5, y 1..4: rows 1-3, columns 1-4 (centres inside)


def _expected_rect():
    m = np.zeros((H, W), bool)
    m[1:4, 1:5] = True
    return m


def _expected_rle():
    """counts [3, 4, 41] run down the columns: pixels 3..6 in column-major order."""
    flat = np.zeros(H * W, bool)
    flat[3:7] = True
    return flat.reshape((H, W), order="F")


def _coco():
    return {
        "images": [{"id": 10, "file_name": "sub/b.png", "height": H, "width": W},
                   {"id": 11, "file_name": "a.png", "height": H, "width": W},
                   {"id": 12, "file_name": "c.jpg", "height": H, "width": W}],
        "categories": [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 10, "category_id": 7, "segmentation": [RECT]},
            {"id": 2, "image_id": 11, "category_id": 3, "segmentation": {"size": [H, W], "counts": [3, 4, 41]},
             "iscrowd": 1},
            {"id": 3, "image_id": 11, "category_id": 7, "segmentation": {"size": [H, W], "counts": "34Y1"}},
        ],
    }


def _write(tmp_path, data, name="coco.json"):
    (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
    return tmp_path / name


def test_classes_images_and_known_pixels(tmp_path):
    coco = read_coco(_write(tmp_path, _coco()))
    assert coco.names == ["background", "cat", "dog"]  # category ids 3, 7 -> classes 1, 2
    assert coco.category_ids == [3, 7] and coco.num_classes == 3
    assert [im.name for im in coco.images] == ["a", "b", "c"]  # sorted by stem
    b = coco.mask(10)
    assert b.dtype == np.int64 and b.shape == (H, W)
    np.testing.assert_array_equal(b, np.where(_expected_rect(), 2, 0))
    a = coco.mask(coco.images[0])  # the same pixels as uncompressed (cat) and compressed (dog) RLE: equal areas,
    np.testing.assert_array_equal(a, np.where(_expected_rle(), 2, 0))  # so the later one (dog) is drawn last
    assert not coco.mask(12).any()  # no annotations: all background


def test_compressed_rle_of_any_mask(tmp_path):
    from pycocotools import mask as mask_utils

    truth = np.random.default_rng(0).random((H, W)) > 0.6
    counts = mask_utils.encode(np.asfortranarray(truth.astype(np.uint8)))["counts"].decode()
    data = _coco()
    data["annotations"] = [{"id": 1, "image_id": 12, "category_id": 3,
                            "segmentation": {"size": [H, W], "counts": counts}}]
    np.testing.assert_array_equal(read_coco(_write(tmp_path, data)).mask(12), truth.astype(np.int64))
    assert sum(_compressed_counts(counts)) == H * W


def test_smaller_object_stays_on_top_of_a_larger_one(tmp_path):
    data = _coco()
    whole = [0, 0, W, 0, W, H, 0, H]
    data["annotations"] = [{"id": 1, "image_id": 12, "category_id": 7, "segmentation": [RECT]},  # small, first
                           {"id": 2, "image_id": 12, "category_id": 3, "segmentation": [whole]}]  # large, later
    mask = read_coco(_write(tmp_path, data)).mask(12)
    np.testing.assert_array_equal(mask, np.where(_expected_rect(), 2, 1))


def test_two_polygons_of_one_annotation_are_joined(tmp_path):
    data = _coco()
    data["annotations"] = [{"id": 1, "image_id": 12, "category_id": 3,
                            "segmentation": [RECT, [6, 4, 8, 4, 8, 6, 6, 6]]}]
    expected = _expected_rect().astype(np.int64)
    expected[4:6, 6:8] = 1
    np.testing.assert_array_equal(read_coco(_write(tmp_path, data)).mask(12), expected)


def test_image_paths(tmp_path):
    coco = read_coco(_write(tmp_path, _coco()))
    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    (tmp_path / "imgs" / "sub" / "b.png").write_bytes(b"x")
    (tmp_path / "imgs" / "a.png").write_bytes(b"x")
    by_name = {im.name: im for im in coco.images}
    assert coco.image_path(by_name["b"], tmp_path / "imgs") == tmp_path / "imgs" / "sub" / "b.png"
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "b.png").write_bytes(b"x")  # file_name's folder left out: found by its base name
    assert coco.image_path(by_name["b"], tmp_path / "flat") == tmp_path / "flat" / "b.png"
    with pytest.raises(DataError, match=r"image 'c\.jpg' \(id 12\) of .*coco\.json is not in .*imgs; give the folder"):
        coco.image_path(by_name["c"], tmp_path / "imgs")
    with pytest.raises(DataError, match="has no image with id 99"):
        coco.mask(99)


def _broken(change):
    data = _coco()
    change(data)
    return data


BAD = [
    (lambda d: d["annotations"][0].update(image_id=99),
     r"annotation 1 of .* refers to image id 99, which the file's 'images' does not list"),
    (lambda d: d["annotations"][0].update(category_id=5),
     r"annotation 1 of .* has category id 5, which the file's 'categories' does not list \(3, 7\)"),
    (lambda d: d["annotations"][0].pop("segmentation"), r"annotation 1 of .* has no segmentation \(a bounding box"),
    (lambda d: d["annotations"][0].update(segmentation=[[1, 1, 5, 1, 5]]), r"annotation 1 .* polygon that is not"),
    (lambda d: d["annotations"][0].update(segmentation=[[1, 1, 5, 1]]), r"annotation 1 .* polygon that is not"),
    (lambda d: d["annotations"][0].update(segmentation=[[1, 1, 5, 1, 5, "x"]]), "polygon that is not"),
    (lambda d: d["annotations"][0].update(segmentation=[]), r"annotation 1 .* has an empty segmentation"),
    (lambda d: d["annotations"][0].update(segmentation={"counts": [1]}), "neither polygons .* nor an RLE"),
    (lambda d: d["annotations"][1]["segmentation"].update(size=[W, H]),
     r"annotation 2 .* RLE of size \[8, 6\], but its image is \[height, width\] = \[6, 8\]"),
    (lambda d: d["annotations"][1]["segmentation"].update(counts=[3, 4]),
     r"annotation 2 .* RLE covering 7 pixels, but its image has 6 x 8 = 48"),
    (lambda d: d["annotations"][1]["segmentation"].update(counts=[3, -4, 49]), "not whole numbers >= 0"),
    (lambda d: d["annotations"][2]["segmentation"].update(counts="zz~"), r"annotation 3 .* compressed RLE that cannot"),
    (lambda d: d["annotations"][2]["segmentation"].update(counts="34Y"), "ends in the middle of a number"),
    (lambda d: d["annotations"][2]["segmentation"].update(counts=""), "covering 0 pixels"),
    (lambda d: d["images"][1].update(id=10), r"image .sub/b\.png. has the same id; give each image its own id"),
    (lambda d: d["images"][1].update(file_name="other/b.jpg"), r"'other/b\.jpg' and 'sub/b\.png' have the same name"),
    (lambda d: d["images"][0].pop("height"), r"image 10 lacks one of id, file_name, width, height"),
    (lambda d: d["images"][0].update(width=0), "has size 0x6"),
    (lambda d: d["images"][0].update(width="8"), "width must be a whole number, not '8'"),
    (lambda d: d["categories"].append({"id": 3, "name": "again"}), "category 3: the id is used by two categories"),
    (lambda d: d["categories"].append({"id": 9, "name": d["categories"][0]["name"]}),
     "category 9: the name .* is used by two categories"),
    (lambda d: d.update(categories=[]), "lists no categories; a segmentation needs at least one class"),
    (lambda d: d.pop("annotations"), "is not a COCO file: it needs the lists"),
]


@pytest.mark.parametrize("change,message", BAD)
def test_malformed_files_are_named(tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        read_coco(_write(tmp_path, _broken(change)))


def test_missing_and_invalid_json(tmp_path):
    with pytest.raises(DataError, match=r"COCO file .*none\.json does not exist"):
        read_coco(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.json is not valid JSON"):
        read_coco(tmp_path / "bad.json")


def test_the_input_is_not_changed(tmp_path):
    data = _coco()
    before = copy.deepcopy(data)
    coco = read_coco(_write(tmp_path, data))
    [coco.mask(im) for im in coco.images]
    assert data == before
