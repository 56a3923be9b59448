"""Many annotators per example, mirroring ``cleanlab.multiannotator`` (2.9) name for name, plus Dawid-Skene and
agreement statistics.

- :mod:`~labelwise.audit.multiannotator.quality` (pandas, cleanlab's signatures and tables):
  ``get_label_quality_multiannotator`` (CROWDLAB consensus, consensus quality, per-label and per-annotator
  quality), ``get_majority_vote_label``, ``get_active_learning_scores`` (ActiveLab), ``convert_long_to_wide_dataset``,
  ``format_multiannotator_labels``;
- the same methods on arrays, for callers that want no pandas: :mod:`~labelwise.audit.multiannotator.crowdlab`
  (``label_quality_multiannotator``), :mod:`~labelwise.audit.multiannotator.majority_vote`
  (``majority_vote_label``), :mod:`~labelwise.audit.multiannotator.activelab` (``active_learning_scores``);
- :mod:`~labelwise.audit.multiannotator.dawid_skene_em`: ``dawid_skene`` (EM over per-annotator confusion matrices);
- :mod:`~labelwise.audit.multiannotator.agreement`: ``krippendorff_alpha``, ``cohen_kappa_pairs``.

labels_multiannotator: (n, m), ``labels[i, j]`` = the class index annotator j gave example i, NaN where none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labelwise._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "get_label_quality_multiannotator": "labelwise.audit.multiannotator.quality",
    "get_majority_vote_label": "labelwise.audit.multiannotator.quality",
    "get_active_learning_scores": "labelwise.audit.multiannotator.quality",
    "convert_long_to_wide_dataset": "labelwise.audit.multiannotator.quality",
    "format_multiannotator_labels": "labelwise.audit.multiannotator.quality",
    "label_quality_multiannotator": "labelwise.audit.multiannotator.crowdlab",
    "majority_vote_label": "labelwise.audit.multiannotator.majority_vote",
    "active_learning_scores": "labelwise.audit.multiannotator.activelab",
    "dawid_skene": "labelwise.audit.multiannotator.dawid_skene_em",
    "DawidSkeneResult": "labelwise.audit.multiannotator.dawid_skene_em",
    "dawid_skene_posteriors": "labelwise.audit.multiannotator.dawid_skene_em",
    "krippendorff_alpha": "labelwise.audit.multiannotator.agreement",
    "cohen_kappa_pairs": "labelwise.audit.multiannotator.agreement",
})

if TYPE_CHECKING:
    from labelwise.audit.multiannotator.activelab import active_learning_scores
    from labelwise.audit.multiannotator.agreement import cohen_kappa_pairs, krippendorff_alpha
    from labelwise.audit.multiannotator.crowdlab import label_quality_multiannotator
    from labelwise.audit.multiannotator.dawid_skene_em import DawidSkeneResult, dawid_skene, dawid_skene_posteriors
    from labelwise.audit.multiannotator.majority_vote import majority_vote_label
    from labelwise.audit.multiannotator.quality import (
        convert_long_to_wide_dataset,
        format_multiannotator_labels,
        get_active_learning_scores,
        get_label_quality_multiannotator,
        get_majority_vote_label,
    )
