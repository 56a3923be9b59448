"""read_table(sep=...): semicolon and pipe files, named separators, and the hint when a file reads as one column."""

import pytest

from labelwise.data.io import read_table
from labelwise.errors import DataError


def test_semicolon_file_needs_sep_and_says_so(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text;label\nhello, world;a\nbye;b\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"looks semicolon-separated\. Pass --sep ';'"):
        read_table(path)
    frame = read_table(path, sep=";")
    assert frame.columns.tolist() == ["text", "label"]
    assert frame["text"].tolist() == ["hello, world", "bye"]
    assert read_table(path, sep="semicolon").equals(frame)


def test_pipe_and_tab_names(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a|b\n1|2\n", encoding="utf-8")
    assert read_table(path, sep="|").shape == (1, 2)
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb\n1\t2\n", encoding="utf-8")
    assert read_table(tsv, sep="tab").shape == (1, 2)
    assert read_table(tsv, sep="\\t").shape == (1, 2)


@pytest.mark.parametrize("bad", ["ab", "x", '"', ""])
def test_bad_separator_is_refused(tmp_path, bad):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="--sep must be one character"):
        read_table(path, sep=bad)


def test_sep_on_jsonl_is_refused(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n', encoding="utf-8")
    with pytest.raises(DataError, match="no separator"):
        read_table(path, sep=";")
