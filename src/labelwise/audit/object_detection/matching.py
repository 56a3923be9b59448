"""cleanlab's matching of predicted boxes to label boxes and its per-class average precision, for all images,
classes and IoU thresholds at once (cleanlab 2.9 ``object_detection.filter._calculate_ap_per_class`` and
``_calculate_true_positives_false_positives``, which loop over images in a process pool, once per class and IoU
threshold).

Within each image and class, predicted boxes are taken by falling pred_prob; each is matched to the label box of its
class with the highest IoU (the first on ties) and is a true positive when that IoU reaches the threshold and no
higher-scored box took that label box first, else a false positive. A class's AP is the all-point interpolated area
under its precision-recall curve over all images (not COCO's 101-point AP: for that use
:func:`labelwise.assign.box_metrics.detection_ap`).
"""

from __future__ import annotations

import numpy as np

from labelwise.audit.object_detection._inputs import Boxes, group_argmax, take

__all__ = ["IOU_THRESHOLDS", "match_predictions", "per_class_ap"]

IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
"""cleanlab's IoU thresholds: 0.5, 0.55, ..., 0.95."""


def _within_image_order(boxes: Boxes) -> np.ndarray:
    """``(M,)`` each predicted box's rank among the boxes of its image and class, highest pred_prob first, ties in
    the order cleanlab's ``np.argsort(-probs)`` of that image and class puts them."""
    group = boxes.pred_image * boxes.n_classes + boxes.pred_labels
    raw = boxes.pred_probs_raw
    order = np.lexsort((-raw, group))
    tied = np.flatnonzero((group[order][1:] == group[order][:-1]) & (raw[order][1:] == raw[order][:-1]))
    for g in np.unique(group[order][tied]):  # only groups with equal scores: sorted exactly as cleanlab does
        members = np.flatnonzero(group == g)
        order[np.searchsorted(group[order], g) + np.arange(len(members))] = members[np.argsort(-raw[members])]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def match_predictions(boxes: Boxes, iou_thresholds=IOU_THRESHOLDS) -> tuple[np.ndarray, np.ndarray]:
    """``(true_positive (T, M) bool, best_label (M,) int)``: whether each predicted box is a true positive at each
    of the ``T`` IoU thresholds (see the module docstring); best_label: the flat index of the label box it is
    matched to (-1 when its image has no label box of its class)."""
    order, starts = boxes.pred_major()
    lab, pred = boxes.pair_lab[order], boxes.pair_pred[order]
    same = boxes.lab_labels[lab] == boxes.pred_labels[pred]
    best_iou, at = group_argmax(np.where(same, boxes.iou[order], -np.inf), starts)
    best_label = take(lab, at)
    rank = _within_image_order(boxes)
    candidates = np.flatnonzero(best_label >= 0)
    candidates = candidates[np.lexsort((rank[candidates], best_label[candidates]))]
    tp = np.zeros((len(iou_thresholds), len(best_label)), dtype=bool)
    for t, threshold in enumerate(iou_thresholds):
        hit = candidates[best_iou[candidates] >= threshold]
        lead = np.ones(len(hit), dtype=bool)
        lead[1:] = best_label[hit][1:] != best_label[hit][:-1]
        tp[t, hit[lead]] = True
    return tp, best_label


def _average_precision(recalls: np.ndarray, precisions: np.ndarray) -> np.float32:
    """All-point interpolated AP of one precision-recall curve (cleanlab's ``_calculate_average_precision``)."""
    recall = np.concatenate([[0.0], recalls, [1.0]])
    precision = np.concatenate([[0.0], precisions, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    index = np.where(recall[1:] != recall[:-1])[0]
    return np.float32(np.sum((recall[index + 1] - recall[index]) * precision[index + 1]))


def per_class_ap(boxes: Boxes, iou_thresholds=IOU_THRESHOLDS) -> np.ndarray:
    """``(K,) float32``: each class's AP averaged over ``iou_thresholds`` (cleanlab's ``_get_per_class_ap`` before
    its 0.25 scale), in cleanlab's float32 arithmetic so that the cuts derived from it are the same."""
    tp, _ = match_predictions(boxes, iou_thresholds)
    eps = np.finfo(np.float32).eps
    out = np.empty(boxes.n_classes, dtype=np.float32)
    for k in range(boxes.n_classes):
        members = np.flatnonzero(boxes.pred_labels == k)
        sort = members[np.argsort(-boxes.pred_probs_raw[members])]
        num_gts = np.array([np.count_nonzero(boxes.lab_labels == k)])
        ap = []
        for t in range(len(iou_thresholds)):
            true_pos = np.cumsum(tp[t, sort].astype(np.float32))
            false_pos = np.cumsum((~tp[t, sort]).astype(np.float32))
            recalls = true_pos / np.maximum(num_gts, eps)
            precisions = true_pos / np.maximum(true_pos + false_pos, eps)
            ap.append(np.array([_average_precision(recalls, precisions)], dtype=np.float32))
        out[k] = np.mean(ap)
    return out
