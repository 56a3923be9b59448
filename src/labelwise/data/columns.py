"""What a column holds (free text, categories, numbers, an identifier), read from its values, not its type.

A CSV gives every column of words the same type (``object``), so the type cannot tell a sentence from a
category. The values can, by four signals computed on the non-missing cells:

- ``mean_words``: words per value (runs of letters or digits). A sentence has several; a category name one or two.
- ``spaced_share``: the share of values with whitespace inside them. Free text is written in words.
- ``distinct_ratio``: distinct values / non-missing values. A category repeats a few levels; text rarely repeats.
- ``n_distinct``: the distinct values themselves. One-hot encoding keeps at most :data:`MAX_CATEGORIES` of them
  (:class:`labelwise.features.TabularEncoder`), so a column with many more cannot be a category the model can use.
- ``mean_length`` (characters) is measured and shown, but does not decide: a long code without spaces is not text,
  and a three-word sentence is.

The kinds, decided in this order:

``empty``     no value, or only empty strings;
``constant``  one value in every row (two rows or more);
``numeric``   numbers (bools are categories);
``id``        a row number (consecutive integers, every value different) or, for strings, every value different
              and not text (codes, keys, names): it names a row and says nothing about its label;
``text``      words: ``mean_words >= TEXT_MIN_WORDS`` and ``spaced_share >= TEXT_MIN_SPACED``, with at least
              ``TEXT_MIN_DISTINCT`` distinct values, which are either most of the rows (``distinct_ratio >=
              TEXT_MIN_DISTINCT_RATIO``) or more than one-hot can hold (``n_distinct > MAX_CATEGORIES``);
``category``  everything else: a few repeated levels, however long their names (``"Neither agree nor disagree"``).

Identifier checks need :data:`ID_MIN_ROWS` rows: in a handful of rows every value is different by chance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Hashable, Iterable

import numpy as np
import pandas as pd

EMPTY, CONSTANT, NUMERIC, ID, TEXT, CATEGORY = "empty", "constant", "numeric", "id", "text", "category"

#: Words per value, on average, from which a column of strings reads as sentences rather than names.
TEXT_MIN_WORDS = 3.0
#: Share of values with whitespace inside them, from which a column is written in words.
TEXT_MIN_SPACED = 0.5
#: Distinct values / values, from which repeated values are the exception (text), not the rule (categories).
TEXT_MIN_DISTINCT_RATIO = 0.5
#: Fewer distinct values than this are a handful of levels, however long their names.
TEXT_MIN_DISTINCT = 10
#: One-hot columns :class:`labelwise.features.TabularEncoder` keeps per categorical column (its ``max_categories``).
MAX_CATEGORIES = 50
#: Rows needed before "every value is different" says identifier rather than chance.
ID_MIN_ROWS = 20

_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class ColumnProfile:
    """A column's kind and the signals it was decided from (over non-missing cells; strings stripped)."""

    name: Any
    kind: str
    n_values: int
    n_distinct: int
    mean_words: float = 0.0
    spaced_share: float = 0.0
    mean_length: float = 0.0

    @property
    def distinct_ratio(self) -> float:
        """Distinct values / non-missing values (0 for an empty column)."""
        return self.n_distinct / self.n_values if self.n_values else 0.0

    def describe(self) -> str:
        """The evidence in a few words, e.g. ``"12.3 words per value, 98% distinct"``."""
        if self.kind in (EMPTY, CONSTANT, NUMERIC):
            return self.kind
        return f"{self.mean_words:.1f} words per value, {self.distinct_ratio:.0%} distinct"


def profile_column(values: pd.Series, name: Hashable = None) -> ColumnProfile:
    """The kind of the column ``values`` ((n,) cells of any type) with its signals; see the module's docstring."""
    name = values.name if name is None else name
    present = values[values.notna()] if len(values) else values
    if pd.api.types.is_bool_dtype(values.dtype):
        n_distinct = int(present.nunique())
        kind = EMPTY if not len(present) else CONSTANT if n_distinct == 1 and len(present) > 1 else CATEGORY
        return ColumnProfile(name, kind, len(present), n_distinct)
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = present.to_numpy(dtype=np.float64)
        n_distinct = int(np.unique(numbers).size)
        if not numbers.size:
            kind = EMPTY
        elif n_distinct == 1 and numbers.size > 1:
            kind = CONSTANT
        elif _row_number(numbers, n_distinct):
            kind = ID
        else:
            kind = NUMERIC
        return ColumnProfile(name, kind, int(numbers.size), n_distinct)
    cells = present.map(_as_text)
    cells = cells[cells != ""]
    if not len(cells):
        return ColumnProfile(name, EMPTY, 0, 0)
    n, n_distinct = len(cells), int(cells.nunique())
    words = float(cells.str.count(_WORD).mean())
    spaced = float(cells.str.contains(_SPACE).mean())
    length = float(cells.str.len().mean())
    if n_distinct == 1 and n > 1:
        kind = CONSTANT
    elif (words >= TEXT_MIN_WORDS and spaced >= TEXT_MIN_SPACED and n_distinct >= TEXT_MIN_DISTINCT
          and (n_distinct / n >= TEXT_MIN_DISTINCT_RATIO or n_distinct > MAX_CATEGORIES)):
        kind = TEXT
    elif n >= ID_MIN_ROWS and n_distinct == n:
        kind = ID
    else:
        kind = CATEGORY
    return ColumnProfile(name, kind, n, n_distinct, words, spaced, length)


def profile_columns(frame: pd.DataFrame, columns: Iterable[Hashable]) -> list[ColumnProfile]:
    """:func:`profile_column` for each of ``columns`` of ``frame``, in order."""
    return [profile_column(frame[c], c) for c in columns]


def _row_number(numbers: np.ndarray, n_distinct: int) -> bool:
    """Consecutive integers, each once: a row number or a running id."""
    if numbers.size < ID_MIN_ROWS or n_distinct != numbers.size or not np.all(np.isfinite(numbers)):
        return False
    if not np.all(numbers == np.round(numbers)):
        return False
    return bool(numbers.max() - numbers.min() == numbers.size - 1)


def _as_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value).strip()
