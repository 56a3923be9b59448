"""The toy query detector of the StageInteractor check (paper 2): box targets untouched by the assigner,
predictions' shapes and units, input errors, and the claim at a small budget."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.assign.stage_interactor import cross_stage_assign
from labelwise.errors import DataError, ParameterError, ShapeError
from labelwise.testing.box_scenes import shape_scenes

torch = pytest.importorskip("torch")

from labelwise.learn.query_detector import (QueryDetector, QueryDetectorNet, aligned_giou,  # noqa: E402
                                            box_cxcywh_to_xyxy)


@pytest.fixture(scope="module")
def small():
    return shape_scenes(8, size=32, side_px=(8, 14), seed=3)


def _batch(det: QueryDetector, data):
    det.num_classes_ = 3
    torch.manual_seed(0)
    det.net_ = QueryDetectorNet(3)
    logits, boxes = det.net_(torch.from_numpy(data.images).permute(0, 3, 1, 2))
    scale = np.array([32, 32, 32, 32.0])
    return logits, boxes, [b / scale for b in data.boxes], list(data.classes)


def test_the_assigner_changes_class_targets_only(small):
    # With no class loss, both assigners give the same loss: the box losses use each stage's own matches either way.
    losses = {}
    for assigner in ("one_to_one", "cross_stage"):
        det = QueryDetector(assigner=assigner, cls_w=0.0)
        losses[assigner] = float(det._loss(*_batch(det, small)).detach())
    assert losses["one_to_one"] == pytest.approx(losses["cross_stage"], rel=1e-6)
    # ...and the class targets are cross_stage_assign's on the stored matches of every stage.
    det = QueryDetector(assigner="cross_stage")
    logits, boxes, gt_boxes, gt_classes = _batch(det, small)
    targets, matches = det._class_targets(logits, boxes, gt_boxes, gt_classes)
    xyxy = box_cxcywh_to_xyxy(boxes).detach().numpy()
    for i in range(len(small)):
        expected = cross_stage_assign(xyxy[:, i], [m[i] for m in matches], gt_boxes[i], gt_classes[i], 3)
        np.testing.assert_array_equal(targets[:, i].numpy(), np.stack(expected))
    det = QueryDetector(assigner="one_to_one")
    one_hot, _ = det._class_targets(logits, boxes, gt_boxes, gt_classes)
    assert float(one_hot.sum()) == 3 * sum(len(c) for c in gt_classes)  # one per ground truth per stage
    assert not torch.equal(one_hot, targets)  # so the equal losses above are not a case with nothing changed


def test_aligned_giou_by_hand():
    a = torch.tensor([[0.0, 0, 2, 2], [0, 0, 2, 2]])
    b = torch.tensor([[1.0, 0, 3, 2], [3, 0, 5, 2]])
    np.testing.assert_allclose(aligned_giou(a, b).numpy(), [1 / 3, -0.2], rtol=1e-6)


def test_fit_predict_shapes_units_and_determinism(small):
    params = dict(max_iter=3, batch_size=4, n_queries=5, random_state=0)
    det = QueryDetector(**params).fit(small.images, small.boxes, small.classes)
    boxes, scores, classes = det.predict(small.images[:2])
    assert len(boxes) == len(scores) == len(classes) == 2
    assert boxes[0].shape == (15, 4) and scores[0].shape == classes[0].shape == (15,)  # 5 queries x 3 classes
    assert np.all(np.diff(scores[0]) <= 0) and set(classes[0]) <= {0, 1, 2}
    assert boxes[0][:, 2:].max() <= 32 + 1e-6 and (boxes[0][:, 2:] >= boxes[0][:, :2]).all()  # pixels, xyxy
    again = QueryDetector(**params).fit(small.images, small.boxes, small.classes).predict(small.images[:2])
    np.testing.assert_array_equal(again[1][0], scores[0])
    assert len(det.loss_history_) == 3 and det.predict(small.images[:1], stage=0)[0][0].shape == (15, 4)


def test_bad_inputs_say_what_is_wrong(small):
    with pytest.raises(ParameterError, match="assigner must be one of"):
        QueryDetector(assigner="many_to_one", max_iter=1).fit(small.images, small.boxes, small.classes)
    with pytest.raises(ShapeError, match="one entry per image"):
        QueryDetector(max_iter=1).fit(small.images, small.boxes[:3], small.classes)
    with pytest.raises(DataError, match="outside 0..1"):
        QueryDetector(num_classes=2, max_iter=1).fit(small.images, small.boxes, small.classes)
    bad = [b.copy() for b in small.boxes]
    bad[2][0, 2] = bad[2][0, 0] - 1
    with pytest.raises(DataError, match="image 2"):
        QueryDetector(max_iter=1).fit(small.images, bad, small.classes)
    det = QueryDetector(max_iter=1, batch_size=2).fit(small.images, small.boxes, small.classes)
    with pytest.raises(ParameterError, match="stage must be"):
        det.predict(small.images, stage=3)


@pytest.mark.slow
def test_claim_cross_stage_assigner_converges_faster_early():
    """Paper 2's claim on a short schedule (one seed; 250 iterations of 8 scenes, the same network start and
    batches for both arms): the detector trained with the cross-stage assigner is ahead of per-stage one-to-one
    training in last-stage AP@[.5:.95] (the notes: "faster early convergence"), and both learn (AP@0.5 floor).
    Calibration: ahead by 4.7, 4.1 and 6.3 AP on seeds 0, 1 and 2 at this budget; at 150 iterations only 2 of 3
    seeds were ahead. bench/stage_interactor.py measures it over seeds and iterations, and its own_filtered control
    shows that most of the early gain comes from the IoU filter on the own matches (docs/assign.md)."""
    from tests.learn.stage_interactor_experiment import run_arm, scenes

    data = scenes(600, 100, seed=0)
    one = run_arm(data, "one_to_one", 0, max_iter=250, batch_size=8)["final"]
    cross = run_arm(data, "cross_stage", 0, max_iter=250, batch_size=8)["final"]
    assert one["AP50"] > 0.5 and cross["AP50"] > 0.5
    assert cross["AP"] > one["AP"]
