"""``aggregate(table, on=col, categories=[...])``: map each row to the nearest of a fixed list of categories.

LinkTransformer (Arora & Dell 2023) aggregates fine-grained values (e.g. product descriptions) into coarse
categories by linking them to the category names with the same embeddings used for linkage; labelwise does the
same with its own encoder and exact cosine search.

Shapes: ``table: (n, ...)``, ``categories: (c,) str`` -> the table plus ``category: (n,) str`` and
``category_score: (n,) float`` (cosine similarity to that category).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from labelwise.errors import DataError
from labelwise.link.merge import default_encoder, embed_tables
from labelwise.link.serialise import as_columns, check_columns, serialise
from labelwise.progress import ProgressCallback

__all__ = ["aggregate"]


def aggregate(
    table: pd.DataFrame,
    on: str | Sequence[str],
    categories: Sequence[str],
    *,
    encoder: Any = None,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Nearest category (by cosine similarity of embeddings) and its score for each row of ``table``."""
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"aggregate() takes a pandas DataFrame, got {type(table).__name__}.")
    columns = as_columns(on)
    if not columns:
        raise DataError("on= names no columns: give the column(s) to map to categories.")
    check_columns(table, columns, "input")
    names = [str(c) for c in categories] if categories is not None else []
    if not names or any(not c.strip() for c in names):
        raise DataError("categories must be a non-empty list of non-empty category names.")
    out = table.copy()
    for name in ("category", "category_score"):
        if name in out.columns:
            raise DataError(f"The table already has a '{name}' column; rename or drop it first.")
    if len(table) == 0:
        out["category"] = pd.Series([], dtype=object)
        out["category_score"] = pd.Series([], dtype=np.float64)
        return out
    encoder = encoder or default_encoder()
    # one column: its values alone, so they read like the category names; several: "name: value" fields
    texts = serialise(table, columns, names=len(columns) > 1)
    rows, cats = embed_tables(encoder, [texts, names], progress)
    sims = rows @ cats.T
    best = np.argmax(sims, axis=1)
    out["category"] = np.asarray(names, dtype=object)[best]
    out["category_score"] = sims[np.arange(len(best)), best].astype(np.float64)
    return out
