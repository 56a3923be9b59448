"""The inputs every box-audit function takes, checked at the door and laid out flat for vectorised work.

cleanlab's formats, unchanged:

- ``labels``: a list of ``N`` dicts, ``labels[i] = {"bboxes": (L_i, 4) float xyxy, "labels": (L_i,) int, optional
  "image_name": str}``;
- ``predictions``: a list of ``N`` sequences (an object array or a list) of ``K`` arrays, ``predictions[i][k]`` of
  shape ``(M_ik, 5)``: ``x1, y1, x2, y2, pred_prob`` of the boxes predicted for class ``k``.

:class:`Boxes` holds both as flat arrays (all label boxes of all images in image order, all predicted boxes in image
then class order, as cleanlab's ``_separate_prediction`` orders them) and every (label box, predicted box) pair of
the same image, label-major: the pairs of image ``i`` are its ``(L_i, M_i)`` matrix raveled, so the IoU and
similarity of all images are two flat ``(P,)`` arrays with ``P = sum_i L_i M_i`` and one numpy call computes them.
cleanlab instead loops in Python over every pair of every image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from labelwise.errors import ParameterError, ShapeError

# cleanlab 2.9's constants (cleanlab/internal/constants.py), same names.
ALPHA = 0.9  # weight of IoU against centre distance in the box similarity
LOW_PROBABILITY_THRESHOLD = 0.5  # predicted boxes above it are considered for badly located scores
HIGH_PROBABILITY_THRESHOLD = 0.95  # predicted boxes above it are considered for overlooked and swapped scores
TEMPERATURE = 0.1  # softmin temperature when pooling box scores per image
EUC_FACTOR = 0.1  # the centre distance enters the similarity as exp(-EUC_FACTOR * distance)
LABEL_OVERLAP_THRESHOLD = 0.95  # two label boxes with IoU >= this and different classes "overlap"
EPSILON = 1e-6
TINY_VALUE = 1e-100
MAX_ALLOWED_BOX_PRUNE = 0.97
OVERLOOKED_THRESHOLD_FACTOR = 0.8
BADLOC_THRESHOLD_FACTOR = 0.8
SWAP_THRESHOLD_FACTOR = 0.8
AP_SCALE_FACTOR = 0.25
AGGREGATION_WEIGHTS = {"overlooked": 1 / 3, "swap": 1 / 3, "badloc": 1 / 3}


def _rows(arr, width: int, where: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.size == 0:
        return arr.reshape(0, width)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ShapeError(f"{where} must have the shape (n, {width}); got {arr.shape}. "
                         + ("Label boxes are x1, y1, x2, y2." if width == 4 else
                            "Predicted boxes are x1, y1, x2, y2, pred_prob (one array per class)."))
    return arr


def check_inputs(labels, predictions) -> int:
    """Check the formats above (cleanlab's ``assert_valid_inputs`` and more: every image, NaN, class ids) and return
    ``K``, the number of classes (``len(predictions[0])``). Raises ParameterError / ShapeError (ValueErrors, like
    cleanlab's) naming the image."""
    if len(labels) != len(predictions):
        raise ParameterError(f"labels and predictions length needs to match. len(labels) == {len(labels)} while "
                             f"len(predictions) == {len(predictions)}.")
    if len(labels) == 0:
        raise ParameterError("labels and predictions are empty: pass one entry per image.")
    k = None
    for i, (label, prediction) in enumerate(zip(labels, predictions)):
        if not isinstance(label, dict) or "bboxes" not in label or "labels" not in label:
            raise ParameterError(f"labels[{i}] must be a dict with 'bboxes' (L, 4) and 'labels' (L,); got "
                                 f"{type(label).__name__}" + (f" with keys {sorted(label)}" if isinstance(label, dict)
                                                             else "") + ".")
        if not isinstance(prediction, (list, tuple, np.ndarray)):
            raise ParameterError(f"predictions[{i}] has to be a list or np.ndarray of K (M, 5) arrays, one per "
                                 f"class; got {type(prediction).__name__}.")
        if k is None:
            k = len(prediction)
            if k == 0:
                raise ShapeError("predictions[0] holds no class arrays: give one (M, 5) array per class, empty "
                                 "((0, 5)) for a class without predicted boxes.")
        elif len(prediction) != k:
            raise ShapeError(f"predictions[{i}] has {len(prediction)} class arrays but predictions[0] has {k}: give "
                             f"every image one (M, 5) array per class (empty ones as (0, 5)).")
    return k


@dataclass
class Boxes:
    """Labels and predictions of ``N`` images as flat arrays (see the module docstring).

    lab_bboxes ``(L, 4) float64``, lab_labels ``(L,) int64``, lab_image ``(L,)``, lab_start ``(N + 1,)`` offsets;
    pred_bboxes ``(M, 4) float64``, pred_labels ``(M,) int64``, pred_probs ``(M,) float64``, pred_image ``(M,)``,
    pred_start ``(N + 1,)``; pair arrays ``(P,)`` label-major: pair_lab, pair_pred (flat box indices), iou,
    similarity; lab_pair_start ``(L + 1,)`` (the pairs of label box ``l`` are ``lab_pair_start[l]:[l + 1]``);
    min_possible_similarity: the smallest non-zero similarity of the dataset (1.0 if none); n_classes: ``K``;
    pred_probs_raw ``(M,)``: pred_probs in the dtype given (float32 scores sort ties as cleanlab sorts them).
    """

    n: int
    lab_bboxes: np.ndarray
    lab_labels: np.ndarray
    lab_image: np.ndarray
    lab_start: np.ndarray
    pred_bboxes: np.ndarray
    pred_labels: np.ndarray
    pred_probs: np.ndarray
    pred_image: np.ndarray
    pred_start: np.ndarray
    pair_lab: np.ndarray
    pair_pred: np.ndarray
    lab_pair_start: np.ndarray
    iou: np.ndarray
    similarity: np.ndarray
    min_possible_similarity: float
    n_classes: int
    pred_probs_raw: np.ndarray

    def pred_major(self) -> tuple[np.ndarray, np.ndarray]:
        """``(order (P,), pred_pair_start (M + 1,))``: ``iou[order]`` lists the pairs predicted box by predicted box
        (label boxes in order within each), the pairs of box ``m`` at ``pred_pair_start[m]:[m + 1]``."""
        l_per_image = np.diff(self.lab_start)
        counts = l_per_image[self.pred_image]
        pred_pair_start = np.concatenate([[0], np.cumsum(counts)])
        pm = np.repeat(np.arange(len(self.pred_labels)), counts)
        j = np.arange(len(pm)) - pred_pair_start[pm]  # which label box of the image
        img = self.pred_image[pm]
        lab = self.lab_start[img] + j
        order = self.lab_pair_start[lab] + (pm - self.pred_start[img])
        return order, pred_pair_start

    def split_labels(self, values: np.ndarray) -> list:
        """``values (L,)`` as ``N`` arrays, one per image."""
        return np.split(values, self.lab_start[1:-1])

    def split_preds(self, values: np.ndarray) -> list:
        """``values (M,)`` as ``N`` arrays, one per image."""
        return np.split(values, self.pred_start[1:-1])


def pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(P,)`` IoU of row-aligned xyxy boxes ``a (P, 4)`` and ``b (P, 4)``, cleanlab's ``_get_iou`` operation for
    operation (no intersection when the boxes only touch or miss; the union clipped below at 1e-6)."""
    x_left = np.maximum(a[:, 0], b[:, 0])
    y_top = np.maximum(a[:, 1], b[:, 1])
    x_right = np.minimum(a[:, 2], b[:, 2])
    y_bottom = np.minimum(a[:, 3], b[:, 3])
    inter = (x_right - x_left) * (y_bottom - y_top)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    iou = inter / np.maximum(area_a + area_b - inter, EPSILON)
    iou[(x_right < x_left) | (y_bottom < y_top)] = 0.0
    return iou


def pair_similarity(a: np.ndarray, b: np.ndarray, iou: np.ndarray, alpha: float) -> np.ndarray:
    """``(P,)`` cleanlab's box similarity ``alpha * IoU + (1 - alpha) * exp(-0.1 * centre distance)``, written as
    cleanlab writes it (so that the float results agree)."""
    dx = (a[:, 0] + a[:, 2]) / 2 - (b[:, 0] + b[:, 2]) / 2
    dy = (a[:, 1] + a[:, 3]) / 2 - (b[:, 1] + b[:, 3]) / 2
    dist = 1 - np.exp(-np.sqrt(dx * dx + dy * dy) * EUC_FACTOR)
    return iou * alpha + (1 - alpha) * (1 - dist)


def _concat(arrays: list, width: int, dtype) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros((0, width), dtype)


def flatten(labels, predictions, alpha: float = ALPHA, *, pairs: bool = True) -> Boxes:
    """:class:`Boxes` of cleanlab-format ``labels`` and ``predictions``, checked; with ``pairs=False`` only the
    boxes (no pair arrays: for counts and sizes)."""
    k = check_inputs(labels, predictions)
    lab_boxes, lab_classes, pred_arrays = [], [], []
    lab_counts = np.empty(len(labels), dtype=np.int64)
    pred_counts = np.zeros(len(labels) * k, dtype=np.int64)
    for i, label in enumerate(labels):
        boxes = _rows(label["bboxes"], 4, f"labels[{i}]['bboxes']")
        classes = np.asarray(label["labels"]).reshape(-1)
        if len(classes) != len(boxes):
            raise ShapeError(f"labels[{i}] has {len(boxes)} bboxes but {len(classes)} labels: give one class per box.")
        if classes.size and classes.dtype.kind not in "iu":
            if classes.dtype.kind not in "fb" or not np.array_equal(classes, np.round(classes)):
                raise ShapeError(f"labels[{i}]['labels'] must hold integer class ids in 0..{k - 1}; got "
                                 f"{classes.tolist()[:5]} (dtype {classes.dtype}).")
        lab_boxes.append(boxes)
        lab_classes.append(classes)
        lab_counts[i] = len(boxes)
    for i, prediction in enumerate(predictions):
        for c in range(k):
            arr = _rows(prediction[c], 5, f"predictions[{i}][{c}]")
            pred_arrays.append(arr)
            pred_counts[i * k + c] = len(arr)
    lab_bboxes = _concat(lab_boxes, 4, np.float64)
    lab_labels = np.concatenate(lab_classes).astype(np.int64, copy=False)
    raw = np.concatenate(pred_arrays) if pred_arrays else np.zeros((0, 5))
    preds = raw.astype(np.float64, copy=False)
    n = len(labels)
    pred_image = np.repeat(np.arange(n), pred_counts.reshape(n, k).sum(axis=1))
    pred_labels = np.repeat(np.tile(np.arange(k), n), pred_counts)
    lab_image = np.repeat(np.arange(n), lab_counts)
    if lab_labels.size and (lab_labels.min() < 0 or lab_labels.max() >= k):
        bad = int(np.flatnonzero((lab_labels < 0) | (lab_labels >= k))[0])
        raise ShapeError(f"labels[{int(lab_image[bad])}]['labels'] holds class {int(lab_labels[bad])}, outside "
                         f"0..{k - 1} (predictions give {k} classes: one (M, 5) array per class).")
    for name, arr, image in (("labels", lab_bboxes, lab_image), ("predictions", preds, pred_image)):
        if not np.isfinite(arr).all():
            raise ShapeError(f"{name}[{int(image[np.flatnonzero(~np.isfinite(arr).all(axis=1))[0]])}] holds NaN or "
                             f"infinite values; drop or fix those boxes.")
    return pair_up(lab_bboxes, lab_labels, lab_counts, preds[:, :4], pred_labels, preds[:, 4],
                   pred_counts.reshape(n, k).sum(axis=1), alpha, n_classes=k, pred_probs_raw=raw[:, 4], pairs=pairs)


def _starts(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def pair_up(lab_bboxes, lab_labels, lab_counts, pred_bboxes, pred_labels, pred_probs, pred_counts, alpha,
            iou: Optional[np.ndarray] = None, similarity: Optional[np.ndarray] = None,
            min_possible_similarity: Optional[float] = None, n_classes: Optional[int] = None,
            pred_probs_raw: Optional[np.ndarray] = None, pairs: bool = True) -> Boxes:
    """:class:`Boxes` from flat boxes and per-image counts ``(N,)``; pair IoU and similarity computed unless given
    (or left empty with ``pairs=False``)."""
    n = len(lab_counts)
    lab_start, pred_start = _starts(lab_counts), _starts(pred_counts)
    lab_image = np.repeat(np.arange(n), lab_counts)
    pred_image = np.repeat(np.arange(n), pred_counts)
    per_label = np.asarray(pred_counts)[lab_image] if pairs else np.zeros(len(lab_labels), dtype=np.int64)
    lab_pair_start = _starts(per_label)
    pair_lab = np.repeat(np.arange(len(lab_labels)), per_label)
    pair_pred = pred_start[lab_image[pair_lab]] + (np.arange(len(pair_lab)) - lab_pair_start[pair_lab])
    if iou is None:
        a, b = lab_bboxes[pair_lab], pred_bboxes[pair_pred]
        iou = pair_iou(a, b)
        similarity = pair_similarity(a, b, iou, alpha)
    if min_possible_similarity is None:
        nonzero = similarity[similarity != 0]
        min_possible_similarity = float(min(1.0, nonzero.min())) if nonzero.size else 1.0
    if n_classes is None:
        n_classes = int(max(lab_labels.max(initial=-1), pred_labels.max(initial=-1))) + 1
    return Boxes(n, lab_bboxes, lab_labels, lab_image, lab_start, pred_bboxes, pred_labels, pred_probs, pred_image,
                 pred_start, pair_lab, pair_pred, lab_pair_start, iou, similarity, min_possible_similarity, n_classes,
                 pred_probs if pred_probs_raw is None else pred_probs_raw)


AUXILIARY_KEYS = ("pred_labels", "pred_label_probs", "pred_bboxes", "lab_labels", "lab_bboxes")


def from_auxiliary_inputs(auxiliary_inputs: list, alpha: float) -> Boxes:
    """:class:`Boxes` from cleanlab's ``auxiliary_inputs`` (a list of ``N`` dicts with ``pred_labels (M,)``,
    ``pred_label_probs (M,)``, ``pred_bboxes (M, 4)``, ``lab_labels (L,)``, ``lab_bboxes (L, 4)`` and optionally
    ``similarity_matrix (L, M)``, ``iou_matrix (L, M)``, ``min_possible_similarity``), using the matrices given."""
    if len(auxiliary_inputs) == 0:
        raise ParameterError("auxiliary_inputs is empty: pass one dict per image.")
    for i, aux in enumerate(auxiliary_inputs):
        missing = [key for key in AUXILIARY_KEYS if key not in aux]
        if missing:
            raise ParameterError(f"auxiliary_inputs[{i}] lacks {', '.join(missing)}: give each image's "
                                 f"{', '.join(AUXILIARY_KEYS)}.")
    lab_bboxes = _concat([_rows(a["lab_bboxes"], 4, f"auxiliary_inputs[{i}]['lab_bboxes']")
                          for i, a in enumerate(auxiliary_inputs)], 4, np.float64)
    pred_bboxes = _concat([_rows(a["pred_bboxes"], 4, f"auxiliary_inputs[{i}]['pred_bboxes']")
                           for i, a in enumerate(auxiliary_inputs)], 4, np.float64)
    lab_labels = np.concatenate([np.asarray(a["lab_labels"]).reshape(-1) for a in auxiliary_inputs]).astype(np.int64)
    pred_labels = np.concatenate([np.asarray(a["pred_labels"]).reshape(-1) for a in auxiliary_inputs]).astype(np.int64)
    pred_probs = np.concatenate([np.asarray(a["pred_label_probs"], dtype=np.float64).reshape(-1)
                                 for a in auxiliary_inputs])
    lab_counts = np.array([len(_rows(a["lab_bboxes"], 4, "")) for a in auxiliary_inputs])
    pred_counts = np.array([len(_rows(a["pred_bboxes"], 4, "")) for a in auxiliary_inputs])
    iou = similarity = None
    if all("similarity_matrix" in a and "iou_matrix" in a for a in auxiliary_inputs):
        iou = np.concatenate([np.asarray(a["iou_matrix"], dtype=np.float64).reshape(-1) for a in auxiliary_inputs])
        similarity = np.concatenate([np.asarray(a["similarity_matrix"], dtype=np.float64).reshape(-1)
                                     for a in auxiliary_inputs])
    mins = [a.get("min_possible_similarity") for a in auxiliary_inputs]
    min_sim = None if any(m is None for m in mins) else float(mins[0])
    return pair_up(lab_bboxes, lab_labels, lab_counts, pred_bboxes, pred_labels, pred_probs, pred_counts, alpha,
                   iou=iou, similarity=similarity, min_possible_similarity=min_sim)


def boxes_of(labels, predictions, auxiliary_inputs, alpha: float) -> Boxes:
    """:class:`Boxes` from ``auxiliary_inputs`` when given, else from ``labels`` and ``predictions``."""
    if auxiliary_inputs is not None:
        if isinstance(auxiliary_inputs, Boxes):
            return auxiliary_inputs
        return from_auxiliary_inputs(auxiliary_inputs, alpha)
    if labels is None or predictions is None:
        raise ParameterError("Predictions and labels can not be None. Both are needed to get valid inputs (or "
                             "pass auxiliary_inputs).")
    return flatten(labels, predictions, alpha)


def group_reduce(ufunc, values: np.ndarray, starts: np.ndarray, empty) -> np.ndarray:
    """``(G,)``: ``ufunc.reduce`` of ``values[starts[g]:starts[g + 1]]`` for each group ``g`` (``starts (G + 1,)``
    offsets), ``empty`` for an empty group."""
    counts = np.diff(starts)
    out = np.full(len(counts), empty, dtype=np.result_type(values, type(empty)))
    full = counts > 0
    if full.any():
        out[full] = ufunc.reduceat(values, starts[:-1][full])
    return out


def group_argmax(values: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(best (G,), at (G,) int)``: each group's largest value (``-inf`` for an empty group) and the index into
    ``values`` of its first occurrence (-1 when the group is empty or all ``-inf``)."""
    best = group_reduce(np.maximum, values, starts, -np.inf)
    group = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    hits = np.flatnonzero((values == best[group]) & (values > -np.inf))
    at = np.full(len(best), -1, dtype=np.int64)
    groups, first = np.unique(group[hits], return_index=True)
    at[groups] = hits[first]
    return best, at


def take(indices: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``indices[at]`` (an int array), -1 where ``at`` is -1 (from :func:`group_argmax`: no element)."""
    out = np.full(len(at), -1, dtype=np.int64)
    out[at >= 0] = indices[at[at >= 0]]
    return out
