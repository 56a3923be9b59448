"""Token-classification label issues, mirroring ``cleanlab.token_classification`` (2.9) name for name: change the
import and the results stay the same (tested for equality against cleanlab), computed over the flattened tokens in
one pass instead of per-sentence Python loops.

- :mod:`~labelwise.audit.token_classification.filter`: ``find_label_issues`` ((sentence, token) pairs);
- :mod:`~labelwise.audit.token_classification.rank`: ``get_label_quality_scores`` (per sentence and per token),
  ``issues_from_scores``;
- :mod:`~labelwise.audit.token_classification.summary`: ``common_label_issues``, ``filter_by_token`` and
  ``display_issues`` (returns the text instead of printing it);
- :mod:`~labelwise.audit.token_classification.spans` (not in cleanlab): span-level issue types (wrong type,
  wrong boundary, both, extra span, missed span) from BIO tags and token probabilities;
- :mod:`~labelwise.audit.token_classification.token_model` (not in cleanlab): ``out_of_fold_token_probs``, the
  probabilities for users who have none (logistic regression on token features plus context, folds by sentence).

labels: per-sentence list of (T_i,) int arrays (or lists); pred_probs: per-sentence list of (T_i, K) float arrays,
out of sample. Results are cleanlab's, as arrays: token scores are (T_i,) arrays where cleanlab has
``pandas.Series``, ``common_label_issues`` a dict of columns where cleanlab has a ``DataFrame``. The method is Wang & Mueller, "Detecting label errors in token classification data" (2022,
arXiv:2210.03920).
"""

from labelwise.audit.token_classification import filter, rank, spans, summary  # noqa: A004 - cleanlab's module name
from labelwise.audit.token_classification.filter import find_label_issues
from labelwise.audit.token_classification.rank import get_label_quality_scores, issues_from_scores

__all__ = ["filter", "rank", "spans", "summary", "find_label_issues", "get_label_quality_scores", "issues_from_scores"]
