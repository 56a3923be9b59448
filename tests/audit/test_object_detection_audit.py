"""The box audit finds injected corruptions: box scenes whose labels lost a box (overlooked), had a class changed
(swapped) or a box shifted by half its size (badly located), with the predictions of a simulated good detector made
from the clean boxes; and box_issue_types says which boxes, consistently with find_label_issues."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from labelwise.assign.box_geometry import box_iou
from labelwise.audit import object_detection as od
from labelwise.audit.object_detection.rank import box_issue_types
from labelwise.errors import ParameterError
from labelwise.testing.box_noise import corrupt_boxes, simulate_predictions
from labelwise.testing.box_scenes import shape_scenes


@pytest.fixture(scope="module")
def audit():
    data = shape_scenes(150, seed=0)
    predictions = simulate_predictions(data.boxes, data.classes, 3, seed=1)
    corrupted = corrupt_boxes(data.boxes, data.classes, 3, fraction=0.3, seed=2)
    return data, corrupted, predictions


def corrupted_box_truth(types, corrupted, kind, key):
    """(is the corrupted box (L_total,) bool, score (L_total,), flag (L_total,)) over all label boxes."""
    truth, score, flag = [], [], []
    for i, t in enumerate(types):
        hit = np.zeros(len(t[key]), dtype=bool)
        if corrupted.kind[i] == kind:
            hit[corrupted.box[i]] = True
        truth.append(hit)
        score.append(t[f"{key}_score"])
        flag.append(t[key])
    return np.concatenate(truth), np.concatenate(score), np.concatenate(flag)


def test_image_scores_rank_corrupted_images_first(audit):
    _, corrupted, predictions = audit
    scores = od.get_label_quality_scores(corrupted.labels, predictions)
    assert roc_auc_score(corrupted.kind != "", -scores) > 0.9  # 0.94 measured


def test_flagged_images_are_corrupted_ones(audit):
    """cleanlab's cut (0.2 x the class's AP) is strict: what it flags is corrupted; most overlooked objects found."""
    _, corrupted, predictions = audit
    flagged = od.find_label_issues(corrupted.labels, predictions)
    assert flagged.sum() >= 10
    assert np.mean(corrupted.kind[flagged] != "") >= 0.9  # 1.0 measured
    assert flagged[corrupted.kind == "overlooked"].mean() >= 0.4  # 0.55 measured


@pytest.mark.parametrize("kind,key", [("swapped", "swap"), ("badloc", "badloc")])
def test_box_scores_single_out_the_corrupted_boxes(audit, kind, key):
    _, corrupted, predictions = audit
    truth, score, _ = corrupted_box_truth(box_issue_types(corrupted.labels, predictions), corrupted, kind, key)
    assert roc_auc_score(truth, -score) > 0.97  # 0.997-1.0 measured
    _, _, flag = corrupted_box_truth(box_issue_types(corrupted.labels, predictions, threshold=0.3), corrupted, kind,
                                     key)
    assert flag[truth].mean() >= 0.7 and flag[~truth].mean() <= 0.02  # 0.8-0.95 and <= 0.006 measured


def test_suggestions_point_back_to_the_truth(audit):
    data, corrupted, predictions = audit
    types = box_issue_types(corrupted.labels, predictions, threshold=0.3)
    checked = {"swapped": 0, "badloc": 0, "overlooked": 0}
    for i, t in enumerate(types):
        k = corrupted.box[i]
        if corrupted.kind[i] == "swapped" and t["swap"][k]:
            assert t["suggested_label"][k] == data.classes[i][k]
        elif corrupted.kind[i] == "badloc" and t["badloc"][k]:
            assert box_iou(t["suggested_bbox"][k:k + 1], data.boxes[i][k:k + 1])[0, 0] > 0.6
        elif corrupted.kind[i] == "overlooked" and t["overlooked"].any():
            found = t["pred_bboxes"][t["overlooked"]]
            assert box_iou(found, data.boxes[i][k:k + 1]).max() > 0.6
            assert data.classes[i][k] in t["pred_labels"][t["overlooked"]]
        else:
            continue
        checked[corrupted.kind[i]] += 1
    assert min(checked.values()) >= 5


def test_box_issue_types_match_find_label_issues(audit):
    _, corrupted, predictions = audit
    for check in (False, True):  # the checks below use the default, True
        types = box_issue_types(corrupted.labels, predictions, overlapping_label_check=check)
        any_box = np.array([t["overlooked"].any() or t["swap"].any() or t["badloc"].any() for t in types])
        assert np.array_equal(any_box, od.find_label_issues(corrupted.labels, predictions,
                                                            overlapping_label_check=check))
    swap = od.compute_swap_box_scores(labels=corrupted.labels, predictions=predictions)
    overlooked = od.compute_overlooked_box_scores(labels=corrupted.labels, predictions=predictions)
    for t, s, o, label in zip(types, swap, overlooked, corrupted.labels):
        assert t["swap"].shape == t["badloc"].shape == (len(label["labels"]),)
        assert t["suggested_bbox"].shape == (len(label["labels"]), 4)
        np.testing.assert_array_equal(t["swap_score"], s)
        np.testing.assert_array_equal(t["overlooked_score"], o)
        assert t["pred_bboxes"].shape == (len(o), 4)
    with pytest.raises(ParameterError, match="threshold"):
        box_issue_types(corrupted.labels, predictions, threshold=2.0)
