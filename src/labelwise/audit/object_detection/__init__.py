"""Box-label issues in object detection data, mirroring ``cleanlab.object_detection`` (2.9) name for name: change
the import and the results stay the same (tested against cleanlab), computed in a fraction of the time.

- :mod:`~labelwise.audit.object_detection.filter`: ``find_label_issues`` ((N,) bool, the images with a box label
  issue, or their indices ranked);
- :mod:`~labelwise.audit.object_detection.rank`: ``get_label_quality_scores`` ((N,) per image),
  ``issues_from_scores``, the per-box scores ``compute_overlooked_box_scores``, ``compute_badloc_box_scores``,
  ``compute_swap_box_scores`` and ``pool_box_scores_per_image``; plus ``box_issue_types`` (not in cleanlab): which
  boxes of each image are overlooked, swapped or badly located;
- :mod:`~labelwise.audit.object_detection.matching`: cleanlab's matching of predicted to label boxes and its per-class
  AP, vectorised;
- :mod:`~labelwise.audit.object_detection.summary`: cleanlab's counts, size and class distributions and per-class
  metrics (its matplotlib plots are the HTML page of ``labelwise audit-boxes`` instead).

Formats (cleanlab's): labels: a list of ``N`` dicts ``{"bboxes": (L, 4) float xyxy pixels, "labels": (L,) int in
0..K-1, optional "image_name"}``; predictions: a list of ``N`` sequences of ``K`` arrays, ``predictions[i][k]`` of
shape ``(M, 5)``: ``x1, y1, x2, y2, pred_prob`` of the boxes predicted for class ``k`` in image ``i``, out of sample.
"""

from labelwise.audit.object_detection import filter, rank, summary  # noqa: A004 - cleanlab's module names
from labelwise.audit.object_detection.filter import find_label_issues
from labelwise.audit.object_detection.rank import (
    box_issue_types,
    compute_badloc_box_scores,
    compute_overlooked_box_scores,
    compute_swap_box_scores,
    get_label_quality_scores,
    issues_from_scores,
    pool_box_scores_per_image,
)

__all__ = ["filter", "rank", "summary", "find_label_issues", "box_issue_types", "get_label_quality_scores",
           "issues_from_scores", "compute_overlooked_box_scores", "compute_badloc_box_scores",
           "compute_swap_box_scores", "pool_box_scores_per_image"]
