"""The GCN (labelwise.learn.gcn): the normalised adjacency by hand, and two communities labelled from one node
each."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.gcn import GCNClassifier, normalized_adjacency


def test_normalized_adjacency_by_hand():
    a = sp.csr_matrix(np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]))  # a path given one way: symmetrised
    d = np.array([2.0, 3.0, 2.0])  # degrees with the self-loop
    expected = (np.eye(3) + np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]])) / np.sqrt(np.outer(d, d))
    np.testing.assert_allclose(normalized_adjacency(a).to_dense().numpy(), expected, rtol=1e-6)


def test_two_communities_from_one_label_each():
    """Two 10-cliques joined by one edge, features pure noise: the graph alone decides, and it is enough."""
    rng = np.random.default_rng(0)
    block = np.ones((10, 10)) - np.eye(10)
    a = sp.lil_matrix(sp.block_diag([block, block]))
    a[9, 10] = a[10, 9] = 1
    x = rng.normal(size=(20, 8))
    y = np.full(20, -1)
    y[0], y[19] = 3, 7
    model = GCNClassifier(hidden=16, epochs=100, dropout=0.0).fit(x, y, adjacency=a.tocsr())
    assert model.classes_.tolist() == [3, 7]
    assert model.transduction_.tolist() == [3] * 10 + [7] * 10
    np.testing.assert_allclose(model.label_distributions_.sum(axis=1), 1.0, rtol=1e-6)
    assert model.predict(x, adjacency=a.tocsr()).tolist() == model.transduction_.tolist()
    with pytest.raises(ParameterError, match="two classes"):
        GCNClassifier().fit(x, np.where(y == 7, -1, y), adjacency=a.tocsr())
    with pytest.raises(ShapeError):
        GCNClassifier().fit(x[:5], y, adjacency=a.tocsr())


def test_estimator_conventions_and_bad_inputs():
    """scikit-learn's conventions: random_state None or a RandomState works, the caller's torch random state is left
    alone, an int seed repeats, n_features_in_ guards predict; NaN features and a wrong-sized graph are one-line
    errors; a dense nested-list adjacency is taken."""
    import torch
    from sklearn.base import clone

    from labelwise.errors import DataError

    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 3))
    y = np.array([0, 1, -1, -1, -1, -1])
    a = (np.ones((6, 6)) - np.eye(6)).tolist()
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    model = GCNClassifier(hidden=4, epochs=3).fit(x, y, adjacency=a)
    assert torch.rand(1).item() == expected.item()  # fit forks torch's random state
    again = clone(model).fit(x, y, adjacency=a)
    np.testing.assert_array_equal(again.label_distributions_, model.label_distributions_)
    assert model.n_features_in_ == 3 and clone(model).get_params()["hidden"] == 4
    for seed in (None, np.random.RandomState(0)):
        assert GCNClassifier(hidden=4, epochs=2, random_state=seed).fit(x, y, adjacency=a).transduction_.shape == (6,)
    with pytest.raises(ShapeError, match="fitted on 3"):
        model.predict(x[:, :2], adjacency=a)
    with pytest.raises(DataError, match="X row 2 holds NaN"):
        GCNClassifier(epochs=2).fit(np.where(np.arange(6)[:, None] == 2, np.nan, x), y, adjacency=a)
    with pytest.raises(ShapeError, match="6 nodes"):
        GCNClassifier(epochs=2).fit(x, y, adjacency=np.ones((5, 5)))
