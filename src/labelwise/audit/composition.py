"""What the table is made of: class balance and the health of each column."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from labelwise.errors import ShapeError


@dataclass
class BalanceResult:
    """counts, shares: (k,); imbalance_ratio: largest / smallest non-empty class; entropy: normalised Shannon
    entropy of the class distribution (1 = uniform); small: (k,) bool, classes below min_count rows."""

    counts: np.ndarray
    shares: np.ndarray
    imbalance_ratio: float
    entropy: float
    small: np.ndarray
    min_count: int


def class_balance(labels, n_classes: int, *, min_count: int | None = None) -> BalanceResult:
    """Class counts and imbalance. labels: (n,) int or (n, k) bool indicators (counts are per label).

    min_count: a class with fewer rows is "small". Default: 10 rows, or 10% of the mean class size if that is
    larger (fewer than ten examples cannot support a class in cross-validation; far fewer than the average class is
    a coverage gap worth reporting whatever the dataset's size).
    """
    labels = _checked_labels(labels, n_classes)
    counts = labels.sum(axis=0).astype(np.int64) if labels.ndim == 2 else np.bincount(labels, minlength=n_classes)
    total = max(int(counts.sum()), 1)
    shares = counts / total
    nonzero = counts[counts > 0]
    ratio = float(nonzero.max() / nonzero.min()) if nonzero.size else float("nan")
    p = shares[shares > 0]
    entropy = float(-(p * np.log(p)).sum() / np.log(n_classes)) if n_classes > 1 else 1.0
    if min_count is None:
        min_count = int(max(10, np.ceil(0.1 * counts.mean())))
    return BalanceResult(counts, shares, ratio, entropy, counts < min_count, int(min_count))


def _checked_labels(labels, n_classes: int) -> np.ndarray:
    """labels as an array, after checking they fit ``n_classes``: (n,) ints in [0, k), or (n, k) indicators."""
    labels = np.asarray(labels)
    if n_classes < 1:
        raise ShapeError(f"n_classes must be at least 1; got {n_classes}.")
    if labels.ndim == 2:
        if labels.shape[1] != n_classes:
            raise ShapeError(f"multi-label labels must have one column per class, shape (n, {n_classes}); got "
                             f"{labels.shape}.")
        return labels
    if labels.ndim != 1:
        raise ShapeError(f"labels must be (n,) class indices or (n, {n_classes}) indicators; got shape {labels.shape}.")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ShapeError(f"labels must be integer class indices; got dtype {labels.dtype}.")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ShapeError(f"labels must be class indices in [0, {n_classes}); got values from {labels.min()} to "
                         f"{labels.max()}.")
    return labels


@dataclass
class ColumnHealth:
    """One column's health: dtype, missing cells, distinct values, and notes a person should read."""

    name: str
    dtype: str
    missing: int
    missing_share: float
    n_unique: int
    is_constant: bool
    is_all_missing: bool
    text_length: dict = field(default_factory=dict)  # mean / min / max characters for text columns

    @property
    def notes(self) -> str:
        notes = []
        if self.is_all_missing:
            notes.append("every value is missing")
        elif self.is_constant:
            notes.append("constant: one value only")
        elif self.missing_share > 0.2:
            notes.append(f"{self.missing_share:.0%} missing")
        if self.text_length:
            notes.append(f"text, {self.text_length['mean']:.0f} characters on average "
                         f"({self.text_length['min']}-{self.text_length['max']})")
        return "; ".join(notes)


def column_health(frame: pd.DataFrame) -> list[ColumnHealth]:
    """Per column (by position, so two columns may share a name): missing cells, distinct values, constant or empty
    columns, text lengths. Cells of any kind are fine: lists, arrays, sets and dicts are compared by value."""
    out = []
    for j, name in enumerate(frame.columns):
        column = frame.iloc[:, j]
        missing_mask = column.isna().to_numpy() if column.dtype != object else np.array(
            [_is_missing(v) for v in column], dtype=bool)
        present = column[~missing_mask]
        try:
            n_unique = int(present.nunique(dropna=True))
        except TypeError:  # unhashable cells: lists, arrays, sets, dicts
            n_unique = len({_hashable(v) for v in present})
        text = {}
        if present.size and present.map(lambda v: isinstance(v, str)).all():
            lengths = present.str.len()
            text = {"mean": float(lengths.mean()), "min": int(lengths.min()), "max": int(lengths.max())}
        missing = int(missing_mask.sum())
        out.append(ColumnHealth(
            name=str(name), dtype=str(column.dtype), missing=missing, missing_share=missing / max(len(frame), 1),
            n_unique=n_unique, is_constant=n_unique == 1, is_all_missing=missing == len(frame), text_length=text,
        ))
    return out


def _hashable(value):
    """A hashable stand-in for a cell, equal for cells of equal value."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_hashable(v) for v in value))
    if isinstance(value, dict):
        return ("dict", frozenset((_hashable(k), _hashable(v)) for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(_hashable(v) for v in value))
    try:
        hash(value)
    except TypeError:
        return ("repr", type(value).__name__, repr(value))
    return value


def _is_missing(value) -> bool:
    if isinstance(value, (list, tuple, np.ndarray, dict, set, frozenset)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
