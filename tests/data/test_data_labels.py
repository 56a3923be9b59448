"""encode_labels: classes, codes, multi-label, and the errors for missing labels and a single class."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelwise.data import LabelColumn, encode_labels
from labelwise.errors import DataError, ShapeError


def test_strings_sorted_and_stripped():
    lab = encode_labels(pd.Series(["dog", " cat", "dog ", "bird"], name="animal"))
    assert lab.name == "animal" and not lab.multi_label
    assert lab.classes == ["bird", "cat", "dog"]
    assert lab.codes.dtype == np.int64 and lab.codes.tolist() == [2, 1, 2, 0]
    assert lab.n_classes == 3 and len(lab) == 4
    assert lab.counts().tolist() == [1, 1, 2]
    assert lab.decode() == ["dog", "cat", "dog", "bird"]
    assert lab.decode(np.array([0, 2])) == ["bird", "dog"]


def test_integer_labels_sorted_numerically():
    lab = encode_labels(pd.Series([10, 2, 0, 1, 2, 9]))
    assert lab.classes == ["0", "1", "2", "9", "10"]
    assert lab.codes.tolist() == [4, 2, 0, 1, 2, 3]


def test_integer_strings_and_whole_floats_sorted_numerically():
    assert encode_labels(pd.Series(["10", "9", "-1"])).classes == ["-1", "9", "10"]
    # an integer column with a gap reads as float; after dropping the gap the classes are still "1", "2", "10"
    assert encode_labels(pd.Series([1.0, 10.0, 2.0])).classes == ["1", "2", "10"]


def test_mixed_strings_and_numbers_sort_as_strings():
    assert encode_labels(pd.Series(["10", "9", "x"])).classes == ["10", "9", "x"]


def test_bool_labels():
    lab = encode_labels(pd.Series([True, False, True]))
    assert lab.classes == ["False", "True"] and lab.codes.tolist() == [1, 0, 1]


def test_multi_label_list_column_auto_detected():
    lab = encode_labels(pd.Series([["b", "a"], ["c"], [], np.array(["a", " c "])], name="tags"))
    assert lab.multi_label
    assert lab.classes == ["a", "b", "c"]
    assert lab.codes.dtype == bool and lab.codes.shape == (4, 3)
    assert lab.codes.astype(int).tolist() == [[1, 1, 0], [0, 0, 1], [0, 0, 0], [1, 0, 1]]
    assert lab.counts().tolist() == [2, 1, 2]
    assert lab.decode() == [["a", "b"], ["c"], [], ["a", "c"]]


def test_multi_label_delimited_strings():
    lab = encode_labels(pd.Series(["a|b", "b", " c | a ", "a||a"]), delimiter="|")
    assert lab.multi_label and lab.classes == ["a", "b", "c"]
    assert lab.codes.astype(int).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1], [1, 0, 0]]


def test_delimiter_is_not_used_unless_multi_label_detected_or_given():
    # without a delimiter, "a|b" is one class of its own
    lab = encode_labels(pd.Series(["a|b", "b"]))
    assert not lab.multi_label and lab.classes == ["a|b", "b"]


def test_multi_label_true_with_single_values():
    lab = encode_labels(pd.Series(["x", "y"]), multi_label=True)
    assert lab.multi_label and lab.codes.astype(int).tolist() == [[1, 0], [0, 1]]


def test_list_cells_refused_when_single_label_forced():
    with pytest.raises(DataError, match=r"holds a list at row 1.*multi_label=True"):
        encode_labels(pd.Series(["a", ["b"]], name="y"), multi_label=False)


def test_mixed_lists_and_strings_refused():
    with pytest.raises(DataError, match=r"mixes lists \(row 0\) and single values \(row 2: 'c'\)"):
        encode_labels(pd.Series([["a"], ["b"], "c"], name="y"))


def test_delimiter_with_single_label_refused():
    with pytest.raises(DataError, match="only applies to multi-label"):
        encode_labels(pd.Series(["a", "b"]), multi_label=False, delimiter="|")


@pytest.mark.parametrize("bad", [None, np.nan, "", "   "])
def test_missing_label_message(bad):
    values = pd.Series(["a", bad, "b", "a"], name="intent")
    with pytest.raises(DataError) as e:
        encode_labels(values)
    msg = str(e.value)
    assert "Label column 'intent' has 1 missing label of 4: row 1." in msg
    assert "--drop-missing" in msg and "drop_missing=True" in msg


def test_missing_labels_list_first_ten_and_total():
    values = pd.Series(["a", "b"] + [None] * 15, name="y")
    with pytest.raises(DataError) as e:
        encode_labels(values)
    msg = str(e.value)
    assert "15 missing labels of 17" in msg
    assert "rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 5 more (15 in total)" in msg


def test_missing_multi_label_cell_but_empty_list_is_fine():
    with pytest.raises(DataError, match="1 missing label of 3: row 2"):
        encode_labels(pd.Series([["a"], [], None], name="y"), multi_label=True)


def test_single_class_refused():
    with pytest.raises(DataError) as e:
        encode_labels(pd.Series(["x", "x ", "x"], name="y"))
    assert "needs at least two classes; found only 'x' in column 'y' (3 rows)" in str(e.value)


def test_multi_label_with_no_labels_at_all_refused():
    with pytest.raises(DataError, match="found no labels at all in column 'y'"):
        encode_labels(pd.Series([[], []], name="y"))


def test_decode_checks_codes():
    lab = LabelColumn(name="y", classes=["a", "b"], codes=np.array([0, 1]))
    with pytest.raises(ShapeError, match=r"\[0, 2\)"):
        lab.decode(np.array([2]))
    multi = LabelColumn(name="y", classes=["a", "b"], codes=np.array([[True, False]]), multi_label=True)
    with pytest.raises(ShapeError, match=r"\(m, 2\)"):
        multi.decode(np.array([[True, False, True]]))


def test_repr_is_short():
    lab = encode_labels(pd.Series([str(i) for i in range(1000)], name="y"))
    assert repr(lab) == "LabelColumn('y', single-label, n=1000, K=1000: ['0', '1', '2', '3', '4', ...])"
