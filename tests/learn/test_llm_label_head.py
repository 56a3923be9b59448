"""LabelHead and LatentLabelClassifier (LS-LLaMA's label head, frozen backbone) on arrays and a stand-in encoder:
exact small cases, no model. The head on a real GGUF model's states: tests/llm/test_embeddings.py."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from labelwise.errors import DataError, ParameterError, ShapeError
from labelwise.learn.llm_label_head import LabelHead, LatentLabelClassifier


def _blobs(n_per: int = 30, k: int = 3, d: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (k, d))
    X = np.concatenate([c + rng.normal(0, 1, (n_per, d)) for c in centres])
    return X, np.repeat(np.array(["a", "b", "c"][:k]), n_per)


@pytest.mark.parametrize("head,C", [("linear", 1.0), ("linear", "auto"), ("mlp", 1.0)])
def test_head_separates_blobs_it_never_saw(head, C):
    X_all, y_all = _blobs(n_per=40)
    train, test = np.r_[0:30, 40:70, 80:110], np.r_[30:40, 70:80, 110:120]
    model = LabelHead(head=head, C=C).fit(X_all[train], y_all[train])
    assert list(model.classes_) == ["a", "b", "c"]
    assert (model.predict(X_all[test]) == y_all[test]).all()
    proba = model.predict_proba(X_all[test])
    assert proba.shape == (30, 3) and np.allclose(proba.sum(axis=1), 1)


def test_features_are_standardised_so_a_huge_coordinate_does_not_drown_the_signal():
    X, y = _blobs(n_per=40)
    X = np.c_[X, np.full(len(X), 1e4) + np.random.default_rng(2).normal(0, 1e3, len(X))]  # an LLM's "massive" unit
    model = LabelHead().fit(X[::2], y[::2])
    assert (model.predict(X[1::2]) == y[1::2]).mean() == 1.0
    assert np.allclose(model.mean_[-1], X[::2, -1].mean())


def test_multi_label_indicator_gives_independent_labels_and_at_least_one_per_row():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    Y = np.c_[X[:, 0] > 0, X[:, 1] > 0].astype(int)
    model = LabelHead(C=10.0).fit(X[:150], Y[:150])
    predicted = model.predict(X[150:])
    assert predicted.shape == (50, 2) and predicted.sum(axis=1).min() >= 1
    rows_with_a_label = Y[150:].sum(axis=1) > 0
    assert (predicted[rows_with_a_label] == Y[150:][rows_with_a_label]).mean() > 0.9


def test_bad_inputs_raise_one_line_errors():
    X, y = _blobs()
    with pytest.raises(ParameterError, match="head must be"):
        LabelHead(head="svm").fit(X, y)
    with pytest.raises(ParameterError, match="C must be"):
        LabelHead(C=0).fit(X, y)
    with pytest.raises(ShapeError, match="one label"):
        LabelHead().fit(X, y[:-1])
    with pytest.raises(DataError, match="nothing to learn"):
        LabelHead().fit(X, np.zeros(len(X)))
    with pytest.raises(DataError, match="every row or on none"):
        LabelHead().fit(X, np.c_[np.ones(len(X)), np.arange(len(X)) % 2])
    with pytest.raises(ShapeError, match="columns"):
        LabelHead().fit(X, y).predict(X[:, :3])
    with pytest.raises(DataError, match="NaN"):
        LabelHead().fit(np.where(X > 4, np.nan, X), y)


class WordEncoder:
    """A stand-in encoder: one column per vocabulary word (counts)."""

    vocabulary = ("cat", "dog", "bird", "bank", "loan", "card")

    def encode(self, texts):
        return np.array([[t.split().count(w) for w in self.vocabulary] for t in texts], dtype=float)


def test_latent_classifier_embeds_with_its_encoder_and_clones():
    texts = ["cat dog", "dog bird", "bird cat", "bank loan", "loan card", "card bank"]
    y = ["animal"] * 3 + ["money"] * 3
    model = LatentLabelClassifier(WordEncoder(), C=10.0).fit(texts, y)
    assert list(model.predict(["cat", "loan"])) == ["animal", "money"]
    assert clone(model).get_params()["C"] == 10.0
    with pytest.raises(ParameterError, match="encoder"):
        LatentLabelClassifier().fit(texts, y)
    with pytest.raises(DataError, match="not one string"):
        model.predict("cat")
