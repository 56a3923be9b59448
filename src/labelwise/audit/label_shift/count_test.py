"""Is the class mix of two labelled splits the same? A chi-square test of homogeneity of their label counts, with
Cramér's V as the effect size (with thousands of rows a negligible shift is still "significant").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _stats

from labelwise.audit.label_shift._arrays import check_labels
from labelwise.errors import ParameterError, ShapeError


@dataclass
class ShiftTest:
    """Chi-square test of homogeneity of the class counts of two labelled splits.

    statistic:   Pearson's X^2 on the 2 x c table (c = classes present in either split; no continuity correction)
    dof:         c - 1
    p_value:     P(X^2 >= statistic) under "same class distribution"
    cramers_v:   effect size sqrt(X^2 / n) in [0, 1] (0: identical mixes; 1: no class shared); by Cohen's rule of
                 thumb below 0.1 is negligible, 0.1 small, 0.3 medium, 0.5 large
    shifted:     p_value < alpha
    verdict:     one plain sentence, starting "label shift detected (p=...)" or "no evidence of label shift (p=...)"
    alpha:       the significance level used
    n_source, n_target: rows in each split
    n_classes_tested:   c
    small_expected_fraction: share of the 2c cells whose expected count is below 5 (above 0.2 the chi-square
                 approximation is rough, and the verdict says so)
    """

    statistic: float
    dof: int
    p_value: float
    cramers_v: float
    shifted: bool
    verdict: str
    alpha: float
    n_source: int
    n_target: int
    n_classes_tested: int
    small_expected_fraction: float


def _effect_size_word(v: float) -> str:
    return "negligible" if v < 0.1 else "small" if v < 0.3 else "medium" if v < 0.5 else "large"


def label_count_test(source_labels, target_labels, n_classes: int, *, alpha: float = 0.05) -> ShiftTest:
    """Test whether two labelled splits share one class distribution (chi-square test of homogeneity).

    source_labels: (n_s,) int in [0, n_classes); target_labels: (n_t,) int in [0, n_classes).
    Builds the 2 x k table of class counts, drops classes absent from both splits and runs
    :func:`scipy.stats.chi2_contingency` without Yates' correction (so X^2 and Cramér's V are the textbook ones
    for every k). Read ``cramers_v`` next to ``p_value``: with large splits a tiny, harmless shift is
    "significant".
    """
    if int(n_classes) < 1:
        raise ParameterError(f"n_classes must be at least 1; got {n_classes}.")
    if not 0.0 < alpha < 1.0:
        raise ParameterError(f"alpha must be in (0, 1); got {alpha}.")
    n_classes = int(n_classes)
    source = check_labels(source_labels, n_classes, "source_labels")
    target = check_labels(target_labels, n_classes, "target_labels")
    if source.size == 0 or target.size == 0:
        raise ShapeError(
            f"both splits need at least one label; got {source.size} source and {target.size} target labels."
        )
    table = np.stack([np.bincount(source, minlength=n_classes), np.bincount(target, minlength=n_classes)])
    table = table[:, table.sum(axis=0) > 0]
    c = table.shape[1]
    if c < 2:
        return ShiftTest(
            statistic=0.0, dof=0, p_value=1.0, cramers_v=0.0, shifted=False,
            verdict="no evidence of label shift (p=1; both splits hold the same single class)",
            alpha=alpha, n_source=int(source.size), n_target=int(target.size), n_classes_tested=c,
            small_expected_fraction=0.0,
        )
    statistic, p_value, dof, expected = _stats.chi2_contingency(table, correction=False)
    statistic, p_value = float(statistic), float(p_value)
    v = float(np.sqrt(statistic / table.sum()))  # min(rows, columns) - 1 = 1 for a 2 x c table
    small = float(np.mean(expected < 5))
    shifted = p_value < alpha
    head = "label shift detected" if shifted else "no evidence of label shift"
    verdict = f"{head} (p={p_value:.3g}; Cramér's V={v:.3f}, {_effect_size_word(v)} effect)"
    if small > 0.2:
        verdict += (
            f"; {small:.0%} of expected counts are below 5, so the chi-square p-value is only approximate"
        )
    return ShiftTest(
        statistic=statistic, dof=int(dof), p_value=p_value, cramers_v=v, shifted=shifted, verdict=verdict,
        alpha=alpha, n_source=int(source.size), n_target=int(target.size), n_classes_tested=c,
        small_expected_fraction=small,
    )
