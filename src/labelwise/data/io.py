"""Read a user's table from a file, and write one back atomically.

Formats, chosen by the file's extension (case does not matter):

=====================  ==============================================================================
``.csv``               comma-separated, first line is the header
``.tsv``, ``.tab``     tab-separated, first line is the header
``.parquet``, ``.pq``  Apache Parquet (list columns come back as cells holding numpy arrays)
``.jsonl``, ``.ndjson`` JSON Lines: one JSON object per line (blank lines are skipped)
``.json``              JSON Lines as well; a file holding one JSON array of objects is accepted too
=====================  ==============================================================================

Text files are decoded as UTF-8 unless ``encoding`` says otherwise; a UTF-8 byte-order mark is ignored. ``utf-16`` and
``utf-32`` files without a byte-order mark are read in the byte order their zero bytes show (ASCII-range text), or
refused with the two ``-le``/``-be`` names to choose from. Only text encodings are accepted (not ``rot13`` or ``hex``).

Missing values: CSV/TSV use pandas' defaults, so an empty cell and the usual markers (``NA``, ``N/A``, ``NaN``,
``null``, ``None``, ``nan``, ``#N/A``, ...) read as missing. A class literally named ``"NA"`` or ``"None"`` in a
CSV therefore reads as a missing label; it is never lost silently, because :func:`load_labelled_table` refuses
missing labels unless told to drop them. JSON Lines keep strings as written; only ``null`` is missing. A JSON integer
outside the 64-bit range (a 400-digit id) is kept as its digits, a string, instead of turning into an imprecise float;
a lone surrogate escape (``"\ud800"``, half of a character) becomes U+FFFD, as an undecodable byte would, so that
every string read is valid Unicode. JSON nested deeper than Python's recursion limit is refused.

Parquet pandas metadata that pandas cannot apply (written by another tool, or damaged) is ignored: the columns are read
as stored.

Every problem raises :class:`labelwise.errors.DataError` with a message that names the file, the row or line and the
column where known, and says how to fix it. Row numbers follow :mod:`labelwise.data.locate`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Union

import pandas as pd

from labelwise.data.atomic import atomic_path
from labelwise.errors import DataError

PathLike = Union[str, "os.PathLike[str]"]
TableSource = Union[PathLike, pd.DataFrame]

#: extension -> format name
FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
SUPPORTED_EXTENSIONS = ", ".join(FORMATS)
_SEPARATORS = {"csv": ",", "tsv": "\t"}
DELIMITED_FORMATS = tuple(_SEPARATORS)
"""The formats with a field separator (``--sep`` applies to them)."""
_SEPARATOR_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_DEFAULT_ENCODING = "utf-8"


def table_format(path: PathLike) -> str:
    """The format of ``path`` from its extension: ``"csv"``, ``"tsv"``, ``"parquet"`` or ``"jsonl"``."""
    p = Path(os.fspath(path))
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        got = f"extension '{p.suffix}'" if p.suffix else "no extension"
        raise DataError(
            f"Cannot tell the format of {p}: it has {got}. Supported extensions are {SUPPORTED_EXTENSIONS}; "
            "rename the file or convert it to one of these."
        )
    return fmt


def read_table(source: TableSource, *, encoding: str | None = None, sep: str | None = None) -> pd.DataFrame:
    """Read a table from a CSV, TSV, Parquet or JSON Lines file, or pass a DataFrame through.

    Parameters
    ----------
    source:
        A path (``str`` or ``os.PathLike``) or a ``pandas.DataFrame`` (returned as-is, not copied).
    encoding:
        Text encoding of CSV/TSV/JSON files; default UTF-8 (a byte-order mark is skipped). Ignored for Parquet.
    sep:
        Field separator of a CSV/TSV file (one character, e.g. ``";"``); default ``,`` for ``.csv`` and a tab for
        ``.tsv``. Refused for Parquet and JSON Lines, which have no separator.

    Returns
    -------
    pandas.DataFrame with at least one row, default ``RangeIndex`` for files.

    Raises
    ------
    DataError
        The file is missing, has an unknown extension, is empty, cannot be decoded, has a row with more fields than
        the header, holds a line that is not a JSON object, or is not valid Parquet.
    """
    if isinstance(source, pd.DataFrame):
        if len(source) == 0:
            raise DataError("The DataFrame has no rows. Pass a table with at least one labelled row.")
        return source
    try:
        path = Path(os.fspath(source))
    except TypeError:
        raise DataError(
            f"Cannot read a table from a {type(source).__name__}; pass a file path or a pandas DataFrame."
        ) from None
    fmt = table_format(path)
    _check_exists(path)
    enc = _check_encoding(encoding) if fmt != "parquet" else None
    separator = _check_separator(sep, fmt, path)

    if path.stat().st_size == 0:
        raise DataError(
            f"{path} is empty (0 bytes). Check that you passed the right file and that it was fully written."
        )
    if enc is not None:
        enc = _byte_order(path, enc)

    if fmt in _SEPARATORS:
        if sep is None:
            _check_header_separator(path, separator, enc)
        frame = _read_delimited(path, sep=separator, encoding=enc)
    elif fmt == "parquet":
        frame = _read_parquet(path)
    else:
        frame = _read_json_lines(path, encoding=enc)

    if len(frame) == 0:
        cols = ", ".join(map(str, frame.columns))
        what = f"a header ({cols}) but no data rows" if cols else "no data rows"
        raise DataError(f"{path} has {what}. Add labelled rows, or check that you passed the right file.")
    return frame


def write_table_atomic(df: pd.DataFrame, path: PathLike, *, encoding: str | None = None,
                       sep: str | None = None) -> Path:
    """Write ``df`` to ``path`` atomically, in the format its extension names; return the path written.

    ``.csv``/``.tsv`` are written without the index, in ``encoding`` (default UTF-8) with the separator ``sep``
    (default the format's: give the ones a table was read with to write it back the same way); ``.parquet``/``.pq``
    with pyarrow, without the index; ``.jsonl``/``.ndjson``/``.json`` as JSON Lines. Reading the file back with :func:`read_table` gives the same
    columns and values (for CSV, up to pandas' type inference).
    """
    import pyarrow as pa

    fmt = table_format(path)
    codec = _check_encoding(encoding) if encoding is not None else "utf-8"
    if df.attrs:  # not part of the table (pandas would store them as JSON, and fail on values JSON cannot hold)
        df = df.copy(deep=False)
        df.attrs = {}
    try:
        with atomic_path(path) as tmp:
            if fmt in _SEPARATORS:
                df.to_csv(tmp, sep=separator_of(path, sep), index=False, encoding=codec)
            elif fmt == "parquet":
                df.to_parquet(tmp, index=False, write_page_checksum=True)
            else:
                df.to_json(tmp, orient="records", lines=True, force_ascii=False)
    except (pa.ArrowException, UnicodeEncodeError, OverflowError) as exc:
        what = "Parquet" if fmt == "parquet" else f"{codec} text"
        raise DataError(
            f"Cannot write {path} as {what}: {exc}. A column mixing kinds of values (numbers and lists, say) or text "
            "with invalid characters cannot be stored this way; write .jsonl or .csv instead, or clean that column."
        ) from None
    return Path(os.fspath(path))


def read_text_file(path: PathLike, what: str) -> str:
    """The text of a small UTF-8 file the user named (``what``: "Taxonomy", "Datasheet", "Label list"); a
    byte-order mark is skipped. Raises DataError naming the file when it is missing, a folder, unreadable or not UTF-8.
    """
    p = Path(os.fspath(path))
    try:
        return p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{what} not found: {p}. Check the path.") from None
    except IsADirectoryError:
        raise DataError(f"{what} {p} is a folder; give the file.") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{what} {p} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}). "
                        "Save it as UTF-8.") from None
    except OSError as exc:
        raise DataError(f"Cannot read {what.lower()} {p}: {exc.strerror or exc}.") from None


# --------------------------------------------------------------------------------------------------- checks


def _check_exists(path: Path) -> None:
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a table file. Pass the path of a {SUPPORTED_EXTENSIONS} file.")
    if not path.exists():
        hint = ""
        if not path.is_absolute():
            hint = f" (looked for {Path.cwd() / path}; relative paths start from the current directory {Path.cwd()})"
        raise DataError(f"File not found: {path}{hint}. Check the path and the spelling of the file name.")


def _check_encoding(encoding: str | None) -> str:
    enc = encoding or _DEFAULT_ENCODING
    try:
        info = codecs.lookup(enc)
    except (LookupError, TypeError, ValueError):  # ValueError: a name with a NUL character
        raise DataError(
            f"Unknown text encoding {enc!r}. Use a Python codec name such as utf-8, latin-1 or cp1252."
        ) from None
    if not info._is_text_encoding:  # rot13, hex, base64, zlib: codecs, but not for bytes -> text
        raise DataError(
            f"{enc!r} is not a text encoding (it does not turn bytes into text). Use a text encoding such as "
            "utf-8, latin-1 or cp1252."
        )
    return enc


_BOM_CODECS = {"utf-16": ((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE), 2),
               "utf-32": ((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE), 4)}


def _byte_order(path: Path, encoding: str) -> str:
    """``encoding``, or for a ``utf-16``/``utf-32`` file without a byte-order mark the ``-le``/``-be`` variant its zero
    bytes show: ASCII-range characters have their zero bytes last (little-endian) or first (big-endian)."""
    name = codecs.lookup(encoding).name
    if name not in _BOM_CODECS:
        return encoding
    boms, width = _BOM_CODECS[name]
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if head.startswith(boms):
        return encoding
    units = [head[i:i + width] for i in range(0, len(head) - width + 1, width)]
    little = sum(u[0] != 0 and u[-1] == 0 for u in units)
    big = sum(u[0] == 0 and u[-1] != 0 for u in units)
    if units and max(little, big) >= 0.5 * len(units) and min(little, big) == 0:
        return f"{name}-le" if little else f"{name}-be"
    if not little and not big:
        raise DataError(
            f"{path} does not look like {name} text: it has no byte-order mark and none of the zero bytes {name} gives "
            "ASCII-range characters. Check --encoding (CLI) / encoding= (library); the file may well be UTF-8."
        )
    raise DataError(
        f"{path} has no byte-order mark, so its {name} byte order is unknown. Pass --encoding {name}-le (the usual "
        f"on Windows) or --encoding {name}-be (CLI), or encoding='{name}-le' (library)."
    )


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def _decode_error(path: Path, encoding: str, exc: UnicodeError | None = None) -> DataError:
    """The message for a file that ``encoding`` cannot decode: byte offset and line of the first bad byte."""
    where = ""
    try:
        found = _find_undecodable(path, encoding)
    except (UnicodeError, LookupError):  # a codec that fails without saying where (idna, punycode)
        found = None
        where = f" ({exc})" if exc is not None else ""
    if found is not None:
        offset, line, bad = found
        row = ""
        if table_format(path) in _SEPARATORS and line >= 2:
            row = f", row {line - 2}"
        elif table_format(path) == "jsonl":
            row = f", row {line - 1}"
        where = f" at byte offset {offset} (line {line}{row}, byte 0x{bad:02x})"
    return DataError(
        f"Cannot decode {path} as {encoding}{where}. If the file uses another encoding, pass it with --encoding "
        "(CLI) or encoding= (library), e.g. --encoding latin-1 or encoding='cp1252', or re-save the file as UTF-8."
    )


def _find_undecodable(path: Path, encoding: str, chunk_size: int = 1 << 20) -> tuple[int, int, int] | None:
    """Absolute byte offset, 1-based line and value of the first byte that ``encoding`` rejects, or None."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    consumed = 0  # bytes handed to the decoder so far
    newlines = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(chunk_size)
            final = not chunk
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                buf = pending + chunk
                offset = consumed - len(pending) + exc.start
                line = newlines + buf[: exc.start].count(b"\n") + 1
                return offset, line, buf[exc.start] if exc.start < len(buf) else 0
            if final:
                return None
            consumed += len(chunk)
            newlines += chunk.count(b"\n")


# ---------------------------------------------------------------------------------------------- delimited

def _check_separator(sep: str | None, fmt: str, path: Path) -> str | None:
    """The field separator to read ``path`` with: ``sep`` checked, or the format's own."""
    if sep is None:
        return _SEPARATORS.get(fmt)
    if fmt not in _SEPARATORS:
        raise DataError(f"--sep applies to CSV/TSV files; {path} is {fmt}, which has no separator. Drop --sep.")
    named = {name: char for char, name in _SEPARATOR_NAMES.items()}
    sep = named.get(sep.lower(), "\t" if sep == "\\t" else sep)
    if len(sep) != 1 or sep in "\"\r\n" or sep.isalnum():
        raise DataError(f"--sep must be one character such as ',' ';' '|' or 'tab'; got {sep!r}.")
    return sep


def _check_header_separator(path: Path, sep: str, encoding: str) -> None:
    """A header line without ``sep`` but with another separator means the file was written with that one."""
    try:
        with open(path, newline="", encoding="utf-8-sig" if _is_utf8(encoding) else encoding) as f:
            header = f.readline(1 << 16)
    except (UnicodeError, OSError):
        return  # the reader proper reports these
    if sep in header:
        return
    for other, name in _SEPARATOR_NAMES.items():
        if other in header:
            shown = "tab" if other == "\t" else other
            raise DataError(f"The header of {path} has no {_SEPARATOR_NAMES.get(sep, repr(sep))} but has "
                            f"{name}s: the file looks {name}-separated. Pass --sep '{shown}' (sep={other!r} in "
                            "Python).")


def separator_of(path: PathLike, sep: str | None = None) -> str | None:
    """The separator a CSV/TSV at ``path`` is written with (``sep`` when given); None for other formats."""
    fmt = table_format(path)
    return _check_separator(sep, fmt, Path(os.fspath(path))) if fmt in _SEPARATORS else None


_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_EOF_IN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def _read_delimited(path: Path, *, sep: str, encoding: str) -> pd.DataFrame:
    read_enc = "utf-8-sig" if _is_utf8(encoding) else encoding
    kind = _SEPARATOR_NAMES.get(sep, repr(sep))
    try:
        with warnings.catch_warnings():
            # With index_col=False pandas only *warns* when the first data row has one field too many (and drops
            # it); without it, pandas silently shifts every column. Treat that warning as the error it is.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(path, sep=sep, encoding=read_enc, index_col=False, low_memory=False)
    except UnicodeError as exc:
        raise _decode_error(path, encoding, exc) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} has no header and no rows. Check that you passed the right file.") from None
    except pd.errors.ParserWarning:
        raise _ragged_error(path, sep, read_enc, None) from None
    except pd.errors.ParserError as exc:
        msg = str(exc).strip()
        m = _RAGGED.search(msg)
        if m:
            raise _ragged_error(path, sep, read_enc, (int(m.group(1)), int(m.group(2)), int(m.group(3)))) from None
        m = _EOF_IN_QUOTE.search(msg)
        if m:
            row = int(m.group(1)) - 1
            raise DataError(
                f"{path} has an opening quote (\") that is never closed, starting at row {row} (around line "
                f"{row + 2}). Close the quote, or double any quote inside a quoted value (\"\")."
            ) from None
        raise DataError(
            f"Cannot parse {path} as {kind}-separated values: {msg}. Check the file's quoting and separators."
        ) from None


def _ragged_error(path: Path, sep: str, encoding: str, pandas_says: tuple[int, int, int] | None) -> DataError:
    """Name the first row with more fields than the header; find it exactly with the csv module."""
    found = _first_long_row(path, sep, encoding)
    if found is not None:
        row, line, saw, expected = found
        where = f"Row {row} (line {line} of {path})"
    elif pandas_says is not None:
        expected, line, saw = pandas_says
        where = f"Line {line} of {path}"
    else:
        return DataError(
            f"{path} has a row with more fields than its header. Quote values that contain the separator."
        )
    what = _SEPARATOR_NAMES.get(sep, repr(sep))
    return DataError(
        f"{where} has {saw} fields but the header has {expected}. Put values that contain a {what} in double "
        f"quotes (e.g. \"a{sep}b\"), or fix or remove that line."
    )


def _first_long_row(path: Path, sep: str, encoding: str) -> tuple[int, int, int, int] | None:
    """(0-based data row, 1-based first line, fields, header fields) of the first row longer than the header."""
    try:
        with open(path, newline="", encoding=encoding) as f:
            reader = csv.reader(f, delimiter=sep)
            header = next(reader, None)
            if header is None:
                return None
            expected = len(header)
            row = -1
            start = reader.line_num + 1
            for record in reader:
                if record:
                    row += 1
                    if len(record) > expected:
                        return row, start, len(record), expected
                start = reader.line_num + 1
    except (csv.Error, UnicodeError):
        return None
    return None


# ----------------------------------------------------------------------------------------------- parquet


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:  # pages written with checksums are verified, so a damaged page is an error instead of wrong values
        table = pq.read_table(path, page_checksum_verification=True)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _parquet_error(path, exc) from None
    try:
        return table.to_pandas()
    except Exception:  # noqa: BLE001 - pandas metadata that pandas cannot apply (another tool's, or damaged): any error
        pass
    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != b"pandas"}
    try:
        return table.replace_schema_metadata(metadata).to_pandas()
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise _parquet_error(path, exc) from None


def _parquet_error(path: Path, exc: Exception) -> DataError:
    return DataError(
        f"Cannot read {path} as Parquet ({' '.join(str(exc).split())}). Check that the file was written as Parquet "
        "and is complete, or give it the extension of its real format."
    )


# -------------------------------------------------------------------------------------------- JSON lines

_JSONL_EXAMPLE = '{"text": "...", "label": "..."}'


#: ints that fit a 64-bit column; longer ones are kept as their digits (a float would lose them)
_INT64 = (-(2**63), 2**63 - 1)
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # \ud800 .. \udfff in JSON text: maybe half a character


def _json_int(digits: str) -> int | str:
    if len(digits) <= 20:
        value = int(digits)
        if _INT64[0] <= value <= _INT64[1]:
            return value
    return digits


def _valid_unicode(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys included) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_valid_unicode(k): _valid_unicode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_valid_unicode(v) for v in value]
    return value


def _parse_json(text: str) -> Any:
    """``json.loads`` with 64-bit ints (longer ones as digit strings) and valid Unicode strings. Raises
    JSONDecodeError, or RecursionError for values nested deeper than Python's recursion limit."""
    value = json.loads(text, parse_int=_json_int)
    return _valid_unicode(value) if _SURROGATE_ESCAPE.search(text) else value


def _too_deep(where: str) -> DataError:
    return DataError(
        f"{where} nests JSON arrays or objects too deeply to read (more than about {sys.getrecursionlimit()} "
        "levels). Flatten that value, or remove it."
    )


def _read_json_lines(path: Path, *, encoding: str) -> pd.DataFrame:
    read_enc = "utf-8-sig" if _is_utf8(encoding) else encoding
    try:
        with open(path, encoding=read_enc) as f:
            text = f.read()
    except UnicodeError as exc:
        raise _decode_error(path, encoding, exc) from None
    text = _SURROGATE.sub("\ufffd", text)  # a codec such as unicode_escape can decode half characters

    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        return _read_json_array(path, text)

    records: list[dict[str, Any]] = []
    for lineno, line in enumerate(io.StringIO(text), start=1):
        if not line.strip():
            continue
        try:
            obj = _parse_json(line.rstrip())  # rstrip: column numbers stay right
        except json.JSONDecodeError as exc:
            raise DataError(
                f"Line {lineno} of {path} is not valid JSON ({exc.msg} at column {exc.colno}). Each line must hold "
                f"one complete JSON object, e.g. {_JSONL_EXAMPLE}; fix or remove that line."
            ) from None
        except RecursionError:
            raise _too_deep(f"Line {lineno} of {path}") from None
        if not isinstance(obj, dict):
            raise DataError(
                f"Line {lineno} of {path} holds a JSON {type(obj).__name__}, not an object. Each line must hold one "
                f"JSON object, e.g. {_JSONL_EXAMPLE}."
            )
        records.append(obj)
    return pd.DataFrame.from_records(records) if records else pd.DataFrame()


def _read_json_array(path: Path, text: str) -> pd.DataFrame:
    try:
        data = _parse_json(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}). Fix the file, or save "
            f"it as JSON Lines (.jsonl): one object per line, e.g. {_JSONL_EXAMPLE}."
        ) from None
    except RecursionError:
        raise _too_deep(str(path)) from None
    bad = next((i for i, obj in enumerate(data) if not isinstance(obj, dict)), None)
    if bad is not None:
        raise DataError(
            f"Item {bad} of the JSON array in {path} is a {type(data[bad]).__name__}, not an object. The array must "
            f"hold one object per row, e.g. [{_JSONL_EXAMPLE}]."
        )
    return pd.DataFrame.from_records(data) if data else pd.DataFrame()
