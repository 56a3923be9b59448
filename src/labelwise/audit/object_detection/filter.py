"""Find the images of an object detection dataset whose box labels are probably wrong, mirroring
``cleanlab.object_detection.filter`` (cleanlab 2.9) with the same results.

An image is flagged when any of its boxes scores at or below its class's cut in one of ObjectLab's three per-box
scores (:mod:`~labelwise.audit.object_detection.rank`). The cut of class ``k`` is ``0.8 * 0.25 * AP_k``, where
``AP_k`` is the predictions' average precision for class ``k`` over IoU thresholds 0.5, 0.55, ..., 0.95 (greedy
matching by score within each image, all-point interpolation: cleanlab's own AP, which is not COCO's 101-point one).

cleanlab computes the AP with a process pool over images, once per class and IoU threshold; here the matching is
done for all images, classes and thresholds at once on the flat box pairs.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from labelwise.audit.object_detection._inputs import (
    ALPHA,
    AP_SCALE_FACTOR,
    BADLOC_THRESHOLD_FACTOR,
    HIGH_PROBABILITY_THRESHOLD,
    LOW_PROBABILITY_THRESHOLD,
    OVERLOOKED_THRESHOLD_FACTOR,
    SWAP_THRESHOLD_FACTOR,
    Boxes,
    flatten,
    group_reduce,
)
from labelwise.audit.object_detection.rank import (
    _aggregation_weights,
    _badloc,
    _image_scores,
    _overlooked,
    _prune,
    _swap,
    issues_from_scores,
)

__all__ = ["find_label_issues"]

IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
"""The IoU thresholds of cleanlab's per-class AP (0.5, 0.55, ..., 0.95)."""


def find_label_issues(labels: list, predictions: list, *, return_indices_ranked_by_score: Optional[bool] = False,
                      overlapping_label_check: Optional[bool] = True) -> np.ndarray:
    """``(N,) bool``: which images probably have a label issue (a box overlooked, swapped to the wrong class or
    badly located); with ``return_indices_ranked_by_score``, the flagged images' indices instead, lowest
    :func:`~labelwise.audit.object_detection.rank.get_label_quality_scores` first. cleanlab's function.

    labels: ``N`` dicts ``{"bboxes": (L, 4) xyxy, "labels": (L,) int}``; predictions: ``N`` sequences of ``K``
    arrays ``(M_k, 5)`` ``[x1, y1, x2, y2, pred_prob]``, one per class, out of sample; overlapping_label_check: see
    ``get_label_quality_scores`` (as in cleanlab, the ranking's scores always use the default, True).
    """
    boxes = flatten(labels, predictions, ALPHA)
    flags = box_issue_flags(boxes, overlapping_label_check=overlapping_label_check)
    is_issue = np.zeros(boxes.n, dtype=bool)
    is_issue[boxes.pred_image[flags["overlooked"]]] = True
    is_issue[boxes.lab_image[flags["badloc"] | flags["swap"]]] = True
    if not return_indices_ranked_by_score:
        return is_issue
    scores = _image_scores(_prune(boxes, 0.0), _aggregation_weights(None), True)
    ranked = issues_from_scores(scores, threshold=1.0)
    return ranked[is_issue[ranked]]


def box_issue_flags(boxes: Boxes, *, threshold: Optional[float] = None, overlapping_label_check=True) -> dict:
    """The per-box scores and flags behind :func:`find_label_issues`: ``{"overlooked_score": (M,),
    "overlooked": (M,) bool, "badloc_score": (L,), "badloc": (L,) bool, "swap_score": (L,), "swap": (L,) bool}``
    over the flat boxes. A box is flagged when its score is at or below ``threshold``, or, when ``threshold`` is
    None, at or below 0.8 times its class's cut (``0.25 * AP`` of the class; NaN scores never flagged)."""
    overlooked = _overlooked(boxes, HIGH_PROBABILITY_THRESHOLD)
    badloc = _badloc(boxes, LOW_PROBABILITY_THRESHOLD)
    swap = _swap(boxes, HIGH_PROBABILITY_THRESHOLD, overlapping_label_check)
    if threshold is None:
        cut = per_class_ap(boxes) * np.float32(AP_SCALE_FACTOR)
        limits = [cut[boxes.pred_labels] * OVERLOOKED_THRESHOLD_FACTOR, cut[boxes.lab_labels] * BADLOC_THRESHOLD_FACTOR,
                  cut[boxes.lab_labels] * SWAP_THRESHOLD_FACTOR]
    else:
        limits = [threshold] * 3
    return {"overlooked_score": overlooked, "overlooked": np.nan_to_num(overlooked, nan=1.0) <= limits[0],
            "badloc_score": badloc, "badloc": badloc <= limits[1], "swap_score": swap, "swap": swap <= limits[2]}


def _within_image_order(boxes: Boxes) -> np.ndarray:
    """``(M,)`` each predicted box's rank among the boxes of its image and class, highest pred_prob first (as
    cleanlab's ``np.argsort(-probs)`` per image and class orders them, ties included)."""
    group = boxes.pred_image * boxes.n_classes + boxes.pred_labels
    raw = boxes.pred_probs_raw
    order = np.lexsort((-raw, group))
    tied = np.flatnonzero((group[order][1:] == group[order][:-1]) & (raw[order][1:] == raw[order][:-1]))
    for g in np.unique(group[order][tied]):  # only groups with equal scores: sort them exactly as cleanlab does
        members = np.flatnonzero(group == g)
        order[np.searchsorted(group[order], g, side="left") + np.arange(len(members))] = \
            members[np.argsort(-raw[members])]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def match_predictions(boxes: Boxes, iou_thresholds=IOU_THRESHOLDS) -> tuple[np.ndarray, np.ndarray]:
    """``(true_positive (T, M) bool, best_label (M,) int)``: whether each predicted box is a true positive at each
    IoU threshold (cleanlab's ``_calculate_true_positives_false_positives``: in each image, a predicted box is
    matched to the label box of its class with the highest IoU (the first on ties), and is a true positive when
    that IoU reaches the threshold and no higher-scored box of the image took that label box); best_label: that
    label box's flat index (-1 when the image has no label box of the class)."""
    order, starts = boxes.pred_major()
    lab, pred = boxes.pair_lab[order], boxes.pair_pred[order]
    same = boxes.lab_labels[lab] == boxes.pred_labels[pred]
    iou = np.where(same, boxes.iou[order], -1.0)
    best_iou = group_reduce(np.maximum, iou, starts, -1.0)
    first = np.flatnonzero(same & (iou == best_iou[pred]))
    _, at = np.unique(pred[first], return_index=True)
    best_label = np.full(len(boxes.pred_labels), -1, dtype=np.int64)
    best_label[pred[first[at]]] = lab[first[at]]
    rank = _within_image_order(boxes)
    candidates = np.flatnonzero(best_label >= 0)
    candidates = candidates[np.lexsort((rank[candidates], best_label[candidates]))]
    tp = np.zeros((len(iou_thresholds), len(best_label)), dtype=bool)
    for t, threshold in enumerate(iou_thresholds):
        hit = candidates[best_iou[candidates] >= threshold]
        lead = np.concatenate([[True], best_label[hit][1:] != best_label[hit][:-1]]) if hit.size else hit.astype(bool)
        tp[t, hit[lead]] = True
    return tp, best_label


def _average_precision(recalls: np.ndarray, precisions: np.ndarray) -> np.float32:
    """cleanlab's ``_calculate_average_precision``: all-point interpolated AP of one precision-recall curve."""
    recall = np.concatenate([[0.0], recalls, [1.0]])
    precision = np.concatenate([[0.0], precisions, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    index = np.where(recall[1:] != recall[:-1])[0]
    return np.float32(np.sum((recall[index + 1] - recall[index]) * precision[index + 1]))


def per_class_ap(boxes: Boxes, iou_thresholds=IOU_THRESHOLDS) -> np.ndarray:
    """``(K,) float32``: each class's AP averaged over ``iou_thresholds`` (cleanlab's ``_get_per_class_ap`` before
    its 0.25 scale), the same float32 arithmetic."""
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
