"""SegmentationAuditResult: the figures it derives from its arrays are exact, and load reads back what save wrote."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelwise.audit.images import SegmentationAuditResult
from labelwise.errors import DataError


def small_result(tmp_path=None, class_names=("background", "cat", "dog")) -> SegmentationAuditResult:
    """Three 4x5 images whose given masks, model classes and suspect pixels are written out by hand."""
    labels = np.zeros((3, 4, 5), dtype=np.int64)
    labels[0, :2, :2] = 1  # image a: a cat, two of its pixels the model calls dog and flags
    labels[1, 2:, 3:] = 2  # image b: a dog, one pixel the model calls background and flags
    # image c: all background (an empty mask), the model agrees
    predicted = labels.copy()
    predicted[0, 0, :2] = 2
    predicted[1, 3, 4] = 0
    issues = labels != predicted
    paths = [f"/nowhere/{n}.png" for n in "abc"]
    if tmp_path is not None:
        from labelwise.data.images import write_matte

        paths = [str(write_matte(tmp_path / f"{n}.png", np.full((4, 5), 0.5))) for n in "abc"]
    return SegmentationAuditResult(
        names=["a", "b", "c"], image_paths=paths, class_names=list(class_names),
        image_scores=np.array([0.05, 0.4, 0.99]), issue_masks=issues, labels=labels, predicted=predicted,
        colors=None, settings={"images_dir": "imgs", "masks": "masks", "threshold": 0.1, "pred_probs": "test"},
    )


def test_figures_per_image_and_class():
    result = small_result()
    np.testing.assert_array_equal(result.issue_pixels, [2, 1, 0])
    np.testing.assert_array_equal(result.is_label_issue, [True, False, False])
    np.testing.assert_array_equal(result.empty_mask, [False, False, True])
    conf = result.confusion()
    assert conf[1, 2] == 2 and conf[2, 0] == 1 and conf.sum() == 3
    assert result.confusion_of(0) == [("cat", "dog", 2)]
    per_class = result.per_class()
    assert per_class["pixels"].tolist() == [60 - 4 - 4, 4, 4]
    assert per_class["issue_pixels"].tolist() == [0, 2, 1]
    assert per_class["suggested_pixels"].tolist() == [1, 0, 2]
    assert per_class["images"].tolist() == [3, 1, 1]
    pairs = result.confused_pairs()
    assert pairs.values.tolist() == [["cat", "dog", 2], ["dog", "background", 1]]
    frame = result.to_frame()
    assert frame["image"].tolist() == ["a", "b", "c"]
    assert frame["main_confusion"].tolist() == ["cat -> dog", "dog -> background", ""]
    assert frame["issue_share"].tolist() == [2 / 20, 1 / 20, 0.0]
    assert result.worst(2)["image"].tolist() == ["a", "b"]
    assert repr(result) == "SegmentationAuditResult(3 images of 5x4, 3 classes, 1 flagged, 3 suspect pixels)"


def test_save_then_load_gives_the_same_result(tmp_path):
    result = small_result()
    result.colors = np.array([[0, 0, 0], [255, 0, 0], [0, 0, 255]], dtype=np.uint8)
    result.save(tmp_path / "out")
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "images.csv", "per_class.csv", "confused_pixels.csv", "segmentation_summary.json", "segmentation_arrays.npz"}
    back = SegmentationAuditResult.load(tmp_path / "out")
    for name in ("image_scores", "issue_masks", "labels", "predicted", "colors"):
        np.testing.assert_array_equal(getattr(back, name), getattr(result, name))
    assert back.issue_masks.dtype == bool and back.labels.dtype == np.int64
    assert back.names == result.names and back.class_names == result.class_names
    assert back.settings == result.settings
    pd.testing.assert_frame_equal(back.to_frame(), result.to_frame())
    on_disk = pd.read_csv(tmp_path / "out" / "images.csv")
    assert on_disk["image"].tolist() == ["a", "b", "c"] and on_disk["issue_pixels"].tolist() == [2, 1, 0]


def test_many_classes_and_odd_widths_survive_the_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 300, size=(2, 3, 13))  # ids above 255, a width not a multiple of 8
    predicted = rng.integers(0, 300, size=(2, 3, 13))
    result = SegmentationAuditResult(names=["x", "y"], image_paths=["x.png", "y.png"],
                                     class_names=[f"c{i}" for i in range(300)], image_scores=np.array([0.2, 0.3]),
                                     issue_masks=labels != predicted, labels=labels, predicted=predicted)
    back = SegmentationAuditResult.load(result.save(tmp_path))
    np.testing.assert_array_equal(back.labels, labels)
    np.testing.assert_array_equal(back.issue_masks, labels != predicted)
    assert back.colors is None


def test_load_refuses_what_save_did_not_write(tmp_path):
    with pytest.raises(DataError, match="is not a segmentation audit folder .* `labelwise audit-images"):
        SegmentationAuditResult.load(tmp_path)
    small_result().save(tmp_path)
    (tmp_path / "segmentation_arrays.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="holds a damaged segmentation audit"):
        SegmentationAuditResult.load(tmp_path)


def test_image_is_read_again_at_the_audited_size(tmp_path):
    result = small_result(tmp_path)
    image = result.image(1)
    assert image.shape == (4, 5, 3) and np.allclose(image, 128 / 255)
    result.labels = np.zeros((3, 2, 3), dtype=np.int64)  # as if audited with resize=(2, 3)
    assert result.image(1).shape == (2, 3, 3)
