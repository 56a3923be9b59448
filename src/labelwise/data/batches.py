"""Read a labelled table in record batches, for tables larger than memory.

Sources: a Parquet file, a folder of Parquet files (a Parquet dataset, read with ``pyarrow.dataset``; its files in
sorted path order), or a CSV/TSV file (pyarrow's streaming CSV reader, with the ``encoding`` and ``sep`` of
:func:`labelwise.data.io.read_table`). Only the label and text columns are read. JSON Lines is not streamed.

The checks are those of :func:`labelwise.data.load_labelled_table`, made per batch with its messages: a column
missing from a file (the file is named), labels that are lists or objects, missing labels (all of them are
counted before the error), fewer than two classes, numeric labels that are a quantity, a text column empty or
constant in every row. Row numbers in messages are 0-based rows of the file named (a CSV file's line is given too).

Differences from the in-memory reader, both from reading column by column without pandas' type inference over the
whole file: CSV label and text cells are read as text with pandas' missing-value markers; a label written as a whole
number (``"7"``, ``"7.0"``, ``"007"``) is read as that integer, as pandas reads a numeric column.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np
import pandas as pd

from labelwise.data.dataset import (
    TEXT_SEPARATOR, _check_columns, _text, continuous_labels_error, useless_text_error,
)
from labelwise.data.io import (
    DELIMITED_FORMATS, _byte_order, _check_encoding, _check_header_separator, _check_separator, table_format,
)
from labelwise.data.labels import (
    check_two_classes, is_missing_cell, label_cells, missing_labels_error, resolve_multi_label, sorted_classes,
)
from labelwise.errors import DataError

__all__ = ["TableBatches", "LabelScan", "Batch", "source_files"]

_WHOLE_NUMBER = re.compile(r"^\s*[+-]?\d+(\.0*)?\s*$")
_STREAMED = ("parquet",) + DELIMITED_FORMATS


def source_files(source) -> tuple[list[Path], str]:
    """The files of ``source`` and their format: ``([file], fmt)`` for a file, the sorted ``.parquet``/``.pq`` files of
    a folder (a Parquet dataset). DataError for a missing path, an empty folder, or a format that is not streamed."""
    path = Path(os.fspath(source))
    if path.is_dir():
        import pyarrow.dataset as ds

        try:
            files = sorted(Path(f) for f in ds.dataset(str(path), format="parquet",
                                                        exclude_invalid_files=False).files)
        except (OSError, ValueError) as exc:
            raise DataError(f"Cannot read the Parquet dataset in {path}: {exc}.") from None
        files = [f for f in files if f.suffix.lower() in (".parquet", ".pq")]
        if not files:
            raise DataError(f"{path} is a folder without .parquet files. Give a Parquet dataset folder, or a CSV, "
                            "TSV or Parquet file.")
        return files, "parquet"
    if not path.exists():
        raise DataError(f"File not found: {path}. Check the path and the spelling of the file name.")
    fmt = table_format(path)
    if fmt not in _STREAMED:
        raise DataError(f"{path} is {fmt}, which the out-of-core audit does not read in batches; convert it to "
                        "Parquet (or CSV), or audit it in memory (drop --out-of-core).")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes). Check that you passed the right file and that it was fully "
                        "written.")
    return [path], fmt


@dataclass
class Batch:
    """One record batch: ``source`` (the file), ``first_row`` (its first row's 0-based number in that file),
    ``start`` (in the whole table), ``labels``: (m,) label cells, ``texts``: (m,) joined text (None without text
    columns)."""

    source: str
    first_row: int
    start: int
    labels: list
    texts: Optional[list[str]]

    def __len__(self) -> int:
        return len(self.labels)


class TableBatches:
    """The label and text columns of a table read ``batch_rows`` rows at a time (see the module docstring).

    Iterating gives :class:`Batch` objects in table order; iterate again for another pass. ``fingerprint()`` names the
    files and their sizes and modification times, so a resumed run can tell the input has not changed.
    """

    def __init__(self, source, *, label: str, text: Sequence[str] = (), batch_rows: int = 65_536,
                 encoding: Optional[str] = None, sep: Optional[str] = None):
        self.source = str(source)
        self.files, self.format = source_files(source)
        self.label, self.text = label, list(text)
        self.batch_rows = max(int(batch_rows), 1)
        self.encoding = self.separator = None
        if self.format in DELIMITED_FORMATS:
            self.encoding = _byte_order(self.files[0], _check_encoding(encoding))
            self.separator = _check_separator(sep, self.format, self.files[0])
            if sep is None:
                _check_header_separator(self.files[0], self.separator, self.encoding)
        elif sep is not None:
            _check_separator(sep, self.format, self.files[0])  # refuses --sep for Parquet

    @property
    def columns(self) -> list[str]:
        return [self.label] + self.text

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for f in self.files:
            st = f.stat()
            h.update(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        h.update(repr((self.columns, self.encoding, self.separator)).encode())
        return h.hexdigest()[:32]

    def __iter__(self) -> Iterator[Batch]:
        import pyarrow as pa

        start = 0
        for f in self.files:
            first = 0
            for record_batch in self._record_batches(f):
                batch = self._batch(record_batch, str(f), first, start)
                del record_batch
                pa.default_memory_pool().release_unused()  # Arrow's allocator would keep freed batches a while
                first += len(batch)
                start += len(batch)
                yield batch

    def _record_batches(self, path: Path):
        import pyarrow as pa

        if self.format == "parquet":
            import pyarrow.parquet as pq

            try:
                reader = pq.ParquetFile(path)
            except (pa.ArrowException, OSError) as exc:
                raise DataError(f"Cannot read {path} as Parquet: {exc}. Check that the file is complete.") from None
            self._check_columns(reader.schema_arrow.names, path)
            yield from reader.iter_batches(batch_size=self.batch_rows, columns=self.columns)
            return
        yield from self._csv_batches(path)

    def _csv_batches(self, path: Path):
        import pyarrow as pa
        import pyarrow.csv as pcsv
        from pandas._libs.parsers import STR_NA_VALUES

        read_enc = "utf8" if self.encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig") \
            else self.encoding
        try:
            reader = pcsv.open_csv(
                path,
                read_options=pcsv.ReadOptions(encoding=read_enc, block_size=_block_bytes(self.batch_rows)),
                parse_options=pcsv.ParseOptions(delimiter=self.separator, newlines_in_values=True),
                convert_options=pcsv.ConvertOptions(
                    column_types={c: pa.string() for c in self.columns}, include_columns=None,
                    null_values=sorted(STR_NA_VALUES), strings_can_be_null=True),
            )
            self._check_columns(reader.schema.names, path)
            for record_batch in reader:
                yield record_batch.select(self.columns)
        except UnicodeError:
            from labelwise.data.io import _decode_error

            raise _decode_error(path, self.encoding) from None
        except pa.ArrowInvalid as exc:
            raise DataError(f"Cannot parse {path} as {self.format.upper()}: {exc}. Check the file's quoting and "
                            "separators (--sep).") from None

    def _check_columns(self, names: list[str], path: Path) -> None:
        _check_columns(pd.DataFrame(columns=names), str(path), self.label, self.text, [], None)

    def _batch(self, record_batch, source: str, first: int, start: int) -> Batch:
        labels = record_batch.column(0).to_pylist()
        if self.format in DELIMITED_FORMATS:
            labels = [_as_number(v) for v in labels]
        texts = None
        if self.text:
            columns = [record_batch.column(i + 1).to_pylist() for i in range(len(self.text))]
            texts = [TEXT_SEPARATOR.join(p for p in map(_text, cells) if p) for cells in zip(*columns)]
        return Batch(source, first, start, labels, texts)


def _block_bytes(batch_rows: int) -> int:
    """CSV block size for about ``batch_rows`` rows of a few hundred bytes (pyarrow reads a block at a time)."""
    return int(min(max(batch_rows * 256, 1 << 16), 1 << 28))


def _as_number(v):
    """A CSV label cell written as a whole number becomes that int, as pandas reads a numeric column."""
    if isinstance(v, str) and _WHOLE_NUMBER.match(v):
        return int(float(v)) if "." in v else int(v)
    return v


@dataclass
class LabelScan:
    """The first pass over a table's batches: the sorted classes, rows per class, the missing labels, and the checks
    of :func:`labelwise.data.load_labelled_table` (see the module docstring). ``update(batch)`` per batch, then
    ``finish()`` raises the table-wide errors and returns the classes.
    """

    label: str
    text: list[str] = field(default_factory=list)
    drop_missing: bool = False
    n_rows: int = 0
    counts: dict = field(default_factory=dict)
    missing: list = field(default_factory=list)  # (source, first row in that file, rows) of missing labels
    numeric: bool = True
    examples: list = field(default_factory=list)
    _text_value: object = None  # the one text seen so far (None: none yet), or _VARIED
    sources: list = field(default_factory=list)

    def update(self, batch: Batch) -> None:
        values = pd.Series(batch.labels, dtype=object)
        ids = np.arange(batch.first_row, batch.first_row + len(batch), dtype=np.int64)
        resolve_multi_label(values, False, None, name=self.label, source=batch.source, row_ids=ids)
        cells = label_cells(values, False, None, name=self.label, source=batch.source, row_ids=ids)
        gone = [i for i, c in enumerate(cells) if c is None]
        if gone:
            self.missing.append((batch.source, ids[gone]))
        for v in batch.labels:
            if is_missing_cell(v):
                continue
            if self.numeric and (isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number))):
                self.numeric = False
            if len(self.examples) < 3:
                self.examples.append(v)
        for c in cells:
            if c is not None:
                self.counts[c] = self.counts.get(c, 0) + 1
        if batch.texts is not None:
            for t in batch.texts:
                if t and self._text_value is not _VARIED:
                    self._text_value = t if self._text_value is None else (
                        self._text_value if t == self._text_value else _VARIED)
        if batch.source not in self.sources:
            self.sources.append(batch.source)
        self.n_rows += len(batch)

    @property
    def n_missing(self) -> int:
        return sum(len(rows) for _, rows in self.missing)

    def finish(self, source: str) -> list[str]:
        """The sorted classes; raises DataError as the in-memory loader would (named after ``source``)."""
        if self.n_rows == 0:
            raise DataError(f"{source} has no data rows. Add labelled rows, or check that you passed the right "
                            "path.")
        if self.missing and not self.drop_missing:
            where, rows = self.missing[0]
            if len({s for s, _ in self.missing}) == 1:
                raise missing_labels_error(self.label, np.concatenate([r for _, r in self.missing]).tolist(), where,
                                           self.n_rows)
            raise DataError(f"Label column '{self.label}' has {self.n_missing} missing labels of {self.n_rows} in "
                            f"{len({s for s, _ in self.missing})} files, the first at row {rows[0]} of {where}. Fill "
                            "them in, or drop those rows with --drop-missing (CLI) / drop_missing=True (library).")
        if self.n_missing == self.n_rows:
            raise DataError(f"Every one of the {self.n_rows} labels in column '{self.label}' of {source} is missing, "
                            "so no rows are left after dropping them. Check that you chose the right label column.")
        if self.numeric:
            error = continuous_labels_error(self.label, source, len(self.counts), self.n_rows - self.n_missing,
                                            self.examples)
            if error is not None:
                raise error
        classes = sorted_classes(set(self.counts))
        check_two_classes(classes, self.label, self.n_rows)
        if self.text and self._text_value is not _VARIED:
            raise useless_text_error(" | ".join(self.text) if len(self.text) > 1 else self.text[0], source,
                                     self._text_value)
        return classes


_VARIED = object()
