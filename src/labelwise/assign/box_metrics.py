"""Detection average precision, COCO style, for axis-aligned or oriented boxes (numpy; algorithm floor).

The readout of the box assigners' experiments (StageInteractor, paper 2; GGHL, paper 33). It follows
``pycocotools.cocoeval.COCOeval`` for the area range "all" with no crowd boxes: per class and IoU threshold,
detections of all images are taken by descending score (at most ``max_dets`` per image), each is matched greedily
to the unmatched ground-truth box of its image with the highest IoU at or above the threshold; precision is made
monotone from the right and read at the 101 recall points 0, 0.01, ..., 1; AP is the mean over the classes that have
ground truth. AP@[.5:.95] averages the ten thresholds 0.5, 0.55, ..., 0.95.

Inputs are per image lists: ``pred_boxes[i] (m_i, 4 | 5)``, ``pred_scores[i] (m_i,)``, ``pred_classes[i] (m_i,)``,
``gt_boxes[i] (k_i, 4 | 5)``, ``gt_classes[i] (k_i,)``; four columns are xyxy boxes (IoU by
:func:`~labelwise.assign.box_geometry.box_iou`), five are oriented ``cx, cy, w, h, angle`` (rotated IoU by
:func:`~labelwise.assign.box_geometry.oriented_box_iou`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from labelwise.assign.box_geometry import box_iou, oriented_box_iou
from labelwise.errors import ShapeError

__all__ = ["COCO_IOU_THRESHOLDS", "average_precision", "detection_ap"]

COCO_IOU_THRESHOLDS = tuple(np.round(np.linspace(0.5, 0.95, 10), 2))
_RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return oriented_box_iou(a, b) if a.shape[1] == 5 else box_iou(a, b)


def _check(pred_boxes, pred_scores, pred_classes, gt_boxes, gt_classes) -> tuple[int, int]:
    n = len(gt_boxes)
    for name, seq in (("pred_boxes", pred_boxes), ("pred_scores", pred_scores), ("pred_classes", pred_classes),
                      ("gt_classes", gt_classes)):
        if len(seq) != n:
            raise ShapeError(f"{name} has {len(seq)} images but gt_boxes has {n}; give one entry per image")
    widths = {np.asarray(b).reshape(len(b), -1).shape[1] for b in list(pred_boxes) + list(gt_boxes) if len(b)}
    if len(widths) > 1 or not widths <= {4, 5}:
        raise ShapeError("boxes must all be (k, 4) xyxy or all (k, 5) oriented cx, cy, w, h, angle")
    return n, (widths.pop() if widths else 4)


def average_precision(pred_boxes: Sequence, pred_scores: Sequence, pred_classes: Sequence, gt_boxes: Sequence,
                      gt_classes: Sequence, *, iou_thresholds: Sequence[float] = COCO_IOU_THRESHOLDS,
                      max_dets: int = 100) -> np.ndarray:
    """``(T, C)`` AP per IoU threshold and class (``C = 1 + max class id`` seen); NaN for a class with no ground
    truth."""
    n, width = _check(pred_boxes, pred_scores, pred_classes, gt_boxes, gt_classes)
    thresholds = np.asarray(iou_thresholds, dtype=np.float64)
    all_classes = [np.asarray(c, dtype=np.int64).ravel() for c in list(pred_classes) + list(gt_classes)]
    n_classes = 1 + max((int(c.max()) for c in all_classes if len(c)), default=-1)
    ap = np.full((len(thresholds), n_classes), np.nan)
    for cls in range(n_classes):
        scores, matched, n_gt = [], [], 0
        for i in range(n):
            gt_sel = np.asarray(gt_classes[i]).ravel() == cls
            gts = np.asarray(gt_boxes[i], dtype=np.float64).reshape(len(gt_sel), width)[gt_sel]
            n_gt += len(gts)
            p_sel = np.asarray(pred_classes[i]).ravel() == cls
            ps = np.asarray(pred_scores[i], dtype=np.float64).ravel()[p_sel]
            pb = np.asarray(pred_boxes[i], dtype=np.float64).reshape(len(p_sel), width)[p_sel]
            order = np.argsort(-ps, kind="mergesort")[:max_dets]
            ps, pb = ps[order], pb[order]
            iou = _iou(pb, gts)
            hits = np.zeros((len(thresholds), len(ps)), dtype=bool)
            for t, thr in enumerate(thresholds):
                taken = np.zeros(len(gts), dtype=bool)
                for d in range(len(ps)):
                    best, best_iou = -1, min(thr, 1 - 1e-10)
                    for g in range(len(gts)):
                        if not taken[g] and iou[d, g] >= best_iou:
                            best, best_iou = g, iou[d, g]
                    if best >= 0:
                        taken[best] = True
                        hits[t, d] = True
            scores.append(ps)
            matched.append(hits)
        if n_gt == 0:
            continue
        score = np.concatenate(scores) if scores else np.zeros(0)
        order = np.argsort(-score, kind="mergesort")
        hit = np.concatenate(matched, axis=1)[:, order] if matched else np.zeros((len(thresholds), 0), bool)
        for t in range(len(thresholds)):
            tp = np.cumsum(hit[t])
            fp = np.cumsum(~hit[t])
            recall = tp / n_gt
            precision = tp / (tp + fp + np.spacing(1))
            precision = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
            at = np.searchsorted(recall, _RECALL_POINTS, side="left")
            sampled = np.zeros(len(_RECALL_POINTS))
            ok = at < len(precision)
            sampled[ok] = precision[at[ok]]
            ap[t, cls] = sampled.mean()
    return ap


def detection_ap(pred_boxes: Sequence, pred_scores: Sequence, pred_classes: Sequence, gt_boxes: Sequence,
                 gt_classes: Sequence, *, max_dets: int = 100) -> dict:
    """``{"AP": AP@[.5:.95], "AP50": AP@0.5, "AP75": AP@0.75}``, each the mean over classes with ground truth
    (COCOeval's ``stats[0:3]``)."""
    ap = average_precision(pred_boxes, pred_scores, pred_classes, gt_boxes, gt_classes, max_dets=max_dets)
    if ap.size == 0 or np.isnan(ap).all():
        return {"AP": float("nan"), "AP50": float("nan"), "AP75": float("nan")}
    return {"AP": float(np.nanmean(ap)), "AP50": float(np.nanmean(ap[0])), "AP75": float(np.nanmean(ap[5]))}
