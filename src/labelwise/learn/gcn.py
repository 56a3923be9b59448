"""A two-layer graph convolutional network trained on a few (noisy) node labels: LLM-GNN's student.

Kipf & Welling, *Semi-Supervised Classification with Graph Convolutional Networks*, ICLR 2017:
``H = softmax(A_hat relu(A_hat X W1) W2)`` with ``A_hat = D^-1/2 (A + I) D^-1/2``, trained with cross-entropy on the
labelled nodes only. In LLM-GNN (Chen et al., ICLR 2024, arXiv 2310.04668; :mod:`labelwise.generate.node_selection`)
the labels are an LLM's filtered annotations and there is no validation set (label-free): a fixed number of epochs,
no early stopping on true labels.

Plain torch sparse, not PyTorch Geometric: a GCN is two sparse-dense products per layer, which
``torch.sparse.mm`` does on CPU and GPU; PyG would add a compiled extension to install for no gain at these sizes
(its datasets download at run time, which labelwise cannot rely on either).

:class:`GCNClassifier` is transductive, after scikit-learn's semi-supervised estimators (``LabelSpreading``):
``fit(X, y, adjacency=A)`` with ``y = -1`` on unlabelled nodes; ``transduction_`` and ``label_distributions_`` hold
every node's label and probabilities. Algorithm floor: arrays in and out.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import DataError, ParameterError, ShapeError
from labelwise.generate.node_selection import symmetric_adjacency

__all__ = ["GCN", "GCNClassifier", "normalized_adjacency"]


def normalized_adjacency(adjacency) -> torch.Tensor:
    """``D^-1/2 (A + I) D^-1/2`` of the symmetrised ``adjacency: (n, n)`` as a coalesced ``torch.sparse_coo_tensor``
    (float32)."""
    a = symmetric_adjacency(adjacency) + sp.identity(adjacency.shape[0], format="csr")
    d = 1.0 / np.sqrt(np.asarray(a.sum(axis=1)).ravel())
    a = sp.coo_matrix(a.multiply(d[:, None]).multiply(d[None, :]))
    index = torch.from_numpy(np.vstack([a.row, a.col]).astype(np.int64))
    return torch.sparse_coo_tensor(index, torch.from_numpy(a.data.astype(np.float32)), a.shape,
                                   check_invariants=False).coalesce()


def _features(X) -> np.ndarray:
    """``X: (n, d)`` as float32, refused when it is not 2-D or holds NaN or infinity."""
    x = np.asarray(X, dtype=np.float32)
    if x.ndim != 2:
        raise ShapeError(f"X has shape {x.shape}; expected (n, d): one feature row per node")
    if not np.isfinite(x).all():
        row = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise DataError(f"X row {row} holds NaN or infinity; give finite features for every node")
    return x


class GCN(torch.nn.Module):
    """Two graph convolutions: ``(n, d)`` features and the normalised ``(n, n)`` adjacency -> ``(n, k)`` logits."""

    def __init__(self, in_features: int, hidden: int, n_classes: int, dropout: float = 0.5):
        super().__init__()
        self.first = torch.nn.Linear(in_features, hidden)
        self.second = torch.nn.Linear(hidden, n_classes)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, a_hat: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.dropout(x, self.dropout, self.training)
        h = torch.relu(torch.sparse.mm(a_hat, self.first(x)))
        h = torch.nn.functional.dropout(h, self.dropout, self.training)
        return torch.sparse.mm(a_hat, self.second(h))


class GCNClassifier(ClassifierMixin, BaseEstimator):
    """Transductive two-layer GCN (Kipf & Welling 2017) on the labelled nodes of one graph.

    ``fit(X (n, d) float, y (n,) int with -1 = unlabelled, adjacency=(n, n))``; then ``label_distributions_
    (n, k)``, ``transduction_ (n,)`` (a class of ``classes_`` per node), and ``predict_proba(X, adjacency=)`` /
    ``predict`` for the same or another graph. Adam (``lr``, ``weight_decay``) for a fixed number of ``epochs`` on
    the full graph, dropout ``dropout``; ``random_state`` (an int, None or a ``numpy.random.RandomState``) seeds the
    weights and the dropout, in a fork of torch's random state (the caller's is left as it was). ``n_jobs``: torch
    threads while fitting and predicting (scikit-learn's meaning: None = 1, -1 = all cores); one by default, since on
    graphs of a few thousand nodes more threads mostly contend for the cores (the claim test ran 5 x slower with two
    on a busy 2-core machine).
    """

    def __init__(self, hidden: int = 64, epochs: int = 100, lr: float = 0.01, weight_decay: float = 5e-4,
                 dropout: float = 0.5, random_state: int = 0, n_jobs: int | None = None):
        self.hidden, self.epochs, self.lr, self.weight_decay = hidden, epochs, lr, weight_decay
        self.dropout, self.random_state, self.n_jobs = dropout, random_state, n_jobs

    @contextmanager
    def _threads(self) -> Iterator[None]:
        before = torch.get_num_threads()
        if self.n_jobs is None:
            n = 1
        elif self.n_jobs == -1:
            n = os.cpu_count() or 1
        else:
            n = max(int(self.n_jobs), 1)
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def fit(self, X, y, *, adjacency) -> "GCNClassifier":
        with self._threads(), torch.random.fork_rng(devices=[]):
            return self._fit(X, y, adjacency)

    def _fit(self, X, y, adjacency) -> "GCNClassifier":
        x = _features(X)
        y = np.asarray(y)
        if y.shape != (len(x),):
            raise ShapeError(f"GCNClassifier needs X (n, d) and y (n,) with the same n; got {x.shape} and {y.shape}")
        adjacency = symmetric_adjacency(adjacency, len(x))
        labelled = np.flatnonzero(y != -1)
        self.classes_, target = np.unique(y[labelled], return_inverse=True)
        if len(self.classes_) < 2:
            raise ParameterError(f"GCNClassifier needs labelled nodes of at least two classes; got "
                                 f"{len(self.classes_)} class(es) on {len(labelled)} labelled nodes")
        if self.epochs < 1 or self.hidden < 1:
            raise ParameterError(f"epochs={self.epochs} and hidden={self.hidden} must be 1 or more")
        seed = self.random_state
        torch.manual_seed(seed if isinstance(seed, (int, np.integer)) else
                          int(check_random_state(seed).randint(np.iinfo(np.int32).max)))
        self.n_features_in_ = x.shape[1]
        a_hat = normalized_adjacency(adjacency)
        features = torch.from_numpy(x)
        self.model_ = GCN(x.shape[1], self.hidden, len(self.classes_), self.dropout)
        optimiser = torch.optim.Adam(self.model_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        index = torch.from_numpy(labelled.astype(np.int64))
        target = torch.from_numpy(target.astype(np.int64))
        self.model_.train()
        for _ in range(self.epochs):
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(self.model_(features, a_hat)[index], target)
            loss.backward()
            optimiser.step()
        self.loss_ = float(loss.detach())
        self.label_distributions_ = self._proba(features, a_hat)
        self.transduction_ = self.classes_[self.label_distributions_.argmax(axis=1)]
        return self

    def _proba(self, features: torch.Tensor, a_hat: torch.Tensor) -> np.ndarray:
        self.model_.eval()
        with torch.no_grad():
            return torch.softmax(self.model_(features, a_hat), dim=1).numpy().astype(np.float64)

    def predict_proba(self, X, *, adjacency) -> np.ndarray:
        """``(n, k)`` class probabilities (columns in ``classes_`` order) of every node of the graph ``(X, adjacency)``."""
        check_is_fitted(self, "model_")
        x = _features(X)
        if x.shape[1] != self.n_features_in_:
            raise ShapeError(f"X has {x.shape[1]} features per node but the GCN was fitted on {self.n_features_in_}; "
                             "give the same features (the same encoder)")
        adjacency = symmetric_adjacency(adjacency, len(x))
        with self._threads():
            return self._proba(torch.from_numpy(x), normalized_adjacency(adjacency))

    def predict(self, X, *, adjacency) -> np.ndarray:
        """``(n,)`` the most probable class of every node."""
        return self.classes_[self.predict_proba(X, adjacency=adjacency).argmax(axis=1)]
