"""ActiveLab: which examples to (re)label next when several annotators label the same data.

Paper: Goh, Mueller, "ActiveLab: Active Learning with Re-Labeling by Multiple Annotators" (2023,
arXiv:2301.11856). An example's score is its CROWDLAB consensus quality shrunk towards 1/K by the
weight of one more typical annotator; an unlabeled example's score is the model's confidence shrunk the same way.
Lower scores are more informative to label next. The definitions are cleanlab 2.9's ``get_active_learning_scores``
(tested equal on the same inputs).
"""

from __future__ import annotations


import numpy as np

from labelwise.audit.multiannotator._inputs import as_label_matrix, as_probs, check_labels
from labelwise.audit.multiannotator.calibration import best_temperature, temperature_scale
from labelwise.audit.multiannotator.crowdlab import label_quality_multiannotator
from labelwise.audit.multiannotator.majority_vote import majority_vote_label
from labelwise.errors import ParameterError, ShapeError


def active_learning_scores(labels_multiannotator=None, pred_probs=None, pred_probs_unlabeled=None, *,
                           annotator_ids=None) -> tuple[np.ndarray, np.ndarray]:
    """(scores (n,), scores_unlabeled (u,)) in [0, 1], lower = label it next; an empty array for a part not given.

    labels_multiannotator: (n, m) float, class index or NaN (a single annotator is allowed), with pred_probs: (n, K)
    out-of-sample probabilities of those examples; pred_probs_unlabeled: (u, K) for examples with no label yet.
    The two score arrays are comparable: sort their concatenation to order a review queue. annotator_ids: (m,)
    names for error messages only.
    """
    if pred_probs is None and pred_probs_unlabeled is None:
        raise ParameterError("give pred_probs (with labels_multiannotator), pred_probs_unlabeled, or both.")
    temperature, model_weight, mean_annotator_weight = 1.0, 1.0, 1.0
    scores = np.array([])
    if pred_probs is not None:
        if labels_multiannotator is None:
            raise ParameterError("pred_probs needs labels_multiannotator (the labels of those examples); for examples "
                                 "without labels pass pred_probs_unlabeled instead.")
        labels = as_label_matrix(labels_multiannotator)
        probs = as_probs(pred_probs)
        k = probs.shape[1]
        present = ~np.isnan(labels)
        if (present.sum(axis=1) == 1).all():
            check_labels(labels, probs, allow_single_label=True, annotator_ids=annotator_ids)
            consensus = majority_vote_label(labels, probs)
            quality = probs[np.arange(len(consensus)), consensus]
            annotator_weight = np.ones(labels.shape[1])
        else:
            check_labels(labels, probs, annotator_ids=annotator_ids)
            temperature = best_temperature(labels, probs)
            result = label_quality_multiannotator(labels, temperature_scale(probs, temperature),
                                                  return_detailed_quality=False, return_annotator_stats=False)
            quality = result.consensus.quality_score
            model_weight, annotator_weight = result.consensus.model_weight, result.consensus.annotator_weight
        mean_annotator_weight = float(np.mean(annotator_weight))
        labelled_weight = present @ annotator_weight + model_weight
        scores = (quality * labelled_weight + mean_annotator_weight / k) / (labelled_weight + mean_annotator_weight)
    unlabeled = np.array([])
    if pred_probs_unlabeled is not None:
        probs_u = as_probs(pred_probs_unlabeled, name="pred_probs_unlabeled")
        if pred_probs is not None and probs_u.shape[1] != np.shape(pred_probs)[1]:
            raise ShapeError(f"pred_probs_unlabeled has {probs_u.shape[1]} columns but pred_probs has "
                             f"{np.shape(pred_probs)[1]}; both need one column per class.")
        k = probs_u.shape[1]
        confidence = np.max(temperature_scale(probs_u, temperature), axis=1)
        unlabeled = (confidence * model_weight + mean_annotator_weight / k) / (model_weight + mean_annotator_weight)
    return scores, unlabeled
