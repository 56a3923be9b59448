"""CROWDLAB: consensus labels, their quality, and each annotator's quality, from many annotators' labels and one
classifier's out-of-sample pred_probs.

Paper: Goh, Tkachenko, Mueller, "CROWDLAB: Supervised learning to infer consensus labels and quality scores for
data with multiple annotators" (2022, arXiv:2210.06812). The
classifier's pred_probs and each annotator's label are averaged into posterior class probabilities with weights
learned from agreement: an annotator's weight grows with how often they agree with the other annotators of the
same examples, the model's with how often its argmax agrees with the consensus, both measured against the error
of always guessing the most common class.

The definitions are cleanlab 2.9's ``multiannotator`` (tested equal to 1e-9 on the same inputs); the computation
scatters each given label once instead of looping over annotators and classes. Arrays only; the cleanlab-shaped
DataFrames are built by :mod:`labelwise.audit.multiannotator.quality`.

labels: (n, m) float, class index or NaN; pred_probs: (n, K) float, out of sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np

from labelwise.audit.multiannotator._inputs import as_label_matrix, as_probs, check_labels, label_counts, observations
from labelwise.audit.multiannotator.calibration import best_temperature, temperature_scale
from labelwise.audit.multiannotator.majority_vote import majority_vote_label
from labelwise.audit.multiannotator.scores import check_score_kwargs, label_scores
from labelwise.errors import ParameterError, ShapeError

CONSENSUS_METHODS = ("majority_vote", "best_quality")
QUALITY_METHODS = ("crowdlab", "agreement")
_CLIP = 1e-6  # cleanlab's CLIPPING_LOWER_BOUND


@dataclass
class ConsensusStats:
    """One consensus method's per-example arrays: label (n,) int64, quality_score (n,), agreement (n,) (the
    fraction of a row's annotators who gave the consensus label), post_pred_probs (n, K), and the CROWDLAB weights
    (model_weight float, annotator_weight (m,); None with quality_method='agreement')."""

    label: np.ndarray
    quality_score: np.ndarray
    agreement: np.ndarray
    post_pred_probs: np.ndarray
    model_weight: Optional[float]
    annotator_weight: Optional[np.ndarray]


@dataclass
class MultiannotatorQuality:
    """Everything :func:`label_quality_multiannotator` estimates, as arrays (n examples, m annotators).

    consensus: the main consensus method's :class:`ConsensusStats`; others: the further methods asked for, by name;
    num_annotations: (n,) int64; detailed_label_quality: (n, m) score of each given label (NaN where none), or None;
    annotator_quality, agreement_with_consensus: (m,) float64; worst_class, num_examples_labeled: (m,) int64 (all
    four None unless asked for); temperature: the calibration temperature (1.0 when not calibrated).
    """

    consensus: ConsensusStats
    num_annotations: np.ndarray
    detailed_label_quality: Optional[np.ndarray] = None
    annotator_quality: Optional[np.ndarray] = None
    agreement_with_consensus: Optional[np.ndarray] = None
    worst_class: Optional[np.ndarray] = None
    num_examples_labeled: Optional[np.ndarray] = None
    others: dict = field(default_factory=dict)
    temperature: float = 1.0


def label_quality_multiannotator(
    labels_multiannotator,
    pred_probs,
    *,
    consensus_method: Union[str, Sequence[str]] = "best_quality",
    quality_method: str = "crowdlab",
    calibrate_probs: bool = False,
    return_detailed_quality: bool = True,
    return_annotator_stats: bool = True,
    label_quality_score_kwargs: Optional[dict] = None,
    annotator_ids=None,
    random_state: Optional[int] = 0,
) -> MultiannotatorQuality:
    """CROWDLAB (or agreement) consensus and quality scores, arrays in and out.

    labels_multiannotator: (n, m) float, class index in 0..K-1 or NaN; pred_probs: (n, K) float, out of sample.
    consensus_method: ``best_quality`` (the argmax of the posterior, majority vote where tied) or
    ``majority_vote`` (ties broken by pred_probs, then see :func:`majority_vote_label`), or a list: the first is
    the main one, the rest go to ``others``. quality_method: ``crowdlab`` (scores from the posterior) or
    ``agreement`` (the fraction of annotators agreeing). label_quality_score_kwargs: ``method`` and
    ``adjust_pred_probs`` of the label-quality score. annotator_ids: names for error messages only.
    """
    labels = as_label_matrix(labels_multiannotator)
    probs = as_probs(pred_probs)
    methods = [consensus_method] if isinstance(consensus_method, str) else list(consensus_method)
    bad = [m for m in methods if m not in CONSENSUS_METHODS]
    if bad or not methods:
        raise ParameterError(f"consensus_method must be one of {', '.join(CONSENSUS_METHODS)} (or a list of them); "
                             f"got {bad[0] if bad else methods!r}.")
    if quality_method not in QUALITY_METHODS:
        raise ParameterError(f"quality_method must be one of {', '.join(QUALITY_METHODS)}; got {quality_method!r}.")
    kwargs = check_score_kwargs(label_quality_score_kwargs)
    check_labels(labels, probs, annotator_ids=annotator_ids)
    if probs.shape[1] < 2:
        raise ShapeError("pred_probs has 1 column; consensus needs at least 2 classes.")
    num = (~np.isnan(labels)).sum(axis=1)
    temperature = 1.0
    if calibrate_probs:
        temperature = best_temperature(labels, probs)
        probs = temperature_scale(probs, temperature)
    counts = label_counts(labels, probs.shape[1])
    vote = majority_vote_label(labels, probs, random_state=random_state)
    by_vote = consensus_stats(labels, probs, vote, counts, quality_method, kwargs)
    stats = {}
    for method in methods:
        if method == "majority_vote":
            stats[method] = by_vote
        elif method not in stats:
            post = by_vote.post_pred_probs
            best = post == post.max(axis=1, keepdims=True)
            label = np.where(best.sum(axis=1) == 1, np.argmax(best, axis=1), vote)
            stats[method] = consensus_stats(labels, probs, label, counts, quality_method, kwargs)
    main = stats[methods[0]]
    result = MultiannotatorQuality(consensus=main, num_annotations=num.astype(np.int64), temperature=temperature,
                                   others={m: stats[m] for m in methods[1:]})
    if return_detailed_quality or (return_annotator_stats and quality_method == "crowdlab"):
        detailed = label_scores(labels, main.post_pred_probs, **kwargs)
        if return_detailed_quality:
            result.detailed_label_quality = detailed
    if return_annotator_stats:
        result.annotator_quality = annotator_quality(
            labels, main, num, quality_method, detailed if quality_method == "crowdlab" else None)
        result.agreement_with_consensus = agreement_with_consensus(labels, main.label)
        result.worst_class = worst_class(labels, main.label, main.quality_score)
        result.num_examples_labeled = (~np.isnan(labels)).sum(axis=0).astype(np.int64)
    return result


def consensus_stats(labels: np.ndarray, pred_probs: np.ndarray, consensus: np.ndarray, counts: np.ndarray,
                    quality_method: str = "crowdlab", score_kwargs: Optional[dict] = None) -> ConsensusStats:
    """The per-example statistics of one consensus labelling (n,) int. counts: (n, K) label counts per row."""
    num = counts.sum(axis=1)
    agreement = counts[np.arange(len(consensus)), consensus] / num
    if quality_method == "crowdlab":
        post, model_weight, annotator_weight = crowdlab_posteriors(labels, pred_probs, consensus, counts, agreement)
        quality = label_scores(consensus, post, **(score_kwargs or {}))
    else:
        post, model_weight, annotator_weight = counts / num[:, None], None, None
        quality = agreement
    return ConsensusStats(consensus.astype(np.int64), quality, agreement, post, model_weight, annotator_weight)


def crowdlab_posteriors(labels: np.ndarray, pred_probs: np.ndarray, consensus: np.ndarray, counts: np.ndarray,
                        agreement: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """CROWDLAB's posterior (n, K), model weight and annotator weights (m,).

    Each annotator's label is read as the distribution putting ``a`` (the mean agreement with the consensus on rows
    with 2+ labels) on the given class and ``(1 - a) / (K - 1)`` on each other; the posterior is the weighted mean of
    the model's row and those distributions.
    """
    n, k = pred_probs.shape
    num = counts.sum(axis=1)
    multi = num != 1
    likely = np.mean(agreement[multi])
    unlikely = (1 - likely) / (k - 1)
    subset = consensus[multi]
    baseline_error = max(np.mean(subset != np.argmax(np.bincount(subset, minlength=k))), _CLIP)
    annotator_weight = np.clip(1 - (1 - agreement_with_annotators(labels, counts)) / baseline_error, _CLIP, None)
    model_error = np.mean(np.argmax(pred_probs[multi], axis=1) != subset)
    model_weight = max(1 - model_error / baseline_error, _CLIP) * np.sqrt(np.mean(num))
    rows, annotators, given = observations(labels)
    row_weight = np.bincount(rows, weights=annotator_weight[annotators], minlength=n)
    on_label = np.bincount(rows * k + given, weights=annotator_weight[annotators], minlength=n * k).reshape(n, k)
    post = pred_probs * model_weight + unlikely * row_weight[:, None] + (likely - unlikely) * on_label
    post /= (row_weight + model_weight)[:, None]
    return post, float(model_weight), annotator_weight


def agreement_with_annotators(labels: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(m,): how often each annotator agrees with the other annotators of the same rows (pairs counted per row,
    each row weighted by its number of other annotators); annotators who share no row get the others' mean."""
    m = labels.shape[1]
    rows, annotators, given = observations(labels)
    num = counts.sum(axis=1)
    same = np.bincount(annotators, weights=counts[rows, given] - 1, minlength=m)
    others = np.bincount(annotators, weights=num[rows] - 1, minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = same / others
    alone = others == 0
    if alone.any():
        rate[alone] = np.mean(rate[~alone])
    return rate


def agreement_with_consensus(labels: np.ndarray, consensus: np.ndarray, rows_mask: Optional[np.ndarray] = None
                             ) -> np.ndarray:
    """(m,): the fraction of each annotator's labels (on ``rows_mask`` rows, default all) equal to the consensus;
    NaN for an annotator with no such row."""
    m = labels.shape[1]
    rows, annotators, given = observations(labels)
    if rows_mask is not None:
        keep = rows_mask[rows]
        rows, annotators, given = rows[keep], annotators[keep], given[keep]
    hits = np.bincount(annotators, weights=given == consensus[rows], minlength=m)
    seen = np.bincount(annotators, minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen > 0, hits / np.maximum(seen, 1), np.nan)


def annotator_quality(labels: np.ndarray, stats: ConsensusStats, num: np.ndarray, quality_method: str = "crowdlab",
                      detailed: Optional[np.ndarray] = None) -> np.ndarray:
    """(m,) quality of each annotator. ``agreement``: agreement with the consensus on rows with 2+ labels;
    ``crowdlab``: that agreement blended with the mean score of the annotator's labels (``detailed``, (n, m)),
    weighted by the model's weight against the annotators' total weight."""
    agreement = agreement_with_consensus(labels, stats.label, num != 1)
    if quality_method == "agreement":
        return agreement
    scores = np.nanmean(detailed, axis=0)
    annotators_total = np.sum(stats.annotator_weight) * np.mean(num) / labels.shape[1]
    w = stats.model_weight / (stats.model_weight + annotators_total)
    return w * scores + (1 - w) * agreement


def worst_class(labels: np.ndarray, consensus: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """(m,) int64: for each annotator, the class they gave that agrees least often with the consensus; ties go to the
    class they gave most often, then to the one with the highest mean consensus quality, then the smallest."""
    m = labels.shape[1]
    k = int(max(np.nanmax(labels), consensus.max())) + 1
    rows, annotators, given = observations(labels)
    cell = annotators * k + given
    seen = np.bincount(cell, minlength=m * k).reshape(m, k)
    hits = np.bincount(cell, weights=given == consensus[rows], minlength=m * k).reshape(m, k)
    quality_sum = np.bincount(cell, weights=quality[rows], minlength=m * k).reshape(m, k)
    given_any = seen > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(given_any, hits / np.maximum(seen, 1), np.inf)
        mean_quality = np.where(given_any, quality_sum / np.maximum(seen, 1), -np.inf)
    tied = given_any & (accuracy == accuracy.min(axis=1, keepdims=True))
    for values in (seen, mean_quality):  # the most often given, then the highest mean quality
        filled = np.where(tied, values, -np.inf)
        tied &= filled == filled.max(axis=1, keepdims=True)
    return np.argmax(tied, axis=1).astype(np.int64)
