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
- :mod:`labelwise.learn.soft_contrastive`: SoftCon, multi-label guided soft contrastive pre-training (Wang,
  Albrecht, Zhu, 2024): ``label_similarity``, ``SoftContrastiveLoss``, ``SoftConPretrainer``, ``SoftConClassifier``.
- :mod:`labelwise.learn.laso`: LaSO, label-set operations networks for few-shot multi-label learning (Alfassy et
  al., CVPR 2019): ``label_set_op``, ``analytic_set_op``, ``LaSO``, ``LaSOAugmenter``, ``LaSOClassifier``.
- :mod:`labelwise.learn.probe`: ``LinearProbe``, one logistic regression per label on frozen features.
- :mod:`labelwise.learn.kenet`: KeNet, knowledge-enhanced document-label attention over token states
  (:class:`KeNetClassifier`, :class:`KnowledgeRetriever`; Li, Chen, Zeng, ICASSP 2024).
- :mod:`labelwise.learn.label_assisted`: LAD, label-assisted distillation for segmentation: the noised label
  channel, the dual-path consistency teacher, channel-wise distillation into an image-only student, the teacher's
  refined soft labels (:class:`LabelAssistedSegmenter`; Qiu et al., ECCV 2024).
- :mod:`labelwise.learn.llm_label_head`: LS-LLaMA, a label head (linear + cross-entropy, or MLP) on an LLM's
  pooled hidden states instead of prompting it (:class:`LatentLabelClassifier`, :class:`LabelHead`; Li et al. 2023).
- :mod:`labelwise.learn.ldam`: LDAM, label-dependent attention over text tokens and a time series
  (:class:`LabelAttentionModel`; Niu et al., ICDM 2021).
- :mod:`labelwise.learn.hypergraph`: HyperPAVE, inductive link prediction between items and label-value text
  nodes over hyperedges (co-view / co-buy groups, inventory) for zero-shot attribute values
  (:class:`HypergraphLinkTagger`; Gong & Eldardiry, WWW 2024).
- :mod:`labelwise.learn.self_teaching` and :mod:`labelwise.learn.fusion_encoder`: FILTER's ``kd_kl_loss``
  self-teaching from any soft teacher, the teacher ensemble, the local / fusion / domain encoder over a text and its
  translation and :class:`FusionTagger` (Fang et al., AAAI 2021).
- :mod:`labelwise.learn.query_detector`: a toy query-based (DETR-style) detector trained with one-to-one or
  StageInteractor's cross-stage class targets (:class:`QueryDetector`; the check of paper 2's label assigner).
- :mod:`labelwise.learn.chart_derenderer`: ChartReader's rule-free chart derenderer: key points and centres on
  Gaussian heatmaps (CornerNet focal loss), offsets, learned per-(centre, key) grouping
  (:class:`KeypointDerenderer`, :func:`keypoint_focal_loss`; Cheng et al., ICCV 2023).

Labels across clients, models and time (issue 21) and forgetting (issue 22), one paper per module or package:

- :mod:`labelwise.learn.federated`: FedLabel's per-example choice between the local and the global model's
  pseudo-label, the global-local consistency term, FedAvg and the in-process :class:`FedLabelClassifier` (Cho et
  al., ICCV 2023); the Flower strategy and client are in :mod:`labelwise.scale.federated_flower`.
- :mod:`labelwise.learn.adapt`: label-shift adaptation: EM prior + closed-form logit adjustment, TENT, the label
  shift adapter hypernetwork and their composition, streaming (Park et al., ICCV 2023).
- :mod:`labelwise.learn.light_labels`: HeLlO's low-rank label projector instead of stored soft labels
  (:class:`LightLabelProjector`, :class:`OnlineLabelStudent`).
- :mod:`labelwise.learn.llm_label_head`: LS-LLaMA's label head on a frozen LLM's hidden states (:class:`LabelHead`,
  :class:`LatentLabelClassifier`).
- :mod:`labelwise.learn.gcn`: the GCN that LLM-GNN trains on filtered LLM labels (:class:`GCNClassifier`).
- :mod:`labelwise.learn.unlearn`: LAF's supervision-free forgetting with its baselines and a membership-inference
  check (Shen et al., ICLR 2024).

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

from labelwise.learn.chart_derenderer import KeypointDerenderer, keypoint_focal_loss  # noqa: E402
from labelwise.learn.conr import ConRLoss, conr_loss, shot_metrics  # noqa: E402
from labelwise.learn.estimators import (  # noqa: E402
    ImbalancedRegressor,
    MultiLabelClassifier,
    MultiLabelHead,
    NoisyLabelClassifier,
)
from labelwise.learn.fusion_encoder import FusionEncoder, FusionTagger  # noqa: E402
from labelwise.learn.heads import PerLabelPlatt, max_ratio_pos_weight, tune_thresholds  # noqa: E402
from labelwise.learn.hypergraph import HypergraphLinkTagger  # noqa: E402
from labelwise.learn.kenet import KeNetClassifier, KnowledgeRetriever  # noqa: E402
from labelwise.learn.label_assisted import (  # noqa: E402
    LabelAssistedSegmenter,
    LabelAssistedTeacher,
    channel_wise_distillation,
    encode_label_channel,
    teacher_soft_labels,
)
from labelwise.learn.laso import LaSO, LaSOAugmenter, LaSOClassifier, analytic_set_op, label_set_op  # noqa: E402
from labelwise.learn.ldam import LabelAttentionModel  # noqa: E402
from labelwise.learn.llm_label_head import LabelHead, LatentLabelClassifier  # noqa: E402
from labelwise.learn.ldr import ALDRKLLoss, LDRKLLoss, gce_loss, ldr_kl_loss  # noqa: E402
from labelwise.learn.mlcd import (  # noqa: E402
    ClusterPseudoLabeler,
    CoupledPairwiseLoss,
    DecoupledMultiLabelLoss,
    decoupled_multilabel_loss,
)
from labelwise.learn.patch_ct import PatchCTClassifier, conditional_transport  # noqa: E402
from labelwise.learn.probe import LinearProbe  # noqa: E402
from labelwise.learn.pu_mlc import PUMultiLabelLoss, hide_positives, pu_mlc_loss  # noqa: E402
from labelwise.learn.self_teaching import ensemble_logits, ensemble_soft_labels, kd_kl_loss  # noqa: E402
from labelwise.learn.soft_contrastive import (  # noqa: E402
    SoftConClassifier,
    SoftConPretrainer,
    SoftContrastiveLoss,
    label_similarity,
)

__all__ = [
    "ALDRKLLoss",
    "ClusterPseudoLabeler",
    "ConRLoss",
    "CoupledPairwiseLoss",
    "DecoupledMultiLabelLoss",
    "FusionEncoder",
    "FusionTagger",
    "ImbalancedRegressor",
    "KeNetClassifier",
    "KeypointDerenderer",
    "KnowledgeRetriever",
    "LDRKLLoss",
    "LaSO",
    "LaSOAugmenter",
    "LaSOClassifier",
    "LabelAssistedSegmenter",
    "LabelAssistedTeacher",
    "LabelAttentionModel",
    "LabelHead",
    "LatentLabelClassifier",
    "LinearProbe",
    "MultiLabelClassifier",
    "MultiLabelHead",
    "NoisyLabelClassifier",
    "PUMultiLabelLoss",
    "PatchCTClassifier",
    "PerLabelPlatt",
    "SoftConClassifier",
    "SoftConPretrainer",
    "SoftContrastiveLoss",
    "analytic_set_op",
    "channel_wise_distillation",
    "conditional_transport",
    "conr_loss",
    "decoupled_multilabel_loss",
    "encode_label_channel",
    "ensemble_logits",
    "ensemble_soft_labels",
    "gce_loss",
    "hide_positives",
    "kd_kl_loss",
    "keypoint_focal_loss",
    "label_set_op",
    "label_similarity",
    "ldr_kl_loss",
    "max_ratio_pos_weight",
    "pu_mlc_loss",
    "shot_metrics",
    "teacher_soft_labels",
    "tune_thresholds",
]
