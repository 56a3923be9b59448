"""Precision, recall and F1 expected from match probabilities, and the threshold that maximises expected F1.

If ``p_i`` is the probability that candidate pair ``i`` is a true match (calibrated: among pairs given 0.8, eight
in ten match), then accepting the set ``A`` gives ``E[TP] = sum_{i in A} p_i`` true positives, and the number of
true matches among all candidates is ``E[T] = sum_i p_i``. The estimates ``precision = E[TP] / |A|``,
``recall = E[TP] / E[T]`` and ``F1 = 2 E[TP] / (|A| + E[T])`` (the ratio of expectations, as in Jansche 2005,
"Maximum Expected F-Measure Training of Logistic Regression Models", and the plug-in estimate Splink's
documentation describes for its match probabilities) need no labels. Accepting the pairs from the most probable
down, the cut with the highest expected F1 is the F1-optimal threshold.

Shapes: ``accepted: (a,) float`` probabilities of the pairs that may be accepted (e.g. after one-to-one
assignment), ``total: float`` the expected number of true matches among all candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "expected_scores", "best_expected_f1"]


@dataclass(frozen=True)
class Estimate:
    """What the probabilities say, at ``threshold``: expected precision, recall, F1 and number of true matches."""

    threshold: float
    precision: float
    recall: float
    f1: float
    expected_matches: float
    accepted: int

    def describe(self) -> str:
        return (f"estimated precision {self.precision:.3f}, recall {self.recall:.3f}, F1 {self.f1:.3f} "
                f"(from the match probabilities: {self.expected_matches:,.0f} true matches expected among the "
                f"candidates)")


def expected_scores(accepted: np.ndarray, total: float, threshold: float) -> Estimate:
    """The estimate when the pairs with probability ``>= threshold`` among ``accepted: (a,)`` are accepted."""
    p = np.asarray(accepted, dtype=np.float64)
    keep = p[p >= threshold]
    tp = float(keep.sum())
    total = max(float(total), tp)
    precision = tp / keep.size if keep.size else 1.0
    recall = tp / total if total > 0 else 1.0
    f1 = 2 * tp / (keep.size + total) if keep.size + total > 0 else 1.0
    return Estimate(float(threshold), precision, recall, f1, total, int(keep.size))


def best_expected_f1(accepted: np.ndarray, total: float) -> Estimate:
    """The threshold maximising the expected F1 over ``accepted: (a,)`` probabilities (``total`` as above).

    Ties: the cut lies midway between the last accepted probability and the next lower one, so that it keeps the
    same pairs when applied again.
    """
    p = np.sort(np.asarray(accepted, dtype=np.float64))[::-1]
    if p.size == 0:
        return expected_scores(p, total, 1.0)
    tp = np.cumsum(p)
    f1 = 2 * tp / (np.arange(1, p.size + 1) + max(float(total), float(tp[-1])))
    last_of_tie = np.r_[p[1:] != p[:-1], True]
    best = int(np.argmax(np.where(last_of_tie, f1, -1.0)))
    nxt = p[best + 1] if best + 1 < p.size else 0.0
    return expected_scores(p, total, float((p[best] + nxt) / 2))
