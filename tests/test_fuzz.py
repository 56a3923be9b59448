"""Fuzz: malformed tables and bad options end in a LabelwiseError (CLI: exit 2), never in a crash.

Hypothesis builds small labelled tables, spoils them the ways real files are spoiled (odd cells: markup, escape
sequences, lone surrogates, 400-digit numbers, NaN/inf, nested objects; odd column names: empty, repeated; wrong or
unsuitable encodings; ragged rows; truncated, flipped or random bytes; odd Parquet metadata; deeply nested JSON),
writes them as CSV, TSV, JSON Lines, JSON or Parquet, and feeds them with random options to ``read_table``,
``load_labelled_table``, ``audit`` and the ``labelwise`` command in-process. The only exceptions allowed to escape are
LabelwiseErrors; the command must exit 0 or 2 (never 1, "a bug") and print no raw control characters.

The examples are derandomised (same examples on every run) and few, so the module runs in seconds in ``make test``.
A census of distinct crash classes with more examples (used for the figures in issue 13's closing note):

    PYTHONPATH=src python tests/test_fuzz.py --examples 400
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import tempfile
import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelwise.audit.workflow import audit_dataset as audit
from labelwise.cli.main import main
from labelwise.data import load_labelled_table, read_table
from labelwise.errors import LabelwiseError

EXAMPLES = int(os.environ.get("LABELWISE_FUZZ_EXAMPLES", "0")) or None  # the census raises the counts
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


# Hypothesis tries the simplest value first and often (0, the first element, False): a rare branch is written as
# "integers(0, k) == k", so that the common, well-formed case is the simple one.


def examples(n: int) -> settings:
    return settings(FUZZ, max_examples=EXAMPLES or n)


# ------------------------------------------------------------------------------------------------------ cells

AWKWARD = [
    "[/INST]", "[/]", "[bold red]x[/bold red]", "[link=http://e.com]x[/link]", ":smile:", "\x1b[31mred\x1b[0m",
    "\x1b]0;title\x07", "\x1b[2J", "\x9b31m", "a\rb", "\x00", "\x08", "\u202eevil", "\ud800", "x\udfffy", "\ufeff",
    "a,b", 'say "hi"', "tab\there", "line\nbreak", "  ", "", "NA", "None", "null", "nan", "-inf", "1e400",
    "9" * 400, "-0", "007", "🙂", "\u0085", "\u2028", "=1+1", "{}", "[]", "[1, 2]", '{"a": 1}', "a|b", "a||b",
    "|", "\\", "'",
]
WELL_FORMED = [t for t in AWKWARD if t.strip() and not any("\ud800" <= c <= "\udfff" or c in "\x00\r\n" for c in t)
               and t not in ("NA", "None", "null", "nan")]  # valid in every format, and not read as missing
awkward_text = st.one_of(st.sampled_from(AWKWARD), st.text(max_size=12),
                         st.lists(st.sampled_from(AWKWARD), min_size=2, max_size=3).map("".join))
scalars = st.one_of(
    awkward_text,
    st.integers(-(2**70), 2**70),
    st.sampled_from([10**400, -(10**400), 2**63, 2**64, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.booleans(),
)
nested = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=6,
)
column_names = st.one_of(st.sampled_from(["label", "text", "x", "", " ", "label ", "Label", "0", "[/]", "\x1b[1m",
                                          "\ud800", "a,b", "None", "__index_level_0__"]), st.text(max_size=6))
WORDS = ["card", "refund", "late", "broken", "thanks", "password", "lost", "fee", "app", "help"]


@st.composite
def tables(draw, spoilt: bool = True):
    """(column names, rows, classes): a small labelled table (label, text, x), with some spoilt cells and names if ``spoilt``."""
    n = draw(st.integers(0, 16) if spoilt else st.integers(8, 16))
    k = draw(st.integers(1, 3) if spoilt else st.integers(2, 3))
    classes = draw(st.one_of(
        st.just(["billing", "bug", "other"][:k]),
        st.lists(st.one_of(scalars, st.lists(st.sampled_from(["a", "b", "c"]), max_size=3)), min_size=k, max_size=k),
    ) if spoilt else st.lists(st.sampled_from(["billing", "bug", "other", *WELL_FORMED]), min_size=k, max_size=k,
                               unique=True))
    order = draw(st.permutations(range(n)))
    labels = [classes[i % k] for i in order]
    texts = [" ".join(WORDS[(i * 7 + j + (i % k) * 3) % len(WORDS)] for j in range(3)) for i in range(n)]
    for _ in range(draw(st.integers(0, 3)) if n else 0):  # data a file may well hold: markup, escapes, odd characters
        texts[draw(st.integers(0, n - 1))] += " " + draw(st.sampled_from(AWKWARD if spoilt else WELL_FORMED))
    xs = [float(i % k) + 0.1 * (i % 3) for i in range(n)]
    names = ["label", "text", "x"]
    columns = [labels, texts, xs]
    if draw(st.booleans()):
        names.append("extra")
        columns.append([draw(nested) for _ in range(n)] if n and draw(st.booleans()) else [i for i in range(n)])
    rows = [list(r) for r in zip(*columns)] if n else []
    if not spoilt:
        return names, rows, k
    for _ in range(draw(st.integers(0, 3)) if n else 0):  # spoil a few cells
        rows[draw(st.integers(0, n - 1))][draw(st.integers(0, len(names) - 1))] = draw(nested)
    for _ in range(draw(st.integers(0, 2))):  # rename a few columns (empty, repeated, markup, ...)
        names[draw(st.integers(0, len(names) - 1))] = draw(column_names)
    return names, rows, k


# ------------------------------------------------------------------------------------------------------ files

FILE_ENCODINGS = ["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252"]
ENCODING_OPTIONS = [None, None, None, "utf-8", "utf-16", "utf-16-le", "utf-32", "latin-1", "ascii", "rot13", "hex",
                    "base64", "zlib", "idna", "punycode", "utf-7", "unicode_escape", "raw_unicode_escape",
                    "no-such-codec", "", "UTF8", "mbcs", "cp037", "utf_8_sig"]
FORMATS = ["csv", "tsv", "jsonl", "json", "parquet"]


def _cell_text(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _delimited(names, rows, sep: str, draw, spoilt: bool) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow([_cell_text(c) for c in names])
    for row in rows:
        cells = [_cell_text(c) for c in row]
        if spoilt and draw(st.integers(0, 9)) == 9:  # a ragged row: a field too many or too few
            cells = cells + ["surplus"] if draw(st.booleans()) else cells[:-1]
        writer.writerow(cells)
    return buf.getvalue()


def _json_safe(value):
    """Python's json writes NaN/Infinity and any integer; keep them, and make dict keys strings."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _json_lines(names, rows, draw, array: bool, spoilt: bool) -> str:
    ascii_only = draw(st.booleans())  # ensure_ascii writes a lone surrogate as the escape \ud800
    objects = [dict(zip(map(str, names), map(_json_safe, row))) for row in rows]
    if array:
        return json.dumps(objects, ensure_ascii=ascii_only)
    lines = [json.dumps(obj, ensure_ascii=ascii_only) for obj in objects]
    if not spoilt:
        return "\n".join(lines) + "\n"
    if lines and draw(st.integers(0, 5)) == 5:  # deeply nested JSON in one line
        depth = draw(st.sampled_from([50, 5_000, 200_000]))
        lines[draw(st.integers(0, len(lines) - 1))] = '{"label": "a", "text": ' + "[" * depth + "]" * depth + "}"
    if lines and draw(st.integers(0, 9)) == 9:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["[1, 2]", "3", '"s"', "null", "{", ""])))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


def _arrow_column(values):
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowException, OverflowError, TypeError, ValueError):  # mixed types: store them as text
        return pa.array([_cell_text(v).encode("utf-8", "surrogatepass").decode("utf-8", "replace") for v in values])


def _typed_column(draw, n: int):
    """A column of one of the Arrow types a CSV cannot hold: bytes, timestamps, decimals, dictionary, maps, ..."""
    import datetime
    import decimal

    import pyarrow as pa

    kind = draw(st.sampled_from(["binary", "timestamp", "decimal", "dictionary", "uint64", "null", "map", "struct",
                                 "list_of_structs", "float16", "duration"]))
    if kind == "binary":
        return pa.array([draw(st.binary(max_size=4)) for _ in range(n)])
    if kind == "timestamp":
        return pa.array([datetime.datetime(2020, 1, 1 + i % 28) for i in range(n)], pa.timestamp("ns", tz="UTC"))
    if kind == "decimal":
        return pa.array([decimal.Decimal(i) / 4 for i in range(n)], pa.decimal128(12, 4))
    if kind == "dictionary":
        return pa.array([["x", "y"][i % 2] for i in range(n)]).dictionary_encode()
    if kind == "uint64":
        return pa.array([2**64 - 1 - i for i in range(n)], pa.uint64())
    if kind == "null":
        return pa.nulls(n)
    if kind == "map":
        return pa.array([[("k", i)] for i in range(n)], pa.map_(pa.string(), pa.int64()))
    if kind == "struct":
        return pa.array([{"a": i, "b": str(i)} for i in range(n)])
    if kind == "list_of_structs":
        return pa.array([[{"a": i}] for i in range(n)])
    if kind == "float16":
        return pa.array(np.arange(n, dtype=np.float16))
    return pa.array([datetime.timedelta(seconds=i) for i in range(n)])


def _parquet(names, rows, draw, spoilt: bool) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [_arrow_column([row[j] for row in rows]) for j in range(len(names))]
    if draw(st.booleans()):  # another column, of a type only Parquet has
        names, columns = [*names, draw(st.sampled_from(["typed", "label", "text"]))], [*columns, _typed_column(
            draw, len(rows))]
    safe_names = [_cell_text(c).encode("utf-8", "surrogatepass").decode("utf-8", "replace") for c in names]
    table = pa.Table.from_arrays(columns, names=safe_names)
    metadata = draw(st.sampled_from(["none", "pandas", "odd", "garbage"] if spoilt else ["none", "pandas"]))
    if metadata == "pandas" and len(set(safe_names)) == len(safe_names):
        with contextlib.suppress(pa.ArrowException):  # a type pandas cannot carry back (a map): none then
            table = pa.Table.from_pandas(table.to_pandas(), preserve_index=draw(st.booleans()))
    elif metadata == "odd":
        odd = draw(st.one_of(nested, st.fixed_dictionaries(
            {"index_columns": st.lists(nested, max_size=2), "columns": nested, "column_indexes": nested},
            optional={"pandas_version": nested, "attributes": nested})))
        table = table.replace_schema_metadata({b"pandas": json.dumps(_json_safe(odd), default=str).encode(
            "utf-8", "surrogatepass")})
    elif metadata == "garbage":
        table = table.replace_schema_metadata({b"pandas": draw(st.binary(max_size=20))})
    compression = draw(st.sampled_from(["snappy", "none", "zstd"]))
    buf = io.BytesIO()
    try:
        pq.write_table(table, buf, compression=compression)
    except pa.ArrowException:  # a type Parquet cannot hold (a struct without fields): write the cells as text
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_arrays([pa.array([_cell_text(v) for v in c.to_pylist()]) for c in table.columns],
                                            names=table.column_names), buf, compression=compression)
    return buf.getvalue()


@st.composite
def table_files(draw, spoilt: bool | None = None):
    """(file name, bytes, encoding option, column names, (rows, classes)): a table as a file, and the --encoding to
    read it.

    spoilt: True for a spoilt table, file or encoding; False for a good one (for fuzzing options and side files);
    None: either.
    """
    if spoilt is None:
        spoilt = draw(st.integers(0, 3)) < 3
    names, rows, k = draw(tables(spoilt))
    fmt = draw(st.sampled_from(FORMATS))
    encoding = "utf-8"
    if fmt == "parquet":
        data = _parquet(names, rows, draw, spoilt)
    else:
        if fmt in ("csv", "tsv"):
            text = _delimited(names, rows, "," if fmt == "csv" else "\t", draw, spoilt)
        else:
            text = _json_lines(names, rows, draw, fmt == "json" and draw(st.booleans()), spoilt)
        encoding = draw(st.sampled_from(FILE_ENCODINGS))
        errors = draw(st.sampled_from(["surrogatepass", "replace"] if encoding.startswith("utf") else ["replace"]))
        data = text.encode(encoding, errors=errors)
    spoil = draw(st.sampled_from(["none"] * 6 + ["truncate", "flip", "insert", "random", "empty"])) if spoilt else "none"
    if spoil == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif spoil == "flip" and data:
        data = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        data = bytes(data)
    elif spoil == "insert":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    elif spoil == "random":
        data = draw(st.binary(max_size=200))
    elif spoil == "empty":
        data = b""
    name = "t." + draw(st.sampled_from({"csv": ["csv"], "tsv": ["tsv", "tab"], "jsonl": ["jsonl", "ndjson", "json"],
                                        "json": ["json"], "parquet": ["parquet", "pq"]}[fmt]))
    if fmt == "parquet" and not spoilt:
        option = None
    elif fmt != "parquet" and (not spoilt or draw(st.integers(0, 3)) < 3):  # mostly the encoding the file was written in
        option = None if encoding == "utf-8" else encoding
    else:
        option = draw(st.sampled_from(ENCODING_OPTIONS))
    return name, data, option, [_cell_text(c) for c in names], (len(rows), k)


@st.composite
def column_choice(draw, names: list[str]):
    """Mostly a column of the table, sometimes any name."""
    return draw(st.sampled_from(names)) if names and draw(st.integers(0, 3)) < 3 else draw(column_names)


# --------------------------------------------------------------------------------------------- the assertion

CENSUS: dict | None = None  # set by the census below: record crash classes instead of failing on the first
OUTCOMES: dict = {}  # how the calls ended, for the census


def outcome(kind: str) -> None:
    OUTCOMES[kind] = OUTCOMES.get(kind, 0) + 1


def crash_class(exc: BaseException) -> str:
    """A crash's class: its type and the innermost labelwise frame it passed through (file:function)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f"{os.sep}labelwise{os.sep}" in f.filename and "test_fuzz" not in f.filename]
    where = ours[-1] if ours else frames[-1]
    return f"{type(exc).__name__} at {Path(where.filename).name}:{where.name}"


def only_labelwise_errors(call, what: str) -> None:
    """Run ``call``; a LabelwiseError is fine, any other exception is a crash (recorded during a census)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
        outcome("ok")
    except LabelwiseError:
        outcome("user error")
    except Exception as exc:  # noqa: BLE001 - anything else is what this test exists to catch
        if CENSUS is None:
            raise
        outcome("crash")
        CENSUS.setdefault(crash_class(exc), [0, what, f"{type(exc).__name__}: {str(exc)[:160]}"])[0] += 1


#: raw control characters and escape sequences: C0 (but newline and tab), DEL, C1
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def run_cli(args: list[str], what: str) -> None:
    """``labelwise ARGS`` in-process: exit 0 or 2, no raw control characters on stdout or stderr."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        warnings.simplefilter("ignore")
        code = main(args)
    printed = out.getvalue() + err.getvalue()
    outcome(f"cli exit {code}")
    if CENSUS is not None:
        if code not in (0, 2):  # run it again without main's net, to see where it failed
            from labelwise.cli.main import app

            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                only_labelwise_errors(lambda: app(args=args, prog_name="labelwise", standalone_mode=False), what)
        if RAW_CONTROL.search(printed):
            CENSUS.setdefault("raw control characters printed", [0, what, repr(printed[-160:])])[0] += 1
        return
    assert code in (0, 2), f"exit {code}:\n{printed}"
    assert not RAW_CONTROL.search(printed), f"raw control characters printed:\n{printed!r}"


@contextlib.contextmanager
def quick_models():
    """The default classifier with at most 20 boosting rounds or solver iterations: the same model and code paths,
    cheap enough for tiny tables (gradient boosting without early stopping would run 200 rounds per fold)."""
    import labelwise.audit.workflow as workflow

    original = getattr(workflow, "default_classifier", None)
    if original is None:
        yield
        return

    def quick(*args, **kwargs):
        model = original(*args, **kwargs)
        if "max_iter" in model.get_params():
            model.set_params(max_iter=min(model.get_params()["max_iter"], 20))
        return model

    workflow.default_classifier = quick
    try:
        yield
    finally:
        workflow.default_classifier = original


@contextlib.contextmanager
def written(name: str, data: bytes):
    with tempfile.TemporaryDirectory(prefix="labelwise-fuzz-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        yield path


# ------------------------------------------------------------------------------------------------------ tests


@examples(150)
@given(case=table_files())
def test_read_table_raises_only_labelwise_errors(case):
    name, data, encoding, _, _ = case
    with written(name, data) as path:
        only_labelwise_errors(lambda: read_table(path, encoding=encoding), "read_table")


@st.composite
def load_options(draw, names):
    """Mostly the table's own roles (label, text), sometimes any columns in any role."""
    if len(names) >= 2 and draw(st.integers(0, 2)) < 2:
        roles = dict(label=names[0], text=[names[1]], features=None, embeddings=None)
    else:
        roles = dict(label=draw(column_choice(names)),
                     text=draw(st.lists(column_choice(names), max_size=2)) or None,
                     features=draw(st.lists(column_choice(names), max_size=2)) or None,
                     embeddings=draw(st.one_of(st.none(), column_choice(names))))
    return dict(
        roles,
        multi_label=draw(st.sampled_from([None, None, None, True, False])),
        delimiter=draw(st.sampled_from([None, None, None, "|", ",", ""])),
        drop_missing=draw(st.booleans()),
    )


@examples(150)
@given(case=table_files(), data=st.data())
def test_load_labelled_table_raises_only_labelwise_errors(case, data):
    name, content, encoding, names, shape = case
    options = data.draw(load_options(names))
    with written(name, content) as path:
        only_labelwise_errors(lambda: load_labelled_table(path, encoding=encoding, **options), "load_labelled_table")


@st.composite
def pred_probs(draw, shape: tuple[int, int]):
    """Probabilities: mostly uniform ones of the table's shape ``(rows, classes)``; else of any shape, range and type."""
    if draw(st.integers(0, 2)) < 2:
        return np.full(shape, 1.0 / shape[1])
    shape = draw(st.one_of(st.tuples(st.integers(0, 17), st.integers(0, 4)),
                           st.lists(st.integers(0, 3), max_size=3).map(tuple)))
    value = draw(st.sampled_from(["uniform", "nan", "negative", "ones", "text", "object"]))
    uniform = 1.0 / shape[-1] if len(shape) and shape[-1] else 1.0
    fill = {"uniform": uniform, "nan": np.nan, "negative": -1.0, "ones": 1.0, "text": "x", "object": None}[value]
    return np.full(shape, fill, dtype=object if value == "object" else None)


GOOD_OPTIONS = {
    "encoder": ["tfidf"], "n_folds": [2, 3], "filter_by": ["prune_by_noise_rate", "both", "confident_learning"],
    "quality_method": ["self_confidence", "normalized_margin"], "random_state": [0, 1, None],
    "duplicate_threshold": [0.95, 0.5], "checks": [("balance", "columns", "error_interval", "duplicates",
                                                    "outliers", "shift"), ("balance",), ()],
}
BAD_OPTIONS = {
    "encoder": ["nope", None], "n_folds": [1, 0, -2, 2.5, "3"], "filter_by": ["nope", None],
    "quality_method": ["nope"], "random_state": [-1, 2**40, "seed"], "duplicate_threshold": [1.5, float("nan"), 0],
    "checks": ["balance", ["nope"]], "compare_pred_probs": [np.ones((2, 2)), "x"],
}


@examples(60)
@given(case=st.one_of(table_files(spoilt=True), table_files(spoilt=False)), data=st.data())
def test_audit_raises_only_labelwise_errors(case, data):
    name, content, encoding, names, shape = case
    options = data.draw(load_options(names))
    options.update({name: data.draw(st.sampled_from(values)) for name, values in GOOD_OPTIONS.items()})
    if data.draw(st.integers(0, 3)) == 3:  # one wrong option at a time, so that the others still reach deep
        name = data.draw(st.sampled_from(sorted(BAD_OPTIONS)))
        options[name] = data.draw(st.sampled_from(BAD_OPTIONS[name]))
    if data.draw(st.integers(0, 3)) == 3:  # the user's own probabilities
        options["pred_probs"] = data.draw(pred_probs(shape))
    with written(name, content) as path:
        if data.draw(st.integers(0, 4)) == 4:
            options["compare_to"] = path  # itself: a label shift of zero, every row leaked
        with quick_models():
            only_labelwise_errors(lambda: audit(path, **options), "audit")


@examples(60)
@given(case=st.one_of(table_files(spoilt=True), table_files(spoilt=False)), data=st.data())
def test_cli_audit_exits_0_or_2_and_prints_no_escapes(case, data):
    name, content, encoding, names, shape = case
    roles = data.draw(load_options(names))
    args = ["--label", roles["label"]]
    for option, key in (("--text", "text"), ("--features", "features")):
        for column in roles[key] or []:
            args += [option, column]
    extra = data.draw(st.lists(st.sampled_from([
        ["--embeddings", "x"], ["--multi-label"], ["--label-delimiter", "|"], ["--drop-missing"],
        ["--filter-by", "both"], ["--folds", "3"], ["--seed", "7"], ["--show", "0"], ["--show", "100"],
        ["--report"], ["--compare-to", "SELF"], ["--pred-probs", "probs.npy"], ["--pred-probs", "probs.csv"],
        ["--report", "--datasheet", "sheet.yaml"],
    ]), max_size=3))
    if data.draw(st.integers(0, 3)) == 3:  # one wrong option at a time (hypothesis tries 0 first and most)
        extra.append(data.draw(st.sampled_from([
            ["--label-delimiter", ""], ["--filter-by", "[/]"], ["--folds", "1"], ["--seed", "-1"],
            ["--seed", "99999999999"], ["--show", "-3"], ["--encoder", "minilm-nope"], ["--judge-rows", "-1"],
            ["--llm-judge"], ["--datasheet", "no-such.yaml"], ["--pred-probs", "junk.npy"],
            ["--pred-probs", "junk.csv"], ["--encoding", "\x1b[31m"], ["--folds", "x"], ["--no-such-option"],
        ])))
    if encoding is not None:
        args += ["--encoding", encoding]
    with written(name, content) as path:
        np.save(path.parent / "probs.npy", data.draw(pred_probs(shape)), allow_pickle=True)
        shape = (data.draw(st.integers(0, 17)), data.draw(st.integers(1, 4)))
        pd.DataFrame(np.full(shape, 1.0 / shape[1]), columns=[f"c{j}" for j in range(shape[1])]).to_csv(
            path.parent / "probs.csv", index=False)
        junk = data.draw(st.binary(max_size=40))
        for name in ("junk.npy", "junk.csv"):
            (path.parent / name).write_bytes(junk if data.draw(st.booleans()) else np.lib.format.MAGIC_PREFIX + junk)
        (path.parent / "sheet.yaml").write_bytes(data.draw(st.sampled_from([
            b"source: [/INST] \x1b[31m\n", b"a: &x [*x]\n", b"- 1\n- 2\n", b"\xff\xfe\x00", b"key: {a: [1, {b: 2}]}\n",
            b": :\n", b"",
        ])))
        files = ("probs.npy", "probs.csv", "junk.npy", "junk.csv", "sheet.yaml")
        for option in extra:
            if "--llm-judge" in option and "--text" in args:
                continue  # would load the packaged LLM: tests/cli covers the judge
            args += [str(path.parent / a) if a in files else str(path) if a == "SELF" else a for a in option]
        out = data.draw(st.sampled_from([path.parent / "out"] * 4 + [path, path / "sub"]))  # a file is no folder
        with quick_models():
            run_cli(["audit", str(path), *args, "--encoder", "tfidf", "--folds", "2", "--quiet", "--out", str(out)],
                    "cli audit")


@examples(30)
@given(case=table_files(), data=st.data())
def test_cli_dedupe_exits_0_or_2_and_prints_no_escapes(case, data):
    name, content, encoding, names, shape = case
    on = ",".join(data.draw(st.lists(column_choice(names), min_size=1, max_size=2)))
    args = ["dedupe", "--on", on, "--encoder", "hashing", "--quiet"]
    if encoding is not None:
        args += ["--encoding", encoding]
    with written(name, content) as path:
        run_cli([*args, str(path), "--out", str(path.parent / data.draw(st.sampled_from(
            ["clusters.csv", "clusters.parquet", "clusters.jsonl", "clusters.txt"])))], "cli dedupe")


# ----------------------------------------------------------------------------------------------------- census


def census(n: int) -> dict:
    """Run every test above with ``n`` examples each, recording crash classes instead of stopping at the first."""
    global CENSUS
    CENSUS = {}
    tests = [test_read_table_raises_only_labelwise_errors, test_load_labelled_table_raises_only_labelwise_errors,
             test_audit_raises_only_labelwise_errors, test_cli_audit_exits_0_or_2_and_prints_no_escapes,
             test_cli_dedupe_exits_0_or_2_and_prints_no_escapes]
    for test in tests:
        test()
    return CENSUS


if __name__ == "__main__":
    import argparse
    import importlib

    parser = argparse.ArgumentParser(description="Count the distinct crash classes the fuzz tests find.")
    parser.add_argument("--examples", type=int, default=400, help="examples per test")
    count = parser.parse_args().examples
    os.environ["LABELWISE_FUZZ_EXAMPLES"] = str(count)
    fuzz = importlib.import_module("test_fuzz")  # imported afresh: the example counts are read on import
    found = fuzz.census(count)
    print(f"{len(found)} distinct crash classes in {count} examples per test (5 tests); outcomes of the calls:",
          ", ".join(f"{k} {v}" for k, v in sorted(fuzz.OUTCOMES.items())))
    for key, (hits, where, sample) in sorted(found.items(), key=lambda kv: -kv[1][0]):
        print(f"  {hits:5d}  {key}  [{where}]  {sample}")
