"""Tokens whose given label is probably wrong, as ``cleanlab.token_classification.filter`` (2.9) finds them."""

from __future__ import annotations

import numpy as np

from labelwise.audit import label_errors
from labelwise.audit.token_classification._inputs import flatten, positions
from labelwise.errors import ParameterError

_PASSED = ("filter_by", "frac_noise", "min_examples_per_class", "confident_joint", "n_jobs")
_IGNORED = ("verbose",)


def find_label_issues(
    labels: list,
    pred_probs: list,
    *,
    return_indices_ranked_by: str = "self_confidence",
    low_memory: bool = False,
    **kwargs,
) -> list[tuple[int, int]]:
    """Tokens with label issues, most suspicious first: list of (sentence i, token j) pairs.

    labels: list of (T_i,) int in [0, K); pred_probs: list of (T_i, K) float, out of sample. All tokens are pooled
    and checked as one classification data set with :func:`labelwise.audit.label_errors.find_label_issues`
    (confident learning, Northcutt et al. 2021; for tokens, Wang & Mueller 2022), then ranked by
    ``return_indices_ranked_by`` (``self_confidence``, ``normalized_margin``, ``confidence_weighted_entropy``;
    ascending score). kwargs: ``filter_by``, ``frac_noise``, ``min_examples_per_class``, ``confident_joint``,
    ``n_jobs`` as in cleanlab (``verbose`` is accepted and ignored). low_memory: read the pooled probabilities in
    chunks; unlike cleanlab's batched path, the result is the same as the in-memory one.
    """
    unknown = sorted(set(kwargs) - set(_PASSED) - set(_IGNORED))
    if unknown:
        raise ParameterError(f"find_label_issues got unsupported argument(s) {unknown}; use {', '.join(_PASSED)}.")
    if return_indices_ranked_by not in label_errors.SCORES:
        raise ParameterError(
            f"return_indices_ranked_by must be one of {', '.join(label_errors.SCORES)}; "
            f"got {return_indices_ranked_by!r}."
        )
    flat_labels, flat_probs, starts = flatten(labels, pred_probs)
    passed = {key: kwargs[key] for key in _PASSED if key in kwargs}
    if low_memory:
        passed["chunk_rows"] = 32768
    mask = label_errors.find_label_issues(flat_labels, flat_probs, **passed)
    flagged = np.flatnonzero(mask)
    scores = label_errors.label_quality_scores(flat_labels, flat_probs, method=return_indices_ranked_by)
    ranked = flagged[np.argsort(scores[flagged])]  # cleanlab's (default-kind) sort, so ties come out as there
    return positions(ranked, starts)
