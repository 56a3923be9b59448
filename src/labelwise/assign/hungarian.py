"""One-to-one (Hungarian) label assignment for query-based detectors (numpy; algorithm floor).

The per-stage matching of DETR-style detectors, with the cost StageInteractor (Teng et al., "StageInteractor:
Query-based Object Detector with Cross-stage Interaction", ICCV 2023; paper 2) and its AdaMixer baseline use:

    cost[q, j] = cls_w * focal_cost(logits[q], gt_labels[j]) + l1_w * |boxes[q] - gt_boxes[j]|_1
                 - giou_w * GIoU(boxes[q], gt_boxes[j])

with the sigmoid focal cost ``alpha (1 - p)^gamma (-log p) - (1 - alpha) p^gamma (-log(1 - p))`` at ``p =
sigmoid(logits[q, gt_labels[j]])`` (the positive focal loss minus the negative one: the cost of calling query ``q``
an object of that class rather than background). Boxes are xyxy normalised by the image size (the L1 weight assumes
coordinates in [0, 1]). :func:`hungarian_assign` solves the assignment with scipy's ``linear_sum_assignment``: each
ground-truth box gets its own query (``min(N, M)`` pairs), every other query is background.

Inputs may be numpy arrays or torch tensors (detached and moved to the CPU); outputs are numpy.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from labelwise.assign.box_geometry import generalized_box_iou
from labelwise.errors import ParameterError, ShapeError

__all__ = ["hungarian_assign", "matching_cost"]

_EPS = 1e-12


def _array(x, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ShapeError(f"{name} holds NaN or infinite values; check the network's outputs before matching")
    return arr


def _inputs(logits, boxes, gt_labels, gt_boxes):
    logits = _array(logits, "logits")
    if logits.ndim != 2:
        raise ShapeError(f"logits must be (N, C) class scores (one row per query); got shape {logits.shape}")
    boxes = _array(boxes, "boxes")
    if boxes.shape != (len(logits), 4):
        raise ShapeError(f"boxes must be (N, 4) xyxy with N = {len(logits)} queries (the rows of logits); "
                         f"got shape {boxes.shape}")
    gt_labels = np.asarray(gt_labels.detach().cpu() if hasattr(gt_labels, "detach") else gt_labels).reshape(-1)
    gt_labels = gt_labels.astype(np.int64)
    gt_boxes = _array(gt_boxes, "gt_boxes")
    gt_boxes = gt_boxes.reshape(0, 4) if gt_boxes.size == 0 else gt_boxes
    if gt_boxes.shape != (len(gt_labels), 4):
        raise ShapeError(f"gt_boxes must be (M, 4) xyxy with M = {len(gt_labels)} (the length of gt_labels); "
                         f"got shape {gt_boxes.shape}")
    if len(gt_labels) and (gt_labels.min() < 0 or gt_labels.max() >= logits.shape[1]):
        raise ShapeError(f"gt_labels must be class ids in 0..{logits.shape[1] - 1} (the columns of logits); got "
                         f"{int(gt_labels.min())}..{int(gt_labels.max())}")
    return logits, boxes, gt_labels, gt_boxes


def matching_cost(logits, boxes, gt_labels, gt_boxes, *, cls_w: float = 2.0, l1_w: float = 5.0,
                  giou_w: float = 2.0, focal_alpha: float = 0.25, focal_gamma: float = 2.0) -> np.ndarray:
    """``(N, M)`` matching cost of every query with every ground-truth box (lower is a better match).

    logits: ``(N, C)`` raw class scores of the queries (sigmoid classifier, no background column); boxes: ``(N, 4)``
    the queries' xyxy boxes, normalised to [0, 1]; gt_labels: ``(M,) int`` class ids; gt_boxes: ``(M, 4)``
    normalised xyxy. Defaults: the StageInteractor / AdaMixer configs (focal 2.0, L1 5.0, GIoU 2.0; alpha 0.25,
    gamma 2).
    """
    logits, boxes, gt_labels, gt_boxes = _inputs(logits, boxes, gt_labels, gt_boxes)
    if len(gt_labels) == 0:
        return np.zeros((len(logits), 0))
    prob = 1.0 / (1.0 + np.exp(-logits[:, gt_labels]))  # (N, M)
    pos = focal_alpha * (1 - prob) ** focal_gamma * -np.log(prob + _EPS)
    neg = (1 - focal_alpha) * prob ** focal_gamma * -np.log(1 - prob + _EPS)
    l1 = np.abs(boxes[:, None, :] - gt_boxes[None, :, :]).sum(-1)
    return cls_w * (pos - neg) + l1_w * l1 - giou_w * generalized_box_iou(boxes, gt_boxes)


def hungarian_assign(logits, boxes, gt_labels, gt_boxes, **cost_kw) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one assignment of queries to ground-truth boxes minimising :func:`matching_cost`.

    Returns ``(query_idx, gt_idx)``, both ``(min(N, M),) int64``, ordered by ``gt_idx`` (with ``M <= N``,
    ``gt_idx`` is ``arange(M)`` and ``query_idx[j]`` is the query that ground-truth box ``j`` got). ``cost_kw``:
    :func:`matching_cost`'s weights.
    """
    unknown = set(cost_kw) - {"cls_w", "l1_w", "giou_w", "focal_alpha", "focal_gamma"}
    if unknown:
        raise ParameterError(f"hungarian_assign got unknown keyword(s) {sorted(unknown)}; the cost takes cls_w, "
                             f"l1_w, giou_w, focal_alpha, focal_gamma")
    cost = matching_cost(logits, boxes, gt_labels, gt_boxes, **cost_kw)
    if cost.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    gt_idx, query_idx = linear_sum_assignment(cost.T)  # rows (ground truth) come back sorted
    return query_idx.astype(np.int64), gt_idx.astype(np.int64)
