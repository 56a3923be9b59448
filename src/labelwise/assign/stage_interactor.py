"""StageInteractor's cross-stage label assignment and its multi-hot sigmoid focal loss (paper 2).

Teng, Wang, Hu, Wang, Wu, "StageInteractor: Query-based Object Detector with Cross-stage Interaction", ICCV 2023.
A query-based detector refines its predictions over ``L`` decoder stages, and each stage is trained against a
one-to-one (Hungarian) matching of its own (:func:`labelwise.assign.hungarian.hungarian_assign`). The cross-stage
label assigner then gives stage ``l`` more, and more consistent, positive class targets: it gathers the
(query, ground truth) pairs that *other* stages matched and makes that class a target of that query at stage ``l``
when **stage l's own box** of the query overlaps the ground-truth box enough. Per image and stage (the released
config's rule, read from the official code by the notes):

    S_l = zeros(N, C)
    S_l[pi_l(j), c_j] = IoU(B_l[pi_l(j)], G_j)                 for each ground truth j      (own matches)
    S_l[pi_k(j), c_j] = max(S_l[...], IoU(B_l[pi_k(j)], G_j))  for each stage k in K(l), each j
    Y_l = S_l >= iou_thr                                       (N, C) multi-hot class targets

with candidate stages ``K(l) = {l - 1} + {l + 1, ..., L - 1}`` (the previous stage and all later ones). Own matches
below the threshold are dropped (``filter_own``); a query can carry several classes. Only the class targets change:
box regression stays on the stage's own one-to-one matches. The loss is a sigmoid focal loss on the multi-hot
targets, normalised by ``max(sum(Y_l), number of one-to-one matches)`` (:func:`focal_normalizer`) so the scale does
not jump when the assigner adds or drops positives.

Boxes of the assigner are numpy or torch ``(N, 4)`` xyxy in any unit shared with ``gt_boxes`` (IoU is
scale-free); the loss is torch.
"""

from __future__ import annotations

from typing import Callable, Sequence, Union

import numpy as np

from labelwise.assign.box_geometry import box_iou
from labelwise.errors import MissingExtraError, ParameterError, ShapeError

__all__ = ["CANDIDATES", "candidate_stages", "cross_stage_assign", "focal_normalizer", "sigmoid_focal_multi_hot"]

CANDIDATES = ("prev_and_later", "all", "none")


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def candidate_stages(stage: int, n_stages: int, candidates: Union[str, Callable[[int, int], Sequence[int]]]
                     = "prev_and_later") -> list[int]:
    """The stages whose matches stage ``stage`` (0-based, of ``n_stages``) gathers.

    ``"prev_and_later"`` (the paper's): ``stage - 1`` and every later stage; ``"all"``: every other stage;
    ``"none"``: no other stage (only the own matches, thresholded); a callable ``(stage, n_stages) -> indices``.
    """
    if callable(candidates):
        chosen = [int(k) for k in candidates(stage, n_stages)]
    elif candidates == "prev_and_later":
        chosen = [stage - 1] + list(range(stage + 1, n_stages))
    elif candidates == "all":
        chosen = [k for k in range(n_stages) if k != stage]
    elif candidates == "none":
        chosen = []
    else:
        raise ParameterError(f"candidates must be one of {', '.join(CANDIDATES)} or a callable (stage, n_stages) -> "
                             f"stage indices; got {candidates!r}")
    return [k for k in chosen if 0 <= k < n_stages and k != stage]


def cross_stage_assign(stage_boxes: Sequence, stage_matches: Sequence, gt_boxes, gt_labels, num_classes: int, *,
                       iou_thr: float = 0.5, filter_own: bool = True,
                       candidates: Union[str, Callable[[int, int], Sequence[int]]] = "prev_and_later"
                       ) -> list[np.ndarray]:
    """Multi-hot class targets of every stage of one image, from every stage's one-to-one matches.

    stage_boxes: ``L`` arrays ``(N, 4)`` xyxy, each stage's predicted box of each query; stage_matches: ``L`` pairs
    ``(query_idx (m,), gt_idx (m,))`` (:func:`~labelwise.assign.hungarian.hungarian_assign`'s output per stage);
    gt_boxes: ``(M, 4)`` xyxy in the unit of ``stage_boxes``; gt_labels: ``(M,) int``; num_classes: ``C``.
    iou_thr: the IoU (of this stage's box) a pair needs to become a target (0.5 in the paper); filter_own: also
    drop own matches below ``iou_thr`` (the paper's setting; ``False`` keeps every own match positive);
    candidates: which other stages' matches are gathered (:func:`candidate_stages`).

    Returns ``L`` arrays ``(N, C) float32`` of 0/1: stage ``l``'s class targets (``1`` where query ``q`` should
    score class ``c``). Box targets are not touched: regress only the stage's own matches.
    """
    if not 0.0 <= iou_thr <= 1.0:
        raise ParameterError(f"iou_thr must be in [0, 1]; got {iou_thr}")
    n_stages = len(stage_boxes)
    if len(stage_matches) != n_stages:
        raise ShapeError(f"stage_matches has {len(stage_matches)} stages but stage_boxes has {n_stages}; give one "
                         f"(query_idx, gt_idx) pair per stage")
    boxes = [_numpy(b).astype(np.float64).reshape(-1, 4) for b in stage_boxes]
    n_queries = len(boxes[0]) if boxes else 0
    if any(len(b) != n_queries for b in boxes):
        raise ShapeError(f"every stage must have the same queries; got {[len(b) for b in boxes]} boxes per stage")
    gt_boxes = _numpy(gt_boxes).astype(np.float64).reshape(-1, 4)
    gt_labels = _numpy(gt_labels).astype(np.int64).reshape(-1)
    if len(gt_labels) != len(gt_boxes):
        raise ShapeError(f"gt_labels has {len(gt_labels)} entries but gt_boxes has {len(gt_boxes)} boxes")
    if len(gt_labels) and (gt_labels.min() < 0 or gt_labels.max() >= num_classes):
        raise ShapeError(f"gt_labels must be class ids in 0..{num_classes - 1}; got "
                         f"{int(gt_labels.min())}..{int(gt_labels.max())}")
    matches = []
    for l, pair in enumerate(stage_matches):
        q, j = (_numpy(v).astype(np.int64).reshape(-1) for v in pair)
        in_range = ((q >= 0) & (q < n_queries)).all() and ((j >= 0) & (j < len(gt_labels))).all()
        if len(q) != len(j) or not in_range:
            raise ShapeError(f"stage {l}'s matches must be (query_idx, gt_idx) of equal length with queries in "
                             f"0..{n_queries - 1} and ground truths in 0..{len(gt_labels) - 1}")
        matches.append((q, j))

    targets = []
    for l in range(n_stages):
        iou = box_iou(boxes[l], gt_boxes) if len(gt_boxes) else np.zeros((n_queries, 0))  # (N, M), this stage's boxes
        score = np.zeros((n_queries, num_classes))
        for k in [l] + candidate_stages(l, n_stages, candidates):
            q, j = matches[k]
            np.maximum.at(score, (q, gt_labels[j]), iou[q, j])
        target = (score >= iou_thr) & (score > 0)  # a pair with no overlap is never a target
        if not filter_own:
            q, j = matches[l]
            target[q, gt_labels[j]] = True
        targets.append(target.astype(np.float32))
    return targets


def focal_normalizer(targets, n_matches: int) -> float:
    """The notes' normaliser of the multi-hot focal loss: ``max(sum(targets), n_matches, 1)``, with ``n_matches``
    the number of one-to-one matches over the same images (so dropping low-IoU matches cannot shrink it, and adding
    positives grows it)."""
    total = float(targets.sum())
    return max(total, float(n_matches), 1.0)


def sigmoid_focal_multi_hot(logits, targets, alpha: float = 0.25, gamma: float = 2.0, normalizer=None):
    """Sigmoid focal loss with hard multi-hot targets, summed and divided by ``normalizer`` (a scalar torch tensor).

    logits, targets: ``(..., C)`` torch tensors (``targets`` 0/1). Per entry: ``alpha (1 - p)^gamma BCE(z, 1)``
    where the target is 1 and ``(1 - alpha) p^gamma BCE(z, 0)`` where it is 0, ``p = sigmoid(z)``. normalizer:
    ``None`` divides by ``max(sum(targets), 1)``; pass :func:`focal_normalizer`'s value to follow the paper.
    """
    try:
        import torch
        from torch.nn import functional as F
    except ImportError as exc:  # pragma: no cover - torch is part of the learn extra
        raise MissingExtraError("torch", "learn", "the StageInteractor focal loss") from exc
    if logits.shape != targets.shape:
        raise ShapeError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} must have the same shape")
    targets = targets.to(logits.dtype)
    prob = torch.sigmoid(logits)
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    weight = targets * alpha * (1 - prob).pow(gamma) + (1 - targets) * (1 - alpha) * prob.pow(gamma)
    if normalizer is None:
        normalizer = targets.sum().clamp(min=1.0)
    return (weight * bce).sum() / normalizer
