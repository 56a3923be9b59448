"""Adapting a deployed classifier to a stream whose label mix (and inputs) changed.

Seed paper: Park, Yang, Choo, Yun, "Label Shift Adapter for Test-Time Adaptation under Covariate and Label
Shifts" (ICCV 2023, arXiv 2308.08810). The estimate of the target prior comes from
:mod:`labelwise.audit.label_shift` (EM, maximum-likelihood label shift); this package adapts to it:

- :mod:`.priors`: long-tailed priors (:func:`long_tailed_prior`, :func:`sample_long_tailed_prior`), the closed-form
  correction (:func:`logit_adjust`, :func:`adjust_proba`) and :class:`StreamingPriorEstimator` (EM per batch with
  momentum);
- :mod:`.classifier`: :class:`LabelShiftClassifier`, any fitted scikit-learn classifier (or its probabilities)
  corrected in closed form as batches arrive: the honest baseline;
- :mod:`.tent`: TENT's entropy minimisation of normalisation affines (Wang et al., ICLR 2021);
- :mod:`.hypernetwork`: the paper's :class:`LabelShiftAdapter` (prior -> last-layer parameters) and
  :func:`fit_label_shift_adapter` (logit-adjusted loss over sampled priors);
- :mod:`.tta`: :class:`LabelShiftTTA`, a torch classifier adapted per batch by any of ``none``, ``tent``,
  ``closed_form``, ``tent+closed_form``, ``adapter``, ``tent+adapter``.

Shapes: probabilities and logits (n, k), priors (k,), a torch model's last-layer inputs (n, D).
"""

from __future__ import annotations

from labelwise.learn.adapt.classifier import LabelShiftClassifier
from labelwise.learn.adapt.hypernetwork import LabelShiftAdapter, fit_label_shift_adapter
from labelwise.learn.adapt.priors import (
    StreamingPriorEstimator,
    adjust_proba,
    logit_adjust,
    long_tailed_prior,
    sample_long_tailed_prior,
)
from labelwise.learn.adapt.tent import configure_tent, entropy
from labelwise.learn.adapt.tta import TTA_METHODS, LabelShiftTTA

__all__ = [
    "LabelShiftAdapter",
    "LabelShiftClassifier",
    "LabelShiftTTA",
    "StreamingPriorEstimator",
    "TTA_METHODS",
    "adjust_proba",
    "configure_tent",
    "entropy",
    "fit_label_shift_adapter",
    "logit_adjust",
    "long_tailed_prior",
    "sample_long_tailed_prior",
]
