"""The rows of a table to label next: embed the text, fit a classifier on the labelled rows (empty label cell =
unlabelled), and pick ``budget`` unlabelled rows with :func:`labelwise.generate.select.select_next`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from labelwise.data.labels import label_cells, missing_mask_scalar
from labelwise.data.locate import DATAFRAME_SOURCE
from labelwise.errors import DataError, ParameterError
from labelwise.generate.select import STRATEGIES, select_next

__all__ = ["NextRows", "next_rows"]


@dataclass
class NextRows:
    """rows: (budget,) int positions in the table, in the order chosen; frame: those rows with ``selection_rank``
    (1 = first) and ``row`` (0-based position in the table, to join the labels back) first, and, for model-based
    strategies, ``model_label`` and ``model_confidence``."""

    rows: np.ndarray
    frame: pd.DataFrame
    strategy: str
    n_labelled: int
    n_unlabelled: int

    def __repr__(self) -> str:
        return (f"NextRows({len(self.rows)} rows by {self.strategy}; {self.n_labelled} labelled, "
                f"{self.n_unlabelled} unlabelled)")


def next_rows(table: pd.DataFrame, *, text: str, label: str, budget: int, strategy: str = "margin",
              encoder=None, labeller_error: Optional[float] = None, random_state=0) -> NextRows:
    """Pick ``budget`` unlabelled rows of ``table`` (label cell empty or missing) to label next.

    encoder: any object with ``encode(list[str]) -> (n, d)`` (default the packaged MiniLM ``TextEncoder``);
    labeller_error: the labeller's error rate, needed by ``strategy="rad"``. Model-based strategies fit a
    LogisticRegression on the labelled rows (at least two classes needed); ``random`` and ``k_center`` need no labels.
    """
    for column in (text, label):
        if column not in table.columns:
            raise DataError(f"no column {column!r} in the table; its columns are {', '.join(map(str, table.columns))}")
    if strategy not in STRATEGIES:
        raise ParameterError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if strategy == "rad" and labeller_error is None:
        raise ParameterError("strategy 'rad' needs the labeller's error rate (--labeller-error, e.g. 0.1)")
    if labeller_error is not None and not 0.0 <= float(labeller_error) <= 1.0:
        raise ParameterError(f"--labeller-error {labeller_error} is not an error rate; give a number in [0, 1], "
                             "e.g. 0.1")
    missing = missing_mask_scalar(table[label])
    labelled = np.flatnonzero(~missing)
    n_free = int(missing.sum())
    if n_free == 0:
        raise DataError(f"every row has a value in {label!r}: leave the label cell empty on the rows still to label")
    if not 0 < budget <= n_free:
        raise ParameterError(f"--budget {budget} must be between 1 and the {n_free} unlabelled rows")
    if encoder is None:
        from labelwise.features import TextEncoder

        encoder = TextEncoder()
    x = np.asarray(encoder.encode(table[text].fillna("").astype(str).tolist()), dtype=np.float64)
    proba = None
    extra = {}
    if strategy not in ("random", "k_center"):
        y_text = label_cells(table[label].iloc[labelled], False, None, name=label, source=DATAFRAME_SOURCE,
                             row_ids=labelled)  # as every labelwise command reads labels: 1.0 is "1", " x" is "x"
        classes, y = np.unique(y_text, return_inverse=True)
        if len(classes) < 2:
            raise DataError(f"strategy {strategy!r} needs labelled rows of at least two classes in {label!r}; "
                            f"found {len(classes)}: label more rows first, or use --strategy k_center or random")
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=10.0, max_iter=300).fit(x[labelled], y)
        proba = model.predict_proba(x)
        extra = {"model_label": classes[proba.argmax(axis=1)], "model_confidence": proba.max(axis=1)}
    rows = select_next(proba, x, strategy=strategy, budget=budget, labelled=labelled, random_state=random_state,
                       teacher_error=labeller_error)
    frame = table.iloc[rows].copy()
    frame.insert(0, "selection_rank", np.arange(1, len(rows) + 1))
    frame.insert(1, "row", np.asarray(rows, dtype=np.int64))
    for name, values in extra.items():
        frame[name] = values[rows]
    return NextRows(rows=rows, frame=frame, strategy=strategy, n_labelled=len(labelled), n_unlabelled=n_free)
