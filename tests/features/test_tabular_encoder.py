"""TabularEncoder: exact small cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from labelwise.errors import LabelwiseError
from labelwise.features import TabularEncoder


def test_exact_layout_and_values():
    df = pd.DataFrame(
        {
            "age": [20.0, 30.0, np.nan, 50.0],
            "color": ["red", "blue", None, "red"],
            "member": [True, False, True, True],
        }
    )
    enc = TabularEncoder()
    X = enc.fit_transform(df)
    assert X.dtype == np.float32 and X.shape == (4, 1 + 3 + 2)
    assert enc.feature_names_out_.tolist() == [
        "age",
        "color=<missing>",
        "color=blue",
        "color=red",
        "member=False",
        "member=True",
    ]
    # age: the missing value becomes the median 30, then (x - mean) / std over [20, 30, 30, 50]
    age = np.array([20.0, 30.0, 30.0, 50.0])
    np.testing.assert_allclose(X[:, 0], (age - age.mean()) / age.std(), rtol=1e-6)
    np.testing.assert_array_equal(X[:, 1:4], [[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(X[:, 4:], [[0, 1], [1, 0], [0, 1], [0, 1]])
    assert enc.numeric_columns_ == ["age"] and enc.categorical_columns_ == ["color", "member"]


def test_standardised_to_mean_0_std_1():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(5, 3, 200), "b": rng.integers(0, 1000, 200), "const": 7.0})
    X = TabularEncoder().fit_transform(df)
    np.testing.assert_allclose(X[:, :2].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(X[:, :2].std(axis=0), 1, atol=1e-5)
    np.testing.assert_array_equal(X[:, 2], 0)  # a constant column carries nothing but does not explode


def test_transform_uses_training_statistics_and_handles_missing():
    enc = TabularEncoder().fit(pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}))
    X = enc.transform(pd.DataFrame({"x": [np.nan, np.inf, 4.0], "c": ["a", None, "b"], "extra": [1, 2, 3]}))
    std = np.std([1.0, 2.0, 3.0])
    np.testing.assert_allclose(X[:, 0], [0.0, 0.0, 2.0 / std], rtol=1e-6)  # NaN and inf -> training median 2
    np.testing.assert_array_equal(X[1, 1:], [0, 0])  # missing never seen in fit: all zeros


def test_unseen_category():
    train = pd.DataFrame({"c": ["a", "b", "a", "b"]})
    enc = TabularEncoder().fit(train)
    np.testing.assert_array_equal(enc.transform(pd.DataFrame({"c": ["zzz", "a"]})), [[0, 0], [1, 0]])

    # with an infrequent group, an unseen value joins it
    train = pd.DataFrame({"c": list("aaaabbbcd")})
    enc = TabularEncoder(max_categories=3).fit(train)
    assert enc.feature_names_out_.tolist() == ["c=a", "c=b", "c=infrequent_sklearn"]
    np.testing.assert_array_equal(enc.transform(pd.DataFrame({"c": ["c", "zzz", "b"]})), [[0, 0, 1], [0, 0, 1], [0, 1, 0]])


def test_pandas_dtypes():
    df = pd.DataFrame(
        {
            "n": pd.array([1, None, 3], dtype="Int64"),
            "s": pd.array(["x", None, "y"], dtype="string"),
            "cat": pd.Categorical(["u", "v", "u"]),
            "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        }
    )
    enc = TabularEncoder().fit(df)
    assert enc.numeric_columns_ == ["n"]
    assert enc.categorical_columns_ == ["s", "cat"]
    assert "when" in enc.dropped_columns_
    X = enc.transform(df)
    assert X.shape == (3, 1 + 3 + 2) and np.isfinite(X).all()


def test_identifier_columns_are_dropped():
    df = pd.DataFrame({"id": [f"row-{i}" for i in range(30)], "v": np.arange(30.0)})
    enc = TabularEncoder().fit(df)
    assert enc.feature_names_out_.tolist() == ["v"]
    assert "identifier" in enc.dropped_columns_["id"]


def test_no_usable_columns_names_them():
    df = pd.DataFrame({"empty": [np.nan, np.nan], "when": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    with pytest.raises(LabelwiseError, match="'empty'.*'when'"):
        TabularEncoder().fit(df)


def test_column_errors():
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    with pytest.raises(LabelwiseError, match=r"\['zzz'\]"):
        TabularEncoder(columns=["a", "zzz"]).fit(df)
    enc = TabularEncoder().fit(df)
    with pytest.raises(LabelwiseError, match=r"\['b'\]"):
        enc.transform(df[["a"]])
    with pytest.raises(LabelwiseError, match="DataFrame"):
        enc.transform(df.to_numpy())
    with pytest.raises(LabelwiseError, match="non-numeric value 'oops'"):
        enc.transform(pd.DataFrame({"a": ["oops", "1"], "b": ["x", "y"]}))
    with pytest.raises(NotFittedError):
        TabularEncoder().transform(df)


def test_columns_selects_and_keeps_order():
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"], "label": [0, 1]})
    enc = TabularEncoder(columns=["b", "a"]).fit(df)
    assert enc.feature_names_out_.tolist() == ["a", "b=x", "b=y"]
    assert enc.get_params()["columns"] == ["b", "a"]


def test_pickle_round_trip_and_clone():
    import pickle

    from sklearn.base import clone

    df = pd.DataFrame({"age": [20.0, 30.0, np.nan, 50.0], "color": ["red", "blue", None, "red"]})
    enc = TabularEncoder(max_categories=3).fit(df)
    again = pickle.loads(pickle.dumps(enc))
    np.testing.assert_array_equal(again.transform(df), enc.transform(df))
    assert again.get_feature_names_out().tolist() == enc.get_feature_names_out().tolist()
    assert clone(enc).get_params() == {"columns": None, "max_categories": 3, "min_frequency": None}
