"""Multi-label label issues, mirroring ``cleanlab.multilabel_classification`` (2.9) name for name: change the import
and the results stay the same (tested for equality), computed in a fraction of the time.

- :mod:`~labelwise.audit.multilabel.filter`: ``find_label_issues`` (rows), ``find_multilabel_issues_per_class``
  ((row, class) annotations) and, not in cleanlab, ``missing_and_spurious`` (which labels a row probably misses,
  which it probably should not have);
- :mod:`~labelwise.audit.multilabel.rank`: ``get_label_quality_scores`` (per row),
  ``get_label_quality_scores_per_class`` (per annotation);
- :mod:`~labelwise.audit.multilabel.dataset` (pandas tables): ``common_multilabel_issues``,
  ``rank_classes_by_multilabel_quality``, ``overall_multilabel_health_score``, ``multilabel_health_summary``;
- :mod:`~labelwise.audit.multilabel.structure` (not in cleanlab): label cardinality and co-occurrence.

labels: cleanlab's ``List[List[int]]`` or an (n, K) indicator matrix; pred_probs: (n, K) one-vs-rest
probabilities, out of sample.
"""

from labelwise.audit.multilabel import filter, rank, structure  # noqa: A004 - cleanlab's module name
from labelwise.audit.multilabel.rank import get_label_quality_scores

__all__ = ["filter", "rank", "structure", "get_label_quality_scores"]
