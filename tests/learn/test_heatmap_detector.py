"""The stride-4 oriented heatmap detector of GGHL's learning check (paper 33): exact decoding of the assigners'
targets, rotated NMS, input errors, and the claim at a small budget (OLA beats the centre-point baseline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelwise.assign.box_metrics import detection_ap
from labelwise.assign.gaussian_heatmap import CentrePointAssigner, OrientedGaussianAssigner, stack_targets
from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.heatmap_detector import HeatmapDetector, decode_detections, rotated_nms
from labelwise.testing.box_scenes import oriented_scenes


def _logit(p):
    p = p.clamp(1e-4, 1 - 1e-4)
    return torch.log(p / (1 - p))


@pytest.mark.parametrize("assigner", [OrientedGaussianAssigner, CentrePointAssigner])
def test_decoding_the_targets_gives_the_boxes_back(assigner):
    """Outputs equal to the assigner's targets decode to the true boxes: AP50 = AP75 = 1 (the ORC decoding, the
    long-side conversion, peak picking and NMS lose nothing)."""
    scenes = oriented_scenes(40, seed=5)
    target = stack_targets([assigner(img_size=64, strides=(4,)).assign(b, c, 2)
                            for b, c in zip(scenes.boxes, scenes.classes)])
    onehot = torch.nn.functional.one_hot(target["cls"].clamp(min=0), 2).float()
    pred = {"obj": _logit(torch.where(target["mask"], target["gauss"], torch.zeros(()))),
            "cls": _logit(onehot * 0.99 + 0.005), "ltrb": target["ltrb"].clamp(min=0), "orc": target["orc"],
            "ratio": target["ratio"]}
    boxes, scores, classes = decode_detections(pred, 4)
    ap = detection_ap(boxes, scores, classes, scenes.boxes, scenes.classes)
    assert ap["AP50"] == 1.0 and ap["AP75"] == 1.0
    assert [len(b) for b in boxes] == [len(b) for b in scenes.boxes]


def test_rotated_nms_hand_case():
    boxes = np.array([[10, 10, 8, 2, 0.0], [10.5, 10, 8, 2, 0.0], [30, 30, 8, 2, 1.0], [10, 10, 8, 2, np.pi / 2]])
    scores = np.array([0.5, 0.9, 0.3, 0.4])
    # box 0 overlaps box 1 at IoU 7.5 / 8.5 > 0.45; box 3 crosses box 0 at IoU 4 / 28
    assert rotated_nms(boxes, scores, 0.45).tolist() == [1, 3, 2]
    assert rotated_nms(boxes[:0], scores[:0], 0.45).tolist() == []


def test_detector_input_errors():
    scenes = oriented_scenes(4, seed=0)
    with pytest.raises(ParameterError):
        HeatmapDetector(assigner="anchors", steps=1).fit(scenes.images, scenes.boxes, scenes.classes)
    with pytest.raises(ShapeError):
        HeatmapDetector(steps=1).fit(scenes.images[..., :1], scenes.boxes, scenes.classes)
    with pytest.raises(ShapeError):
        HeatmapDetector(steps=1).fit(scenes.images, scenes.boxes[:2], scenes.classes)
    with pytest.raises(ShapeError):
        HeatmapDetector(steps=1).fit(scenes.images, [b[:, :4] for b in scenes.boxes], scenes.classes)
    det = HeatmapDetector(steps=2, batch_size=2).fit(scenes.images, scenes.boxes, scenes.classes)
    boxes, scores, classes = det.predict(scenes.images)
    assert len(boxes) == 4 and all(b.shape[1] == 5 and len(b) == len(s) == len(c)
                                   for b, s, c in zip(boxes, scores, classes))


@pytest.fixture(scope="module")
def small_run():
    """Both arms at a small budget (48 x 48 scenes, 150 steps of 16, width 16): AP and the rotated IoU of the box
    each net regresses at the true centre cell (localisation alone, apart from scoring and NMS)."""
    from labelwise.assign.box_geometry import oriented_box_iou

    kw = dict(size=48, long_px=(10, 21))
    train, test = oriented_scenes(500, seed=11, **kw), oriented_scenes(80, seed=12, **kw)
    out = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a module fixture runs before conftest's per-test one-thread fixture
    for arm in ("gaussian", "centre"):
        det = HeatmapDetector(assigner=arm, steps=150, width=16, batch_size=16, lr=5e-3, random_state=0)
        det.fit(train.images, train.boxes, train.classes)
        ap = detection_ap(*det.predict(test.images), test.boxes, test.classes)
        at = det.boxes_at(test.images, [b[:, :2] for b in test.boxes])
        iou = np.concatenate([np.diag(oriented_box_iou(p, g)) for p, g in zip(at, test.boxes)])
        out[arm] = {"AP50": ap["AP50"], "centre_iou": iou.mean()}
    torch.set_num_threads(threads)
    return out


@pytest.mark.slow
def test_both_assigners_train_a_detector(small_run):
    """Floors: an untrained net scores AP50 0 and centre-cell IoU 0.22 (an 8 x 8 box at the centre); both arms
    pass both."""
    for arm, r in small_run.items():
        assert r["AP50"] > 0.02, (arm, r)
        assert r["centre_iou"] > 0.33, (arm, r)


@pytest.mark.slow
def test_claim_ola_is_level_with_the_centre_point_early(small_run):
    """GGHL's claim, at the budget a test can afford: OLA's detector is at least level with the centre-point one
    (within 0.03 AP50 and centre-cell IoU; per-seed gaps on seeds 0-2 from ``bench/gghl.py --claim-test``: AP50
    -0.004, +0.011, -0.024, IoU -0.010, +0.004, -0.018). OLA's gain appears with more training: at 1,500 steps on
    64 x 64 scenes it is ahead on every seed (``bench/gghl.py``, docs/assign.md)."""
    ola, centre = small_run["gaussian"], small_run["centre"]
    assert ola["AP50"] >= centre["AP50"] - 0.03, small_run
    assert ola["centre_iou"] >= centre["centre_iou"] - 0.03, small_run
