"""Pair-level precision, recall and F1 of predicted matches against the true matches.

Shapes: ``pairs``: ``(p, >=2)`` DataFrame with ``left_id, right_id`` (or its first two columns); ``truth``:
``(t, >=2)`` the same. Ids are compared as strings, so ``304586`` and ``"304586"`` are the same id.
"""

from __future__ import annotations

import pandas as pd

from labelwise.errors import DataError

__all__ = ["evaluate", "pair_set"]


def pair_set(frame: pd.DataFrame, name: str = "pairs") -> set[tuple[str, str]]:
    """``{(left_id, right_id)}`` as strings, from ``left_id, right_id`` columns or the first two columns."""
    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(list(frame))
    if {"left_id", "right_id"} <= set(frame.columns):
        a, b = frame["left_id"], frame["right_id"]
    elif frame.shape[1] >= 2:
        a, b = frame.iloc[:, 0], frame.iloc[:, 1]
    else:
        raise DataError(f"{name} needs two id columns (left_id, right_id); it has {list(frame.columns)}.")
    return set(zip(a.map(_key), b.map(_key)))


def _key(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def evaluate(pairs: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """``{"precision", "recall", "f1", "tp", "fp", "fn"}`` of ``pairs`` against ``truth``."""
    predicted = pair_set(pairs, "pairs")
    true = pair_set(truth, "truth")
    tp = len(predicted & true)
    fp = len(predicted) - tp
    fn = len(true) - tp
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(true) if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}
