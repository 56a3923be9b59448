"""AP against pycocotools' COCOeval on the same detections (the reference implementation), and exact small cases."""

import contextlib
import io

import numpy as np
import pytest

from labelwise.assign.box_geometry import box_convert
from labelwise.assign.box_metrics import average_precision, detection_ap
from labelwise.errors import ShapeError


def _random_case(seed, n_images=12, n_classes=3):
    rng = np.random.default_rng(seed)
    gt_boxes, gt_classes, pred_boxes, pred_scores, pred_classes = [], [], [], [], []
    for _ in range(n_images):
        k = int(rng.integers(0, 4))
        xy = rng.uniform(0, 60, (k, 2))
        wh = rng.uniform(5, 30, (k, 2))
        g = np.column_stack([xy, xy + wh])
        gc = rng.integers(0, n_classes, k)
        # predictions: jittered copies of some ground truth (some with the wrong class) plus random boxes
        keep = rng.random(k) < 0.8
        jit = g[keep] + rng.normal(0, 3, (int(keep.sum()), 4))
        jit[:, 2:] = np.maximum(jit[:, 2:], jit[:, :2] + 1)
        jc = np.where(rng.random(int(keep.sum())) < 0.85, gc[keep], rng.integers(0, n_classes, int(keep.sum())))
        m = int(rng.integers(0, 3))
        rxy = rng.uniform(0, 60, (m, 2))
        r = np.column_stack([rxy, rxy + rng.uniform(5, 30, (m, 2))])
        pred_boxes.append(np.vstack([jit, r]))
        pred_classes.append(np.concatenate([jc, rng.integers(0, n_classes, m)]))
        pred_scores.append(rng.random(len(pred_classes[-1])))
        gt_boxes.append(g)
        gt_classes.append(gc)
    return pred_boxes, pred_scores, pred_classes, gt_boxes, gt_classes


def _cocoeval(pred_boxes, pred_scores, pred_classes, gt_boxes, gt_classes):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images = [{"id": i + 1, "width": 100, "height": 100} for i in range(len(gt_boxes))]
    anns, dets = [], []
    for i, (g, c) in enumerate(zip(gt_boxes, gt_classes)):
        for box, cls in zip(box_convert(g.reshape(-1, 4), "xyxy", "xywh"), c):
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": int(cls) + 1, "bbox": box.tolist(),
                         "area": float(box[2] * box[3]), "iscrowd": 0})
    for i, (b, s, c) in enumerate(zip(pred_boxes, pred_scores, pred_classes)):
        for box, score, cls in zip(box_convert(b.reshape(-1, 4), "xyxy", "xywh"), s, c):
            dets.append({"image_id": i + 1, "category_id": int(cls) + 1, "bbox": box.tolist(), "score": float(score)})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": k + 1} for k in range(3)]}
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_pycocotools_cocoeval(seed):
    case = _random_case(seed)
    ours = detection_ap(*case)
    stats = _cocoeval(*case)
    assert ours["AP"] == pytest.approx(stats[0], abs=1e-9)
    assert ours["AP50"] == pytest.approx(stats[1], abs=1e-9)
    assert ours["AP75"] == pytest.approx(stats[2], abs=1e-9)


def test_exact_small_cases():
    gt = [np.array([[0, 0, 10, 10.0]])]
    # a perfect detection: AP 1 at every threshold
    assert detection_ap([gt[0]], [np.array([0.9])], [np.array([0])], gt, [np.array([0])])["AP"] == pytest.approx(1.0)
    # a higher-scored false positive first, then the hit: precision 1/2 at recall 1 -> AP 0.5
    preds = [np.array([[50, 50, 60, 60.0], [0, 0, 10, 10]])]
    ap = average_precision(preds, [np.array([0.9, 0.8])], [np.array([0, 0])], gt, [np.array([0])])
    assert np.allclose(ap[:, 0], 0.5)
    # a box of IoU 0.6 counts at thresholds 0.5 and 0.55 only: AP@[.5:.95] = 2/10
    shifted = [np.array([[0, 0, 10, 16.0]])]  # IoU 100/160 = 0.625
    res = detection_ap(shifted, [np.array([1.0])], [np.array([0])], gt, [np.array([0])])
    assert res["AP50"] == pytest.approx(1.0) and res["AP75"] == 0.0 and res["AP"] == pytest.approx(0.3)


def test_oriented_boxes_use_rotated_iou():
    gt = [np.array([[20.0, 20, 20, 4, np.pi / 4]])]
    same = detection_ap([gt[0].copy()], [np.array([1.0])], [np.array([0])], gt, [np.array([0])])
    turned = gt[0].copy()
    turned[0, 4] += np.pi / 2  # a thin box turned across itself: small overlap
    crossed = detection_ap([turned], [np.array([1.0])], [np.array([0])], gt, [np.array([0])])
    assert same["AP"] == pytest.approx(1.0) and crossed["AP50"] == 0.0


def test_mismatched_lists_are_an_error():
    with pytest.raises(ShapeError, match="one entry per image"):
        detection_ap([np.zeros((0, 4))], [np.zeros(0)], [np.zeros(0)], [], [])
