"""Out-of-fold token probabilities (labelwise.audit.token_classification.token_model) on synthetic token data with a
known truth: context helps exactly where the label depends on a neighbour, folds are split by sentence, and flipped
labels are found by the token audit."""

import numpy as np
import pytest

from labelwise.audit.token_classification import find_label_issues
from labelwise.audit.token_classification.token_model import context_features, out_of_fold_token_probs
from labelwise.errors import ParameterError, ShapeError


def sentences(rng, n, dim, k, spread=3.0):
    """n sentences of 4-12 tokens; features = a class centroid + unit noise."""
    centroids = rng.normal(0, spread, size=(k, dim))
    labels = [rng.integers(0, k, size=rng.integers(4, 13)) for _ in range(n)]
    feats = [centroids[y] + rng.normal(size=(len(y), dim)) for y in labels]
    return feats, labels


def test_context_features_exact():
    x = np.array([[1.0], [2.0], [4.0]])
    got = context_features(x, context=1)
    #               own  before after first last
    assert np.array_equal(got, [[1, 0, 2, 1, 0], [2, 1, 4, 0, 0], [4, 2, 0, 0, 1]])
    assert np.allclose(context_features(x, context=2)[0], [1, 0, 3, 1, 0])  # mean of the two after
    assert context_features(np.zeros((0, 3))).shape == (0, 11)


def test_context_reads_the_neighbour():
    # the label is the sign of the PREVIOUS token's feature; the token's own feature is noise
    rng = np.random.default_rng(0)
    feats = [rng.normal(size=(rng.integers(5, 10), 1)) for _ in range(150)]
    labels = [np.concatenate([[0], (f[:-1, 0] > 0).astype(int)]) for f in feats]
    accuracy = {}
    for context in (0, 1):
        probs = out_of_fold_token_probs(feats, labels, 2, context=context)
        accuracy[context] = np.mean(np.concatenate([p.argmax(1) == y for p, y in zip(probs, labels)]))
    assert accuracy[1] > 0.95
    assert accuracy[0] < 0.75


def test_folds_are_split_by_sentence():
    # every sentence has its own feature vector and one random label: a model that saw the sentence would recall
    # it (in-sample accuracy ~1), a sentence-wise out-of-fold model can only guess (~0.5)
    rng = np.random.default_rng(1)
    n, dim = 120, 200
    codes = rng.normal(size=(n, dim))
    labels = [np.full(6, rng.integers(0, 2)) for _ in range(n)]
    feats = [np.repeat(codes[i:i + 1], 6, axis=0) for i in range(n)]
    probs = out_of_fold_token_probs(feats, labels, 2, context=0, C=100.0)
    accuracy = np.mean([p[0].argmax() == y[0] for p, y in zip(probs, labels)])
    assert accuracy < 0.7


def test_flipped_labels_are_found():
    rng = np.random.default_rng(2)
    k = 4
    feats, truth = sentences(rng, 200, 8, k)
    given = [y.copy() for y in truth]
    flipped = set()
    for i, y in enumerate(given):
        for t in range(len(y)):
            if rng.random() < 0.05:
                y[t] = (y[t] + rng.integers(1, k)) % k
                flipped.add((i, t))
    probs = out_of_fold_token_probs(feats, given, k)
    assert len(probs) == len(given) and all(p.shape == (len(y), k) for p, y in zip(probs, given))
    assert np.allclose(np.vstack(probs).sum(1), 1.0)
    found = set(find_label_issues(given, probs))
    precision = len(found & flipped) / len(found)
    recall = len(found & flipped) / len(flipped)
    assert precision > 0.85 and recall > 0.85, (precision, recall)


def test_class_missing_from_a_fold_keeps_a_small_probability():
    rng = np.random.default_rng(3)
    feats, labels = sentences(rng, 20, 3, 2)
    labels[0] = labels[0].copy()
    labels[0][0] = 2  # class 2 appears once: absent from the training part of its own fold
    probs = out_of_fold_token_probs(feats, labels, 3, n_splits=4)
    assert 0 < probs[0][0, 2] < 1e-3
    assert np.allclose(np.vstack(probs).sum(1), 1.0)


def test_bad_inputs():
    feats = [np.zeros((3, 2))] * 4
    labels = [np.array([0, 1, 0])] * 4
    with pytest.raises(ShapeError, match="sentences"):
        out_of_fold_token_probs(feats, labels[:3], 2)
    with pytest.raises(ShapeError, match="sentence 1"):
        out_of_fold_token_probs([feats[0], np.zeros((2, 2))] + feats[2:], labels, 2, n_splits=2)
    with pytest.raises(ShapeError, match="widths"):
        out_of_fold_token_probs([np.zeros((3, 3))] + feats[1:], labels, 2, n_splits=2)
    with pytest.raises(ParameterError, match="n_splits"):
        out_of_fold_token_probs(feats, labels, 2, n_splits=5)
    with pytest.raises(ParameterError, match="labels run"):
        out_of_fold_token_probs(feats, [np.array([0, 2, 0])] * 4, 2, n_splits=2)
    with pytest.raises(ParameterError, match="num_classes"):
        out_of_fold_token_probs(feats, labels, 1, n_splits=2)
