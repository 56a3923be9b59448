"""Score images and boxes of an object detection dataset by how likely their labels are wrong, mirroring
``cleanlab.object_detection.rank`` (cleanlab 2.9) name for name, with the same results.

The method is ObjectLab (Tkachenko, Thyagarajan, Mueller, "ObjectLab: Automated Diagnosis of Mislabeled Images in
Object Detection Data", ICML 2023 workshop on data-centric ML): three per-box scores in [0, 1], low = probably wrong,

- overlooked (one per *predicted* box): a confident prediction (prob >= 0.95) that overlaps no label box: its score
  is its similarity to the nearest label box of its class, or ``min_possible_similarity * (1 - prob)`` when the
  image has no label box of that class (NaN for the predicted boxes that are not candidates);
- badly located (one per *label* box): the best similarity to a predicted box of the same class with prob > 0.5
  that overlaps it (1.0 when there is none);
- swapped (one per *label* box): ``1 - `` the best similarity to a confident predicted box of another class (1.0
  when there is none; ``min_possible_similarity`` when another label box of another class covers the same place,
  IoU >= 0.95),

where the similarity of two boxes is ``0.9 IoU + 0.1 exp(-0.1 * distance of their centres in pixels)``. Each image's
three score sets are pooled by a softmin (temperature 0.1) and the image score is their weighted geometric mean.

cleanlab computes every similarity in Python loops over box pairs; here all pairs of all images are flat arrays
(``_inputs.Boxes``) and every step is one numpy call over them. Formats: see :mod:`labelwise.audit.object_detection`.
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from labelwise.audit.object_detection._inputs import (
    AGGREGATION_WEIGHTS,
    ALPHA,
    AP_SCALE_FACTOR,
    BADLOC_THRESHOLD_FACTOR,
    EPSILON,
    HIGH_PROBABILITY_THRESHOLD,
    LABEL_OVERLAP_THRESHOLD,
    LOW_PROBABILITY_THRESHOLD,
    MAX_ALLOWED_BOX_PRUNE,
    OVERLOOKED_THRESHOLD_FACTOR,
    SWAP_THRESHOLD_FACTOR,
    TEMPERATURE,
    TINY_VALUE,
    Boxes,
    boxes_of,
    flatten,
    group_argmax,
    group_reduce,
    pair_iou,
    pair_up,
    take,
)
from labelwise.audit.object_detection.matching import per_class_ap
from labelwise.errors import ParameterError

__all__ = ["get_label_quality_scores", "issues_from_scores", "compute_overlooked_box_scores",
           "compute_badloc_box_scores", "compute_swap_box_scores", "pool_box_scores_per_image", "box_issue_types"]


def _or_default(value, default):
    return default if value is None else value


def get_label_quality_scores(labels: list, predictions: list, *, aggregation_weights: Optional[dict] = None,
                             overlapping_label_check: Optional[bool] = True, verbose: bool = True) -> np.ndarray:
    """``(N,) float`` label quality score per image in [0, 1]; low = the image's boxes are probably mislabelled
    (an object overlooked, a box with the wrong class, a box badly located). cleanlab's function of the same name.

    labels: ``N`` dicts ``{"bboxes": (L, 4) xyxy, "labels": (L,) int}``; predictions: ``N`` sequences of ``K``
    arrays ``(M_k, 5)`` ``[x1, y1, x2, y2, pred_prob]``, one per class, out of sample; aggregation_weights: weights
    of ``"overlooked"``, ``"swap"``, ``"badloc"`` (non-negative, summing to 1; default 1/3 each);
    overlapping_label_check: give the swap score its minimum to a label box that another label box of another class
    covers (IoU >= 0.95). Predicted boxes with a negative pred_prob are dropped first, as cleanlab does; verbose is
    accepted for cleanlab's signature, but nothing is printed (cleanlab prints how many it dropped).
    """
    weights = _aggregation_weights(aggregation_weights)
    boxes = _prune(flatten(labels, predictions, ALPHA), 0.0)
    return _image_scores(boxes, weights, overlapping_label_check)


def _image_scores(boxes: Boxes, weights: dict, overlapping_label_check) -> np.ndarray:
    """``(N,)`` the three per-box scores (cleanlab's default thresholds) pooled per image and aggregated."""
    overlooked = _pool(_overlooked(boxes, HIGH_PROBABILITY_THRESHOLD), boxes.pred_start, TEMPERATURE)
    badloc = _pool(_badloc(boxes, LOW_PROBABILITY_THRESHOLD)[0], boxes.lab_start, TEMPERATURE)
    swap = _pool(_swap(boxes, HIGH_PROBABILITY_THRESHOLD, overlapping_label_check)[0], boxes.lab_start, TEMPERATURE)
    scores = (weights["overlooked"] * np.log(TINY_VALUE + overlooked) + weights["badloc"] * np.log(TINY_VALUE + badloc)
              + weights["swap"] * np.log(TINY_VALUE + swap))
    return np.exp(scores)


def _aggregation_weights(aggregation_weights: Optional[dict]) -> dict:
    if aggregation_weights is None:
        return dict(AGGREGATION_WEIGHTS)
    missing = [key for key in AGGREGATION_WEIGHTS if key not in aggregation_weights]
    if missing:
        raise ParameterError(f"aggregation_weights lacks {', '.join(missing)}: give weights for 'overlooked', "
                             f"'swap' and 'badloc' that sum to 1.")
    weights = np.array(list(aggregation_weights.values()), dtype=np.float64)
    if not np.isclose(np.sum(weights), 1.0) or np.min(weights) < 0.0:
        raise ParameterError(f"Aggregation weights should be non-negative and must sum to 1.0; got "
                             f"{dict(aggregation_weights)}.")
    return dict(aggregation_weights)


def _prune(boxes: Boxes, threshold: float) -> Boxes:
    """``boxes`` without the predicted boxes whose pred_prob is below ``threshold`` (cleanlab's
    ``_prune_by_threshold``; a UserWarning, as there, when that empties more than 97 % of the non-empty per-image
    class arrays)."""
    keep = boxes.pred_probs >= threshold
    if keep.all():
        return boxes
    group = boxes.pred_image * boxes.n_classes + boxes.pred_labels
    before = np.unique(group)
    emptied = len(before) - len(np.unique(group[keep]))
    if before.size and emptied / before.size > MAX_ALLOWED_BOX_PRUNE:
        warnings.warn(f"{emptied} of {before.size} per-image class arrays lose all their predicted boxes to pred_prob "
                      f"< {threshold}: are the scores probabilities in [0, 1]?", UserWarning, stacklevel=3)
    pred_counts = np.bincount(boxes.pred_image[keep], minlength=boxes.n)
    return pair_up(boxes.lab_bboxes, boxes.lab_labels, np.diff(boxes.lab_start), boxes.pred_bboxes[keep],
                   boxes.pred_labels[keep], boxes.pred_probs[keep], pred_counts, ALPHA, n_classes=boxes.n_classes,
                   pred_probs_raw=boxes.pred_probs_raw[keep])


def issues_from_scores(label_quality_scores: np.ndarray, *, threshold: float = 0.1) -> np.ndarray:
    """Indices of the images whose score is ``<= threshold``, lowest score first (cleanlab's function)."""
    if threshold > 1.0:
        raise ParameterError(f"threshold is a cutoff of label_quality_scores and therefore should be <= 1; got "
                             f"{threshold}.")
    label_quality_scores = np.asarray(label_quality_scores)
    issue_indices = np.argwhere(label_quality_scores <= threshold).flatten()
    return issue_indices[label_quality_scores[issue_indices].argsort()]


def _overlooked(boxes: Boxes, high_probability_threshold: float) -> np.ndarray:
    """``(M,)`` overlooked score per predicted box (NaN where the box is no candidate)."""
    order, starts = boxes.pred_major()
    lab, pred = boxes.pair_lab[order], boxes.pair_pred[order]
    touches = group_reduce(np.logical_or, boxes.iou[order] > 0, starts, False)
    same = boxes.lab_labels[lab] == boxes.pred_labels[pred]
    best = group_reduce(np.maximum, np.where(same, boxes.similarity[order], -np.inf), starts, -np.inf)
    probs = boxes.pred_probs
    scores = np.where(best == -np.inf, boxes.min_possible_similarity * (1 - probs), best)
    scores[(probs < high_probability_threshold) | touches] = np.nan
    return scores


def _badloc(boxes: Boxes, low_probability_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """``((L,) badly located score per label box, (L,) the flat index of the predicted box behind it, -1 none)``."""
    pred = boxes.pair_pred
    ok = ((boxes.pred_labels[pred] == boxes.lab_labels[boxes.pair_lab])
          & (boxes.pred_probs[pred] > low_probability_threshold) & (boxes.iou > 0))
    best, at = group_argmax(np.where(ok, boxes.similarity, -np.inf), boxes.lab_pair_start)
    return np.where(at < 0, 1.0, best), take(pred, at)


def _label_overlaps(boxes: Boxes) -> np.ndarray:
    """``(L,) bool``: another label box of the same image with another class has IoU >= 0.95 with this one."""
    per_label = np.diff(boxes.lab_start)[boxes.lab_image]
    starts = np.concatenate([[0], np.cumsum(per_label)])
    a = np.repeat(np.arange(len(boxes.lab_labels)), per_label)
    b = boxes.lab_start[boxes.lab_image[a]] + (np.arange(len(a)) - starts[a])
    differ = boxes.lab_labels[a] != boxes.lab_labels[b]  # implies a != b
    hit = np.zeros(len(a), dtype=bool)
    hit[differ] = pair_iou(boxes.lab_bboxes[a[differ]], boxes.lab_bboxes[b[differ]]) >= LABEL_OVERLAP_THRESHOLD
    return group_reduce(np.logical_or, hit, starts, False)


def _swap(boxes: Boxes, high_probability_threshold: float, overlapping_label_check) -> tuple[np.ndarray, np.ndarray]:
    """``((L,) swap score per label box, (L,) the flat index of the predicted box of another class behind it, -1
    none)``."""
    pred = boxes.pair_pred
    ok = ((boxes.pred_labels[pred] != boxes.lab_labels[boxes.pair_lab])
          & (boxes.pred_probs[pred] > high_probability_threshold))
    best, at = group_argmax(np.where(ok, boxes.similarity, -np.inf), boxes.lab_pair_start)
    scores = np.where(at < 0, 1.0, np.maximum(boxes.min_possible_similarity, 1 - best))
    if overlapping_label_check:
        scores[_label_overlaps(boxes)] = boxes.min_possible_similarity
    return scores, take(pred, at)


def _pool(scores: np.ndarray, starts: np.ndarray, temperature: float) -> np.ndarray:
    """``(N,)`` softmin of each image's non-NaN scores (``starts (N + 1,)`` offsets), 1.0 for an image with none."""
    counts = np.diff(starts)
    image = np.repeat(np.arange(len(counts)), counts)
    keep = ~np.isnan(scores)
    scores, image = scores[keep], image[keep]
    kept_starts = np.concatenate([[0], np.cumsum(np.bincount(image, minlength=len(counts)))])
    x = -scores / max(temperature, EPSILON)
    x = np.exp(x - group_reduce(np.maximum, x, kept_starts, 0.0)[image])
    weights = x / group_reduce(np.add, x, kept_starts, 1.0)[image]
    pooled = group_reduce(np.add, weights * scores, kept_starts, 0.0)
    pooled[np.diff(kept_starts) == 0] = 1.0
    return pooled


def compute_overlooked_box_scores(*, labels: Optional[list] = None, predictions: Optional[list] = None,
                                  alpha: Optional[float] = None, high_probability_threshold: Optional[float] = None,
                                  auxiliary_inputs: Optional[list] = None) -> list:
    """``N`` arrays ``(M_i,) float``: the overlooked score of each predicted box of image ``i`` (in the order of
    ``predictions[i]``: class 0's boxes, then class 1's, ...), NaN for boxes that are not candidates (pred_prob
    below ``high_probability_threshold`` (default 0.95), or overlapping a label box). Low = an object probably
    missing from the labels. cleanlab's function: same keyword arguments (``alpha`` default 0.9,
    ``auxiliary_inputs`` cleanlab's per-image dicts)."""
    boxes = boxes_of(labels, predictions, auxiliary_inputs, _or_default(alpha, ALPHA))
    return boxes.split_preds(_overlooked(boxes, _or_default(high_probability_threshold, HIGH_PROBABILITY_THRESHOLD)))


def compute_badloc_box_scores(*, labels: Optional[list] = None, predictions: Optional[list] = None,
                              alpha: Optional[float] = None, low_probability_threshold: Optional[float] = None,
                              auxiliary_inputs: Optional[list] = None) -> list:
    """``N`` arrays ``(L_i,) float``: the badly located score of each label box of image ``i``; low = the box's
    edges are probably off. ``low_probability_threshold`` (default 0.5): the predicted boxes considered. cleanlab's
    function, same keyword arguments."""
    boxes = boxes_of(labels, predictions, auxiliary_inputs, _or_default(alpha, ALPHA))
    return boxes.split_labels(_badloc(boxes, _or_default(low_probability_threshold, LOW_PROBABILITY_THRESHOLD))[0])


def compute_swap_box_scores(*, labels: Optional[list] = None, predictions: Optional[list] = None,
                            alpha: Optional[float] = None, high_probability_threshold: Optional[float] = None,
                            overlapping_label_check: Optional[bool] = True,
                            auxiliary_inputs: Optional[list] = None) -> list:
    """``N`` arrays ``(L_i,) float``: the swap score of each label box of image ``i``; low = the box probably has
    the wrong class. ``high_probability_threshold`` (default 0.95): the predicted boxes of other classes considered.
    cleanlab's function, same keyword arguments."""
    boxes = boxes_of(labels, predictions, auxiliary_inputs, _or_default(alpha, ALPHA))
    scores = _swap(boxes, _or_default(high_probability_threshold, HIGH_PROBABILITY_THRESHOLD),
                   overlapping_label_check)[0]
    return boxes.split_labels(scores)


def pool_box_scores_per_image(box_scores: list, *, temperature: Optional[float] = None) -> np.ndarray:
    """``(N,) float``: the softmin (``temperature``, default 0.1) of each image's box scores ``box_scores[i]``
    (NaN ignored; 1.0 for an image without scores). cleanlab's function."""
    arrays = [np.asarray(s, dtype=np.float64).reshape(-1) for s in box_scores]
    starts = np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)
    flat = np.concatenate(arrays) if arrays else np.zeros(0)
    return _pool(flat, starts, _or_default(temperature, TEMPERATURE))


def box_issue_flags(boxes: Boxes, *, threshold: Optional[float] = None, overlapping_label_check=True) -> dict:
    """The per-box scores and flags behind ``find_label_issues``, over the flat boxes of ``boxes``:
    ``overlooked_score``, ``overlooked`` ``(M,)``; ``badloc_score``, ``badloc``, ``badloc_match``, ``swap_score``,
    ``swap``, ``swap_match`` ``(L,)`` (the matches: the flat index of the predicted box behind the score, -1 none).
    A box is flagged when its score is ``<= threshold``, or with ``threshold=None`` (cleanlab's rule) ``<= 0.8 *
    0.25 * AP`` of its class (:func:`~labelwise.audit.object_detection.matching.per_class_ap`); NaN never."""
    overlooked = _overlooked(boxes, HIGH_PROBABILITY_THRESHOLD)
    badloc, badloc_match = _badloc(boxes, LOW_PROBABILITY_THRESHOLD)
    swap, swap_match = _swap(boxes, HIGH_PROBABILITY_THRESHOLD, overlapping_label_check)
    if threshold is None:
        cut = per_class_ap(boxes) * np.float32(AP_SCALE_FACTOR)  # float32, as cleanlab compares
        limits = (cut[boxes.pred_labels] * OVERLOOKED_THRESHOLD_FACTOR, cut[boxes.lab_labels] * BADLOC_THRESHOLD_FACTOR,
                  cut[boxes.lab_labels] * SWAP_THRESHOLD_FACTOR)
    else:
        limits = (float(threshold),) * 3
    return {"overlooked_score": overlooked, "overlooked": np.nan_to_num(overlooked, nan=1.0) <= limits[0],
            "badloc_score": badloc, "badloc": badloc <= limits[1], "badloc_match": badloc_match,
            "swap_score": swap, "swap": swap <= limits[2], "swap_match": swap_match}


def box_issue_types(labels: list, predictions: list, *, threshold: Optional[float] = None,
                    overlapping_label_check: Optional[bool] = True) -> list:
    """Which boxes of each image are the issues (not in cleanlab, whose ``find_label_issues`` says only which
    images): ``N`` dicts, for image ``i`` with ``L`` label boxes and ``M`` predicted boxes

    - ``"swap"``, ``"badloc"``: ``(L,) bool``, label box ``l`` probably has the wrong class / badly placed edges;
      ``"swap_score"``, ``"badloc_score"``: ``(L,) float`` (cleanlab's per-box scores, low = worse);
    - ``"suggested_label"``: ``(L,) int``, the class of the confident predicted box of another class that the swap
      score comes from (-1 none); ``"suggested_bbox"``: ``(L, 4) float``, the same-class predicted box that the
      badly located score comes from (NaN rows: none);
    - ``"overlooked"``: ``(M,) bool``, predicted box ``m`` marks an object missing from the labels;
      ``"overlooked_score"``: ``(M,) float`` (NaN: the box is no candidate);
    - ``"pred_bboxes"`` ``(M, 4)``, ``"pred_labels"`` ``(M,)``, ``"pred_probs"`` ``(M,)``: the predicted boxes in
      that order (class 0's boxes of ``predictions[i]``, then class 1's, ...).

    threshold: None flags a box as :func:`~labelwise.audit.object_detection.filter.find_label_issues` does (its
    score ``<= 0.8 * 0.25 * `` its class's AP@[.5:.95]), so an image is flagged there exactly when one of its boxes
    is flagged here; a number in [0, 1] flags every box scoring at or below it instead.
    """
    if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
        raise ParameterError(f"threshold must be None (cleanlab's per-class cut) or a score in [0, 1]; got "
                             f"{threshold}.")
    boxes = flatten(labels, predictions, ALPHA)
    flags = box_issue_flags(boxes, threshold=threshold, overlapping_label_check=overlapping_label_check)
    swap_match, badloc_match = flags["swap_match"], flags["badloc_match"]
    suggested_label = take(boxes.pred_labels, swap_match)
    suggested_bbox = np.full((len(badloc_match), 4), np.nan)
    suggested_bbox[badloc_match >= 0] = boxes.pred_bboxes[badloc_match[badloc_match >= 0]]
    per_label = {"swap": flags["swap"], "swap_score": flags["swap_score"], "suggested_label": suggested_label,
                 "badloc": flags["badloc"], "badloc_score": flags["badloc_score"], "suggested_bbox": suggested_bbox}
    per_pred = {"overlooked": flags["overlooked"], "overlooked_score": flags["overlooked_score"],
                "pred_bboxes": boxes.pred_bboxes, "pred_labels": boxes.pred_labels, "pred_probs": boxes.pred_probs}
    split = {key: boxes.split_labels(value) for key, value in per_label.items()}
    split.update({key: boxes.split_preds(value) for key, value in per_pred.items()})
    return [{key: parts[i] for key, parts in split.items()} for i in range(boxes.n)]
