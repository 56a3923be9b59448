"""Say where a row is, the same way in every message.

Convention, used by every error in :mod:`labelwise.data`:

- ``row N`` is the 0-based number of the data row in the input as read (the header is not a row), the same number
  as ``LabelledTable.row_ids`` and as the row's position in ``pandas.read_csv(...)``.
- For CSV/TSV files the message adds the file line, ``N + 2`` (1-based, counting the header line); for JSON Lines,
  ``N + 1``. These line numbers assume one row per line: a cell holding a quoted line break, or a blank line,
  shifts the real line further down.
- Parquet files and DataFrames have no lines; only the row is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath

DATAFRAME_SOURCE = "<DataFrame>"

_HEADER_LINES = {".csv": 2, ".tsv": 2, ".tab": 2, ".jsonl": 1, ".ndjson": 1, ".json": 1}


def line_offset(source: str) -> int | None:
    """How much to add to a 0-based data row to get its 1-based file line; ``None`` when the source has no lines."""
    if source == DATAFRAME_SOURCE:
        return None
    return _HEADER_LINES.get(PurePath(source).suffix.lower())


def describe_row(source: str, row: int) -> str:
    """``"row 5 (line 7 of train.csv)"``, ``"row 5 of data.parquet"`` or ``"row 5"`` for a DataFrame."""
    row = int(row)
    offset = line_offset(source)
    if offset is not None:
        return f"row {row} (line {row + offset} of {source})"
    if source == DATAFRAME_SOURCE:
        return f"row {row}"
    return f"row {row} of {source}"


def describe_rows(source: str, rows: Sequence[int], *, limit: int = 10) -> str:
    """Name up to ``limit`` rows and say how many there are in total.

    ``"rows 3, 8 (lines 5, 10 of train.csv)"``; ``"rows 0, 1, ... 9 and 5 more (15 in total)"``.
    """
    rows = [int(r) for r in rows]
    shown = rows[:limit]
    offset = line_offset(source)
    noun = "row" if len(rows) == 1 else "rows"
    text = f"{noun} " + ", ".join(str(r) for r in shown)
    if len(rows) > limit:
        text += f" and {len(rows) - limit} more ({len(rows)} in total)"
    if offset is not None:
        lnoun = "line" if len(shown) == 1 else "lines"
        more = ", ..." if len(rows) > limit else ""
        text += f" ({lnoun} " + ", ".join(str(r + offset) for r in shown) + f"{more} of {source})"
    elif source != DATAFRAME_SOURCE:
        text += f" of {source}"
    return text
