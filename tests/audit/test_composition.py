"""Class balance and column health (labelwise.audit.composition): exact answers on small hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from labelwise.audit.composition import BalanceResult, ColumnHealth, class_balance, column_health
from labelwise.errors import ShapeError


def _entropy(shares) -> float:
    p = np.asarray([s for s in shares if s > 0], dtype=float)
    return float(-(p * np.log(p)).sum())


def test_class_balance_single_label_exact():
    labels = np.array([0] * 30 + [1] * 20 + [2] * 10)
    result = class_balance(labels, 4)  # class 3 has no rows
    assert isinstance(result, BalanceResult)
    assert result.counts.tolist() == [30, 20, 10, 0]
    np.testing.assert_allclose(result.shares, [1 / 2, 1 / 3, 1 / 6, 0])
    assert result.imbalance_ratio == 3.0  # largest / smallest non-empty class
    assert result.entropy == pytest.approx(_entropy([1 / 2, 1 / 3, 1 / 6]) / math.log(4))
    assert result.min_count == 10  # default: 10 rows, since 10% of the mean class size (15) is only 2
    assert result.small.tolist() == [False, False, False, True]  # "small" is strictly below min_count


def test_class_balance_explicit_min_count():
    result = class_balance(np.array([0] * 30 + [1] * 20 + [2] * 10), 4, min_count=25)
    assert result.min_count == 25 and result.small.tolist() == [False, True, True, True]


def test_default_min_count_grows_with_the_mean_class_size():
    labels = np.repeat([0, 1, 2], [1000, 2000, 50])
    result = class_balance(labels, 3)
    assert result.min_count == 102  # ceil(10% of 3050 / 3)
    assert result.small.tolist() == [False, False, True]
    assert result.imbalance_ratio == 40.0


def test_uniform_classes_have_entropy_one_and_ratio_one():
    result = class_balance(np.tile(np.arange(5), 40), 5)
    assert result.counts.tolist() == [40] * 5
    assert result.entropy == pytest.approx(1.0) and result.imbalance_ratio == 1.0
    assert not result.small.any()


def test_one_class_only():
    result = class_balance(np.zeros(12, dtype=int), 1)
    assert result.counts.tolist() == [12] and result.entropy == 1.0 and result.imbalance_ratio == 1.0


def test_class_balance_multi_label_counts_each_label():
    labels = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=bool)
    result = class_balance(labels, 3)
    assert result.counts.tolist() == [3, 1, 2]
    np.testing.assert_allclose(result.shares, [3 / 6, 1 / 6, 2 / 6])  # shares of all label assignments
    assert result.imbalance_ratio == 3.0
    assert result.entropy == pytest.approx(_entropy([1 / 2, 1 / 6, 1 / 3]) / math.log(3))


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "const": ["x"] * 5,
            "empty": [None] * 5,
            "score": [0.5, np.nan, 0.5, np.nan, 0.25],
            "text": ["a", "bb", None, "dddd", "bb"],
            "tags": [["a", "b"], ["a"], [], ["a", "b"], None],
            "vector": [np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.array([3.0, 4.0]),
                       np.array([1.0, 2.0]), np.array([3.0, 4.0])],
        }
    )


def test_column_health_exact():
    health = column_health(_frame())
    assert [c.name for c in health] == ["id", "const", "empty", "score", "text", "tags", "vector"]
    assert all(isinstance(c, ColumnHealth) for c in health)
    by_name = {c.name: c for c in health}

    ident = by_name["id"]
    assert (ident.dtype, ident.missing, ident.missing_share, ident.n_unique) == ("int64", 0, 0.0, 5)
    assert not ident.is_constant and not ident.is_all_missing and ident.text_length == {}

    const = by_name["const"]
    assert const.is_constant and const.n_unique == 1 and not const.is_all_missing
    assert const.text_length == {"mean": 1.0, "min": 1, "max": 1}
    assert "constant" in const.notes

    empty = by_name["empty"]
    assert empty.is_all_missing and empty.missing == 5 and empty.missing_share == 1.0 and empty.n_unique == 0
    assert not empty.is_constant and "every value is missing" in empty.notes

    score = by_name["score"]
    assert (score.dtype, score.missing, score.missing_share, score.n_unique) == ("float64", 2, 0.4, 2)
    assert "40% missing" in score.notes

    text = by_name["text"]
    assert (text.missing, text.n_unique) == (1, 3)
    assert text.text_length == {"mean": 2.25, "min": 1, "max": 4}

    tags = by_name["tags"]  # list cells: unhashable, counted by value
    assert (tags.missing, tags.n_unique, tags.is_constant) == (1, 3, False) and tags.text_length == {}

    vector = by_name["vector"]  # numpy array cells (embeddings)
    assert (vector.missing, vector.n_unique) == (0, 2)


def test_column_health_of_a_constant_list_column_and_an_empty_frame():
    assert column_health(pd.DataFrame({"v": [[1, 2]] * 4}))[0].is_constant
    assert column_health(pd.DataFrame({"a": pd.Series([], dtype=float)}))[0].missing == 0


# ------------------------------------------------------------------------------------------------------------------
# inputs that used to be accepted silently or to crash (issue 13): a clear error, or the right answer


@pytest.mark.parametrize("labels", [np.array([0, 1, 5]), np.array([-1, 0, 1]), np.array([0.0, 1.0])])
def test_labels_outside_the_classes_raise_an_error_a_person_can_act_on(labels):
    with pytest.raises(ShapeError, match=r"\[0, 2\)|integer"):
        class_balance(labels, 2)


def test_multi_label_width_must_match_n_classes():
    with pytest.raises(ShapeError, match=r"\(n, 5\)"):
        class_balance(np.array([[1, 0, 1], [0, 0, 1]], dtype=bool), 5)


@pytest.mark.parametrize(
    "cells, n_unique",
    [
        ([{"a": 1}, {"a": 1}, {"b": 2}], 2),  # dict cells (JSON objects)
        ([{1}, {1}, {2}], 2),  # set cells
        (["a", ["b"], ["b"]], 2),  # a scalar first, lists later
        ([{"a": [1, 2]}, {"a": [1, 2]}, {"a": [1, 3]}, None], 2),  # nested, and a missing cell
    ],
)
def test_unhashable_cells_of_any_kind_do_not_crash(cells, n_unique):
    health = column_health(pd.DataFrame({"c": pd.Series(cells, dtype=object)}))[0]
    assert health.n_unique == n_unique and not health.is_constant


def test_duplicate_column_names_are_reported_one_by_one():
    health = column_health(pd.DataFrame([[1, "x"], [2, "x"]], columns=["a", "a"]))
    assert [(c.name, c.dtype, c.n_unique, c.is_constant) for c in health] == [
        ("a", "int64", 2, False), ("a", "object", 1, True)]
