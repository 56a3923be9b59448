"""Find the images of an object detection dataset whose box labels are probably wrong, mirroring
``cleanlab.object_detection.filter`` (cleanlab 2.9) with the same results.

An image is flagged when any of its boxes scores at or below its class's cut in one of ObjectLab's three per-box
scores (:mod:`~labelwise.audit.object_detection.rank`). The cut of class ``k`` is ``0.8 * 0.25 * AP_k``, ``AP_k``
the predictions' average precision for class ``k`` averaged over IoU thresholds 0.5, 0.55, ..., 0.95
(:mod:`~labelwise.audit.object_detection.matching`). :func:`~labelwise.audit.object_detection.rank.box_issue_types`
says which boxes.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from labelwise.audit.object_detection._inputs import ALPHA, flatten
from labelwise.audit.object_detection.rank import (
    _aggregation_weights,
    _image_scores,
    _prune,
    box_issue_flags,
    issues_from_scores,
)

__all__ = ["find_label_issues"]


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
