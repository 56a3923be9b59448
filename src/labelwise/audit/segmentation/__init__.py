"""Segmentation label issues, mirroring ``cleanlab.segmentation`` (2.9) name for name: change the import and the
results stay the same (tested for identical masks), computed in a fraction of the time.

- :mod:`~labelwise.audit.segmentation.filter`: ``find_label_issues`` ((N, H, W) bool, the pixels probably
  mislabelled: confident learning per pixel);
- :mod:`~labelwise.audit.segmentation.rank`: ``get_label_quality_scores`` (per image and per pixel),
  ``issues_from_scores``;
- :mod:`~labelwise.audit.segmentation.summary` (pandas tables and arrays instead of matplotlib; import it
  explicitly: ``from labelwise.audit.segmentation import summary``): ``common_label_issues``, ``filter_by_class``,
  ``display_issues``;
- :mod:`~labelwise.audit.segmentation.pixel_model` (not in cleanlab): out-of-fold pixel probabilities from a small
  per-pixel model, for users without a segmentation model of their own.

labels: (N, H, W) int in 0..K-1; pred_probs: (N, K, H, W) float, out of sample (a ``np.memmap`` is read in
batches).
"""

from labelwise.audit.segmentation import filter, rank  # noqa: A004 - cleanlab's module name
from labelwise.audit.segmentation.filter import find_label_issues
from labelwise.audit.segmentation.rank import get_label_quality_scores, issues_from_scores

__all__ = ["filter", "rank", "find_label_issues", "get_label_quality_scores", "issues_from_scores"]
