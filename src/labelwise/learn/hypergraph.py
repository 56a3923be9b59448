"""HyperPAVE: multi-label zero-shot attribute-value extraction by inductive link prediction on a heterogeneous graph
enriched with hyperedges (Gong & Eldardiry, "Multi-Label Zero-Shot Product Attribute-Value Extraction", WWW 2024;
arXiv 2402.08802). Concept only: the official code has no licence; this is written from the paper and the notes.

Items (products) and labels (attribute-value nodes, "attr is value") are nodes whose features are frozen text
embeddings (so a label no item holds yet still has one: zero-shot) through one trainable linear projection.

1. Hyperedges (:func:`incidence`): user-behaviour families (co-view, co-buy: one hyperedge per group of items) and,
   with ``inventory=True``, the P-A family (one hyperedge per item over its labels) and the C-P-A family (one per
   category over its items and their labels), built from the message-passing edges only (the official code builds
   them from every label, unseen ones included: a leak, notes section 5).
2. HGNN convolution per family (:func:`propagation`, :class:`HypergraphConv`):
   ``X' = D_v^-1/2 H W_e D_e^-1 H^T D_v^-1/2 X Theta``, with a self-loop hyperedge per node so a node in no group
   keeps its own features; the families are fused with fixed weights (the paper's ``user`` / ``all`` modes).
3. Heterogeneous mean-aggregation SAGE over the item-label edges (:class:`HeteroSAGE`).
4. Link score ``scale * cos(h_item, h_label) + bias``, BCE with ``neg_ratio`` sampled negatives per positive.

Inductive by construction: each epoch a ``supervision_fraction`` of the labelled items has its edges taken out of
message passing (and out of the inventory hyperedges) and only those edges are scored (PyG's
``RandomLinkSplit(disjoint_train_ratio)``), so training looks like scoring a new item with no edges; and a
``label_dropout`` fraction of the labels loses its message-passing edges (ours, not the paper's: a label without
edges, as an unseen one, must be scored from its text). Edges to
``exclude_labels`` are dropped from supervision, message passing and hyperedges alike. Every linear map starts at
the identity and there is no nonlinearity (SGC-style), so the untrained model scores the text cosine of the
(smoothed) embeddings and training moves from there. Differences from the paper: MiniLM (or any encoder) frozen
instead of fine-tuned BERT, no category nodes (no GPT-2 category text), full-batch training instead of neighbour
sampling, cosine instead of the raw dot product (notes section 5), self-loop hyperedges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.estimators import _seed, _threads
from labelwise.progress import ProgressCallback, report

__all__ = ["HeteroSAGE", "HypergraphConv", "HypergraphLinkTagger", "incidence", "inventory_incidence",
           "mean_adjacency", "propagation"]


def incidence(groups: Sequence[Sequence[int]], n_nodes: int, *, min_size: int = 2,
              self_loops: bool = False) -> sp.csr_matrix:
    """Node x hyperedge incidence ``H: (n_nodes, n_edges) float64`` with ``H[v, e] = 1`` when node ``v`` is in group
    ``e``. Repeated nodes in a group count once; groups with fewer than ``min_size`` distinct nodes are dropped;
    ``self_loops`` appends one hyperedge ``{v}`` per node (after the groups). Raises ShapeError for a node outside
    ``0..n_nodes-1``."""
    rows, cols = [], []
    for group in groups:
        members = np.unique(np.asarray(list(group), dtype=np.int64))
        if members.size < max(min_size, 1):
            continue
        if members[0] < 0 or members[-1] >= n_nodes:
            raise ShapeError(f"a hyperedge names node {int(members[0] if members[0] < 0 else members[-1])}, "
                             f"outside 0..{n_nodes - 1}.")
        rows.append(members)
        cols.append(np.full(members.size, len(rows) - 1))
    n_groups = len(rows)
    if self_loops:
        rows.append(np.arange(n_nodes))
        cols.append(n_groups + np.arange(n_nodes))
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    n_edges = n_groups + (n_nodes if self_loops else 0)
    return sp.csr_matrix((np.ones(r.size), (r, c)), shape=(n_nodes, n_edges))


def propagation(H: sp.spmatrix, edge_weights: Optional[np.ndarray] = None) -> sp.csr_matrix:
    """HGNN's ``D_v^-1/2 H W_e D_e^-1 H^T D_v^-1/2: (n, n)`` for ``H: (n, e)`` and ``edge_weights: (e,)`` (default
    ones); ``D_v = H w`` (weighted node degree), ``D_e = H^T 1`` (hyperedge size). A node or hyperedge of degree 0
    gets a zero row and column (as PyG's HypergraphConv)."""
    H = sp.csr_matrix(H, dtype=np.float64)
    w = np.ones(H.shape[1]) if edge_weights is None else np.asarray(edge_weights, dtype=np.float64)
    if w.shape != (H.shape[1],):
        raise ShapeError(f"edge_weights has shape {w.shape}, expected ({H.shape[1]},).")
    dv, de = H @ w, np.asarray(H.sum(axis=0)).ravel()
    dv_inv = np.divide(1.0, np.sqrt(dv), out=np.zeros_like(dv), where=dv > 0)
    de_inv = np.divide(1.0, de, out=np.zeros_like(de), where=de > 0)
    left = sp.diags(dv_inv) @ H
    return sp.csr_matrix(left @ sp.diags(w * de_inv) @ left.T)


def mean_adjacency(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> sp.csr_matrix:
    """Row-normalised bipartite adjacency ``A: (n_rows, n_cols)``: ``(A @ X)[i]`` is the mean of ``X`` over row
    ``i``'s neighbours (0 for a row without any); repeated pairs count once."""
    A = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_rows, n_cols))
    A.data[:] = 1.0
    deg = np.asarray(A.sum(axis=1)).ravel()
    return sp.csr_matrix(sp.diags(np.divide(1.0, deg, out=np.zeros_like(deg), where=deg > 0)) @ A)


def inventory_incidence(edges: np.ndarray, n_items: int, n_labels: int, categories: Optional[np.ndarray] = None,
                        *, self_loops: bool = False) -> dict:
    """The inventory hyperedges from ``edges: (E, 2)`` (item, label) as incidences over the node set ``items +
    labels`` (label ``a`` is node ``n_items + a``), each ``(n_items + n_labels, n_edges)`` as :func:`incidence` builds
    them: ``"pa"`` one hyperedge per item over its labels (items with one label give none); ``"cpa"`` (when
    ``categories: (n_items,)`` is given) one per category over its items and their labels."""
    edges = np.unique(np.asarray(edges, dtype=np.int64).reshape(-1, 2), axis=0)
    N = n_items + n_labels

    def build(rows: np.ndarray, cols: np.ndarray, n_cols: int) -> sp.csr_matrix:
        H = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(N, n_cols))
        H.sum_duplicates()
        H.data[:] = 1.0
        H = H[:, np.flatnonzero(np.asarray(H.sum(axis=0)).ravel() >= 2)]
        return sp.csr_matrix(sp.hstack([H, sp.identity(N)])) if self_loops else sp.csr_matrix(H)

    items, col = np.unique(edges[:, 0], return_inverse=True)
    out = {"pa": build(n_items + edges[:, 1], col, items.size)}
    if categories is not None:
        cats, of = np.unique(np.asarray(categories), return_inverse=True)
        rows = np.concatenate([np.arange(n_items), n_items + edges[:, 1]])
        cols = np.concatenate([of, of[edges[:, 0]]])
        out["cpa"] = build(rows, cols, cats.size)
    return out


def _torch_sparse(M: sp.spmatrix) -> torch.Tensor:
    M = sp.coo_matrix(M)
    index = torch.from_numpy(np.vstack([M.row, M.col]).astype(np.int64))
    values = torch.from_numpy(M.data.astype(np.float32))
    return torch.sparse_coo_tensor(index, values, M.shape, check_invariants=False).coalesce()


def _identity_linear(dim: int) -> torch.nn.Linear:
    layer = torch.nn.Linear(dim, dim, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(dim))
    return layer


class HypergraphConv(torch.nn.Module):
    """``X' = P X Theta`` for a precomputed HGNN propagation ``P: (n, n)`` (:func:`propagation`, torch sparse or
    dense) and ``X: (n, dim)``; ``Theta: (dim, dim)`` starts at the identity."""

    def __init__(self, dim: int):
        super().__init__()
        self.theta = _identity_linear(dim)

    def forward(self, X: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
        return P @ self.theta(X)


class HeteroSAGE(torch.nn.Module):
    """Mean-aggregation GraphSAGE over a bipartite item-label graph, one pair of weights per node type and layer:
    ``h_i' = S h_i + N mean_{a in N(i)} h_a`` and ``h_a' = S' h_a + N' mean_{i in N(a)} h_i``. ``S`` starts at the
    identity, ``N`` at zero; no nonlinearity."""

    def __init__(self, dim: int, layers: int = 2):
        super().__init__()
        self.self_item = torch.nn.ModuleList(_identity_linear(dim) for _ in range(layers))
        self.self_label = torch.nn.ModuleList(_identity_linear(dim) for _ in range(layers))
        self.nb_item = torch.nn.ModuleList(torch.nn.Linear(dim, dim, bias=False) for _ in range(layers))
        self.nb_label = torch.nn.ModuleList(torch.nn.Linear(dim, dim, bias=False) for _ in range(layers))
        for layer in [*self.nb_item, *self.nb_label]:
            torch.nn.init.zeros_(layer.weight)

    def forward(self, h_item: torch.Tensor, h_label: torch.Tensor, A_il: torch.Tensor,
                A_li: torch.Tensor) -> tuple:
        """``h_item: (n, dim)``, ``h_label: (m, dim)``, ``A_il: (n, m)`` and ``A_li: (m, n)`` row-normalised."""
        for s_i, s_l, n_i, n_l in zip(self.self_item, self.self_label, self.nb_item, self.nb_label):
            h_item, h_label = s_i(h_item) + n_i(A_il @ h_label), s_l(h_label) + n_l(A_li @ h_item)
        return h_item, h_label


class _Net(torch.nn.Module):
    def __init__(self, d_in: int, dim: int, families: Sequence[str], sage_layers: int):
        super().__init__()
        self.project = torch.nn.Linear(d_in, dim, bias=False)
        torch.nn.init.orthogonal_(self.project.weight)  # inner products kept when dim >= d_in
        self.convs = torch.nn.ModuleDict({f: HypergraphConv(dim) for f in families})
        self.sage = HeteroSAGE(dim, sage_layers)
        self.scale = torch.nn.Parameter(torch.tensor(10.0))
        self.bias = torch.nn.Parameter(torch.tensor(-5.0))

    def embed(self, Fi: torch.Tensor, Fl: torch.Tensor, props: dict, item_w: dict, label_w: dict, A_il, A_li):
        n = Fi.shape[0]
        X = self.project(torch.cat([Fi, Fl]))
        h_item, h_label = X[:n], X[n:]
        if item_w or label_w:
            out = {f: self.convs[f](X, P) for f, P in props.items()}
            if item_w:
                h_item = sum(w * out[f][:n] for f, w in item_w.items())
            if label_w:
                h_label = sum(w * out[f][n:] for f, w in label_w.items())
        return self.sage(h_item, h_label, A_il, A_li)

    def logits(self, h_item: torch.Tensor, h_label: torch.Tensor, items=None, labels=None) -> torch.Tensor:
        hi, hl = F.normalize(h_item, dim=1), F.normalize(h_label, dim=1)
        if items is None:
            return self.scale * hi @ hl.T + self.bias
        return self.scale * (hi[items] * hl[labels]).sum(1) + self.bias


class HypergraphLinkTagger(BaseEstimator):
    """HyperPAVE's inductive link predictor (see the module docstring), scikit-learn style.

    ``fit(item_features (n, d), label_features (m, d), edges (E, 2) int (item, label), groups={"also_view": [[i, j,
    ...], ...], ...}, categories=(n,) int or None)`` learns on every node at once (items to label are nodes without
    edges); ``decision_function() -> (n, m)`` logits and ``predict_proba() -> (n, m)`` sigmoid for those nodes.

    hidden: projection size (None: ``d``, so the projection starts as a rotation). item_weights: fixed fusion
    weight per hyperedge family for items (None: the behaviour families share 0.8 and ``pa``/``cpa`` 0.1 each with
    ``inventory=True`` (the paper's ``all`` mode), else equal weights (``user`` mode)). label_weights: the same for
    labels (None: ``pa`` and ``cpa`` 0.5 each with ``inventory=True``, else none). inventory: add the P-A and C-P-A
    families. inventory_edges: build those from these edges instead of the message-passing edges: only to
    demonstrate the official code's leak (pass every edge, unseen labels' included). Negative labels are drawn
    uniformly from labels with a training edge. supervision_fraction, label_dropout: the shares of labelled items
    and of labels whose edges leave message passing each epoch. The defaults (lr 1e-3, 100 full-batch epochs) were
    chosen on the synthetic catalogue: Adam at 1e-2 drives the unseen labels to the bottom of the ranking.
    """

    def __init__(self, hidden: Optional[int] = None, *, item_weights: Optional[Mapping] = None,
                 label_weights: Optional[Mapping] = None, inventory: bool = False, sage_layers: int = 2,
                 neg_ratio: float = 2.0, supervision_fraction: float = 0.3, label_dropout: float = 0.3,
                 epochs: int = 100, lr: float = 1e-3,
                 weight_decay: float = 1e-6, inventory_edges: Optional[np.ndarray] = None, random_state: Any = 0,
                 n_threads: Optional[int] = 1):
        self.hidden = hidden
        self.item_weights = item_weights
        self.label_weights = label_weights
        self.inventory = inventory
        self.sage_layers = sage_layers
        self.neg_ratio = neg_ratio
        self.supervision_fraction = supervision_fraction
        self.label_dropout = label_dropout
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.inventory_edges = inventory_edges
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, item_features, label_features, edges, groups: Optional[Mapping] = None, categories=None, *,
            exclude_labels=None, progress: Optional[ProgressCallback] = None) -> "HypergraphLinkTagger":
        """``exclude_labels``: labels whose edges are dropped everywhere (the unseen ones of an evaluation)."""
        Fi = np.asarray(item_features, dtype=np.float32)
        Fl = np.asarray(label_features, dtype=np.float32)
        if Fi.ndim != 2 or Fl.ndim != 2 or Fi.shape[1] != Fl.shape[1]:
            raise ShapeError(f"item_features {Fi.shape} and label_features {Fl.shape} must be 2-D with the same "
                             "number of columns.")
        n, m = Fi.shape[0], Fl.shape[0]
        E = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        if E.size and (E.min() < 0 or E[:, 0].max() >= n or E[:, 1].max() >= m):
            raise ShapeError(f"edges must be (item < {n}, label < {m}) pairs of non-negative ints.")
        if exclude_labels is not None:
            E = E[~np.isin(E[:, 1], np.asarray(exclude_labels, dtype=np.int64))]
        E = np.unique(E, axis=0)
        if not len(E):
            raise ParameterError("HypergraphLinkTagger.fit needs at least one (item, label) edge to learn from.")
        if not 0 < self.supervision_fraction < 1:
            raise ParameterError(f"supervision_fraction must be in (0, 1), got {self.supervision_fraction!r}.")
        groups = dict(groups or {})
        if self.inventory and set(groups) & {"pa", "cpa"}:
            raise ParameterError("'pa' and 'cpa' are the inventory families' names; rename those groups.")
        item_w, label_w = self._weights(list(groups), categories is not None)
        behaviour = {f: _torch_sparse(propagation(incidence(g, n + m, self_loops=True))) for f, g in groups.items()}
        fixed_inventory = None
        if self.inventory and self.inventory_edges is not None:
            fixed = np.asarray(self.inventory_edges, dtype=np.int64).reshape(-1, 2)
            fixed_inventory = {f: _torch_sparse(propagation(h)) for f, h in inventory_incidence(
                fixed, n, m, categories, self_loops=True).items()}
        self.n_items_, self.n_labels_ = n, m
        self.item_w_, self.label_w_ = item_w, label_w
        self.categories_ = None if categories is None else np.asarray(categories)
        self.edges_ = E
        self._behaviour = behaviour
        self._fixed_inventory = fixed_inventory

        seed = _seed(self.random_state)
        rng = np.random.default_rng(seed)
        families = sorted(set(item_w) | set(label_w))
        with _threads(self.n_threads), torch.random.fork_rng():
            torch.manual_seed(seed)
            net = _Net(Fi.shape[1], int(self.hidden or Fi.shape[1]), families, self.sage_layers)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            Ti, Tl = torch.from_numpy(Fi), torch.from_numpy(Fl)
            items = np.unique(E[:, 0])
            seen = np.unique(E[:, 1])
            positive = set(map(tuple, E.tolist()))
            for epoch in range(int(self.epochs)):
                sup_items = rng.choice(items, size=max(1, int(round(self.supervision_fraction * items.size))),
                                       replace=False)
                is_sup = np.isin(E[:, 0], sup_items)
                dropped = rng.random(seen.size) < self.label_dropout
                graph = self._graph(E[~is_sup & ~np.isin(E[:, 1], seen[dropped])])
                sup = E[is_sup]
                k = int(round(self.neg_ratio * len(sup)))
                neg_items = sup[rng.integers(0, len(sup), size=k), 0]
                neg_labels = seen[rng.integers(0, seen.size, size=k)]
                keep = np.fromiter(((int(p), int(a)) not in positive for p, a in zip(neg_items, neg_labels)),
                                   dtype=bool, count=k)
                pi = torch.from_numpy(np.concatenate([sup[:, 0], neg_items[keep]]))
                pl = torch.from_numpy(np.concatenate([sup[:, 1], neg_labels[keep]]))
                target = torch.cat([torch.ones(len(sup)), torch.zeros(int(keep.sum()))])
                net.train()
                opt.zero_grad()
                h_item, h_label = net.embed(Ti, Tl, *graph)
                loss = F.binary_cross_entropy_with_logits(net.logits(h_item, h_label, pi, pl), target)
                loss.backward()
                opt.step()
                report(progress, "training", epoch + 1, int(self.epochs))
            net.eval()
            with torch.no_grad():
                h_item, h_label = net.embed(Ti, Tl, *self._graph(E))
                self.logits_ = net.logits(h_item, h_label).numpy().astype(np.float64)
        self.net_ = net
        return self

    def _weights(self, behaviour: list, has_categories: bool) -> tuple:
        inventory = ["pa", "cpa"] if has_categories else ["pa"]
        item_w = dict(self.item_weights) if self.item_weights is not None else None
        label_w = dict(self.label_weights) if self.label_weights is not None else None
        if item_w is None:
            if self.inventory:
                share = 0.8 if behaviour else 0.0
                item_w = {f: share / len(behaviour) for f in behaviour}
                item_w.update({f: (1 - share) / len(inventory) for f in inventory})
            else:
                item_w = {f: 1 / len(behaviour) for f in behaviour}
        if label_w is None:
            label_w = {f: 1 / len(inventory) for f in inventory} if self.inventory else {}
        known = set(behaviour) | (set(inventory) if self.inventory else set())
        unknown = (set(item_w) | set(label_w)) - known
        if unknown:
            raise ParameterError(f"fusion weights name hyperedge families {sorted(unknown)} that were not given; "
                                 f"the families are {sorted(known)}.")
        return item_w, label_w

    def _graph(self, mp_edges: np.ndarray) -> tuple:
        """(propagations, item weights, label weights, A_il, A_li) with ``mp_edges`` as the message-passing edges."""
        n, m = self.n_items_, self.n_labels_
        props = dict(self._behaviour)
        if self.inventory:
            if self._fixed_inventory is None:
                H = inventory_incidence(mp_edges, n, m, self.categories_, self_loops=True)
                props.update({f: _torch_sparse(propagation(h)) for f, h in H.items()})
            else:
                props.update(self._fixed_inventory)
        A = mean_adjacency(mp_edges[:, 0], mp_edges[:, 1], n, m)
        At = mean_adjacency(mp_edges[:, 1], mp_edges[:, 0], m, n)
        return props, self.item_w_, self.label_w_, _torch_sparse(A), _torch_sparse(At)

    def decision_function(self) -> np.ndarray:
        """``(n, m)`` link logits between every item and every label node given to :meth:`fit`."""
        check_is_fitted(self, "logits_")
        return self.logits_

    def predict_proba(self) -> np.ndarray:
        """``(n, m)`` sigmoid of :meth:`decision_function`, in [0, 1]."""
        return 1.0 / (1.0 + np.exp(-self.decision_function()))
