"""A labelled table: the user's rows, their encoded labels, and which columns are inputs.

Row numbers in every message follow :mod:`labelwise.data.locate`: ``row N`` is the 0-based data row of the input as
read (the header is not a row); for CSV/TSV files the message adds ``line N + 2`` of the file (counting the header
line), for JSON Lines ``line N + 1``. ``LabelledTable.row_ids`` uses the same numbering, so results can be joined
back onto the user's file even after rows with missing labels were dropped.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labelwise.data.columns import CONSTANT, EMPTY, ID, TEXT, profile_column, profile_columns
from labelwise.data.io import TableSource, read_table
from labelwise.data.labels import (
    LabelColumn,
    encode_column,
    is_missing_cell,
    missing_labels_error,
    missing_mask_scalar,
    resolve_multi_label,
)
from labelwise.data.locate import DATAFRAME_SOURCE, describe_row
from labelwise.errors import DataError, ParameterError

TEXT_SEPARATOR = " | "
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(repr=False)
class LabelledTable:
    """The rows kept from a user's table, with their labels and the roles of the columns.

    Attributes
    ----------
    frame: the kept rows, all columns, index reset to ``0..n-1``.
    labels: the encoded label column, ``n`` rows.
    row_ids: ``(n,) int64``, the 0-based row of each kept row in the original input.
    text_columns: columns holding text to embed (joined with ``" | "`` when several).
    feature_columns: columns used as tabular features.
    embedding_column: column holding a precomputed embedding per row, or None.
    source: the path as given, or ``"<DataFrame>"``.
    n_input_rows: rows in the input before rows with missing labels were dropped (None: same as n).
    notes: what was decided for the user (e.g. which column was taken as the text), one line each.
    """

    frame: pd.DataFrame
    labels: LabelColumn
    row_ids: np.ndarray
    text_columns: list[str] = field(default_factory=list)
    feature_columns: list[str] = field(default_factory=list)
    embedding_column: str | None = None
    source: str = DATAFRAME_SOURCE
    n_input_rows: int | None = None
    notes: list[str] = field(default_factory=list)
    _embeddings: np.ndarray | None = field(default=None, init=False, compare=False)

    def __len__(self) -> int:
        """n, the number of kept rows."""
        return len(self.frame)

    def texts(self) -> list[str]:
        """``(n,)`` one string per row: the text columns' values joined with ``" | "``.

        Missing cells (NaN/None) become ``""`` and are left out of the join, so ``("title", NaN)`` gives
        ``"title"``. Non-string cells are converted with ``str``; a lone surrogate (half a character) becomes U+FFFD,
        so every text can be encoded, tokenised and written as UTF-8.
        """
        if not self.text_columns:
            raise DataError(
                f"No text columns were chosen for {self.source}. Name them with --text (CLI) / text= (library)."
            )
        columns = [self.frame[c].tolist() for c in self.text_columns]
        out: list[str] = []
        for cells in zip(*columns):
            parts = [_text(c) for c in cells]
            out.append(TEXT_SEPARATOR.join(p for p in parts if p))
        return out

    def embeddings(self) -> np.ndarray:
        """``(n, d) float32`` from the embedding column: cells hold lists/arrays or JSON strings ``"[0.1, 0.2]"``."""
        if self.embedding_column is None:
            raise DataError(
                f"No embedding column was chosen for {self.source}. Name it with --embeddings (CLI) / "
                "embeddings= (library)."
            )
        if self._embeddings is None:
            self._embeddings = parse_embeddings(
                self.frame[self.embedding_column], column=self.embedding_column, source=self.source,
                row_ids=self.row_ids,
            )
        return self._embeddings

    def __repr__(self) -> str:
        roles = []
        if self.text_columns:
            roles.append(f"text={self.text_columns}")
        if self.feature_columns:
            shown = self.feature_columns[:5] + (["..."] if len(self.feature_columns) > 5 else [])
            roles.append(f"features={shown} ({len(self.feature_columns)})")
        if self.embedding_column is not None:
            roles.append(f"embeddings={self.embedding_column!r}")
        return f"LabelledTable({self.source!r}, n={len(self)}, {self.labels!r}, {', '.join(roles)})"


def load_labelled_table(
    source: TableSource,
    *,
    label: str,
    text: list[str] | str | None = None,
    features: list[str] | None = None,
    embeddings: str | None = None,
    multi_label: bool | None = None,
    delimiter: str | None = None,
    drop_missing: bool = False,
    encoding: str | None = None,
    sep: str | None = None,
) -> LabelledTable:
    """Read a table and check it is usable as labelled data.

    Parameters
    ----------
    source: a CSV/TSV/Parquet/JSON Lines path, or a DataFrame (see :func:`labelwise.data.read_table`).
    label: the label column.
    text: text column(s); several are joined with ``" | "`` by :meth:`LabelledTable.texts`.
    features: tabular feature columns.
    embeddings: a column of precomputed embeddings (lists, arrays or JSON strings), validated here.
    multi_label, delimiter: see :func:`labelwise.data.encode_labels`.
    drop_missing: drop rows whose label is missing instead of refusing them; ``row_ids`` records the rows kept.
    encoding: text encoding of the file (default UTF-8); sep: field separator of a CSV/TSV file (default: the
    format's).

    When none of ``text``, ``features`` and ``embeddings`` is given, the columns are read by
    :mod:`labelwise.data.columns`: one column of free text is the text (a note in ``notes`` says so); several stop
    with a DataError naming them; without one, every other column is a feature except identifiers (a row number, or
    a different string in every row) and columns holding lists or objects (dicts).

    Row numbers in messages: ``row N`` is the 0-based data row; for CSV/TSV files the file line ``N + 2`` (counting
    the header) is given too, for JSON Lines ``N + 1``.

    Raises
    ------
    DataError: the file cannot be read, a named column does not exist (close matches are suggested), the label
    column is also named as an input or appears twice, labels are missing (and ``drop_missing`` is False), fewer than
    two classes, a label cell is an object (dict), a feature column holds lists or objects, or an embedding cell is
    malformed; a text column is empty or holds one value in every row; the labels are numbers with a different value
    in most rows (a quantity to regress on, not classes).
    """
    frame = read_table(source, encoding=encoding, sep=sep)
    src = DATAFRAME_SOURCE if isinstance(source, pd.DataFrame) else str(source)

    text_cols = _as_list(text)
    feature_cols = _as_list(features)
    _check_columns(frame, src, label, text_cols, feature_cols, embeddings)
    for col in feature_cols:
        _check_feature_column(frame[col], col, src)
    notes: list[str] = []
    if not text_cols and not feature_cols and embeddings is None:
        text_cols, feature_cols, notes = _default_inputs(frame, label, src)
    for col in text_cols:
        _check_text_column(frame[col], col, src)

    values = frame[label]
    is_multi = resolve_multi_label(values, multi_label, delimiter, name=str(label), source=src)
    missing = missing_mask_scalar(values)  # an empty list is a row with no labels, not a missing one
    if missing.any():
        if not drop_missing:
            raise missing_labels_error(str(label), np.flatnonzero(missing).tolist(), src, len(values))
        if missing.all():
            raise DataError(
                f"Every one of the {len(values)} labels in column '{label}' of {src} is missing, so no rows are "
                "left after dropping them. Check that you chose the right label column."
            )
    if not is_multi:
        _check_not_continuous(values[~missing], label, src)
    row_ids = np.flatnonzero(~missing).astype(np.int64)
    kept = frame.iloc[row_ids].reset_index(drop=True) if missing.any() else frame.reset_index(drop=True)

    labels = encode_column(
        kept[label], multi_label=is_multi, delimiter=delimiter, name=str(label), source=src, row_ids=row_ids
    )
    table = LabelledTable(
        frame=kept,
        labels=labels,
        row_ids=row_ids,
        text_columns=text_cols,
        feature_columns=feature_cols,
        embedding_column=embeddings,
        source=src,
        n_input_rows=len(frame),
        notes=notes,
    )
    if embeddings is not None:
        table.embeddings()  # validate at the door; cached for later calls
    return table


def parse_embeddings(
    values: pd.Series, *, column: str, source: str = DATAFRAME_SOURCE, row_ids: np.ndarray | None = None
) -> np.ndarray:
    """``(n, d) float32`` from cells holding lists/arrays of numbers or JSON strings of them.

    ``row_ids`` maps positions to the rows named in messages. Raises DataError naming the first row that is missing,
    unparsable, not a flat list of finite numbers, or of a different length than the first row.
    """
    ids = np.arange(len(values), dtype=np.int64) if row_ids is None else np.asarray(row_ids, dtype=np.int64)
    how = "Each cell must be a list of numbers such as [0.1, 0.2], or a JSON string of one."
    rows: list[np.ndarray] = []
    width: int | None = None
    for i, cell in enumerate(values.tolist()):
        where = f"column '{column}' {describe_row(source, ids[i])}"
        if not isinstance(cell, (list, tuple, np.ndarray)) and is_missing_cell(cell):
            raise DataError(f"The embedding in {where} is missing. Every row needs one: compute it, or remove the row.")
        vec = _embedding_cell(cell)
        if vec is None:
            shown = repr(cell) if len(repr(cell)) <= 60 else repr(cell)[:57] + "..."
            raise DataError(f"The embedding in {where} is not a list of numbers: {shown}. {how}")
        if not np.isfinite(vec).all():
            raise DataError(f"The embedding in {where} contains NaN or infinite values. Recompute that embedding.")
        if width is None:
            width = vec.shape[0]
            if width == 0:
                raise DataError(f"The embedding in {where} is empty. {how}")
        elif vec.shape[0] != width:
            raise DataError(
                f"The embedding in {where} has {vec.shape[0]} numbers but the first row has {width}; every "
                "embedding must have the same length. Recompute the embeddings with one model."
            )
        rows.append(vec)
    return np.stack(rows).astype(np.float32, copy=False)


def _embedding_cell(cell: Any) -> np.ndarray | None:
    """One cell as a 1-D float32 vector, or None when it is not a flat list of numbers."""
    if isinstance(cell, str):
        try:
            cell = json.loads(cell)
        except (ValueError, RecursionError):  # not JSON, an integer too long to read, or nested too deeply
            return None
    if not isinstance(cell, (list, tuple, np.ndarray)):
        return None
    try:
        vec = np.asarray(cell, dtype=np.float32)
    except (TypeError, ValueError, OverflowError):
        return None
    return vec if vec.ndim == 1 else None


def _text(cell: Any) -> str:
    if not isinstance(cell, str):
        if is_missing_cell(cell):
            return ""
        cell = str(cell)
    return _SURROGATE.sub("\ufffd", cell)


_NESTED = (list, tuple, np.ndarray, set, frozenset, dict)


def _nested_row(values: pd.Series) -> int | None:
    """The first row holding a list, array or object (dict), or None; only object columns can."""
    if values.dtype != object:
        return None
    return next((i for i, v in enumerate(values) if isinstance(v, _NESTED)), None)


def _check_feature_column(values: pd.Series, col: Any, source: str) -> None:
    row = _nested_row(values)
    if row is not None:
        kind = "an object (dict)" if isinstance(values.iloc[row], dict) else "a list"
        raise DataError(
            f"Feature column '{col}' holds {kind} at {describe_row(source, row)}; a feature is a number or a category. "
            "Pass a column of vectors with --embeddings (CLI) / embeddings= (library), text with --text / text=, "
            "or leave the column out."
        )


def _default_features(frame: pd.DataFrame, label: Hashable, source: str) -> list[Any]:
    """Every column but the label that can be a feature: columns of lists or objects (dicts) are left out."""
    others = [c for c in frame.columns if c != label]
    repeated = sorted({str(c) for c in others if others.count(c) > 1})
    if repeated:
        raise DataError(
            f"{source} has more than one column named {', '.join(map(repr, repeated))}. Rename the duplicates so each "
            "name is unique, or name the columns to use with --text / --features (CLI) or text= / features= (library)."
        )
    usable = [c for c in others if _nested_row(frame[c]) is None]
    if not usable:
        what = "nothing else" if not others else "only columns of lists or objects besides it"
        raise DataError(
            f"{source} has only the label column '{label}' and {what}, nothing to learn from. Add text or feature "
            "columns, or name them with --text / --features / --embeddings (CLI)."
        )
    return usable


def _default_inputs(frame: pd.DataFrame, label: Hashable, source: str) -> tuple[list[Any], list[Any], list[str]]:
    """(text columns, feature columns, notes) when the user named neither: see :func:`load_labelled_table`."""
    profiles = profile_columns(frame, _default_features(frame, label, source))
    texts = [p for p in profiles if p.kind == TEXT]
    if len(texts) > 1:
        listing = "; ".join(f"'{p.name}' ({p.describe()})" for p in texts)
        raise DataError(
            f"{source} has {len(texts)} columns that look like free text: {listing}. Name the text to embed with "
            "--text COLUMN (repeat it to join several; text= in Python), or the category and number columns to use "
            "with --features (features=)."
        )
    if texts:
        chosen = texts[0]
        others = [str(p.name) for p in profiles if p is not chosen and p.kind not in (ID, EMPTY, CONSTANT)]
        left_out = f"; left out: {', '.join(others)} (add them with --features)" if others else ""
        return [chosen.name], [], [
            f"column '{chosen.name}' looks like free text ({chosen.describe()}), so it is the text to embed, as with "
            f"--text {chosen.name}{left_out}. Pass --text or --features to choose the columns yourself."
        ]
    ids = [p for p in profiles if p.kind == ID]
    features = [p.name for p in profiles if p.kind != ID]
    if not features:
        raise DataError(
            f"Every column of {source} but the label looks like an identifier (a different value in every row: "
            f"{', '.join(str(p.name) for p in ids)}), which says nothing about a label. Name the columns to learn "
            "from with --text / --features (text= / features= in Python)."
        )
    notes = [f"left out {', '.join(repr(str(p.name)) for p in ids)}: a different value in every row, an identifier "
             "rather than a feature (name it with --features to use it anyway)."] if ids else []
    return [], features, notes


def _check_text_column(values: pd.Series, col: Any, source: str) -> None:
    """A text column with nothing in it, or one value in every row, gives the model nothing to read."""
    profile = profile_column(values, col)
    if profile.kind in (EMPTY, CONSTANT):
        raise useless_text_error(col, source, None if profile.kind == EMPTY else values[values.notna()].iloc[0])


def useless_text_error(col: Any, source: str, only_value: Any = None) -> DataError:
    """The error for a text column that is empty in every row (``only_value`` None) or holds ``only_value`` in every
    row."""
    if only_value is None:
        return DataError(f"Text column '{col}' of {source} is empty in every row, so there is no text to learn from. "
                         "Check that --text names the column holding the text.")
    value = _text(only_value)
    shown = value if len(value) <= 40 else value[:37] + "..."
    return DataError(f"Text column '{col}' of {source} holds the same value {shown!r} in every row, so it says "
                     "nothing about the labels. Check that --text names the column holding the text.")


#: A label column of numbers with more distinct values than this, in most of its rows, is a quantity, not classes.
CONTINUOUS_MIN_DISTINCT = 20


def _check_not_continuous(values: pd.Series, label: Hashable, source: str) -> None:
    """Refuse numeric labels that differ in most rows (a price, a score): regression targets, not classes."""
    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return
    numbers = values.to_numpy(dtype=np.float64)
    error = continuous_labels_error(label, source, np.unique(numbers).size, numbers.size, numbers[:3])
    if error is not None:
        raise error


def continuous_labels_error(label: Hashable, source: str, n_distinct: int, n_rows: int, examples) -> DataError | None:
    """The error for numeric labels with ``n_distinct`` values in ``n_rows`` rows when that many make them a quantity,
    not classes (else None); ``examples``: the first few values."""
    if n_distinct <= CONTINUOUS_MIN_DISTINCT or n_distinct <= n_rows / 2:
        return None
    examples = ", ".join(f"{float(v):g}" for v in examples)
    return DataError(
        f"Label column '{label}' of {source} holds {n_distinct:,} different numbers in {n_rows:,} rows "
        f"(e.g. {examples}): a quantity to predict (regression), while labelwise audits class labels. Bin it into "
        f"classes first (e.g. pandas.cut(frame['{label}'], 5)), or pass the class column with --label."
    )


def _as_list(cols: Sequence[Hashable] | Hashable | None) -> list[Any]:
    if cols is None:
        return []
    if isinstance(cols, (str, bytes)) or not isinstance(cols, Sequence):
        return [cols]
    return list(cols)


def _check_columns(
    frame: pd.DataFrame,
    source: str,
    label: Hashable,
    text: list[Any],
    features: list[Any],
    embeddings: Hashable | None,
) -> None:
    named: list[tuple[str, Any]] = [("label", label)]
    named += [("text", c) for c in text] + [("feature", c) for c in features]
    if embeddings is not None:
        named.append(("embeddings", embeddings))
    existing = [str(c) for c in frame.columns]
    for role, col in named:
        if not isinstance(col, Hashable):
            raise ParameterError(f"A {role} column is named by a column name (a string); got {type(col).__name__} "
                                 f"{col!r}.")
        if col not in frame.columns:
            raise DataError(_unknown_column(col, role, source, existing))
        if not isinstance(frame[col], pd.Series):
            raise DataError(
                f"Column '{col}' appears more than once in {source}. Rename the duplicates so each name is unique."
            )
    seen: dict[Any, str] = {}
    for role, col in named:
        first = seen.get(col)
        if first == "label":
            raise DataError(
                f"Column '{col}' is the label column and cannot also be a {role} column. Remove it from "
                f"--{_PARAM[role]} (CLI) / {_PARAM[role]}= (library)."
            )
        if first == role:
            raise DataError(f"Column '{col}' is listed twice as a {role} column. List it once.")
        if first is not None:
            raise DataError(f"Column '{col}' is given both as a {first} and as a {role} column. Give it one role.")
        seen[col] = role


_PARAM = {"feature": "features", "text": "text", "embeddings": "embeddings", "label": "label"}


def _unknown_column(col: Any, role: str, source: str, existing: list[str]) -> str:
    where = "the DataFrame" if source == DATAFRAME_SOURCE else source
    close = difflib.get_close_matches(str(col), existing, n=3, cutoff=0.6)
    if not close:  # case-only differences score low with a short name; catch them too
        close = [c for c in existing if c.lower() == str(col).lower()]
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    shown = existing[:30]
    listing = ", ".join(repr(c) for c in shown) + (f", ... ({len(existing)} in all)" if len(existing) > 30 else "")
    return f"There is no {role} column '{col}' in {where}.{hint} The columns are: {listing}."
