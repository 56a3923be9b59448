"""Checks and counts shared by the many-annotator algorithms (arrays only).

labels_multiannotator: (n, m) float, ``labels[i, j]`` = the class (an integer value in 0..K-1) annotator ``j`` gave
example ``i``, NaN where annotator ``j`` did not label example ``i``.
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from labelwise.errors import ParameterError, ShapeError


def _listed(indices: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:limit])
    return shown + (f" (and {len(indices) - limit} more)" if len(indices) > limit else "")


def as_label_matrix(labels_multiannotator, *, name: str = "labels_multiannotator") -> np.ndarray:
    """(n, m) float64 with NaN for missing labels; raises ShapeError / ParameterError with one line otherwise."""
    try:
        labels = np.asarray(labels_multiannotator, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{name} holds values that are not class indices (strings?); convert them with "
            "format_multiannotator_labels(labels) first."
        ) from None
    if labels.ndim != 2:
        raise ShapeError(
            f"{name} must be 2-D (one row per example, one column per annotator); got {labels.ndim}-D."
        )
    given = labels[~np.isnan(labels)]
    bad = (given < 0) | (given != np.floor(given)) | ~np.isfinite(given)
    if bad.any():
        raise ParameterError(
            f"{name} must hold class indices 0..K-1 or NaN; found {given[bad][0]!r}. Convert labels with "
            "format_multiannotator_labels(labels) first."
        )
    return labels


def check_labels(
    labels: np.ndarray,
    pred_probs: Optional[np.ndarray] = None,
    *,
    allow_single_label: bool = False,
    annotator_ids=None,
    warn_no_agreement: bool = True,
) -> None:
    """cleanlab's checks of labels_multiannotator (and pred_probs), each failure one ParameterError/ShapeError line.

    labels: (n, m) float with NaN (from :func:`as_label_matrix`); pred_probs: (n, K) float or None.
    """
    present = ~np.isnan(labels)
    empty_rows = np.flatnonzero(~present.any(axis=1))
    if empty_rows.size:
        raise ParameterError(
            f"labels_multiannotator: examples {_listed(empty_rows)} have no label; every row needs at least one "
            "(drop those rows or score them with get_active_learning_scores(pred_probs_unlabeled=...))."
        )
    empty_cols = np.flatnonzero(~present.any(axis=0))
    if empty_cols.size:
        names = [annotator_ids[i] for i in empty_cols] if annotator_ids is not None else empty_cols
        shown = ", ".join(str(a) for a in names[:5]) + (f" (and {len(names) - 5} more)" if len(names) > 5 else "")
        raise ParameterError(
            f"labels_multiannotator: annotators {shown} labelled no example; drop those columns."
        )
    if not allow_single_label:
        if labels.shape[1] <= 1:
            raise ParameterError(
                "labels_multiannotator has one annotator column; with a single label per example use "
                "labelwise.audit.label_errors.label_quality_scores instead."
            )
        if (present.sum(axis=1) == 1).all():
            raise ParameterError(
                "labels_multiannotator has exactly one label per example; collapse it to a 1-D array and use "
                "labelwise.audit.label_errors.label_quality_scores instead."
            )
        if warn_no_agreement:
            counts = label_counts(labels, int(np.nanmax(labels)) + 1)
            if not (counts > 1).any():
                warnings.warn("Annotators do not agree on any example. Check input data.", UserWarning, stacklevel=3)
    if pred_probs is not None:
        if pred_probs.ndim != 2:
            raise ShapeError(f"pred_probs must be 2-D (n, K); got {pred_probs.ndim}-D.")
        if pred_probs.shape[0] != labels.shape[0]:
            raise ShapeError(
                f"pred_probs has {pred_probs.shape[0]} rows but labels_multiannotator has {labels.shape[0]}; "
                "give one row of probabilities per example."
            )
        highest = int(np.nanmax(labels))
        if pred_probs.shape[1] <= highest:
            raise ShapeError(
                f"pred_probs has {pred_probs.shape[1]} columns but labels_multiannotator uses class {highest}; "
                f"give at least {highest + 1} columns (one per class)."
            )


def as_probs(pred_probs, *, name: str = "pred_probs") -> np.ndarray:
    """(n, K) float64 (a copy only when the dtype differs)."""
    probs = np.asarray(pred_probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ShapeError(f"{name} must be 2-D (n, K); got {probs.ndim}-D.")
    if not np.isfinite(probs).all():
        raise ParameterError(f"{name} holds NaN or infinite values; give probabilities in [0, 1].")
    return probs


def observations(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The given labels as (row, annotator, label) triples, row-major: three (nnz,) int64 arrays."""
    rows, annotators = np.nonzero(~np.isnan(labels))
    return rows, annotators, labels[rows, annotators].astype(np.int64)


def label_counts(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(n, K) float64: how many annotators gave example i class c."""
    rows, _, given = observations(labels)
    n = labels.shape[0]
    return np.bincount(rows * n_classes + given, minlength=n * n_classes).reshape(n, n_classes).astype(np.float64)
