"""Turning table rows into texts, and checking the tables at the door.

LinkTransformer (Arora & Dell 2023, "LinkTransformer: A Unified Package for Record Linkage with Transformer
Language Models") serialises the chosen columns of a row into one string and embeds it. labelwise writes each
field with its name in a fixed order, ``"title: Foo ; authors: Bar"``, so the encoder sees which value is which
and the column order never depends on the table. Missing values become the empty string, never ``"nan"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from labelwise.errors import DataError

__all__ = ["serialise", "check_columns", "row_ids", "as_columns", "column_pairs", "find_id_column"]

SEPARATOR = " ; "


def as_columns(on: str | Sequence[str] | None, what: str = "on") -> list[str]:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (names stripped, empty names dropped, order kept)."""
    if on is None:
        return []
    items = on.split(",") if isinstance(on, str) else list(on)
    names = [str(c).strip() for c in items if str(c).strip()]
    if len(set(names)) != len(names):
        raise DataError(f"{what}= names a column twice: {names}. Give each column once.")
    return names


def column_pairs(on: str | Sequence[str | tuple[str, str]] | None) -> list[tuple[str, str]]:
    """``"title,authors"``, ``"title=name,price"`` or ``["title", ("title", "name")]`` -> ``[(left, right), ...]``.

    ``left=right`` compares the left table's column ``left`` with the right table's ``right``; a bare name is the same
    column on both sides.
    """
    if on is None:
        return []
    items = on.split(",") if isinstance(on, str) else list(on)
    pairs = []
    for item in items:
        if isinstance(item, (tuple, list)):
            if len(item) != 2:
                raise DataError(f"on= pairs are (left column, right column); got {item!r}.")
            a, b = str(item[0]).strip(), str(item[1]).strip()
        elif "=" in str(item):
            a, _, b = str(item).partition("=")
            a, b = a.strip(), b.strip()
            if not a or not b:
                raise DataError(f"on= item {str(item).strip()!r} needs a column on both sides of '=', e.g. title=name.")
        else:
            a = b = str(item).strip()
        if a:
            pairs.append((a, b))
    lefts = [a for a, _ in pairs]
    if len(set(lefts)) != len(lefts) or len(set(pairs)) != len(pairs):
        raise DataError(f"on= names a column twice: {lefts}. Give each column once.")
    return pairs


def find_id_column(table: pd.DataFrame) -> tuple[str | None, str]:
    """The column to take ids from when none was named: ``(column or None, a sentence saying what was chosen)``.

    A column named ``id`` in any case (``id`` itself first, then the first in table order) is used when its values
    are present and unique; otherwise, and when there is none, the ids are the row numbers 0..n-1 (column None).
    """
    named = [c for c in table.columns if isinstance(c, str) and c.strip().lower() == "id"]
    if not named:
        return None, "ids: row numbers (the table has no 'id' column)"
    column = "id" if "id" in named else named[0]
    values = table[column]
    if values.isna().any():
        return None, f"ids: row numbers (column '{column}' has missing values)"
    if values.duplicated().any():
        return None, f"ids: row numbers (column '{column}' repeats values)"
    return column, f"ids: column '{column}' (found in the table)"


def check_columns(table: pd.DataFrame, columns: Sequence[str], side: str, what: str = "on") -> None:
    """Raise DataError naming the missing columns and listing the ones ``table`` has."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        available = ", ".join(map(str, table.columns)) or "(none)"
        raise DataError(
            f"Column(s) {missing} given in {what}= are not in the {side} table. Its columns are: {available}. "
            f"Fix the spelling or pass {what}= columns that both tables have."
        )


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    if value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a year read as 1999.0 because the column has gaps
    text = str(value)
    return " ".join(text.split())  # one line, single spaces


def serialise(table: pd.DataFrame, on: Sequence[str], *, names: bool = True) -> list[str]:
    """Rows -> texts ``(n,) str``: ``"col1: v1 ; col2: v2"`` (``names=False``: ``"v1 ; v2"``).

    Columns are written in the order of ``on``; a missing value is written as an empty field.
    """
    columns = as_columns(on)
    check_columns(table, columns, "given")
    parts = [[_text(v) for v in table[c].tolist()] for c in columns]
    out = []
    for values in zip(*parts) if parts else [() for _ in range(len(table))]:
        fields = [f"{c}: {v}" if names else v for c, v in zip(columns, values)]
        out.append(SEPARATOR.join(fields))
    return out


def row_ids(table: pd.DataFrame, id_column: str | None, side: str) -> np.ndarray:
    """The ids of ``table``'s rows ``(n,) object``: its ``id_column``, or the row positions 0..n-1.

    Raises DataError when the column is absent, has missing values, or repeats an id (naming an example).
    """
    if id_column is None:
        return np.arange(len(table), dtype=np.int64).astype(object)
    check_columns(table, [id_column], side, what=f"{side}_id")
    ids = table[id_column]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise DataError(
            f"Id column '{id_column}' of the {side} table has missing values (first at row {row}). "
            "Fill them or drop those rows; every record needs an id."
        )
    repeated = ids[ids.duplicated(keep=False)]
    if len(repeated):
        example = repeated.iloc[0]
        shown = repr(example.item() if hasattr(example, "item") else example)
        count = int((ids == example).sum())
        raise DataError(
            f"Id column '{id_column}' of the {side} table is not unique: {shown} appears {count} times "
            f"({repeated.nunique()} ids repeat). Make the ids unique, or leave {side}_id unset to use row numbers."
        )
    return ids.to_numpy(dtype=object)
