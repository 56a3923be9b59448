"""The audit's label_quality follows its filter, so that the flagged rows are the lowest-quality ones: the review
app (worst first) then reaches every flagged row before any other."""

import numpy as np
import pandas as pd

import labelwise
from labelwise.audit.label_errors import AUDIT_FILTER, score_of


def _table(seed=0, n=300, flip=0.1):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4)) + np.eye(3, 4)[y] * 3
    given = y.copy()
    flipped = rng.random(n) < flip
    given[flipped] = (y[flipped] + 1) % 3
    frame = pd.DataFrame(x, columns=list("abcd"))
    frame["label"] = np.array(["x", "y", "z"])[given]
    return frame


def test_default_flags_are_the_lowest_quality_rows():
    result = labelwise.audit_dataset(_table(), label="label", checks=())
    assert result.filter_by == AUDIT_FILTER and result.quality_method == score_of(AUDIT_FILTER) == "normalized_margin"
    k = int(result.is_issue.sum())
    assert k > 0
    worst = np.argsort(result.label_quality, kind="stable")[:k]
    assert set(worst) == set(np.flatnonzero(result.is_issue))


def test_cleanlab_filter_keeps_cleanlab_score_and_explicit_choice_wins():
    result = labelwise.audit_dataset(_table(), label="label", checks=(), filter_by="prune_by_noise_rate")
    assert result.quality_method == "self_confidence"
    result = labelwise.audit_dataset(_table(), label="label", checks=(), quality_method="confidence_weighted_entropy")
    assert result.quality_method == "confidence_weighted_entropy"
