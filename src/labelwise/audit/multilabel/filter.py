"""Which rows, and which (row, class) annotations, of a multi-label table are probably wrong.

Mirrors ``cleanlab.multilabel_classification.filter`` (2.9): the same names, signatures and results (tested for
equality on real and synthetic data), so ``from labelwise.audit.multilabel import filter`` replaces ``from
cleanlab.multilabel_classification import filter``. Confident learning (Northcutt, Jiang, Chuang, "Confident
Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021) runs one-vs-rest: for each class k the given
values ``y = labels[:, k]`` and the probabilities ``[1 - p_k, p_k]`` are a binary problem, whose 2 x 2 confident
joint says how many rows probably lack k although they have it (spurious) or have it although they lack it
(missing). A row is flagged when any of its classes is.

Unlike cleanlab, which runs its general k-class code (and, by default, a pool of worker processes) once per class,
the binary problems here are solved directly on the class's column, with the same arithmetic and the same sorts,
so the flags are identical and the time is a fraction (``bench/multilabel_audit.py``).

labels: ``List[List[int]]`` (cleanlab's format) or an (n, K) indicator matrix; pred_probs: (n, K) float.
:func:`missing_and_spurious` (not in cleanlab) splits the per-class flags into the labels a row probably misses and
the labels it probably should not have.
"""

from __future__ import annotations

import warnings
from functools import reduce
from typing import Optional, Union

import numpy as np

from labelwise.audit.confident_counts import calibrate_confident_joint, round_preserving_row_totals
from labelwise.audit.label_errors import prune_counts
from labelwise.audit.multilabel._inputs import complement, indicator, indicator_and_probs
from labelwise.audit.multilabel.rank import METHODS, aggregate, binary_thresholds, class_scores
from labelwise.errors import ParameterError, ShapeError

FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given",
           "low_normalized_margin", "low_self_confidence")
"""The ``filter_by`` values cleanlab's multi-label ``find_label_issues`` takes (see its documentation). With the
two ``low_*`` filters, :func:`find_label_issues` flags the rows with the lowest :func:`rank.get_label_quality_scores
<labelwise.audit.multilabel.rank.get_label_quality_scores>` (self-confidence for both, as cleanlab does), as many as
``confident_learning`` flags."""

_FUZZ = 1e-6  # cleanlab's FLOATING_POINT_COMPARISON


def find_label_issues(
    labels,
    pred_probs,
    return_indices_ranked_by: Optional[str] = None,
    rank_by_kwargs: Optional[dict] = {},  # noqa: B006 - cleanlab's signature
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: Optional[list[int]] = None,
    min_examples_per_class: int = 1,
    confident_joint: Optional[np.ndarray] = None,
    n_jobs: Optional[int] = None,
    verbose: bool = False,
    low_memory: bool = False,
) -> np.ndarray:
    """The rows with a probably wrong annotation for any class: (n,) bool mask, or with
    ``return_indices_ranked_by`` (one of ``self_confidence``, ``normalized_margin``,
    ``confidence_weighted_entropy``) the flagged row indices, worst first.

    labels: List[List[int]] or (n, K) indicator; pred_probs: (n, K) float. filter_by: one of :data:`FILTERS`.
    frac_noise, num_to_remove_per_class (K,), min_examples_per_class, confident_joint (K, 2, 2): as in cleanlab,
    per class. n_jobs and verbose are accepted and ignored (nothing to parallelise, nothing printed); low_memory
    (cleanlab's batched approximation) is not offered.
    """
    Y, P = _checked(labels, pred_probs, filter_by, return_indices_ranked_by, low_memory)
    confident_joint = _checked_joint(confident_joint, P.shape[1])
    if filter_by in ("low_normalized_margin", "low_self_confidence"):
        # cleanlab: as many rows as confident learning flags, the lowest by the default multi-label score
        n_errors = int(_per_class(Y, P, "confident_learning", 1.0, None, min_examples_per_class, None).any(axis=1).sum())
        scores = aggregate(class_scores(Y, P, "self_confidence").astype(np.float64), alpha=0.8)
        flagged = np.argsort(scores)[:n_errors]
        if return_indices_ranked_by is None:
            mask = np.zeros(Y.shape[0], dtype=bool)
            mask[flagged] = True
            return mask
        # cleanlab scores the flagged rows in row order and uses that order to sort `flagged`, which is in score
        # order; kept as is, so that both libraries return the same list
        in_row_order = np.sort(flagged)
        ranked = _row_scores(Y[in_row_order], P[in_row_order], return_indices_ranked_by, rank_by_kwargs)
        return flagged[np.argsort(ranked)]
    issues = _per_class(Y, P, filter_by, frac_noise, num_to_remove_per_class, min_examples_per_class, confident_joint)
    if return_indices_ranked_by is None:
        return issues.any(axis=1)
    rows = reduce(np.union1d, [np.flatnonzero(column) for column in issues.T])
    scores = _row_scores(Y, P, return_indices_ranked_by, rank_by_kwargs)
    return rows[np.argsort(scores[rows])]


def find_multilabel_issues_per_class(
    labels,
    pred_probs,
    return_indices_ranked_by: Optional[str] = None,
    rank_by_kwargs: Optional[dict] = {},  # noqa: B006 - cleanlab's signature
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: Optional[list[int]] = None,
    min_examples_per_class: int = 1,
    confident_joint: Optional[np.ndarray] = None,
    n_jobs: Optional[int] = None,
    verbose: bool = False,
    low_memory: bool = False,
) -> Union[np.ndarray, tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]]:
    """Which (row, class) annotations are probably wrong: (n, K) bool, ``[i, k]`` True when class k's presence or
    absence in row i looks wrong.

    With ``return_indices_ranked_by``: three lists of K entries, as cleanlab returns them: the flagged rows of each
    class, worst first (by that one-vs-rest score); each class's given values (n,) int 0/1; each class's
    two-column probabilities (n, 2) ``[1 - p_k, p_k]``. Other arguments as in :func:`find_label_issues`.
    """
    Y, P = _checked(labels, pred_probs, filter_by, return_indices_ranked_by, low_memory)
    confident_joint = _checked_joint(confident_joint, P.shape[1])
    issues = _per_class(Y, P, filter_by, frac_noise, num_to_remove_per_class, min_examples_per_class, confident_joint)
    if return_indices_ranked_by is None:
        return issues
    adjust = _adjust(rank_by_kwargs)
    scores = class_scores(Y, P, return_indices_ranked_by, adjust)
    ranked, given, probs = [], [], []
    for c in range(P.shape[1]):
        rows = np.flatnonzero(issues[:, c])
        ranked.append(rows[np.argsort(scores[rows, c])])
        given.append(Y[:, c].astype(np.int64))
        probs.append(complement(P[:, c]))
    return ranked, given, probs


def missing_and_spurious(labels, per_class_issues) -> tuple[np.ndarray, np.ndarray]:
    """Split per-class flags into ``(missing, spurious)``, each (n, K) bool: missing[i, k] when row i lacks class k
    but probably should have it (given 0, the model confident of 1), spurious[i, k] when it has k but probably should
    not. labels: List[List[int]] or (n, K) indicator; per_class_issues: (n, K) bool from
    :func:`find_multilabel_issues_per_class`."""
    issues = np.asarray(per_class_issues, dtype=bool)
    if issues.ndim != 2:
        raise ShapeError(f"per_class_issues must be an (n, K) bool array; got shape {issues.shape}.")
    Y = indicator(labels, *issues.shape)
    return issues & ~Y, issues & Y


# ---- checks ---------------------------------------------------------------------------------------------------


def _checked(labels, pred_probs, filter_by, return_indices_ranked_by, low_memory):
    if filter_by not in FILTERS:
        raise ParameterError(f"filter_by must be one of {', '.join(FILTERS)}; got {filter_by!r}.")
    if return_indices_ranked_by is not None and return_indices_ranked_by not in METHODS:
        raise ParameterError(f"return_indices_ranked_by must be None or one of {', '.join(METHODS)}; got "
                             f"{return_indices_ranked_by!r}.")
    if low_memory:
        raise ParameterError("low_memory=True (cleanlab's batched approximation) is not offered: the multi-label "
                             "filters here need memory for labels and pred_probs only; leave it False.")
    return indicator_and_probs(labels, pred_probs)


def _checked_joint(confident_joint, k: int) -> Optional[np.ndarray]:
    """A (K, 2, 2) one-vs-rest confident joint, or None; a (K, K) one is ignored, as cleanlab ignores it."""
    if confident_joint is None:
        return None
    joint = np.asarray(confident_joint)
    if joint.shape == (k, k):
        warnings.warn("a (K, K) confident_joint is the single-label format and is ignored; multi-label takes the "
                      "(K, 2, 2) one-vs-rest joint.", stacklevel=3)
        return None
    if joint.shape != (k, 2, 2):
        raise ShapeError(f"confident_joint must have shape (K, 2, 2) = {(k, 2, 2)}; got {joint.shape}.")
    return joint


def _adjust(rank_by_kwargs) -> bool:
    kwargs = dict(rank_by_kwargs or {})
    adjust = bool(kwargs.pop("adjust_pred_probs", False))
    if kwargs:
        raise ParameterError(f"rank_by_kwargs takes only adjust_pred_probs; got {sorted(kwargs)}.")
    return adjust


def _row_scores(Y, P, method, rank_by_kwargs) -> np.ndarray:
    """One score per row: ``method`` per class (cleanlab's MultilabelScorer), aggregated by EMA with alpha 0.8."""
    return aggregate(class_scores(Y, P, method, _adjust(rank_by_kwargs)).astype(np.float64), alpha=0.8)


# ---- one class, one-vs-rest -----------------------------------------------------------------------------------


def _per_class(Y, P, filter_by, frac_noise, num_to_remove_per_class, min_examples_per_class, confident_joint):
    """(n, K) bool: each class's binary filter."""
    if filter_by in ("confident_learning", "predicted_neq_given", "low_normalized_margin", "low_self_confidence"):
        if num_to_remove_per_class is not None:
            raise ParameterError(f"num_to_remove_per_class works with prune_by_noise_rate, prune_by_class and both, "
                                 f"not with filter_by={filter_by!r}.")
    if not 0.0 <= frac_noise <= 1.0:
        raise ParameterError(f"frac_noise must be in [0, 1]; got {frac_noise}.")
    if num_to_remove_per_class is not None and len(num_to_remove_per_class) != P.shape[1]:
        raise ShapeError(f"num_to_remove_per_class needs one count per class ({P.shape[1]}); got "
                         f"{len(num_to_remove_per_class)}.")
    issues = np.zeros(Y.shape, dtype=bool)
    for c in range(P.shape[1]):
        remove = None if num_to_remove_per_class is None else [num_to_remove_per_class[c], 0]
        joint = None if confident_joint is None else confident_joint[c]
        issues[:, c] = _binary_issues(Y[:, c].astype(np.int64), complement(P[:, c]), filter_by, frac_noise, remove,
                                      min_examples_per_class, joint)
    return issues


def _binary_issues(y, P2, filter_by, frac_noise, num_to_remove, min_examples, joint) -> np.ndarray:
    """cleanlab's ``filter.find_label_issues`` on one class: y (n,) int 0/1, P2 (n, 2) -> (n,) bool."""
    n = y.shape[0]
    off_diagonal = None
    if joint is None or filter_by == "confident_learning":
        joint, off_diagonal = _binary_joint(y, P2)
    mask = np.zeros(n, dtype=bool)
    if filter_by in ("low_normalized_margin", "low_self_confidence"):
        scores = _binary_scores(y, P2, filter_by[4:])
        if off_diagonal is None:
            off_diagonal = _binary_joint(y, P2)[1]
        n_errors = int((~_predicted_is_given(y, P2))[off_diagonal].sum())
        mask[np.argsort(scores)[:n_errors]] = True
        return mask
    if filter_by == "confident_learning":
        mask[off_diagonal] = True
    elif filter_by == "predicted_neq_given":
        mask = P2.argmax(axis=1) != y
    else:
        prune = prune_counts(joint, min_examples_per_class=min_examples, frac_noise=frac_noise)
        if num_to_remove is not None:
            prune = _prune_to(prune, num_to_remove, np.bincount(y, minlength=2))
        if filter_by in ("prune_by_class", "both"):
            mask = _by_class(y, P2, prune, min_examples)
        if filter_by in ("prune_by_noise_rate", "both"):
            by_noise = _by_noise_rate(y, P2, prune, min_examples)
            mask = by_noise if filter_by == "prune_by_noise_rate" else mask & by_noise
    mask[_predicted_is_given(y, P2)] = False
    return mask


def _binary_joint(y, P2) -> tuple[np.ndarray, np.ndarray]:
    """The calibrated 2 x 2 confident joint [given, true] and the rows counted off its diagonal."""
    thresholds = binary_thresholds(y, P2)
    confident = P2 >= thresholds - _FUZZ
    n_confident = confident.sum(axis=1)
    guess = np.where(n_confident > 1, P2.argmax(axis=1), confident.argmax(axis=1))
    counted = n_confident > 0
    joint = np.bincount(y[counted] * 2 + guess[counted], minlength=4).reshape(2, 2)
    np.fill_diagonal(joint, joint.diagonal().clip(min=1))
    calibrated = calibrate_confident_joint(joint, np.bincount(y, minlength=2))
    return calibrated, np.flatnonzero(counted & (guess != y))


def _binary_scores(y, P2, method) -> np.ndarray:
    given = P2[np.arange(y.shape[0]), y]
    if method == "self_confidence":
        return given
    return (given - P2[np.arange(y.shape[0]), 1 - y] + 1) / 2


def _predicted_is_given(y, P2) -> np.ndarray:
    """Rows whose argmax is the given value once the given value gets 1e-6 more (cleanlab never flags them)."""
    nudged = np.copy(P2)
    nudged[np.arange(y.shape[0]), y] += _FUZZ
    return nudged.argmax(axis=1) == y


def _prune_to(prune, num_to_remove, label_counts) -> np.ndarray:
    """cleanlab's rescaling of the prune counts so that each given class loses ``num_to_remove`` rows."""
    share = prune / np.sum(prune, axis=1)
    noise = share.sum(axis=1) - share.diagonal()
    scaled = (share.T * num_to_remove / noise).T
    np.fill_diagonal(scaled, label_counts - num_to_remove)
    return round_preserving_row_totals(scaled)


def _by_class(y, P2, prune, min_examples) -> np.ndarray:
    """In each given value g, flag the n_g - prune[g, g] rows with the lowest P2[:, g]."""
    mask = np.zeros(y.shape[0], dtype=bool)
    for g in (0, 1):
        rows = np.flatnonzero(y == g)
        if rows.size <= max(min_examples, 1):
            continue
        n_issues = int(rows.size - prune[g, g])
        if n_issues >= 1:
            mask[rows[np.argsort(P2[rows, g])[:n_issues]]] = True
    return mask


def _by_noise_rate(y, P2, prune, min_examples) -> np.ndarray:
    """For given value g, flag the prune[1 - g, g] rows with the largest margin P2[:, 1 - g] - P2[:, g]."""
    mask = np.zeros(y.shape[0], dtype=bool)
    for g in (0, 1):
        rows = np.flatnonzero(y == g)
        if rows.size <= max(min_examples, 1):
            continue
        need = int(prune[1 - g, g])
        if need > 0:
            block = P2[rows]
            margin = block[:, 1 - g] - block[:, g]
            mask[rows[np.argsort(-margin)[:need]]] = True
    return mask
