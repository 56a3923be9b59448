"""labelwise.learn: training on imperfect labels (torch extra).

Losses (algorithm floor, torch tensors in and out), one paper per module:

- :mod:`labelwise.learn.pu_mlc`: PU-MLC, positive-unlabelled multi-label loss (Positive Label Is All You Need
  for Multi-Label Classification, ICME 2024).
- :mod:`labelwise.learn.ldr`: LDR-KL and adaptive ALDR-KL losses (Zhu, Ying, Yang, ICML 2023).
- :mod:`labelwise.learn.conr`: ConR contrastive regulariser for imbalanced regression (ICLR 2024).
- :mod:`labelwise.learn.heads`: per-label head, Platt calibration and thresholds in the spirit of PTEC
  (Buchner et al., NAACL 2024 Industry).
- :mod:`labelwise.learn.kenet`: KeNet, knowledge-enhanced document-label attention over token states
  (:class:`KeNetClassifier`, :class:`KnowledgeRetriever`; Li, Chen, Zeng, ICASSP 2024).
- :mod:`labelwise.learn.ldam`: LDAM, label-dependent attention over text tokens and a time series
  (:class:`LabelAttentionModel`; Niu et al., ICDM 2021).

Estimators (scikit-learn idiom, numpy in and out) in :mod:`labelwise.learn.estimators`:
:class:`NoisyLabelClassifier`, :class:`MultiLabelClassifier`, :class:`MultiLabelHead`,
:class:`ImbalancedRegressor`.

Importing this package without torch raises :class:`labelwise.errors.MissingExtraError` naming
``pip install 'labelwise[learn]'``.
"""

from __future__ import annotations

from labelwise.errors import MissingExtraError

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by a test that hides torch
    raise MissingExtraError("torch", "learn", "labelwise.learn (losses and heads for imperfect labels)") from exc

from labelwise.learn.conr import ConRLoss, conr_loss, shot_metrics  # noqa: E402
from labelwise.learn.estimators import (  # noqa: E402
    ImbalancedRegressor,
    MultiLabelClassifier,
    MultiLabelHead,
    NoisyLabelClassifier,
)
from labelwise.learn.kenet import KeNetClassifier, KnowledgeRetriever  # noqa: E402
from labelwise.learn.ldam import LabelAttentionModel  # noqa: E402
from labelwise.learn.heads import PerLabelPlatt, max_ratio_pos_weight, tune_thresholds  # noqa: E402
from labelwise.learn.ldr import ALDRKLLoss, LDRKLLoss, gce_loss, ldr_kl_loss  # noqa: E402
from labelwise.learn.pu_mlc import PUMultiLabelLoss, hide_positives, pu_mlc_loss  # noqa: E402

__all__ = [
    "ALDRKLLoss",
    "ConRLoss",
    "ImbalancedRegressor",
    "KeNetClassifier",
    "KnowledgeRetriever",
    "LDRKLLoss",
    "LabelAttentionModel",
    "MultiLabelClassifier",
    "MultiLabelHead",
    "NoisyLabelClassifier",
    "PUMultiLabelLoss",
    "PerLabelPlatt",
    "conr_loss",
    "gce_loss",
    "hide_positives",
    "ldr_kl_loss",
    "max_ratio_pos_weight",
    "pu_mlc_loss",
    "shot_metrics",
    "tune_thresholds",
]
