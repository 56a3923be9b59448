"""Majority vote over many annotators with cleanlab's tie-breaks, all rows at once.

labels: (n, m) float (class indices, NaN where an annotator did not label a row); pred_probs: (n, K) float or None.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from labelwise.audit.multiannotator._inputs import label_counts, observations


def majority_vote_label(labels: np.ndarray, pred_probs: Optional[np.ndarray] = None, *,
                        random_state: Optional[int] = 0) -> np.ndarray:
    """(n,) int64: the class most annotators gave each row. Ties are broken as cleanlab 2.9 breaks them, in order:
    the highest ``pred_probs`` among the tied classes; the class given least often over the whole dataset (to not
    feed class imbalance); the class whose annotators agree most with the untied majority votes (mean of their
    agreement rates); finally a random choice among what is still tied (cleanlab draws from NumPy's global state;
    here ``random_state`` seeds it, so the same inputs give the same labels).

    labels must be checked already (:func:`labelwise.audit.multiannotator._inputs.check_labels`).
    """
    n_classes = pred_probs.shape[1] if pred_probs is not None else int(np.nanmax(labels)) + 1
    counts = label_counts(labels, n_classes)
    tied = counts == counts.max(axis=1, keepdims=True)
    untied = tied.sum(axis=1) == 1
    vote = np.argmax(tied, axis=1)
    open_rows = np.flatnonzero(~untied)

    def narrow(values: np.ndarray, best) -> None:  # keep the tied classes with the best value, per open row
        candidates = tied[open_rows]
        filled = np.where(candidates, values, -np.inf if best is np.max else np.inf)
        kept = candidates & (filled == best(filled, axis=1, keepdims=True))
        tied[open_rows] = np.where(kept.any(axis=1, keepdims=True), kept, candidates)  # NaN values keep all

    if pred_probs is not None and open_rows.size:
        narrow(pred_probs[open_rows], np.max)
        open_rows = _still_tied(tied, open_rows, vote)
    if open_rows.size:
        narrow(np.broadcast_to(counts.sum(axis=0), (open_rows.size, n_classes)), np.min)
        open_rows = _still_tied(tied, open_rows, vote)
    if open_rows.size:
        narrow(_annotator_support(labels, open_rows, untied, vote, n_classes), np.max)
        open_rows = _still_tied(tied, open_rows, vote)
    if open_rows.size:
        rng = np.random.default_rng(random_state)
        for row in open_rows:
            vote[row] = rng.choice(np.flatnonzero(tied[row]))
    return vote.astype(np.int64)


def _still_tied(tied: np.ndarray, open_rows: np.ndarray, vote: np.ndarray) -> np.ndarray:
    """Settle the open rows with one class left (writes ``vote``); return those still tied."""
    single = tied[open_rows].sum(axis=1) == 1
    vote[open_rows[single]] = np.argmax(tied[open_rows[single]], axis=1)
    return open_rows[~single]


def _annotator_support(labels, open_rows, untied, vote, n_classes) -> np.ndarray:
    """(len(open_rows), K): for each tied row and class, the mean agreement (with the untied majority votes) of the
    annotators who gave that class; annotators with no untied row get the mean agreement of the others."""
    m = labels.shape[1]
    rows, annotators, given = observations(labels[untied])
    hits = np.bincount(annotators, weights=given == vote[untied][rows], minlength=m)
    seen = np.bincount(annotators, minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = hits / seen
    agreement[seen == 0] = np.mean(agreement[seen > 0]) if (seen > 0).any() else np.nan
    rows, annotators, given = observations(labels[open_rows])
    size = open_rows.size * n_classes
    total = np.bincount(rows * n_classes + given, weights=agreement[annotators], minlength=size)
    number = np.bincount(rows * n_classes + given, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / number).reshape(open_rows.size, n_classes)
