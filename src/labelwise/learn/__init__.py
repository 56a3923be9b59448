"""labelwise.learn: training on imperfect labels (torch extra).

Losses (algorithm floor, torch tensors in and out), one paper per module:

- :mod:`labelwise.learn.pu_mlc`: PU-MLC, positive-unlabelled multi-label loss (Positive Label Is All You Need
  for Multi-Label Classification, ICME 2024).
- :mod:`labelwise.learn.ldr`: LDR-KL and adaptive ALDR-KL losses (Zhu, Ying, Yang, ICML 2023).
- :mod:`labelwise.learn.conr`: ConR contrastive regulariser for imbalanced regression (ICLR 2024).
- :mod:`labelwise.learn.mlcd`: MLCD, the decoupled multi-label loss with negative-class sampling, a cosine
  classifier and multi-label pseudo-labels from cluster centres (Multi-label Cluster Discrimination, ECCV 2024).
- :mod:`labelwise.learn.patch_ct`: PatchCT, conditional transport between a set of parts (patches, tokens) and
  the label set, and :class:`PatchCTClassifier` (Li et al., ICCV 2023).
- :mod:`labelwise.learn.heads`: per-label head, Platt calibration and thresholds in the spirit of PTEC
  (Buchner et al., NAACL 2024 Industry).

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
from labelwise.learn.heads import PerLabelPlatt, max_ratio_pos_weight, tune_thresholds  # noqa: E402
from labelwise.learn.ldr import ALDRKLLoss, LDRKLLoss, gce_loss, ldr_kl_loss  # noqa: E402
from labelwise.learn.mlcd import (  # noqa: E402
    ClusterPseudoLabeler,
    CoupledPairwiseLoss,
    DecoupledMultiLabelLoss,
    decoupled_multilabel_loss,
)
from labelwise.learn.patch_ct import PatchCTClassifier, conditional_transport  # noqa: E402
from labelwise.learn.pu_mlc import PUMultiLabelLoss, hide_positives, pu_mlc_loss  # noqa: E402

__all__ = [
    "ALDRKLLoss",
    "ClusterPseudoLabeler",
    "ConRLoss",
    "CoupledPairwiseLoss",
    "DecoupledMultiLabelLoss",
    "ImbalancedRegressor",
    "LDRKLLoss",
    "MultiLabelClassifier",
    "MultiLabelHead",
    "NoisyLabelClassifier",
    "PatchCTClassifier",
    "PUMultiLabelLoss",
    "PerLabelPlatt",
    "conditional_transport",
    "conr_loss",
    "decoupled_multilabel_loss",
    "gce_loss",
    "hide_positives",
    "ldr_kl_loss",
    "max_ratio_pos_weight",
    "pu_mlc_loss",
    "shot_metrics",
    "tune_thresholds",
]
