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
