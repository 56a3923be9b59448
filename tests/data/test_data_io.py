"""read_table: every format round-trips; every failure names the file, the place and the fix."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labelwise.data import read_table, write_table_atomic
from labelwise.errors import DataError

FRAME = pd.DataFrame({"text": ["good film", "bad film", "ok, fine"], "label": ["pos", "neg", "pos"], "n": [1, 2, 3]})


@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.tab", "t.parquet", "t.pq", "t.jsonl", "t.ndjson", "t.json"])
def test_round_trip_every_format(tmp_path, name):
    path = tmp_path / name
    write_table_atomic(FRAME, path)
    got = read_table(path)
    assert got.columns.tolist() == ["text", "label", "n"]
    assert got["text"].tolist() == ["good film", "bad film", "ok, fine"]
    assert got["label"].tolist() == ["pos", "neg", "pos"]
    assert got["n"].tolist() == [1, 2, 3]


def test_read_accepts_str_path_and_uppercase_extension(tmp_path):
    path = tmp_path / "T.CSV"
    path.write_text("a,b\n1,x\n", encoding="utf-8")
    assert read_table(str(path)).to_dict("list") == {"a": [1], "b": ["x"]}


def test_dataframe_passes_through_uncopied():
    assert read_table(FRAME) is FRAME


def test_parquet_list_column_round_trips(tmp_path):
    df = pd.DataFrame({"y": [["a", "b"], ["b"]], "e": [[0.5, 1.0], [2.0, 3.0]]})
    write_table_atomic(df, tmp_path / "l.parquet")
    got = read_table(tmp_path / "l.parquet")
    assert [list(v) for v in got["y"]] == [["a", "b"], ["b"]]
    assert np.array_equal(np.stack(got["e"].tolist()), [[0.5, 1.0], [2.0, 3.0]])


def test_json_array_file_is_accepted(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"a": 1, "y": "p"}, {"a": 2, "y": "q"}]), encoding="utf-8")
    assert read_table(path).to_dict("list") == {"a": [1, 2], "y": ["p", "q"]}


def test_jsonl_keeps_lists_and_skips_blank_lines(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"y": ["a", "b"]}\n\n{"y": []}\n', encoding="utf-8")
    assert read_table(path)["y"].tolist() == [["a", "b"], []]


def test_utf8_bom_is_ignored(tmp_path):
    for name in ("b.csv", "b.jsonl"):
        path = tmp_path / name
        body = "label,text\nx,é\n" if name.endswith("csv") else '{"label": "x", "text": "é"}\n'
        path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
        df = read_table(path)
        assert df.columns.tolist() == ["label", "text"], name
        assert df["text"].tolist() == ["é"]


def test_other_encoding_when_asked(tmp_path):
    path = tmp_path / "lat.csv"
    path.write_bytes("y,t\na,café\nb,naïve\n".encode("latin-1"))
    assert read_table(path, encoding="latin-1")["t"].tolist() == ["café", "naïve"]


# ----------------------------------------------------------------------------------------------------- errors


def test_missing_file_names_path_and_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as e:
        read_table("nope/train.csv")
    msg = str(e.value)
    assert "File not found: nope/train.csv" in msg
    assert str(tmp_path / "nope" / "train.csv") in msg
    assert "current directory" in msg


def test_directory_is_refused(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(DataError, match="is a directory"):
        read_table(tmp_path / "d.csv")


def test_unknown_extension_lists_supported(tmp_path):
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(DataError) as e:
        read_table(path)
    msg = str(e.value)
    assert "t.xlsx" in msg and "'.xlsx'" in msg
    for ext in (".csv", ".tsv", ".parquet", ".jsonl"):
        assert ext in msg


def test_header_only_is_empty(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("text,label\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_table(path)
    assert "h.csv has a header (text, label) but no data rows" in str(e.value)


@pytest.mark.parametrize("name", ["z.csv", "z.jsonl", "z.parquet"])
def test_zero_bytes_is_empty(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(DataError, match=rf"{name} is empty \(0 bytes\)"):
        read_table(tmp_path / name)


def test_jsonl_with_only_blank_lines_is_empty(tmp_path):
    (tmp_path / "b.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="b.jsonl has no data rows"):
        read_table(tmp_path / "b.jsonl")


def test_empty_dataframe_is_refused():
    with pytest.raises(DataError, match="no rows"):
        read_table(pd.DataFrame({"a": []}))


def test_undecodable_bytes_name_offset_line_and_encoding_fix(tmp_path):
    path = tmp_path / "lat.csv"
    path.write_bytes("y,t\na,ok\nb,café\n".encode("latin-1"))  # é = 0xe9 at byte 4+5+5 = 14
    with pytest.raises(DataError) as e:
        read_table(path)
    msg = str(e.value)
    assert "lat.csv as utf-8" in msg
    assert "byte offset 14 (line 3, row 1, byte 0xe9)" in msg
    assert "--encoding latin-1" in msg and "encoding=" in msg


def test_undecodable_bytes_found_past_the_first_chunk(tmp_path):
    from labelwise.data.io import _find_undecodable

    path = tmp_path / "big.csv"
    body = b"y,t\n" + b"a,xxxxxxxxx\n" * 10 + "b,\u00e9t\u00e9\n".encode("utf-8")[:-3] + b"\xff\n"
    path.write_bytes(body)
    # chunk size 7 splits the two-byte é across chunks; the offset must still be absolute
    assert _find_undecodable(path, "utf-8", chunk_size=7) == (len(body) - 2, 12, 0xFF)


def test_unknown_encoding_name(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="Unknown text encoding 'utf-9'"):
        read_table(path, encoding="utf-9")


def test_ragged_csv_names_row_line_and_counts(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("text,label\nhi,a\nhello, world,b\nyo,c\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_table(path)
    msg = str(e.value)
    assert f"Row 1 (line 3 of {path}) has 3 fields but the header has 2" in msg
    assert "double quotes" in msg


def test_ragged_first_row_is_not_silently_shifted(tmp_path):
    # without care pandas would take column 0 as the index and shift every value one column left
    path = tmp_path / "r.csv"
    path.write_text("text,label\nhello, world,b\nyo,c\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"Row 0 \(line 2 of .*r.csv\) has 3 fields but the header has 2"):
        read_table(path)


def test_ragged_row_after_quoted_line_break_gives_real_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('text,label\n"two\nlines",a\nx,y,z\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"Row 1 \(line 4 of .*r.csv\) has 3 fields"):
        read_table(path)


def test_ragged_tsv_says_tab(tmp_path):
    path = tmp_path / "r.tsv"
    path.write_text("text\tlabel\na\tb\tc\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_table(path)
    assert "has 3 fields but the header has 2" in str(e.value) and "contain a tab" in str(e.value)


def test_unclosed_quote(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('a,b\n1,2\n3,4\n"5,6\n7,8\n', encoding="utf-8")
    with pytest.raises(DataError, match=r'never closed, starting at row 2 \(around line 4\)'):
        read_table(path)


def test_malformed_json_line_names_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{"a": 2\n{"a": 3}\n', encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_table(path)
    msg = str(e.value)
    assert f"Line 2 of {path} is not valid JSON" in msg and "column 8" in msg
    assert "one complete JSON object" in msg


def test_json_line_that_is_not_an_object(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(DataError, match="Line 2 of .*bad.jsonl holds a JSON list, not an object"):
        read_table(path)


def test_not_parquet(tmp_path):
    path = tmp_path / "x.parquet"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"Cannot read .*x.parquet as Parquet"):
        read_table(path)


def test_not_a_path():
    with pytest.raises(DataError, match="pass a file path or a pandas DataFrame"):
        read_table(42)  # type: ignore[arg-type]
