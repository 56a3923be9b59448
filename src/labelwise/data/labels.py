"""Label columns: from a column of user values to integer codes and a sorted list of class names.

Single-label: each cell is one label (string, integer, ...). ``codes`` is ``(n,) int64`` indexing ``classes``.

Multi-label: each cell is a set of labels, given as a list/tuple/array (a Parquet list column, Python lists) or as a
string split on ``delimiter`` (``"billing|refund"``). ``codes`` is an ``(n, K) bool`` indicator matrix. An empty
list is a row with no labels (allowed); a missing cell is a missing label (refused).

Class names are strings: integers become ``"0"``, ``"1"``, ... (and floats that are whole numbers, as pandas makes of
an integer column with gaps, lose the ``.0``). Classes are sorted as strings, except that when every class is a
number they are sorted by value (``"2"`` before ``"10"``). Whitespace around each label is stripped, and a lone
surrogate (half a character, from a JSON escape such as ``"\ud800"``) becomes U+FFFD. A JSON object (dict) is not a
label, nor is a list inside a multi-label cell's list: both are refused with the row.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labelwise.data.locate import DATAFRAME_SOURCE, describe_row, describe_rows
from labelwise.errors import DataError, ShapeError

_LIST_TYPES = (list, tuple, np.ndarray, set, frozenset)
_SURROGATE = re.compile("[\ud800-\udfff]")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_MISSING_HINT = "fill them in, or drop those rows with --drop-missing (CLI) / drop_missing=True (library)"


@dataclass(repr=False)
class LabelColumn:
    """An encoded label column.

    Attributes
    ----------
    name: the column's name.
    classes: ``(K,)`` class names, sorted (numerically when all are numbers).
    codes: ``(n,) int64`` class index per row (single-label) or ``(n, K) bool`` indicators (multi-label).
    multi_label: whether ``codes`` is an indicator matrix.
    """

    name: str
    classes: list[str]
    codes: np.ndarray
    multi_label: bool = False

    @property
    def n_classes(self) -> int:
        """K, the number of classes."""
        return len(self.classes)

    def __len__(self) -> int:
        """n, the number of rows."""
        return int(self.codes.shape[0])

    def decode(self, codes: np.ndarray | Sequence[int] | None = None) -> list[str] | list[list[str]]:
        """Class names for ``codes`` (default: this column's own codes).

        Single-label: ``codes (m,) int`` -> ``list[str]``. Multi-label: ``codes (m, K) bool`` -> ``list[list[str]]``
        (each row's classes in class order).
        """
        arr = self.codes if codes is None else np.asarray(codes)
        k = self.n_classes
        if self.multi_label:
            if arr.ndim != 2 or arr.shape[1] != k:
                raise ShapeError(f"codes must have shape (m, {k}) for {k} classes; got {arr.shape}.")
            names = np.asarray(self.classes, dtype=object)
            return [list(names[row.astype(bool)]) for row in arr]
        if arr.ndim != 1:
            raise ShapeError(f"codes must have shape (m,); got {arr.shape}.")
        if arr.size and (not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= k):
            raise ShapeError(f"codes must be integers in [0, {k}); got values from {arr.min()} to {arr.max()}.")
        return [self.classes[int(c)] for c in arr]

    def counts(self) -> np.ndarray:
        """``(K,) int64``: rows per class (multi-label: rows carrying each class)."""
        if self.multi_label:
            return self.codes.sum(axis=0).astype(np.int64)
        return np.bincount(self.codes, minlength=self.n_classes).astype(np.int64)

    def __repr__(self) -> str:
        kind = "multi-label" if self.multi_label else "single-label"
        shown = ", ".join(repr(c) for c in self.classes[:5]) + (", ..." if self.n_classes > 5 else "")
        return f"LabelColumn({self.name!r}, {kind}, n={len(self)}, K={self.n_classes}: [{shown}])"


def encode_labels(
    values: pd.Series,
    *,
    multi_label: bool | None = None,
    delimiter: str | None = None,
    name: str | None = None,
) -> LabelColumn:
    """Encode a column of labels.

    Parameters
    ----------
    values: ``(n,)`` the label cells.
    multi_label: ``True``/``False`` to say; ``None`` detects a multi-label column by its list-valued cells, or
        assumes one when ``delimiter`` is given.
    delimiter: split string cells on this (multi-label only), e.g. ``"|"``.
    name: the column's name for messages; default ``values.name``.

    Returns
    -------
    LabelColumn with ``codes (n,) int64`` or ``(n, K) bool``.

    Raises
    ------
    DataError: a label is missing (NaN, None, empty string), fewer than two classes, or list and single cells are
    mixed. Row numbers in messages are 0-based positions in ``values``.
    """
    return encode_column(values, multi_label=multi_label, delimiter=delimiter, name=name, source=DATAFRAME_SOURCE)


# ------------------------------------------------------------------------------------ shared with dataset.py


def resolve_multi_label(
    values: pd.Series,
    multi_label: bool | None,
    delimiter: str | None,
    *,
    name: str,
    source: str,
    row_ids: np.ndarray | None = None,
) -> bool:
    """Decide single- or multi-label; refuse a column that mixes list cells and single values.

    ``row_ids`` maps positions in ``values`` to the rows named in messages (default: the positions).
    """
    if delimiter is not None and (not isinstance(delimiter, str) or delimiter == ""):
        raise DataError(f"The label delimiter must be a non-empty string such as '|'; got {delimiter!r}.")
    ids = np.arange(len(values), dtype=np.int64) if row_ids is None else np.asarray(row_ids, dtype=np.int64)
    is_list = np.fromiter((isinstance(v, _LIST_TYPES) for v in values), dtype=bool, count=len(values))
    if multi_label is None:
        multi_label = bool(is_list.any()) or delimiter is not None
    objects = np.fromiter((isinstance(v, Mapping) for v in values), dtype=bool, count=len(values))
    if objects.any():
        row = int(np.argmax(objects))
        raise DataError(
            f"Label column '{name}' holds a JSON object (dict) at {describe_row(source, ids[row])}: "
            f"{_shown(values.iloc[row])}. A label is a string or a number, or a list of them for multi-label data; "
            "check that you chose the right label column."
        )
    if multi_label:
        scalar = ~is_list & ~missing_mask_scalar(values)
        if is_list.any() and scalar.any():
            first_list, first_scalar = int(np.argmax(is_list)), int(np.argmax(scalar))
            raise DataError(
                f"Label column '{name}' mixes lists ({describe_row(source, ids[first_list])}) and single "
                f"values ({describe_row(source, ids[first_scalar])}: {values.iloc[first_scalar]!r}). Give every row a "
                "list of labels, or give them all as delimited strings with --label-delimiter (CLI) / "
                "delimiter= (library)."
            )
        return True
    if delimiter is not None:
        raise DataError(
            f"A label delimiter ({delimiter!r}) only applies to multi-label columns, but multi_label=False was given "
            f"for '{name}'. Drop the delimiter, or say the column is multi-label."
        )
    if is_list.any():
        row = int(np.argmax(is_list))
        raise DataError(
            f"Label column '{name}' holds a list at {describe_row(source, ids[row])}, but multi_label=False was given. "
            "Pass --multi-label (CLI) / multi_label=True (library), or give one label per row."
        )
    return False


def missing_mask_scalar(values: pd.Series) -> np.ndarray:
    """``(n,) bool``: cells that are NaN/None/NA or a string of only whitespace. List cells are never missing."""
    return np.fromiter((is_missing_cell(v) for v in values), dtype=bool, count=len(values))


def missing_labels_error(name: str, rows: Sequence[int], source: str, n_rows: int) -> DataError:
    """The message for missing labels at ``rows`` (0-based)."""
    markers = ""
    if source != DATAFRAME_SOURCE:
        markers = " (empty cells and cells reading NA, N/A, NaN, null or None count as missing)"
    return DataError(
        f"Label column '{name}' has {len(rows)} missing label{'s' if len(rows) != 1 else ''} of {n_rows}{markers}: "
        f"{describe_rows(source, rows)}. {_MISSING_HINT[0].upper()}{_MISSING_HINT[1:]}."
    )


def encode_column(
    values: pd.Series,
    *,
    multi_label: bool | None,
    delimiter: str | None,
    name: str | None,
    source: str,
    row_ids: np.ndarray | None = None,
) -> LabelColumn:
    """``encode_labels`` with row numbers reported through ``row_ids`` (kept row -> original row) and ``source``."""
    if not isinstance(values, pd.Series):
        values = pd.Series(values)
    col = str(name if name is not None else (values.name if values.name is not None else "label"))
    ids = np.arange(len(values), dtype=np.int64) if row_ids is None else np.asarray(row_ids, dtype=np.int64)
    is_multi = resolve_multi_label(values, multi_label, delimiter, name=col, source=source, row_ids=ids)

    cells = label_cells(values, is_multi, delimiter, name=col, source=source, row_ids=ids)
    missing = [i for i, c in enumerate(cells) if c is None]
    if missing:
        raise missing_labels_error(col, ids[missing].tolist(), source, len(values))

    if is_multi:
        classes = sorted_classes({c for s in cells for c in s})
        check_two_classes(classes, col, len(values))
        index = {c: j for j, c in enumerate(classes)}
        codes = np.zeros((len(values), len(classes)), dtype=bool)
        for i, s in enumerate(cells):
            codes[i, [index[c] for c in s]] = True
        return LabelColumn(name=col, classes=classes, codes=codes, multi_label=True)

    classes = sorted_classes(set(cells))
    check_two_classes(classes, col, len(values))
    codes = pd.Index(classes).get_indexer(cells).astype(np.int64)
    return LabelColumn(name=col, classes=classes, codes=codes, multi_label=False)


def label_cells(values, multi_label: bool, delimiter: str | None, *, name: str, source: str,
                row_ids: np.ndarray) -> list:
    """Each cell's label(s) as read: ``str`` (single-label) or ``list[str]`` (multi-label) per row, ``None`` where
    missing. A cell that cannot be a label raises DataError naming ``row_ids[i]`` of ``source``."""
    cells: list = []
    for i, v in enumerate(values):
        try:
            cells.append(_label_set(v, delimiter) if multi_label else _label_str(v))
        except _NotALabel as bad:
            raise DataError(f"The label in column '{name}' at {describe_row(source, row_ids[i])} {bad}") from None
    return cells


def check_two_classes(classes: list[str], name: str, n: int) -> None:
    if len(classes) >= 2:
        return
    if not classes:
        raise DataError(
            f"A label column needs at least two classes; found no labels at all in column '{name}' ({n} rows). "
            "Check that you chose the right label column."
        )
    raise DataError(
        f"A label column needs at least two classes; found only '{classes[0]}' in column '{name}' ({n} rows). "
        "Check that you chose the right label column, or add examples of the other classes."
    )


def is_missing_cell(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, str):
        return not v.strip()
    if isinstance(v, (_LIST_TYPES, Mapping, numbers.Integral)):  # integers are never NaN (and may not fit a float)
        return False
    if isinstance(v, numbers.Real):
        try:
            return math.isnan(v)
        except (OverflowError, TypeError, ValueError):
            return False
    return False


class _NotALabel(Exception):
    """A cell that cannot be a label; the message ends the sentence "The label in column 'y' at row 3 ..."."""


def _label_str(v: Any) -> str | None:
    """One cell's label as a string, stripped, lone surrogates replaced; None when missing."""
    if is_missing_cell(v):
        return None
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, numbers.Integral) or isinstance(v, numbers.Real) and float(v).is_integer():
        text = _digits(int(v))
    else:
        text = str(v)
    return _SURROGATE.sub("\ufffd", text.strip())


def _digits(n: int) -> str:
    try:
        return str(n)
    except ValueError:  # more digits than Python writes out (4,300 by default)
        raise _NotALabel(f"is an integer of about {n.bit_length() * 0.30103:,.0f} digits, too long to be a class "
                         "name. Check that you chose the right label column.") from None


def _label_set(v: Any, delimiter: str | None) -> list[str] | None:
    """One multi-label cell as a list of distinct labels; None when the cell is missing."""
    if isinstance(v, _LIST_TYPES):
        items = list(np.asarray(v, dtype=object).ravel()) if isinstance(v, np.ndarray) else list(v)
    elif is_missing_cell(v):
        return None
    elif isinstance(v, str) and delimiter is not None:
        items = v.split(delimiter)
    else:
        items = [v]
    if any(isinstance(x, (_LIST_TYPES, Mapping)) for x in items):
        raise _NotALabel(f"is a list holding a list or an object: {_shown(v)}. A multi-label cell is a flat list "
                         "of labels such as [\"a\", \"b\"].")
    out = (_label_str(x) for x in items)
    return list(dict.fromkeys(s for s in out if s is not None))


def _shown(cell: Any, limit: int = 60) -> str:
    text = repr(cell)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def sorted_classes(classes: set[str]) -> list[str]:
    """Sort numerically when every class reads as a number, else as strings."""
    if classes and all(_NUMBER.match(c) for c in classes):
        return sorted(classes, key=lambda c: (float(c), c))
    return sorted(classes)
