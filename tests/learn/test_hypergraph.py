"""HyperPAVE's hypergraph pieces (labelwise.learn.hypergraph): exact incidences and convolutions against dense numpy,
and the inductive guarantee (an unseen label's edges reach neither training nor message passing)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.hypergraph import (
    HeteroSAGE,
    HypergraphConv,
    HypergraphLinkTagger,
    incidence,
    inventory_incidence,
    mean_adjacency,
    propagation,
)


def test_incidence_exact():
    H = incidence([[0, 2, 2], [1], [3, 1], []], 4).toarray()
    # [1] and [] are below min_size 2; the repeated 2 counts once
    np.testing.assert_array_equal(H, [[1, 0], [0, 1], [1, 0], [0, 1]])
    H = incidence([[0, 2]], 3, self_loops=True).toarray()
    np.testing.assert_array_equal(H, [[1, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]])
    assert incidence([[1]], 2, min_size=1).toarray().tolist() == [[0], [1]]
    with pytest.raises(ShapeError, match="node 5"):
        incidence([[0, 5]], 3)


def _dense_hgnn(H: np.ndarray, w: np.ndarray, X: np.ndarray, Theta: np.ndarray) -> np.ndarray:
    """D_v^-1/2 H W_e D_e^-1 H^T D_v^-1/2 X Theta with dense numpy (zero-degree nodes and edges give 0)."""
    dv, de = H @ w, H.sum(0)
    Dv = np.diag([d ** -0.5 if d > 0 else 0.0 for d in dv])
    De = np.diag([1 / d if d > 0 else 0.0 for d in de])
    return Dv @ H @ np.diag(w) @ De @ H.T @ Dv @ X @ Theta


def test_propagation_and_conv_match_dense_numpy():
    rng = np.random.default_rng(0)
    groups = [[0, 1, 2], [2, 3], [1, 3, 4, 5], [5, 0]]  # node 6 is in no hyperedge
    H = incidence(groups, 7)
    w = rng.uniform(0.5, 2.0, H.shape[1])
    X = rng.normal(size=(7, 4))
    Theta = rng.normal(size=(4, 4))
    expected = _dense_hgnn(H.toarray(), w, X, Theta)
    P = propagation(H, w)
    np.testing.assert_allclose(P @ X @ Theta, expected, atol=1e-12)
    np.testing.assert_allclose(P.toarray(), P.toarray().T, atol=1e-15)  # symmetric
    assert not expected[6].any()  # no hyperedge: zero row, as PyG's HypergraphConv

    conv = HypergraphConv(4)
    with torch.no_grad():
        conv.theta.weight.copy_(torch.from_numpy(Theta.T.astype(np.float32)))  # Linear computes X W^T
    out = conv(torch.from_numpy(X.astype(np.float32)), torch.from_numpy(P.toarray().astype(np.float32)))
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-5, atol=1e-5)

    # with self loops the isolated node keeps its own features (times Theta)
    Hs = incidence(groups, 7, self_loops=True)
    np.testing.assert_allclose((propagation(Hs) @ X)[6], X[6], atol=1e-12)
    np.testing.assert_allclose(propagation(Hs).toarray(),
                               _dense_hgnn(Hs.toarray(), np.ones(Hs.shape[1]), np.eye(7), np.eye(7)), atol=1e-12)
    with pytest.raises(ShapeError):
        propagation(H, np.ones(2))


def test_mean_adjacency_and_sage_exact():
    A = mean_adjacency(np.array([0, 0, 1, 0]), np.array([1, 2, 2, 1]), 3, 3).toarray()
    np.testing.assert_allclose(A, [[0, 0.5, 0.5], [0, 0, 1], [0, 0, 0]])  # repeated (0, 1) once; row 2 alone
    rng = np.random.default_rng(1)
    hi, hl = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    sage = HeteroSAGE(2, layers=1)
    Si, Sl, Ni, Nl = (rng.normal(size=(2, 2)) for _ in range(4))
    with torch.no_grad():
        for layer, W in zip((sage.self_item[0], sage.self_label[0], sage.nb_item[0], sage.nb_label[0]),
                            (Si, Sl, Ni, Nl)):
            layer.weight.copy_(torch.from_numpy(W.T.astype(np.float32)))
    At = mean_adjacency(np.array([1, 2, 2, 1]), np.array([0, 0, 1, 0]), 3, 3).toarray()
    t = lambda a: torch.from_numpy(a.astype(np.float32))  # noqa: E731
    out_i, out_l = sage(t(hi), t(hl), t(A), t(At))
    np.testing.assert_allclose(out_i.detach().numpy(), hi @ Si + (A @ hl) @ Ni, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out_l.detach().numpy(), hl @ Sl + (At @ hi) @ Nl, rtol=1e-5, atol=1e-5)


def test_inventory_incidence_exact():
    # 3 items (nodes 0-2), 3 labels (nodes 3-5); item 0 has labels 0 and 2, item 1 has label 1, item 2 none
    edges = np.array([[0, 0], [0, 2], [1, 1], [0, 0]])
    out = inventory_incidence(edges, 3, 3, categories=np.array([7, 7, 9]))
    # pa: one hyperedge per item over its labels; item 1's single label gives none
    np.testing.assert_array_equal(out["pa"].toarray().T, [[0, 0, 0, 1, 0, 1]])
    # cpa: category 7 = items 0, 1 and labels 0, 1, 2; category 9 = item 2 alone (fewer than 2 nodes: dropped)
    np.testing.assert_array_equal(out["cpa"].toarray().T, [[1, 1, 0, 1, 1, 1]])
    assert set(inventory_incidence(edges, 3, 3)) == {"pa"}


def _toy(seed=0, n=60, m=8, d=16):
    rng = np.random.default_rng(seed)
    Fi, Fl = rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(m, d)).astype(np.float32)
    edges = np.array([(p, int(a)) for p in range(n) for a in rng.choice(m, 2, replace=False)])
    groups = {"view": [list(rng.choice(n, 4, replace=False)) for _ in range(20)]}
    return Fi, Fl, edges, groups, rng.integers(0, 3, n)


@pytest.mark.parametrize("inventory", [False, True])
def test_excluded_label_edges_change_nothing(inventory):
    """fit(all edges, exclude_labels=[u]) is exactly fit(edges without u's): u's edges reach neither supervision,
    message passing nor the inventory hyperedges; and who holds u does not matter."""
    Fi, Fl, edges, groups, cats = _toy()
    u = 3
    params = dict(epochs=5, inventory=inventory, random_state=0)
    a = HypergraphLinkTagger(**params).fit(Fi, Fl, edges, groups, cats, exclude_labels=[u]).decision_function()
    b = HypergraphLinkTagger(**params).fit(Fi, Fl, edges[edges[:, 1] != u], groups, cats).decision_function()
    np.testing.assert_array_equal(a, b)
    moved = edges.copy()
    moved[moved[:, 1] == u, 0] = (moved[moved[:, 1] == u, 0] + 17) % len(Fi)  # other items hold u now
    c = HypergraphLinkTagger(**params).fit(Fi, Fl, moved, groups, cats, exclude_labels=[u]).decision_function()
    np.testing.assert_array_equal(a, c)
    # the leak the notes warn of: inventory hyperedges built from every edge do pass u's edges on
    if inventory:
        leaky = HypergraphLinkTagger(**params, inventory_edges=edges).fit(Fi, Fl, edges, groups, cats,
                                                                          exclude_labels=[u]).decision_function()
        assert not np.allclose(leaky, a)


def test_untrained_model_is_the_text_cosine_and_fits_are_reproducible():
    Fi, Fl, edges, groups, _ = _toy(1)
    logits = HypergraphLinkTagger(epochs=0).fit(Fi, Fl, edges).decision_function()
    cos = (Fi / np.linalg.norm(Fi, axis=1, keepdims=True)) @ (Fl / np.linalg.norm(Fl, axis=1, keepdims=True)).T
    np.testing.assert_allclose(logits, 10 * cos - 5, atol=1e-4)  # identity maps, scale 10, bias -5
    one = HypergraphLinkTagger(epochs=3, random_state=4).fit(Fi, Fl, edges, groups)
    two = HypergraphLinkTagger(epochs=3, random_state=4).fit(Fi, Fl, edges, groups)
    np.testing.assert_array_equal(one.decision_function(), two.decision_function())
    p = one.predict_proba()
    assert p.shape == (60, 8) and (p >= 0).all() and (p <= 1).all()


def test_bad_input():
    Fi, Fl, edges, groups, _ = _toy(2)
    with pytest.raises(ShapeError):
        HypergraphLinkTagger().fit(Fi, Fl[:, :3], edges)
    with pytest.raises(ShapeError):
        HypergraphLinkTagger().fit(Fi, Fl, edges + 100)
    with pytest.raises(ParameterError, match="at least one"):
        HypergraphLinkTagger().fit(Fi, Fl, edges, exclude_labels=np.arange(8))
    with pytest.raises(ParameterError, match="families"):
        HypergraphLinkTagger(item_weights={"buy": 1.0}).fit(Fi, Fl, edges, groups)


@pytest.mark.slow
def test_claim_hyperedges_beat_text_on_unseen_values_and_leak_shows():
    """The notes' experiment at a small budget (500 products, hashing features, 60 epochs, 2 seeds; the notes'
    sizes in bench/hyperpave.py): (c) with behaviour hyperedges beats (a) text-only cosine on mAP for the unseen
    values, and inventory hyperedges built from every edge (the official code's leak) score far above the same
    model built from training edges only. Not asserted because it does not hold: (c) > (b) (see docs)."""
    from labelwise.features.hashing import HashingTextEncoder
    from labelwise.testing.catalog import make_catalog, zero_shot_metrics, zero_shot_split

    encoder = HashingTextEncoder(128)
    for seed in (0, 1):
        cat = make_catalog(500, random_state=seed)
        split = zero_shot_split(cat.edges, random_state=seed)
        Fi = encoder.encode(cat.texts)
        Fl = encoder.encode([f"{a} is {v}" for a, v in cat.av])
        groups = {"also_view": [[p, *v] for p, v in enumerate(cat.also_view)],
                  "also_buy": [[p, *v] for p, v in enumerate(cat.also_buy)]}

        def arm(**params):
            model = HypergraphLinkTagger(epochs=60, random_state=seed, **params)
            scores = model.fit(Fi, Fl, split.train_edges, groups, cat.category).decision_function()
            return zero_shot_metrics(scores, cat, split)["map"]

        text = zero_shot_metrics(Fi @ Fl.T, cat, split)["map"]
        hyper = arm()
        clean, leaky = arm(inventory=True), arm(inventory=True, inventory_edges=cat.edges)
        assert hyper > text + 0.02, (seed, hyper, text)
        assert leaky > clean + 0.1, (seed, leaky, clean)
