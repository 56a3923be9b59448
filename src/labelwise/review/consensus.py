"""Consensus, quality and agreement of a review project with several reviewers per item.

From the reviewers' current answers (:meth:`labelwise.review.snapshot.ExportSnapshot.answers`):

- per item, a consensus label and its quality: CROWDLAB (Goh, Tkachenko, Mueller, "CROWDLAB: Supervised learning to
  infer consensus labels and quality scores for data with multiple annotators", 2022) through
  :func:`labelwise.audit.multiannotator.get_label_quality_multiannotator` when the audit's predicted probabilities
  are at hand, else the majority vote (:func:`~labelwise.audit.multiannotator.get_majority_vote_label`, cleanlab's
  tie-breaks) with the share of answers that agree as its quality;
- per reviewer, a quality score (CROWDLAB's annotator quality; with the majority vote, the share of their answers
  that agree with the consensus on items someone else answered too) and the items they answered;
- agreement: Krippendorff's alpha over all reviewers and Cohen's kappa for every pair
  (:mod:`labelwise.audit.multiannotator.agreement`).

An answer counts when it is one class (relabel or keep); "several labels" and "ambiguous" answers are shown and
exported but left out of the consensus and the agreement. Items without a counting answer have no consensus.
``status`` says how each consensus came about: ``single`` (one answer), ``unanimous``, ``majority``, or ``tie`` (as
many answers for two or more classes: CROWDLAB or the majority vote's tie-breaks chose; look at these first).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

CROWDLAB = "CROWDLAB (consensus and quality weighted by the audit's predicted probabilities)"
MAJORITY = "majority vote (no predicted probabilities)"


@dataclass(frozen=True)
class ReviewConsensus:
    """What :func:`review_consensus` found.

    reviewers: (m,) names, in the order of every per-reviewer array; rows: (n,) int, the data rows with a counting
    answer; labels: (n, m) float, the class index each reviewer gave each row, NaN where none; consensus: (n,) class
    names; quality: (n,) float in [0, 1]; status: (n,) str; reviewer_quality, agreement_with_consensus: (m,) float
    (NaN where undefined); answered: (m,) int; alpha: float (NaN when fewer than two answers can be paired); kappa:
    (m, m) float (NaN where a pair shares fewer than two items); shared: (m, m) int, items both answered; method:
    which method made the consensus, in words; note: why, when it is not the one asked for (else "").
    """

    reviewers: list
    rows: np.ndarray
    labels: np.ndarray
    consensus: list
    quality: np.ndarray
    status: list
    reviewer_quality: np.ndarray
    agreement_with_consensus: np.ndarray
    answered: np.ndarray
    alpha: float
    kappa: np.ndarray
    shared: np.ndarray
    method: str
    note: str = ""

    def by_row(self) -> dict[int, int]:
        """data row -> its index in the per-item arrays."""
        return {int(r): i for i, r in enumerate(self.rows)}

    def reviewer_frame(self) -> pd.DataFrame:
        """One row per reviewer: reviewer, quality, agreement_with_consensus, items_answered."""
        return pd.DataFrame({"reviewer": self.reviewers, "quality": self.reviewer_quality,
                             "agreement_with_consensus": self.agreement_with_consensus,
                             "items_answered": self.answered})

    def agreement_frame(self) -> pd.DataFrame:
        """statistic, reviewer_a, reviewer_b, items, value: Krippendorff's alpha over everyone, then Cohen's kappa
        of each pair of reviewers (items: the items the pair both answered)."""
        both = (~np.isnan(self.labels)).sum(axis=1) >= 2
        records = [{"statistic": "krippendorff_alpha", "reviewer_a": "all", "reviewer_b": "all",
                    "items": int(both.sum()), "value": self.alpha}]
        for a in range(len(self.reviewers)):
            for b in range(a + 1, len(self.reviewers)):
                records.append({"statistic": "cohen_kappa", "reviewer_a": self.reviewers[a],
                                "reviewer_b": self.reviewers[b], "items": int(self.shared[a, b]),
                                "value": float(self.kappa[a, b])})
        return pd.DataFrame(records, columns=["statistic", "reviewer_a", "reviewer_b", "items", "value"])


def counting_answer(answer: dict) -> Optional[str]:
    """The one class an answer (an event with ``labels`` and ``decision``) counts as, or None (several labels,
    ambiguous)."""
    labels = answer["labels"]
    return str(labels[0]) if len(labels) == 1 and answer["decision"] != "ambiguous" else None


def review_consensus(answers: dict[int, dict[str, dict]], classes: list, *, pred_probs: Optional[np.ndarray] = None,
                     row_ids: Optional[np.ndarray] = None) -> ReviewConsensus:
    """Consensus, quality and agreement from ``answers`` (row -> reviewer -> their answer event, as
    :meth:`ExportSnapshot.answers` gives them). ``classes``: the project's classes (class index = position);
    ``pred_probs``: (n_audited, K) float, the audit's out-of-sample probabilities in ``classes`` order, row i for
    data row ``row_ids[i]`` (default: row i), or None for the majority vote."""
    from labelwise.audit.multiannotator import cohen_kappa_pairs, krippendorff_alpha

    index = {str(c): j for j, c in enumerate(classes)}
    counted = {row: {who: index[c] for who, a in by.items() if (c := counting_answer(a)) is not None and c in index}
               for row, by in answers.items()}
    counted = {row: by for row, by in sorted(counted.items()) if by}
    reviewers = sorted({who for by in counted.values() for who in by})
    rows = np.array(list(counted), dtype=np.int64)
    labels = np.full((len(rows), len(reviewers)), np.nan)
    column = {who: j for j, who in enumerate(reviewers)}
    for i, by in enumerate(counted.values()):
        for who, c in by.items():
            labels[i, column[who]] = c
    present = ~np.isnan(labels)
    shared = (present.T.astype(np.int64) @ present.astype(np.int64))
    if len(rows) == 0:
        empty = np.zeros(0)
        return ReviewConsensus(reviewers, rows, labels, [], empty, [], empty, empty, np.zeros(0, np.int64),
                               float("nan"), np.zeros((0, 0)), shared, MAJORITY, "no answers yet")
    probs = _probs_for(rows, pred_probs, row_ids, len(classes))
    frame = pd.DataFrame(labels, columns=reviewers)
    method, note = MAJORITY, ""
    if probs is not None:
        if len(reviewers) < 2 or (present.sum(axis=1) < 2).all():
            note = "CROWDLAB needs two or more answers on some item; the majority vote stands in until then"
        else:
            method = CROWDLAB
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "annotators do not agree on any example": the page shows that anyway
        if method == CROWDLAB:
            from labelwise.audit.multiannotator import get_label_quality_multiannotator

            found = get_label_quality_multiannotator(frame, probs, verbose=False, return_detailed_quality=False)
            vote = found["label_quality"]["consensus_label"].to_numpy()
            quality = found["label_quality"]["consensus_quality_score"].to_numpy(dtype=np.float64)
            stats = found["annotator_stats"].reindex(reviewers)
            reviewer_quality = stats["annotator_quality"].to_numpy(dtype=np.float64)
            with_consensus = stats["agreement_with_consensus"].to_numpy(dtype=np.float64)
        else:
            from labelwise.audit.multiannotator import get_majority_vote_label

            vote = get_majority_vote_label(frame, probs, verbose=False)
            agrees = present & (labels == vote[:, None])
            quality = agrees.sum(axis=1) / present.sum(axis=1)
            others = present & (present.sum(axis=1, keepdims=True) >= 2)
            with np.errstate(invalid="ignore", divide="ignore"):
                with_consensus = (agrees & others).sum(axis=0) / others.sum(axis=0)
            reviewer_quality = with_consensus
    return ReviewConsensus(reviewers, rows, labels, [str(classes[int(c)]) for c in vote], quality,
                           _status(labels), reviewer_quality, with_consensus, present.sum(axis=0),
                           krippendorff_alpha(labels), cohen_kappa_pairs(labels) if len(reviewers) else
                           np.zeros((0, 0)), shared, method, note)


def _status(labels: np.ndarray) -> list[str]:
    """single / unanimous / majority / tie for each row of (n, m) answers."""
    out = []
    for answers in labels:
        given = answers[~np.isnan(answers)]
        _, counts = np.unique(given, return_counts=True)
        top = np.sort(counts)[::-1]
        out.append("single" if given.size == 1 else "unanimous" if top.size == 1 else
                   "tie" if top[0] == top[1] else "majority")
    return out


def _probs_for(rows: np.ndarray, pred_probs: Optional[np.ndarray], row_ids: Optional[np.ndarray],
               n_classes: int) -> Optional[np.ndarray]:
    """(len(rows), K) probabilities of the answered rows, or None when there are none for some row."""
    if pred_probs is None:
        return None
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    ids = np.arange(len(pred_probs)) if row_ids is None else np.asarray(row_ids)
    position = {int(r): i for i, r in enumerate(ids)}
    if pred_probs.ndim != 2 or pred_probs.shape[1] != n_classes or any(int(r) not in position for r in rows):
        return None
    return pred_probs[[position[int(r)] for r in rows]]
