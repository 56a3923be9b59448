"""Malformed input found by fuzzing (issue 13): each case is a DataError that says what to do, or read correctly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelwise.data import encode_labels, load_labelled_table, read_table, write_table_atomic
from labelwise.errors import DataError

CSV = "text,label\ngood film,pos\nbad film,neg\nfine,pos\n"


# ------------------------------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_without_a_byte_order_mark_are_read_in_their_byte_order(tmp_path, codec):
    path = tmp_path / "t.csv"
    path.write_bytes(CSV.encode(codec))  # the -le/-be codecs write no BOM
    got = read_table(path, encoding=codec[:6])  # the user says "utf-16" / "utf-32"
    assert got.to_dict("list") == {"text": ["good film", "bad film", "fine"], "label": ["pos", "neg", "pos"]}


def test_utf16_without_a_byte_order_mark_and_no_ascii_names_both_byte_orders(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("文本,标签\n好,正\n坏,负\n".encode("utf-16-le"))  # no zero bytes to tell the order by
    with pytest.raises(DataError, match="no byte-order mark.*utf-16-le.*utf-16-be"):
        read_table(path, encoding="utf-16")


def test_a_utf8_file_read_as_utf32_says_the_encoding_looks_wrong(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(CSV, encoding="utf-8")
    with pytest.raises(DataError, match="does not look like utf-32.*may well be UTF-8"):
        read_table(path, encoding="utf-32")


@pytest.mark.parametrize("codec", ["rot13", "hex", "base64", "zlib"])
def test_codecs_that_are_not_text_encodings_are_refused(tmp_path, codec):
    path = tmp_path / "t.csv"
    path.write_text(CSV, encoding="utf-8")
    with pytest.raises(DataError, match=f"'{codec}' is not a text encoding"):
        read_table(path, encoding=codec)


@pytest.mark.parametrize("codec", ["no-such-codec", "utf\x00-8"])
def test_unknown_encodings_are_refused(tmp_path, codec):
    path = tmp_path / "t.csv"
    path.write_text(CSV, encoding="utf-8")
    with pytest.raises(DataError, match="Unknown text encoding"):
        read_table(path, encoding=codec)


@pytest.mark.parametrize("name", ["t.csv", "t.jsonl"])
def test_a_codec_that_fails_without_saying_where_is_a_decode_error(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b'{"a": "\xc3\xa9"}\n' if name.endswith("jsonl") else b"a\n\xff\xfe\n")
    with pytest.raises(DataError, match="Cannot decode .* as idna"):
        read_table(path, encoding="idna")


# ------------------------------------------------------------------------------------------------------ JSON


@pytest.mark.parametrize("name, text", [
    ("t.jsonl", '{"label": "a", "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n"),
    ("t.json", "[" * 100_000 + "]" * 100_000),
])
def test_deeply_nested_json_is_refused_with_the_line(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match="nests JSON arrays or objects too deeply"):
        read_table(path)


def test_integers_beyond_64_bits_are_kept_as_their_digits(tmp_path):
    huge, huger = "9" * 400, "1" + "0" * 5000  # 5,000 digits: more than Python's int() reads from text by default
    path = tmp_path / "t.jsonl"
    path.write_text(f'{{"id": {huge}, "label": {huge}, "n": 3}}\n{{"id": {huger}, "label": 7, "n": -4}}\n'
                    f'{{"id": 1, "label": 7, "n": {2**63 - 1}}}\n', encoding="utf-8")
    frame = read_table(path)
    assert frame["id"].tolist() == [huge, huger, 1]  # no float rounding, no OverflowError
    assert frame["n"].tolist() == [3, -4, 2**63 - 1] and frame["n"].dtype == np.int64
    labels = encode_labels(frame["label"])
    assert labels.classes == ["7", huge] and labels.codes.tolist() == [1, 0, 0]


def test_a_lone_surrogate_in_json_becomes_the_replacement_character(tmp_path):
    path = tmp_path / "t.jsonl"
    lines = [{"text": "half \ud800 a character", "label": "a\udfff"}, {"text": "a pair \U0001f642", "label": "b"}]
    path.write_text("\n".join(json.dumps(obj) for obj in lines) + "\n", encoding="utf-8")  # ASCII escapes: \\ud800
    table = load_labelled_table(path, label="label", text="text")
    assert table.texts() == ["half \ufffd a character", "a pair \U0001f642"]  # a valid pair stays one character
    assert table.labels.classes == ["a\ufffd", "b"]
    for s in table.texts() + table.labels.classes:
        s.encode("utf-8")  # every string can be written


def test_lone_surrogates_in_a_dataframe_are_replaced_in_texts_and_labels():
    frame = pd.DataFrame({"text": ["x\ud800", "y", "z"], "label": ["p\udc00", "q", "q"]})
    table = load_labelled_table(frame, label="label", text="text")
    assert table.texts() == ["x\ufffd", "y", "z"] and table.labels.classes == ["p\ufffd", "q"]


# ------------------------------------------------------------------------------------------ objects in cells

def _jsonl(tmp_path, rows) -> str:
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


ROWS = [{"label": "a" if i % 2 else "b", "n": i, "meta": {"k": i}, "tags": [i, i + 1]} for i in range(6)]


def test_default_features_leave_out_columns_of_objects_and_lists(tmp_path):
    table = load_labelled_table(_jsonl(tmp_path, ROWS), label="label")
    assert table.feature_columns == ["n"]


def test_a_feature_column_of_objects_is_refused_with_the_row(tmp_path):
    with pytest.raises(DataError, match=r"Feature column 'meta' holds an object \(dict\) at row 0 \(line 1"):
        load_labelled_table(_jsonl(tmp_path, ROWS), label="label", features=["n", "meta"])


def test_a_label_column_of_objects_is_refused_with_the_row(tmp_path):
    rows = [{"label": "a", "t": "x"}, {"label": {"name": "b"}, "t": "y"}]
    with pytest.raises(DataError, match=r"holds a JSON object \(dict\) at row 1 \(line 2 .*\{'name': 'b'\}"):
        load_labelled_table(_jsonl(tmp_path, rows), label="label", text="t")


def test_a_multi_label_cell_holding_lists_is_refused_with_the_row(tmp_path):
    rows = [{"label": ["a"], "t": "x"}, {"label": ["b", ["c"]], "t": "y"}]
    with pytest.raises(DataError, match=r"at row 1 \(line 2 .* is a list holding a list or an object"):
        load_labelled_table(_jsonl(tmp_path, rows), label="label", text="t")


def test_a_text_column_of_objects_is_text(tmp_path):
    rows = [{"label": "a", "t": {"k": 1}}, {"label": "b", "t": [1, 2]}]
    assert load_labelled_table(_jsonl(tmp_path, rows), label="label", text="t").texts() == ["{'k': 1}", "[1, 2]"]


def test_repeated_column_names_among_the_default_features_are_refused():
    frame = pd.DataFrame([[1, 2, "a"], [3, 4, "b"]], columns=["x", "x", "label"])
    with pytest.raises(DataError, match="more than one column named 'x'"):
        load_labelled_table(frame, label="label")


def test_an_embedding_cell_that_is_not_a_readable_vector_names_the_row():
    frame = pd.DataFrame({"e": ["[0.5, 1]", "[" * 5000 + "]" * 5000, "[1, 2]"], "label": ["a", "b", "a"]})
    with pytest.raises(DataError, match="column 'e' row 1 is not a list of numbers"):
        load_labelled_table(frame, label="label", embeddings="e")
    frame["e"] = ["[0.5, 1]", "[" + "9" * 5000 + ", 1]", "[1, 2]"]  # longer than int() reads from text
    with pytest.raises(DataError, match="column 'e' row 1 is not a list of numbers"):
        load_labelled_table(frame, label="label", embeddings="e")


# --------------------------------------------------------------------------------------------------- Parquet

FRAME = pd.DataFrame({"text": [f"text number {i} about cats and dogs" for i in range(200)], "label": ["a", "b"] * 100})


@pytest.mark.parametrize("compression, checksums", [("snappy", False), ("zstd", False), ("none", True)])
def test_a_parquet_file_with_a_corrupted_data_page_is_a_data_error(tmp_path, compression, checksums):
    path = tmp_path / "t.parquet"
    FRAME.to_parquet(path, compression=compression, write_page_checksum=checksums)
    page = pq.ParquetFile(path).metadata.row_group(0).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    for i in range(page + 20, page + 40):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"Cannot read .*t\.parquet as Parquet \(.+\)\. Check"):
        read_table(path)


@pytest.mark.parametrize("pandas_metadata", [
    b'{"index_columns": [{"kind": "weird"}], "columns": 5}',  # valid JSON of the wrong shape
    b'{"index_columns": ["no_such_column"], "columns": []}',
    b"not json at all",
    b"\xff\xfe",
])
def test_parquet_with_pandas_metadata_pandas_cannot_apply_reads_the_columns_as_stored(tmp_path, pandas_metadata):
    table = pa.Table.from_pandas(FRAME.head(4))
    table = table.replace_schema_metadata({**table.schema.metadata, b"pandas": pandas_metadata})
    pq.write_table(table, tmp_path / "t.parquet")
    got = read_table(tmp_path / "t.parquet")
    assert got.columns.tolist() == ["text", "label"] and got.equals(FRAME.head(4))


def _flip_each_seventh_byte_of_the_text_column(path) -> dict:
    """Flip one bit at a time across the text column's pages; count the reads that fail, match, or differ."""
    column = pq.ParquetFile(path).metadata.row_group(0).column(0)
    original, outcomes = path.read_bytes(), {"error": 0, "same": 0, "changed": 0}
    for at in range(column.dictionary_page_offset, column.dictionary_page_offset + column.total_compressed_size, 7):
        data = bytearray(original)
        data[at] ^= 0x01
        path.write_bytes(bytes(data))
        try:
            outcomes["same" if read_table(path).equals(FRAME) else "changed"] += 1
        except DataError:
            outcomes["error"] += 1
    return outcomes


def test_parquet_written_by_labelwise_has_page_checksums_so_a_flipped_bit_never_reads_as_other_data(tmp_path):
    ours = _flip_each_seventh_byte_of_the_text_column(write_table_atomic(FRAME, tmp_path / "ours.parquet"))
    FRAME.to_parquet(tmp_path / "plain.parquet")
    plain = _flip_each_seventh_byte_of_the_text_column(tmp_path / "plain.parquet")
    assert ours["changed"] == 0 and ours["error"] > 0
    assert plain["changed"] > 0  # without checksums some flips silently change the text


# --------------------------------------------------------------------------------------------------- writing


def test_attrs_that_json_cannot_hold_do_not_stop_a_write(tmp_path):
    frame = FRAME.head(3).copy()
    frame.attrs["threshold"] = object()
    for name in ("t.parquet", "t.jsonl", "t.csv"):
        assert read_table(write_table_atomic(frame, tmp_path / name)).equals(FRAME.head(3))
    assert frame.attrs  # the caller's frame is untouched


def test_a_column_parquet_cannot_hold_is_a_data_error_and_leaves_no_file(tmp_path):
    frame = pd.DataFrame({"x": [1.5, {"a": 1}, [1]], "label": ["a", "b", "c"]})
    with pytest.raises(DataError, match="Cannot write .*t.parquet as Parquet.*write .jsonl or .csv instead"):
        write_table_atomic(frame, tmp_path / "t.parquet")
    assert list(tmp_path.iterdir()) == []


def test_read_text_file_names_the_file_and_what_is_wrong(tmp_path):
    from labelwise.data.io import read_text_file

    (tmp_path / "ok.yaml").write_bytes("\ufeffname: é\n".encode("utf-8"))
    assert read_text_file(tmp_path / "ok.yaml", "Taxonomy") == "name: é\n"  # the byte-order mark is skipped
    (tmp_path / "bad.yaml").write_bytes(b"name: \xe9\n")  # latin-1
    with pytest.raises(DataError, match=r"Taxonomy .*bad.yaml is not UTF-8 text \(byte 0xe9 at offset 6\)"):
        read_text_file(tmp_path / "bad.yaml", "Taxonomy")
    with pytest.raises(DataError, match="Datasheet not found: .*none.yaml"):
        read_text_file(tmp_path / "none.yaml", "Datasheet")
    with pytest.raises(DataError, match="is a folder; give the file"):
        read_text_file(tmp_path, "Label list")
