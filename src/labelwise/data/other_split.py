"""Another split of the same data (e.g. the test set), read to compare with an audited table: the same input
columns, its label column optional."""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelwise.data.dataset import LabelledTable
from labelwise.data.io import read_table
from labelwise.data.labels import LabelColumn
from labelwise.errors import DataError


def load_other_split(data, *, label, text=None, features=None, embeddings=None, encoding=None,
                     sep=None) -> LabelledTable:
    """Read another split with the same input columns as the audited table; its label column may be absent.

    data: a path or a DataFrame; label: the label column's name; text, features, embeddings: the audited table's
    input columns (each must be present). The returned table's ``labels.codes`` are unused; the raw label values
    are in ``frame[label]`` when present.
    """
    frame = read_table(data, encoding=encoding, sep=sep)
    source = "<DataFrame>" if isinstance(data, pd.DataFrame) else str(data)
    needed = list(text or []) + list(features or []) + ([embeddings] if embeddings else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(f"The split to compare with ({source}) lacks the column(s) {', '.join(map(repr, missing))} "
                        f"used for the main table. Its columns are: {', '.join(map(repr, map(str, frame.columns)))}.")
    placeholder = LabelColumn(name=str(label), classes=[], codes=np.zeros(len(frame), np.int64))
    return LabelledTable(frame=frame.reset_index(drop=True), labels=placeholder, row_ids=np.arange(len(frame)),
                         text_columns=list(text or []), feature_columns=list(features or []),
                         embedding_column=embeddings, source=source, n_input_rows=len(frame))
