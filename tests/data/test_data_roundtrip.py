"""A table written back with its label column edited: every other cell exactly as read (labelwise.data.roundtrip)."""

from __future__ import annotations

import codecs
import csv
import io
import json
import os

import pandas as pd
import pytest

from labelwise.data.io import read_table
from labelwise.data.roundtrip import LabelEdit, write_edited_table
from labelwise.errors import DataError

# cells pandas changes on a read-and-write: the zeros, the NA markers, the bool, the int in a column with a gap,
# float digits, spaces, quotes, line breaks inside a cell, a formula of the user's own
TRICKY = ["000000", "01234", "NA", "None", "n/a", "FALSE", "94", "0.1000000000000000055511151231257827",
          "1234567890123456789012", " padded ", 'say "hi"', "a,b", "line one\nline two", "line\r\nbreak", "-5",
          "=SUM(A1:A2)", "café ☕", "", "1e3", "nan"]


def _edit(**kwargs) -> LabelEdit:
    kwargs.setdefault("column", "category")
    return LabelEdit(**kwargs)


def _cells(data: bytes, encoding: str = "utf-8", sep: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(codecs.decode(data, encoding), newline=""), delimiter=sep))


def test_a_small_csv_comes_back_byte_for_byte_except_the_changed_label(tmp_path):
    source = tmp_path / "t.csv"
    source.write_bytes(b'id,category,note\r\n000007,"01234",NA\r\n\r\n"0008",b,""\r\n9,b,"x\r\ny"\r\n10,b')
    frame = read_table(source)
    assert len(frame) == 4 and frame["category"].tolist() == ["01234", "b", "b", "b"]
    given = {0: ["01234"], 1: ["b"], 2: ["b"], 3: ["b"]}
    notes = write_edited_table(source, tmp_path / "o.csv", _edit(
        given=given, changed={2: ["01234"]}, copy_as="category_given",
        added={"reviewed_by": {2: "=cmd|' /C calc'!A0", 0: "ana"}}))
    assert notes == []
    assert (tmp_path / "o.csv").read_bytes() == (
        b'id,category,category_given,note,reviewed_by\r\n'
        b'000007,"01234","01234",NA,ana\r\n'
        b'\r\n'  # a blank line stays (readers skip it)
        b'"0008",b,b,"",\r\n'
        b'9,01234,b,"x\r\ny",\'=cmd|\' /C calc\'!A0\r\n'  # the label spelled as the file spells it; no formula
        b'10,b,b,,')  # no line break at the end, as in the source


@pytest.mark.parametrize("sep,ext", [(",", "csv"), ("\t", "tsv")])
def test_every_untouched_cell_of_a_tricky_table_round_trips(tmp_path, sep, ext):
    n = 60
    rows = [[f"{i:06d}", TRICKY[i % len(TRICKY)], TRICKY[(i * 7) % len(TRICKY)], ["a", "b", "c"][i % 3]]
            for i in range(n)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\n")
    writer.writerow(["id", "value", "other", "category"])
    writer.writerows(rows)
    source = tmp_path / f"t.{ext}"
    source.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    assert len(read_table(source)) == n
    changed = {3: ["c"], 10: ["a", "b"], 59: ["a"]}
    write_edited_table(source, tmp_path / f"o.{ext}", _edit(
        given={i: [r[3]] for i, r in enumerate(rows)}, changed=changed, copy_as="category_given",
        added={"review_decision": {i: "relabel" for i in changed}}))
    out = _cells((tmp_path / f"o.{ext}").read_bytes(), sep=sep)
    assert out[0] == ["id", "value", "other", "category", "category_given", "review_decision"]
    for i, row in enumerate(rows):
        assert out[i + 1][:3] == row[:3], f"row {i}: {out[i + 1][:3]} != {row[:3]}"
        assert out[i + 1][3] == ("|".join(changed[i]) if i in changed else row[3])
        assert out[i + 1][4] == row[3] and out[i + 1][5] == ("relabel" if i in changed else "")


@pytest.mark.parametrize("encoding,bom", [("latin-1", b""), ("cp1252", b""), ("utf-8", codecs.BOM_UTF8),
                                          ("utf-8-sig", b""), ("utf-16", codecs.BOM_UTF16_LE),
                                          ("utf-16", codecs.BOM_UTF16_BE), ("utf-16-le", b"")])
def test_the_encoding_and_its_byte_order_mark_are_kept(tmp_path, encoding, bom):
    text = "id,category,note\n001,ä,café\n002,b,naïve\n"
    codec = {codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be"}.get(bom, encoding)
    if codec == "utf-8-sig":
        codec = "utf-8"
    source = tmp_path / "t.csv"
    source.write_bytes(bom + text.encode(codec))
    read_as = "utf-8" if encoding == "utf-8" else encoding
    assert read_table(source, encoding=read_as)["note"].tolist() == ["café", "naïve"]
    notes = write_edited_table(source, tmp_path / "o.csv", _edit(given={0: ["ä"], 1: ["b"]}, changed={1: ["ä"]},
                                                                 added={"reviewed_by": {1: "Łukasz"}}),
                               encoding=read_as)
    data = (tmp_path / "o.csv").read_bytes()
    assert data.startswith(bom) if bom else not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE,
                                                                  codecs.BOM_UTF16_BE))
    representable = "Łukasz" if codec.startswith("utf") else "?ukasz"
    assert data[len(bom):].decode(codec) == ("id,category,note,reviewed_by\n001,ä,café,\n"
                                             f"002,ä,naïve,{representable}\n")
    assert bool(notes) == (not codec.startswith("utf"))  # the one character Latin-1 cannot hold is named


def test_short_rows_are_padded_so_added_columns_line_up(tmp_path):
    source = tmp_path / "t.csv"
    source.write_text("a,category,c\n1,x\n2,y,3\n")
    assert read_table(source)["c"].isna().tolist() == [True, False]
    write_edited_table(source, tmp_path / "o.csv", _edit(added={"reviewed_by": {0: "ana"}}))
    assert (tmp_path / "o.csv").read_text() == "a,category,c,reviewed_by\n1,x,,ana\n2,y,3,\n"


def test_a_changed_file_is_refused_and_nothing_is_left(tmp_path):
    source = tmp_path / "t.csv"
    source.write_text("id,category\n1,a\n2,b\n")
    with pytest.raises(DataError, match="changed since the audit"):
        write_edited_table(source, tmp_path / "o.csv", _edit(), expected_rows=3)
    with pytest.raises(DataError, match="no column 'label'"):
        write_edited_table(source, tmp_path / "o.csv", LabelEdit(column="label"))
    assert sorted(os.listdir(tmp_path)) == ["t.csv"]  # no output, no temporary file


def test_existing_column_names_are_not_repeated(tmp_path):
    source = tmp_path / "t.csv"
    source.write_text("category,category_given,reviewed_by\na,old,bo\n")
    write_edited_table(source, tmp_path / "o.csv", _edit(copy_as="category_given", added={"reviewed_by": {0: "x"}}))
    assert (tmp_path / "o.csv").read_text().splitlines()[0] == \
        "category,category_given_2,category_given,reviewed_by,reviewed_by_2"


def test_parquet_keeps_its_schema_metadata_and_codec(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    frame = pd.DataFrame({"id": pd.array([1, 2, 3], dtype="int32"), "code": ["00001", None, "00003"],
                          "flag": [True, False, True], "score": pd.array([0.1, 0.2, 0.3], dtype="float32"),
                          "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]).tz_localize("UTC"),
                          "kind": pd.Categorical(["x", "y", "x"]), "category": [3, 7, 3]})
    frame.to_parquet(tmp_path / "t.parquet", compression="zstd", index=False)
    schema = pq.read_schema(tmp_path / "t.parquet")
    notes = write_edited_table(tmp_path / "t.parquet", tmp_path / "o.parquet", _edit(
        given={0: ["3"], 1: ["7"], 2: ["3"]}, changed={0: ["7"]}, copy_as="category_given",
        added={"reviewed_by": {0: "ana"}}))
    assert notes == []
    out = pq.ParquetFile(tmp_path / "o.parquet")
    for name in schema.names:
        assert out.schema_arrow.field(name).type == schema.field(name).type, name
    assert out.metadata.row_group(0).column(0).compression == "ZSTD"
    back = pd.read_parquet(tmp_path / "o.parquet")
    assert back["category"].tolist() == [7, 7, 3] and back["category_given"].tolist() == [3, 7, 3]
    assert back["reviewed_by"].tolist() == ["ana", None, None]
    pd.testing.assert_frame_equal(back[frame.columns.drop("category")], frame.drop(columns="category"))
    assert isinstance(back["kind"].dtype, pd.CategoricalDtype)  # pandas' own metadata still read
    assert pa.types.is_int64(out.schema_arrow.field("category").type)


def test_parquet_label_column_becomes_text_only_when_a_label_does_not_fit(tmp_path):
    import pyarrow.parquet as pq

    pd.DataFrame({"category": [3, 7, 3], "x": [1.5, 2.5, 3.5]}).to_parquet(tmp_path / "t.parquet", index=False)
    notes = write_edited_table(tmp_path / "t.parquet", tmp_path / "o.parquet", _edit(
        given={0: ["3"], 1: ["7"], 2: ["3"]}, changed={1: ["3", "7"]}))
    assert len(notes) == 1 and "was int64 and is now string" in notes[0] and "'3|7'" in notes[0]
    back = pd.read_parquet(tmp_path / "o.parquet")
    assert back["category"].tolist() == ["3", "3|7", "3"] and back["x"].tolist() == [1.5, 2.5, 3.5]
    assert pq.read_schema(tmp_path / "o.parquet").field("x").type == pq.read_schema(tmp_path / "t.parquet").field(
        "x").type


def test_parquet_multi_label_lists_stay_lists(tmp_path):
    pd.DataFrame({"category": [["a", "b"], ["c"]], "t": ["x", "y"]}).to_parquet(tmp_path / "t.parquet", index=False)
    write_edited_table(tmp_path / "t.parquet", tmp_path / "o.parquet", _edit(
        given={0: ["a", "b"], 1: ["c"]}, changed={1: ["a", "c"]}))
    assert [list(v) for v in pd.read_parquet(tmp_path / "o.parquet")["category"]] == [["a", "b"], ["a", "c"]]


def test_json_lines_keep_their_values_and_key_order(tmp_path):
    lines = [{"id": "000001", "category": 3, "meta": {"deep": [1, None]}, "note": "NA"},
             {"id": "000002", "category": 7, "meta": None, "note": "=1+1"}]
    source = tmp_path / "t.jsonl"
    source.write_text("\n".join(json.dumps(o) for o in lines) + "\n\n")
    write_edited_table(source, tmp_path / "o.jsonl", _edit(given={0: ["3"], 1: ["7"]}, changed={1: ["3"]},
                                                           copy_as="category_given",
                                                           added={"reviewed_by": {1: "=ana"}}))
    out = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert out == [{"id": "000001", "category": 3, "category_given": 3, "meta": {"deep": [1, None]}, "note": "NA",
                    "reviewed_by": None},
                   {"id": "000002", "category": 3, "category_given": 7, "meta": None, "note": "=1+1",
                    "reviewed_by": "=ana"}]  # JSON is not opened by spreadsheets: kept as typed
    assert list(out[0]) == ["id", "category", "category_given", "meta", "note", "reviewed_by"]
