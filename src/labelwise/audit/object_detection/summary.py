"""Dataset summaries for object detection labels, mirroring the array parts of ``cleanlab.object_detection.summary``
(cleanlab 2.9) with the same results: object counts per image, box sizes and class frequencies per class, and the
model's per-class TP / FP / FN, precision, recall and F1 averaged over IoU thresholds 0.5..0.95.

cleanlab's matplotlib functions (``visualize``, ``plot_class_size_distributions``, ``plot_class_distribution``) are
not mirrored: ``labelwise audit-boxes`` writes an HTML page of the worst images instead. ``num_procs`` is accepted
for cleanlab's signatures and ignored (nothing here needs a process pool).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from labelwise.audit.object_detection._inputs import ALPHA, EPSILON, TINY_VALUE, Boxes, boxes_of, flatten
from labelwise.audit.object_detection.matching import IOU_THRESHOLDS, match_predictions
from labelwise.errors import ParameterError

__all__ = ["object_counts_per_image", "bounding_box_size_distribution", "class_label_distribution",
           "get_sorted_bbox_count_idxs", "get_average_per_class_confusion_matrix", "calculate_per_class_metrics"]


def _boxes(labels, predictions, auxiliary_inputs) -> Boxes:
    if auxiliary_inputs is None and labels is not None and predictions is not None:
        return flatten(labels, predictions, ALPHA, pairs=False)
    return boxes_of(labels, predictions, auxiliary_inputs, ALPHA)


def object_counts_per_image(labels=None, predictions=None, *, auxiliary_inputs=None) -> tuple[list, list]:
    """``(label box counts, predicted box counts)``: two lists of ``N`` ints, one count per image (all predicted
    boxes, whatever their pred_prob). cleanlab's function."""
    boxes = _boxes(labels, predictions, auxiliary_inputs)
    return np.diff(boxes.lab_start).tolist(), np.diff(boxes.pred_start).tolist()


def _by_class(classes: np.ndarray, values: Optional[np.ndarray], class_names: Optional[dict], skip_unnamed: bool):
    """``{class or its name: the values of its boxes in order}`` (or the counts when ``values`` is None), classes in
    the order they first appear; with ``class_names`` (``{"0": name, ...}``) boxes of unnamed classes are dropped
    (``skip_unnamed``) or an error."""
    if class_names is not None:
        named = np.array([str(int(c)) in class_names for c in range(int(classes.max(initial=-1)) + 1)], dtype=bool)
        known = named[classes] if classes.size else np.zeros(0, dtype=bool)
        if not known.all():
            if not skip_unnamed:
                raise ParameterError(f"class_names has no name for class {int(classes[~known][0])}: give "
                                     f"{{'0': name, '1': name, ...}} for every class id.")
            classes = classes[known]
            values = None if values is None else values[known]
    _, first = np.unique(classes, return_index=True)
    order = classes[np.sort(first)]
    key = (lambda c: int(c)) if class_names is None else (lambda c: class_names[str(int(c))])
    out: dict = {}
    for c in order:
        members = classes == c
        k = key(c)
        if values is None:
            out[k] = out.get(k, 0) + int(np.count_nonzero(members))
        else:
            out.setdefault(k, []).extend(values[members].tolist())
    return out


def _areas(bboxes: np.ndarray) -> np.ndarray:
    return (bboxes[:, 2] - bboxes[:, 0]) * (bboxes[:, 3] - bboxes[:, 1])


def bounding_box_size_distribution(labels=None, predictions=None, *, auxiliary_inputs=None,
                                   class_names: Optional[dict] = None, sort: bool = False) -> tuple[dict, dict]:
    """``(label box areas, predicted box areas)``: two dicts ``{class: [area of each box, ...]}`` (areas in pixels
    squared, boxes in dataset order); keys are class ids, or their names from ``class_names`` (``{"0": name}``;
    classes without a name are left out); ``sort``: classes with the most boxes first. cleanlab's function."""
    boxes = _boxes(labels, predictions, auxiliary_inputs)
    lab = _by_class(boxes.lab_labels, _areas(boxes.lab_bboxes), class_names, skip_unnamed=True)
    pred = _by_class(boxes.pred_labels, _areas(boxes.pred_bboxes), class_names, skip_unnamed=True)
    if sort:
        lab = dict(sorted(lab.items(), key=lambda item: -len(item[1])))
        pred = dict(sorted(pred.items(), key=lambda item: -len(item[1])))
    return lab, pred


def class_label_distribution(labels=None, predictions=None, *, auxiliary_inputs=None,
                             class_names: Optional[dict] = None) -> tuple[dict, dict]:
    """``(label class shares, predicted class shares)``: two dicts ``{class: share of all boxes}`` rounded to two
    decimals (cleanlab's rounding), classes in the order they first appear. cleanlab's function."""
    boxes = _boxes(labels, predictions, auxiliary_inputs)
    out = []
    for classes in (boxes.lab_labels, boxes.pred_labels):
        counts = _by_class(classes, None, class_names, skip_unnamed=False)
        total = sum(counts.values())
        out.append({k: round(v / (total + EPSILON), 2) for k, v in counts.items()})
    return out[0], out[1]


def get_sorted_bbox_count_idxs(labels, predictions) -> tuple[list, list]:
    """``(label counts, predicted counts)``: two lists of ``(image index, box count)``, most boxes first (ties in
    image order). cleanlab's function."""
    out = []
    for counts in object_counts_per_image(labels, predictions):
        order = np.argsort(-np.asarray(counts, dtype=np.int64), kind="stable")
        out.append([(int(i), int(counts[i])) for i in order])
    return out[0], out[1]


def _class_keys(n_classes: int, class_names: Optional[dict]) -> list:
    if class_names is None:
        return list(range(n_classes))
    keys = [name for _, name in sorted(class_names.items(), key=lambda item: int(item[0]))]
    if len(keys) < n_classes:
        raise ParameterError(f"class_names names {len(keys)} classes but predictions give {n_classes}: give "
                             f"{{'0': name, ...}} for every class.")
    return keys


def _confusion(labels: list, predictions: list, class_names: Optional[dict]) -> tuple[list, dict]:
    """``(class keys, {"TP", "FP", "FN": (K,) float32})`` behind the two functions below; keys beyond the ``K``
    classes of ``predictions`` (more names than classes) have no column (cleanlab keeps them at 0)."""
    boxes = flatten(labels, predictions, ALPHA)
    tp, _ = match_predictions(boxes, IOU_THRESHOLDS)
    k = boxes.n_classes
    true_pos = np.stack([np.bincount(boxes.pred_labels, weights=row, minlength=k) for row in tp]).sum(axis=0)
    preds = np.bincount(boxes.pred_labels, minlength=k) * len(IOU_THRESHOLDS)
    gts = np.bincount(boxes.lab_labels, minlength=k) * len(IOU_THRESHOLDS)
    divisor = len(IOU_THRESHOLDS) * k
    table = {"TP": true_pos, "FP": preds - true_pos, "FN": gts - true_pos}
    return _class_keys(k, class_names), {name: value.astype(np.float32) / divisor for name, value in table.items()}


def get_average_per_class_confusion_matrix(labels: list, predictions: list, num_procs: int = 1,
                                           class_names: Optional[dict] = None) -> dict:
    """``{class: {"TP": float, "FP": float, "FN": float}}``: the model's true positives, false positives and false
    negatives per class, summed over IoU thresholds 0.5, 0.55, ..., 0.95 and divided by (10 x the number of
    classes), as cleanlab 2.9 divides them. cleanlab's function (``num_procs`` ignored)."""
    del num_procs
    keys, table = _confusion(labels, predictions, class_names)
    k = len(table["TP"])
    return {key: {name: float(value[c]) if c < k else 0.0 for name, value in table.items()}
            for c, key in enumerate(keys)}


def calculate_per_class_metrics(labels: list, predictions: list, num_procs: int = 1, class_names=None) -> dict:
    """``{class: {"average precision", "average recall", "average f1"}}`` from
    :func:`get_average_per_class_confusion_matrix` (NaN precision and F1 for a class never predicted, as cleanlab's
    float32 arithmetic gives). cleanlab's function (``num_procs`` ignored)."""
    del num_procs
    keys, table = _confusion(labels, predictions, class_names)
    tp, fp, fn = table["TP"], table["FP"], table["FN"]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp + TINY_VALUE)
        recall = tp / (tp + fn + TINY_VALUE)
        f1 = 2 * (precision * recall) / (precision + recall + TINY_VALUE)
    out: dict[Any, dict] = {}
    for c, key in enumerate(keys):
        values = (precision[c], recall[c], f1[c]) if c < len(tp) else (0.0, 0.0, 0.0)  # cleanlab: 0 / (0 + 1e-100)
        out[key] = dict(zip(("average precision", "average recall", "average f1"), (float(v) for v in values)))
    return out
