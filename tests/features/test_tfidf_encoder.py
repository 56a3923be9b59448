"""TfidfEncoder: exact small cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from labelwise.errors import LabelwiseError
from labelwise.features import TfidfEncoder


def test_exact_weights_unigrams():
    enc = TfidfEncoder(ngram_range=(1, 1))
    X = enc.fit_transform(["apple banana", "Apple apple cherry"])
    assert sp.isspmatrix_csr(X) and X.dtype == np.float32
    assert list(enc.feature_names_out_) == ["apple", "banana", "cherry"]
    idf_rare = math.log(3 / 2) + 1  # smooth idf: ln((1 + n) / (1 + df)) + 1, n = 2, df = 1; apple: df = 2 -> 1
    row0 = np.array([1.0, idf_rare, 0.0])
    row1 = np.array([1 + math.log(2), 0.0, idf_rare])  # sublinear tf: 1 + ln(count)
    expected = np.vstack([row0 / np.linalg.norm(row0), row1 / np.linalg.norm(row1)])
    np.testing.assert_allclose(X.toarray(), expected, rtol=1e-6)


def test_bigrams_accents_and_unseen_terms():
    enc = TfidfEncoder()
    enc.fit(["the café opens", "the cafe closes"])
    assert "cafe opens" in enc.vocabulary_ and "café" not in enc.vocabulary_
    X = enc.transform(["completely unseen words", "cafe"])
    assert X.shape == (2, enc.n_features_out_)
    assert X[0].nnz == 0
    assert X[1].nnz == 1 and X[1, enc.vocabulary_["cafe"]] == pytest.approx(1.0)


def test_max_features_and_min_df():
    texts = ["a1 b1 common", "common c1", "common d1 b1"]
    assert TfidfEncoder(ngram_range=(1, 1), min_df=2).fit(texts).feature_names_out_.tolist() == ["b1", "common"]
    assert TfidfEncoder(ngram_range=(1, 1), max_features=1).fit(texts).feature_names_out_.tolist() == ["common"]


def test_sklearn_idiom():
    enc = TfidfEncoder(max_features=10, ngram_range=(1, 3), min_df=1, sublinear_tf=False)
    assert enc.get_params() == {"max_features": 10, "ngram_range": (1, 3), "min_df": 1, "sublinear_tf": False}
    assert clone(enc).get_params() == enc.get_params()
    with pytest.raises(NotFittedError):
        enc.transform(["x"])
    X1 = enc.fit_transform(["one two", "two three"])
    X2 = enc.fit(["one two", "two three"]).transform(["one two", "two three"])
    np.testing.assert_allclose(X1.toarray(), X2.toarray())


def test_errors():
    enc = TfidfEncoder()
    with pytest.raises(LabelwiseError, match="position 1"):
        enc.fit(["ok", None])
    with pytest.raises(LabelwiseError, match="not one string"):
        enc.fit("a string")
    with pytest.raises(LabelwiseError, match="no usable terms"):
        enc.fit(["", "!", "a"])


def test_pickle_round_trip_gives_identical_matrices():
    import pickle

    texts = ["apple banana", "Apple apple cherry", "banana split"]
    enc = TfidfEncoder().fit(texts)
    again = pickle.loads(pickle.dumps(enc))
    assert (again.transform(texts) != enc.transform(texts)).nnz == 0
    assert again.get_params() == enc.get_params()
