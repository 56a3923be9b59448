"""audit_boxes (labelwise.audit.boxes): on box scenes with known injected errors it flags exactly those boxes, with
the right issue types and the true class for a swapped box; its image scores and flags are cleanlab 2.9's on the
same inputs; the result saves and loads back."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from labelwise.audit.boxes import BoxAuditResult, audit_boxes
from labelwise.data.boxes import read_coco_boxes, read_coco_predictions
from labelwise.errors import DataError, ParameterError
from tests.audit.box_files import write_scene_files


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("box_scene")
    truth = write_scene_files(folder, seed=0)
    return folder, truth, audit_boxes(folder / "labels.json", folder / "predictions.json")


def flagged(result, kind: str) -> set:
    frame = result.to_frame()
    rows = frame[frame.issue == kind]
    if kind == "overlooked":
        return {(int(r.image_id), round(r.x1), round(r.y1)) for r in rows.itertuples()}
    return set(rows.annotation_id)


def test_flags_exactly_the_injected_errors(scene):
    _, truth, result = scene
    assert flagged(result, "swap") == truth["swap"]
    assert flagged(result, "badloc") == truth["badloc"]
    assert flagged(result, "overlooked") == {(i, round(x), round(y)) for i, x, y in truth["overlooked"]}
    images = {int(i) for i in result.to_frame().image_id}
    assert set(np.flatnonzero(result.is_label_issue) + 1) == images  # every flagged image holds a flagged box
    assert result.issue_counts() == {"overlooked": 4, "swap": 3, "badloc": 3}


def test_a_swapped_box_suggests_its_true_class(scene):
    _, truth, result = scene
    scenes = truth["scenes"]
    frame = result.to_frame()
    for row in frame[frame.issue == "swap"].itertuples():
        i = int(row.image_id) - 1
        j = list(result.labels.annotation_ids[i]).index(row.annotation_id)
        true = scenes.classes[i][np.argmin(np.abs(scenes.boxes[i] - result.labels.boxes[i][j]).sum(axis=1))]
        assert row.suggested_class == scenes.class_names[true] != row.given_class


def test_scores_and_flags_are_cleanlabs(scene):
    cleanlab = pytest.importorskip("cleanlab.object_detection", reason="cleanlab is a dev dependency (parity)")
    from cleanlab.object_detection.filter import find_label_issues

    _, _, result = scene
    labels, preds = result.labels.to_cleanlab(), result.predictions.to_cleanlab(result.labels.num_classes)
    np.testing.assert_allclose(result.image_scores, cleanlab.rank.get_label_quality_scores(labels, preds,
                                                                                          verbose=False), atol=1e-12)
    np.testing.assert_array_equal(result.is_label_issue, find_label_issues(labels, preds))
    pooled = [s.any() or b.any() or o.any() for s, b, o in zip(result.is_swap, result.is_badloc, result.is_overlooked)]
    np.testing.assert_array_equal(pooled, result.is_label_issue)  # the per-box flags are the image flags' reasons


def test_threshold_flags_by_image_score(scene):
    folder, _, result = scene
    cut = float(np.sort(result.image_scores)[5])
    by_score = audit_boxes(folder / "labels.json", folder / "predictions.json", threshold=cut)
    np.testing.assert_array_equal(by_score.is_label_issue, result.image_scores <= cut)
    assert by_score.issue_counts() == result.issue_counts()  # the boxes' flags do not depend on it


def test_save_and_load_round_trip(scene, tmp_path):
    _, _, result = scene
    result.save(tmp_path / "out")
    back = BoxAuditResult.load(tmp_path / "out")
    assert repr(back) == repr(result) and back.class_names == result.class_names
    assert back.to_frame().equals(result.to_frame())
    assert back.image_frame().equals(result.image_frame())
    boxes = (tmp_path / "out" / "boxes.csv").read_text(encoding="utf-8").splitlines()
    assert boxes[0] == ("image,image_id,label_quality,issue,annotation_id,given_class,suggested_class,x1,y1,x2,y2,"
                        "box_score") and len(boxes) == 11
    summary = json.loads((tmp_path / "out" / "box_summary.json").read_text())
    assert summary["issues"] == {"overlooked": 4, "swap": 3, "badloc": 3} and summary["flagged_images"] == 10
    with pytest.raises(DataError, match="not a box audit folder"):
        BoxAuditResult.load(tmp_path)


def test_repr_is_short(scene):
    assert repr(scene[2]) == ("BoxAuditResult(40 images, 95 label boxes, 3 classes, 10 flagged; 4 overlooked, "
                              "3 swapped, 3 badly located)")


def test_oriented_boxes_are_audited_by_their_hulls(tmp_path):
    """Oriented scenes written with rbox fields; the model sees the true boxes; image 0's first box is labelled with
    the other class."""
    from labelwise.testing.box_scenes import oriented_scenes

    scenes = oriented_scenes(30, size=64, seed=0)
    coco = {"images": [], "categories": [{"id": 1, "name": "rectangle"}, {"id": 2, "name": "ellipse"}],
            "annotations": []}
    preds = []
    for i, (boxes, classes) in enumerate(zip(scenes.boxes, scenes.classes)):
        coco["images"].append({"id": i, "file_name": f"{i}.png", "width": 64, "height": 64})
        for j, (box, cls) in enumerate(zip(boxes, classes)):
            rbox = [float(v) for v in box[:4]] + [math.degrees(float(box[4]))]
            given = 1 - int(cls) if (i, j) == (0, 0) else int(cls)
            coco["annotations"].append({"id": 100 * i + j, "image_id": i, "category_id": given + 1, "rbox": rbox})
            preds.append({"image_id": i, "category_id": int(cls) + 1, "rbox": rbox, "score": 0.99})
    (tmp_path / "l.json").write_text(json.dumps(coco))
    (tmp_path / "p.json").write_text(json.dumps(preds))
    result = audit_boxes(tmp_path / "l.json", tmp_path / "p.json")
    assert result.labels.oriented
    np.testing.assert_allclose(result.labels.boxes[3], scenes.boxes[3])
    frame = result.to_frame()
    assert frame[["issue", "annotation_id"]].values.tolist() == [["swap", 0]]
    assert frame.suggested_class[0] == scenes.class_names[int(scenes.classes[0][0])]
    corners = result.labels.boxes[0][0]
    hull = result.labels.xyxy(0)[0]  # what was audited: the box's axis-aligned hull
    assert [frame.x1[0], frame.y1[0], frame.x2[0], frame.y2[0]] == pytest.approx(hull.tolist())
    assert hull[2] - hull[0] >= corners[3] - 1e-9 and hull[3] - hull[1] >= corners[3] - 1e-9


def test_inputs_that_cannot_be_audited(tmp_path, scene):
    folder = scene[0]
    (tmp_path / "p.json").write_text(json.dumps([]))
    with pytest.raises(DataError, match="hold no boxes"):
        audit_boxes(folder / "labels.json", tmp_path / "p.json")
    with pytest.raises(ParameterError, match="threshold"):
        audit_boxes(folder / "labels.json", folder / "predictions.json", threshold=2)
    with pytest.raises(ParameterError, match="images folder"):
        audit_boxes(tmp_path, folder / "predictions.json")  # a folder: YOLO labels, which need the images
    labels = read_coco_boxes(folder / "labels.json")
    preds = read_coco_predictions(folder / "predictions.json", labels)
    preds.boxes, preds.scores, preds.classes = preds.boxes[:3], preds.scores[:3], preds.classes[:3]
    with pytest.raises(ParameterError, match="for 3 images, the labels have 40"):
        audit_boxes(labels, preds)
