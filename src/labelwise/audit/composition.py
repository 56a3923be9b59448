"""What the table is made of: class balance and the health of each column."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


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
    labels = np.asarray(labels)
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
    """Per column: missing cells, distinct values, constant or empty columns, text lengths. List cells are fine."""
    out = []
    for name in frame.columns:
        column = frame[name]
        missing_mask = column.isna().to_numpy() if column.dtype != object else np.array(
            [_is_missing(v) for v in column], dtype=bool)
        present = column[~missing_mask]
        if present.size and isinstance(present.iloc[0], (list, tuple, np.ndarray)):  # list or vector cells
            n_unique = len({np.asarray(v).tobytes() for v in present})
        else:
            n_unique = int(present.nunique(dropna=True))
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


def _is_missing(value) -> bool:
    if isinstance(value, (list, tuple, np.ndarray, dict)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
