"""load_labelled_table: column roles, row ids, texts, embeddings, and the errors at the door."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelwise.data import LabelledTable, load_labelled_table, write_table_atomic
from labelwise.errors import DataError

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def _csv(tmp_path: Path, text: str, name: str = "d.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_text_table_from_csv(tmp_path):
    path = _csv(tmp_path, "title,body,label\nHi,there,a\nYo,,b\n,only body,a\n")
    t = load_labelled_table(path, label="label", text=["title", "body"])
    assert isinstance(t, LabelledTable)
    assert t.source == str(path)
    assert t.text_columns == ["title", "body"] and t.feature_columns == [] and t.embedding_column is None
    assert t.row_ids.dtype == np.int64 and t.row_ids.tolist() == [0, 1, 2]
    assert t.labels.classes == ["a", "b"] and t.labels.codes.tolist() == [0, 1, 0]
    assert t.texts() == ["Hi | there", "Yo", "only body"]


def test_single_text_column_as_string(tmp_path):
    t = load_labelled_table(_csv(tmp_path, "t,y\nx,1\nz,2\n"), label="y", text="t")
    assert t.text_columns == ["t"] and t.texts() == ["x", "z"]
    assert t.labels.classes == ["1", "2"]


def test_all_other_columns_become_features_when_nothing_named(tmp_path):
    t = load_labelled_table(_csv(tmp_path, "a,y,b\n1,p,2\n3,q,4\n"), label="y")
    assert t.feature_columns == ["a", "b"] and t.text_columns == []


def test_only_the_label_column_is_refused(tmp_path):
    with pytest.raises(DataError, match="has only the label column 'y'"):
        load_labelled_table(_csv(tmp_path, "y\np\nq\n"), label="y")


def test_drop_missing_keeps_original_row_ids(tmp_path):
    path = _csv(tmp_path, "t,y\nr0,a\nr1,\nr2,b\nr3,NA\nr4,a\n")
    t = load_labelled_table(path, label="y", text="t", drop_missing=True)
    assert t.row_ids.tolist() == [0, 2, 4]
    assert t.frame.index.tolist() == [0, 1, 2]
    assert t.frame["t"].tolist() == ["r0", "r2", "r4"]
    assert t.labels.decode() == ["a", "b", "a"]


def test_missing_labels_refused_with_rows_lines_and_fix(tmp_path):
    path = _csv(tmp_path, "t,y\nr0,a\nr1,\nr2,b\nr3,NA\n")
    with pytest.raises(DataError) as e:
        load_labelled_table(path, label="y", text="t")
    msg = str(e.value)
    assert f"Label column 'y' has 2 missing labels of 4" in msg
    assert f"rows 1, 3 (lines 3, 5 of {path})" in msg
    assert "--drop-missing" in msg and "drop_missing=True" in msg


def test_all_labels_missing_with_drop(tmp_path):
    df = pd.DataFrame({"t": ["a", "b"], "y": [None, None]})
    with pytest.raises(DataError, match="Every one of the 2 labels in column 'y'"):
        load_labelled_table(df, label="y", text="t", drop_missing=True)


def test_single_class_after_dropping_missing(tmp_path):
    df = pd.DataFrame({"t": ["a", "b", "c"], "y": ["x", None, "x"]})
    with pytest.raises(DataError, match="found only 'x' in column 'y'"):
        load_labelled_table(df, label="y", text="t", drop_missing=True)


def test_unknown_column_suggests_close_match_and_lists_columns(tmp_path):
    path = _csv(tmp_path, "text,category\nx,a\ny,b\n")
    with pytest.raises(DataError) as e:
        load_labelled_table(path, label="categroy", text="text")
    msg = str(e.value)
    assert f"There is no label column 'categroy' in {path}." in msg
    assert "Did you mean 'category'?" in msg
    assert "The columns are: 'text', 'category'." in msg
    with pytest.raises(DataError, match="no text column 'Text' in .*Did you mean 'text'"):
        load_labelled_table(path, label="category", text="Text")
    with pytest.raises(DataError) as e:
        load_labelled_table(path, label="category", features=["zzz"])
    assert "no feature column 'zzz'" in str(e.value) and "Did you mean" not in str(e.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(features=["a", "y"]), r"'y' is the label column and cannot also be a feature column.*--features"),
        (dict(text="y"), r"'y' is the label column and cannot also be a text column"),
        (dict(embeddings="y"), r"'y' is the label column and cannot also be a embeddings column"),
        (dict(text="a", features=["a"]), r"'a' is given both as a text and as a feature column"),
        (dict(text=["a", "a"]), r"'a' is listed twice as a text column"),
    ],
)
def test_column_role_conflicts(kwargs, match):
    df = pd.DataFrame({"a": ["p", "q"], "y": ["m", "n"]})
    with pytest.raises(DataError, match=match):
        load_labelled_table(df, label="y", **kwargs)


def test_duplicate_column_names_in_dataframe():
    df = pd.DataFrame([["a", "x", "y"], ["b", "x", "z"]], columns=["t", "y", "y"])
    with pytest.raises(DataError, match="Column 'y' appears more than once"):
        load_labelled_table(df, label="y", text="t")


def test_dataframe_source_row_ids_are_positions_not_index():
    df = pd.DataFrame({"t": ["a", "b", "c"], "y": ["x", None, "z"]}, index=[10, 20, 30])
    t = load_labelled_table(df, label="y", text="t", drop_missing=True)
    assert t.source == "<DataFrame>" and t.row_ids.tolist() == [0, 2]
    assert t.frame.index.tolist() == [0, 1]


def test_multi_label_delimited_from_csv(tmp_path):
    path = _csv(tmp_path, "t,y\nu,a|b\nv,b\nw,c|a\n")
    t = load_labelled_table(path, label="y", text="t", delimiter="|")
    assert t.labels.multi_label and t.labels.classes == ["a", "b", "c"]
    assert t.labels.codes.astype(int).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


def test_multi_label_list_column_from_parquet_and_jsonl(tmp_path):
    df = pd.DataFrame({"t": ["u", "v", "w"], "y": [["a", "b"], ["b"], []]})
    for name in ("m.parquet", "m.jsonl"):
        write_table_atomic(df, tmp_path / name)
        t = load_labelled_table(tmp_path / name, label="y", text="t")
        assert t.labels.multi_label, name
        assert t.labels.decode() == [["a", "b"], ["b"], []], name


def test_mixed_list_cells_named_by_original_row(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"t": "u", "y": ["a"]}\n{"t": "v", "y": ["b"]}\n{"t": "w", "y": "c"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"single values \(row 2 \(line 3 of .*m.jsonl\): 'c'\)"):
        load_labelled_table(path, label="y", text="t")


def test_embeddings_from_list_cells():
    df = pd.DataFrame({"e": [[0.0, 1.0], np.array([2.0, 3.0]), (4, 5)], "y": ["a", "b", "a"]})
    t = load_labelled_table(df, label="y", embeddings="e")
    emb = t.embeddings()
    assert emb.dtype == np.float32 and emb.shape == (3, 2)
    assert emb.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert t.feature_columns == [] and t.embedding_column == "e"


def test_embeddings_from_json_strings_in_csv(tmp_path):
    rows = [("a", [0.5, -1.0, 2.0]), ("b", [1.0, 0.0, 0.25])]
    text = "y,e\n" + "".join(f'{y},"{json.dumps(v)}"\n' for y, v in rows)
    t = load_labelled_table(_csv(tmp_path, text), label="y", embeddings="e")
    assert t.embeddings().tolist() == [[0.5, -1.0, 2.0], [1.0, 0.0, 0.25]]


def test_embeddings_length_mismatch_names_original_row(tmp_path):
    text = 'y,e\na,"[1, 2]"\n,"[1, 2]"\nb,"[1, 2]"\na,"[1, 2, 3]"\n'
    path = _csv(tmp_path, text)
    with pytest.raises(DataError) as e:
        load_labelled_table(path, label="y", embeddings="e", drop_missing=True)
    msg = str(e.value)
    assert f"column 'e' row 3 (line 5 of {path}) has 3 numbers but the first row has 2" in msg


@pytest.mark.parametrize(
    ("cell", "match"),
    [
        ("[1, oops]", r"column 'e' row 1 is not a list of numbers: '\[1, oops\]'"),
        (None, r"column 'e' row 1 is missing\. Every row needs one"),
        ("", r"column 'e' row 1 is missing"),
        ('["a", "b"]', r"column 'e' row 1 is not a list of numbers"),
        ("[[1, 2]]", r"column 'e' row 1 is not a list of numbers"),
        ("[1, NaN]", r"column 'e' row 1 contains NaN or infinite"),
    ],
)
def test_embeddings_bad_cell(cell, match):
    df = pd.DataFrame({"e": ["[0, 1]", cell], "y": ["a", "b"]})
    with pytest.raises(DataError, match=match):
        load_labelled_table(df, label="y", embeddings="e")


def test_texts_and_embeddings_without_columns_say_which_option():
    t = load_labelled_table(pd.DataFrame({"a": [1, 2], "y": ["p", "q"]}), label="y")
    with pytest.raises(DataError, match="--text"):
        t.texts()
    with pytest.raises(DataError, match="--embeddings"):
        t.embeddings()


def test_read_errors_pass_through(tmp_path):
    with pytest.raises(DataError, match="File not found"):
        load_labelled_table(tmp_path / "none.csv", label="y")


@pytest.mark.shared
@pytest.mark.skipif(
    not (DATASETS / "banking77" / "train.csv").exists(),
    reason=f"needs the shared datasets at {DATASETS} (see ../shared/datasets/README.md)",
)
def test_banking77_train():
    t = load_labelled_table(DATASETS / "banking77" / "train.csv", label="category", text="text")
    assert len(t) == 10003 and t.labels.n_classes == 77
    assert t.labels.counts().sum() == 10003
    assert t.row_ids.tolist() == list(range(10003))
    assert t.texts()[0] == "I am still waiting on my card?"
    assert t.labels.decode()[0] == "card_arrival"
