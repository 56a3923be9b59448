"""Label shift between a labelled source split and a target split: is the class mix different, and what is it?

Seed paper: Park, Yang, Choo, Yun, "Label Shift Adapter for Test-Time Adaptation under Covariate and Label
Shifts" (ICCV 2023, arXiv 2308.08810). Its adapter is driven by an *estimate of the target label distribution*;
this package is that estimation step, as an audit of two splits (the adapter itself belongs to ``learn``). One
module per job:

- :mod:`.count_test`: :func:`label_count_test`, when both splits are labelled: a chi-square test of homogeneity of
  the label counts, with Cramér's V as the effect size.
- :mod:`.black_box_shift`: :func:`bbse`, Black Box Shift Estimation (Lipton, Wang, Smola, ICML 2018).
- :mod:`.calibration`: :class:`BiasCorrectedTemperatureScaling` (Alexandari, Kundaje, Shrikumar, ICML 2020).
- :mod:`.maximum_likelihood`: :func:`mlls`, maximum-likelihood label shift by EM (Saerens, Latinne,
  Decaestecker, Neural Computation 2002), optionally after bias-corrected calibration.
- :mod:`.prior_estimate`: :func:`estimate_target_prior`, either estimator with a percentile bootstrap interval,
  the L1 size of the shift and the importance weights ``p_t(y) / p_s(y)`` (:class:`PriorEstimate`).

Arrays everywhere:

    source_probs:  (n_s, k) float   held-out (out-of-fold) P(y | x) on the labelled source split
    source_labels: (n_s,) int in [0, k)
    target_probs:  (n_t, k) float   the same classifier's P(y | x) on the target split (no labels needed)

Both estimators assume *label shift* only: ``p(x | y)`` is the same in both splits. Under covariate shift as
well their estimates are biased (that joint case is what the seed paper's adapter addresses).
"""

from __future__ import annotations

from labelwise.audit.label_shift.black_box_shift import bbse
from labelwise.audit.label_shift.calibration import BiasCorrectedTemperatureScaling
from labelwise.audit.label_shift.count_test import ShiftTest, label_count_test
from labelwise.audit.label_shift.maximum_likelihood import mlls
from labelwise.audit.label_shift.prior_estimate import METHODS, PriorEstimate, estimate_target_prior

__all__ = [
    "ShiftTest",
    "label_count_test",
    "bbse",
    "BiasCorrectedTemperatureScaling",
    "mlls",
    "PriorEstimate",
    "estimate_target_prior",
    "METHODS",
]
