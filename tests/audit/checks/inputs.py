"""Small exact inputs for the checks: a labelled table with given vectors, so every neighbour is known."""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelwise.audit.checks import CheckInputs
from labelwise.audit.feature_space import FeatureSpace
from labelwise.data import LabelledTable
from labelwise.data.labels import LabelColumn


def check_inputs(vectors, labels, *, texts=None, other=None, **kwargs) -> CheckInputs:
    """CheckInputs for rows with these vectors (n, d) and labels (n,) int over classes "c0".."c{k-1}"; uniform
    probabilities unless given."""
    labels = np.asarray(labels)
    k = int(labels.max()) + 1
    classes = [f"c{j}" for j in range(k)]
    frame = pd.DataFrame({"label": [classes[c] for c in labels]})
    if texts is not None:
        frame["text"] = texts
    table = LabelledTable(frame=frame, labels=LabelColumn("label", classes, labels), row_ids=np.arange(len(labels)),
                          text_columns=["text"] if texts is not None else [])
    space = FeatureSpace(np.asarray(vectors, dtype=np.float32), "dense", {}) if vectors is not None else None
    kwargs.setdefault("pred_probs", np.full((len(labels), k), 1.0 / k))
    return CheckInputs(table, labels, classes=classes, space=space, other=other, **kwargs)
