"""Write a table back with one column edited, keeping every other value exactly as it was read.

pandas cannot do this: reading ``000000`` gives the number 0, ``NA`` and ``None`` become missing, ``FALSE`` a bool,
``94`` in a column with a gap the float 94.0, and writing them back gives ``0``, an empty cell, ``False``, ``94.0``.
So the file itself is rewritten, not a DataFrame:

- CSV and TSV: every record is split into its raw fields (quotes and all, RFC 4180 as pandas reads it) and written
  back field by field in the file's own encoding (a byte-order mark, line breaks, quoting, blank lines and quoted
  line breaks included). Only the label cells of changed rows are new; the added columns are appended (short
  records are padded with empty fields first, so the added columns line up).
- Parquet: the Arrow table is kept, schema and metadata included; the label column keeps its type unless a new label
  does not fit it (then it becomes text, and a note says so).
- JSON Lines: each object is parsed and written back with its keys in order (strings, nulls, nesting and integers
  exact; a float is written as the shortest text of the same number, so ``1.50`` comes back as ``1.5``).

A new label is spelled the way the file spells that class: when the audit read ``01234`` as class ``1234``, a row
relabelled to ``1234`` gets ``01234``. Text in the added columns can be neutralised against spreadsheet formula
injection (:mod:`labelwise.data.formula`), which the CSV and TSV writers do by default.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Optional, Sequence, Union

from labelwise.data.atomic import atomic_path
from labelwise.data.formula import neutralise
from labelwise.data.io import DELIMITED_FORMATS, separator_of, table_format
from labelwise.errors import DataError

PathLike = Union[str, "os.PathLike[str]"]
_CHUNK = 20_000  # records encoded and written at a time


@dataclass(frozen=True)
class LabelEdit:
    """How the written table differs from the one read.

    column:    the label column.
    given:     row -> the labels of the row's cell as the program read them (names, as text). Used only to spell a
               new label the way the file spells it.
    changed:   row -> the new labels, for the rows whose labels changed (0-based data rows).
    copy_as:   name of a copy of the label column as read, inserted right after it (None: no copy).
    added:     column name -> (row -> text): columns appended at the end; rows not listed are empty (CSV) or null.
    delimiter: joins several labels into one text cell.
    """

    column: str
    given: Mapping[int, Sequence[str]] = field(default_factory=dict)
    changed: Mapping[int, Sequence[str]] = field(default_factory=dict)
    copy_as: Optional[str] = None
    added: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    delimiter: str = "|"


def write_edited_table(source: PathLike, destination: PathLike, edit: LabelEdit, *, encoding: Optional[str] = None,
                       sep: Optional[str] = None, expected_rows: Optional[int] = None,
                       neutralise_added: bool = True) -> list[str]:
    """Write ``source`` to ``destination`` (atomically, same format) with ``edit`` applied; every other value is
    written back exactly as read. ``encoding``: of a text file (default UTF-8; a byte-order mark is kept); the copy
    is written in it too. ``sep``: the field separator of a CSV/TSV file, as read (default: the format's); the copy
    keeps it.
    ``expected_rows``: the number of data rows the table had when it was read before (a DataError if it changed).
    ``neutralise_added``: neutralise formula-like text in the added columns of CSV/TSV (OWASP's rule).

    Returns notes for the user (for example that the label column had to change its type).
    """
    source, destination = Path(os.fspath(source)), Path(os.fspath(destination))
    fmt = table_format(source)
    if table_format(destination) != fmt:
        raise DataError(f"{destination} must have the format of {source} ({fmt}).")
    if fmt in DELIMITED_FORMATS:
        return _write_delimited(source, destination, edit, separator_of(source, sep), encoding, expected_rows,
                                neutralise_added)
    if fmt == "parquet":
        return _write_parquet(source, destination, edit, expected_rows)
    return _write_json_lines(source, destination, edit, encoding, expected_rows)


# ------------------------------------------------------------------------------------------------ delimited


def _write_delimited(source, destination, edit, sep, encoding, expected_rows, neutralise_added) -> list[str]:
    text, bom, codec = _decode(source, encoding)
    notes: list[str] = []
    leading, header, header_end, records = _split(text, sep, source)
    names = [_unquote(f) for f in header]
    if edit.column not in names:
        raise DataError(f"{source} has no column {edit.column!r} to correct; its columns are {', '.join(names)}.")
    at, width = names.index(edit.column), len(names)
    spelling = _spellings(text, sep, source, at, edit)
    copy_as = _fresh(edit.copy_as, names) if edit.copy_as else None
    added: dict[str, Mapping[int, str]] = {}
    for name in edit.added:
        added[_fresh(name, names + list(added) + [copy_as])] = edit.added[name]

    def cell(value: str) -> str:
        value = _encodable(value, codec, notes)
        return '"' + value.replace('"', '""') + '"' if (sep in value or any(c in value for c in '"\r\n')) else value

    def label_cell(labels: Sequence[str]) -> str:
        return cell(edit.delimiter.join(spelling.get(str(label), str(label)) for label in labels))

    def added_cell(values: Mapping[int, str], row: int) -> str:
        value = values.get(row, "")
        return cell(neutralise(value) if neutralise_added else value)

    pieces = [leading + sep.join(header[:at + 1] + ([cell(copy_as)] if copy_as else []) + header[at + 1:]
                                 + [cell(name) for name in added]) + header_end]
    row = 0
    with atomic_path(destination) as tmp, open(tmp, "wb") as out:
        out.write(bom)
        encoder = codecs.getincrementalencoder(codec)()
        for fields, end in records:
            if _blank(fields):  # kept as it was; readers skip it
                pieces.append(fields[0] + end)
                continue
            if len(fields) > width:
                raise DataError(f"{source}: data row {row} has {len(fields)} fields, more than the header's {width}. "
                                "Give the table that was audited.")
            fields = fields + [""] * (width - len(fields))
            label = label_cell(edit.changed[row]) if row in edit.changed else fields[at]
            pieces.append(sep.join(fields[:at] + [label] + ([fields[at]] if copy_as else []) + fields[at + 1:]
                                   + [added_cell(values, row) for values in added.values()]) + end)
            row += 1
            if len(pieces) >= _CHUNK:
                out.write(encoder.encode("".join(pieces)))
                pieces = []
        out.write(encoder.encode("".join(pieces), final=True))
        _check_rows(source, row, expected_rows, edit)
    return notes


def _split(text: str, sep: str, source: Path):
    """(blank lines before the header, the header's raw fields, its line break, an iterator over the remaining
    records)."""
    records = _records(text, sep, source)
    leading = []
    for fields, end in records:
        if not _blank(fields):
            return "".join(leading), fields, end, records
        leading.append(fields[0] + end)
    raise DataError(f"{source} has no header line. Give the table that was audited.")


def _blank(fields: list[str]) -> bool:
    """A blank line, which pandas skips: one unquoted field of nothing but spaces or tabs."""
    return len(fields) == 1 and fields[0].strip(" \t") == ""


def _spellings(text: str, sep: str, source: Path, at: int, edit: LabelEdit) -> dict[str, str]:
    """class name -> the text the file uses for it (from a row whose single given label is that class), for the
    classes of the changed rows. Stops reading once each of them is found."""
    wanted = {str(label) for labels in edit.changed.values() for label in labels}
    out: dict[str, str] = {}
    if not wanted:
        return out
    row = 0
    for fields, _end in _split(text, sep, source)[3]:
        if _blank(fields):
            continue
        names = edit.given.get(row)
        if names is not None and len(names) == 1 and str(names[0]) in wanted and str(names[0]) not in out:
            out[str(names[0])] = _unquote(fields[at]) if at < len(fields) else ""
            if len(out) == len(wanted):
                break
        row += 1
    return out


def _records(text: str, sep: str, source: Path) -> Iterator[tuple[list[str], str]]:
    """Every record of delimited ``text``: its raw fields (each exactly as written, quotes included) and the line
    break that ends it ('' for a last line without one). A field that starts with a quote runs to its closing quote
    (``""`` inside is a quote); anywhere else a quote is an ordinary character. As pandas' parser reads it."""
    special = re.compile("[" + re.escape(sep) + "\r\n]")
    n, pos = len(text), 0
    while pos < n:
        end = text.find("\n", pos)
        stop = n if end < 0 else end
        line = text[pos:stop]
        crlf = line.endswith("\r")
        body = line[:-1] if crlf else line
        if '"' not in body and "\r" not in body:  # the common case: a line without quotes, split at once
            yield body.split(sep), ("\r" if crlf else "") + ("\n" if end >= 0 else "")
            pos = stop + 1
            continue
        fields, start = [], pos
        while True:
            after = start
            if text.startswith('"', start):
                after = start + 1
                while True:
                    closing = text.find('"', after)
                    if closing < 0:
                        raise DataError(f"{source} has a quote (\") that is never closed. Give the table that was "
                                        "audited.")
                    after = closing + 1
                    if not text.startswith('"', after):
                        break
                    after += 1
            found = special.search(text, after)
            if found is None:
                fields.append(text[start:])
                yield fields, ""
                return
            fields.append(text[start:found.start()])
            if text[found.start()] == sep:
                start = found.end()
                continue
            brk = "\r\n" if text.startswith("\r\n", found.start()) else text[found.start()]
            yield fields, brk
            pos = found.start() + len(brk)
            break


def _unquote(raw: str) -> str:
    """The value of a raw field: a quoted field without its quotes (``""`` -> ``"``), anything after the closing
    quote appended, as pandas reads it; an unquoted field as it is."""
    if not raw.startswith('"'):
        return raw
    out, i = [], 1
    while True:
        j = raw.find('"', i)
        if j < 0:
            return "".join(out) + raw[i:]
        out.append(raw[i:j])
        if raw.startswith('"', j + 1):
            out.append('"')
            i = j + 2
        else:
            return "".join(out) + raw[j + 1:]


def _decode(source: Path, encoding: Optional[str]) -> tuple[str, bytes, str]:
    """(text, byte-order mark, codec to write it back with): the BOM is kept exactly, and a UTF-16/32 file without
    one is written back in the byte order it was read in."""
    name = encoding or "utf-8"
    try:
        base = codecs.lookup(name).name
    except LookupError:
        raise DataError(f"Unknown text encoding {name!r}. Use a Python codec name such as utf-8 or latin-1.") from None
    raw = source.read_bytes()
    native = "le" if sys.byteorder == "little" else "be"
    boms = {"utf-8": [(codecs.BOM_UTF8, "utf-8")], "utf-8-sig": [(codecs.BOM_UTF8, "utf-8")],
            "utf-16": [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
            "utf-32": [(codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be")]}
    bom, codec = b"", {"utf-8-sig": "utf-8", "utf-16": f"utf-16-{native}", "utf-32": f"utf-32-{native}"}.get(base, base)
    for mark, marked in boms.get(base, []):
        if raw.startswith(mark):
            bom, codec = mark, marked
            break
    try:
        return raw[len(bom):].decode(codec), bom, codec
    except UnicodeDecodeError as err:
        raise DataError(f"Cannot decode {source} as {name} (byte offset {err.start + len(bom)}). Give the encoding "
                        "the table was audited with (--encoding).") from None


def _encodable(value: str, codec: str, notes: list[str]) -> str:
    """``value`` if the file's encoding can hold it, else with '?' for what it cannot (and a note)."""
    try:
        value.encode(codec)
        return value
    except UnicodeEncodeError:
        note = f"Some text typed in the app cannot be written in {codec}; those characters became '?'."
        if note not in notes:
            notes.append(note)
        return value.encode(codec, errors="replace").decode(codec)


# ------------------------------------------------------------------------------------------------- parquet


def _write_parquet(source, destination, edit, expected_rows) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    notes: list[str] = []
    try:
        parquet = pq.ParquetFile(source)
        table = parquet.read()
    except (OSError, pa.ArrowException) as err:
        raise DataError(f"Cannot read {source} as Parquet: {err}. Give the table that was audited.") from None
    schema = table.schema
    at = schema.get_field_index(edit.column)
    if at < 0:
        raise DataError(f"{source} has no column {edit.column!r} to correct; its columns are "
                        f"{', '.join(schema.names)}.")
    _check_rows(source, table.num_rows, expected_rows, edit)
    original = table.column(at)
    values = original.to_pylist()
    spelling: dict[str, object] = {}
    for row, names in edit.given.items():
        if row < len(values):
            value = values[row]
            pairs = zip(names, value) if isinstance(value, list) and len(value) == len(names) else (
                [(names[0], value)] if len(names) == 1 and not isinstance(value, list) else [])
            for name, spelled in pairs:
                spelling.setdefault(str(name), spelled)
    is_list = pa.types.is_list(original.type) or pa.types.is_large_list(original.type)
    new = list(values)
    for row, labels in edit.changed.items():
        spelled = [spelling.get(str(label), str(label)) for label in labels]
        new[row] = spelled if is_list else spelled[0] if len(spelled) == 1 else edit.delimiter.join(map(str, spelled))
    try:
        column = pa.array(new, type=original.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        text_type = pa.list_(pa.string()) if is_list else pa.string()
        column = pa.array([_as_text(v) for v in new], type=text_type)
        misfit = next(new[row] for row in edit.changed if not _fits(new[row], original.type))
        notes.append(f"The label column {edit.column!r} was {original.type} and is now {text_type}: a reviewer chose "
                     f"{misfit!r}, which is not a {original.type}.")
    names = list(schema.names)
    fields, columns = list(schema), list(table.columns)
    fields[at], columns[at] = schema.field(at).with_type(column.type), column
    extra = []
    if edit.copy_as:
        copy_as = _fresh(edit.copy_as, names)
        fields.insert(at + 1, schema.field(at).with_name(copy_as))
        columns.insert(at + 1, original)
        extra.append((copy_as, edit.column))
    for name, by_row in edit.added.items():
        name = _fresh(name, [f.name for f in fields])
        fields.append(pa.field(name, pa.string()))
        columns.append(pa.array([by_row.get(row) for row in range(table.num_rows)], type=pa.string()))
        extra.append((name, None))
    metadata = _pandas_metadata(schema.metadata, edit.column, column.type != original.type, extra)
    out = pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=metadata))
    compression = _compression(parquet)
    with atomic_path(destination) as tmp:
        pq.write_table(out, tmp, compression=compression)
    return notes


def _fits(value, arrow_type) -> bool:
    import pyarrow as pa

    try:
        pa.array([value], type=arrow_type)
        return True
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return False


def _as_text(value):
    if value is None:
        return None
    if isinstance(value, list):
        return [None if v is None else str(v) for v in value]
    return str(value)


def _compression(parquet) -> str:
    """The codec of the source's first column chunk (``snappy`` when the file has no row group)."""
    meta = parquet.metadata
    if meta.num_row_groups and meta.num_columns:
        codec = meta.row_group(0).column(0).compression.lower()
        return "none" if codec == "uncompressed" else codec
    return "snappy"


def _pandas_metadata(metadata, column: str, retyped: bool, extra: list[tuple[str, Optional[str]]]):
    """The schema's metadata, with pandas' column list updated: the new columns added (a copy of the label column's
    entry for its copy, text for the others), the label column marked as text when its type changed."""
    if not metadata or b"pandas" not in metadata:
        return metadata
    pandas_meta = json.loads(metadata[b"pandas"])
    entries = {e.get("field_name", e.get("name")): e for e in pandas_meta.get("columns", [])}
    text = {"pandas_type": "unicode", "numpy_type": "object", "metadata": None}
    if retyped and column in entries:
        entries[column].update(text)
    for name, like in extra:
        entry = dict(entries[like]) if like in entries else dict(text)
        entry.update(name=name, field_name=name)
        pandas_meta["columns"].append(entry)
    return {**metadata, b"pandas": json.dumps(pandas_meta).encode()}


# --------------------------------------------------------------------------------------------- JSON Lines


def _write_json_lines(source, destination, edit, encoding, expected_rows) -> list[str]:
    text, bom, codec = _decode(source, encoding)
    array = text.lstrip().startswith("[")
    try:
        objects = json.loads(text) if array else [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as err:
        raise DataError(f"Cannot parse {source} as JSON: {err}. Give the table that was audited.") from None
    if not all(isinstance(o, dict) for o in objects):
        raise DataError(f"{source} holds something other than JSON objects. Give the table that was audited.")
    _check_rows(source, len(objects), expected_rows, edit)
    spelling: dict[str, object] = {}
    for row, names in edit.given.items():
        if row < len(objects) and len(names) == 1 and not isinstance(objects[row].get(edit.column), list):
            spelling.setdefault(str(names[0]), objects[row].get(edit.column))
    lines = []
    for row, record in enumerate(objects):
        if edit.column not in record:
            raise DataError(f"{source}: row {row} has no {edit.column!r}. Give the table that was audited.")
        out = {}
        for key, value in record.items():
            if key == edit.column and row in edit.changed:
                labels = edit.changed[row]
                out[key] = (list(labels) if isinstance(value, list) else spelling.get(str(labels[0]), labels[0])
                            if len(labels) == 1 else edit.delimiter.join(map(str, labels)))
            else:
                out[key] = value
            if key == edit.column and edit.copy_as:
                out[_fresh(edit.copy_as, list(record))] = value
        for name, by_row in edit.added.items():
            out[_fresh(name, list(record))] = by_row.get(row)
        lines.append(json.dumps(out, ensure_ascii=False))
    notes: list[str] = []
    body = ("[\n" + ",\n".join(lines) + "\n]\n") if array else "".join(line + "\n" for line in lines)
    with atomic_path(destination) as tmp:
        with open(tmp, "wb") as f:
            f.write(bom + _encodable(body, codec, notes).encode(codec))
    return notes


# ---------------------------------------------------------------------------------------------------- shared


def _fresh(name: str, taken: Sequence[Optional[str]]) -> str:
    """``name``, or ``name_2``, ``name_3``, ... when the table already has a column of that name."""
    if name not in taken:
        return name
    k = 2
    while f"{name}_{k}" in taken:
        k += 1
    return f"{name}_{k}"


def _check_rows(source: Path, rows: int, expected: Optional[int], edit: LabelEdit) -> None:
    last = max(edit.changed, default=-1)
    if (expected is not None and rows != expected) or last >= rows:
        saw = f"{expected:,}" if expected is not None else f"at least {last + 1:,}"
        raise DataError(f"{source} has {rows:,} data rows but the audit saw {saw}: the file changed since the audit. "
                        "Give the table that was audited with --data.")
