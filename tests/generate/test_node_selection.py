"""LLM-GNN's selection and filtering (labelwise.generate.node_selection) on cases worked out by hand, PageRank
against networkx, and the claim check on a synthetic text-attributed graph with known classes: difficulty-aware
selection with the post-filter beats random selection and no filtering at the same budget."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from labelwise.errors import ParameterError, ShapeError
from labelwise.generate.node_selection import (active_scores, c_density, cluster_density, difficulty_aware_scores,
                                               label_diversity_loss, pagerank, percentile_rank, post_filter,
                                               select_graph_nodes)


def _h(*counts):
    p = np.asarray(counts, dtype=float) / sum(counts)
    return float(-(p * np.log(p)).sum())


def test_percentile_rank_shares_ties():
    np.testing.assert_allclose(percentile_rank([3.0, 1.0, 2.0, 2.0]), [1.0, 0.25, 0.625, 0.625])


def test_pagerank_matches_networkx_with_an_isolated_node():
    nx = pytest.importorskip("networkx")  # comes with torch
    g = nx.gnm_random_graph(30, 60, seed=1)
    g.add_node(30)  # dangling: spreads its rank uniformly
    a = nx.to_scipy_sparse_array(g, nodelist=range(31))
    expected = nx.pagerank(g, alpha=0.85, tol=1e-12)
    np.testing.assert_allclose(pagerank(a), [expected[i] for i in range(31)], atol=1e-8)
    directed = sp.triu(sp.csr_matrix(a))  # each edge given once: the same undirected graph
    np.testing.assert_allclose(pagerank(directed), pagerank(a), atol=1e-12)
    # a loop on every node and every edge given twice, once each way and with weight 3: the same simple graph
    coo = sp.coo_matrix(directed)
    rows = np.concatenate([coo.row, coo.col, coo.row, np.arange(31)])
    cols = np.concatenate([coo.col, coo.row, coo.col, np.arange(31)])
    noisy = sp.coo_matrix((np.full(len(rows), 3.0), (rows, cols)), shape=(31, 31))
    np.testing.assert_allclose(pagerank(noisy), pagerank(a), atol=1e-12)


def test_cluster_density_by_hand():
    x = np.array([[0.0], [2.0], [10.0], [10.0]])
    np.testing.assert_allclose(cluster_density(x, 2), [0.5, 0.5, 1.0, 1.0])  # centres 1 and 10
    np.testing.assert_allclose(c_density(x[:2], 1), [0.5, 0.5])


def test_difficulty_aware_scores_mix_percentile_ranks():
    active = [1e-4, 3e-4, 2e-4]  # PageRank-sized: only the ranks count
    difficulty = [0.9, 0.1, 0.5]
    np.testing.assert_allclose(difficulty_aware_scores(active, difficulty, beta=0.5),
                               [1 / 3 + 0.5, 1 + 0.5 / 3, 2 / 3 + 0.5 * 2 / 3])
    with pytest.raises(ShapeError):
        difficulty_aware_scores([1.0], [1.0, 2.0])


def test_pagerank_density_and_selection_on_a_star():
    # a star (hub 0) of 6 nodes and a far-away pair: the hub ranks first by PageRank and by degree
    a = sp.lil_matrix((8, 8))
    for leaf in range(1, 6):
        a[0, leaf] = 1
    a[6, 7] = 1
    x = np.vstack([np.zeros((6, 2)), [[5.0, 5.0], [5.2, 5.0]]])
    assert int(np.argmax(active_scores(x, a, kind="pagerank"))) == 0
    np.testing.assert_allclose(active_scores(x, a, kind="degree"), [5, 1, 1, 1, 1, 1, 1, 1])
    mixed = active_scores(x, a, kind="pagerank_density", budget=2, alpha=0.33)
    assert int(np.argmax(mixed)) == 0
    picked = select_graph_nodes(x, a, budget=3, n_classes=2, strategy="degree", difficulty_aware=False)
    assert picked.tolist() == [0, 1, 2]  # ties: the lower index
    random = select_graph_nodes(x, a, budget=3, n_classes=2, strategy="random", random_state=4)
    assert len(set(random.tolist())) == 3 and random.min() >= 0 and random.max() < 8
    assert random.tolist() == select_graph_nodes(x, a, budget=3, n_classes=2, strategy="random",
                                                 random_state=4).tolist()
    assert select_graph_nodes(x, a, budget=8, n_classes=2, strategy="random").tolist() == list(range(8))
    only = np.arange(8) % 2 == 1  # candidates: the odd nodes; the hub 0 is not one
    assert select_graph_nodes(x, a, budget=3, n_classes=2, strategy="degree", difficulty_aware=False,
                              candidates=only).tolist() == [1, 3, 5]
    assert set(select_graph_nodes(x, a, budget=4, n_classes=2, strategy="random", candidates=only)) == {1, 3, 5, 7}
    with pytest.raises(ParameterError, match="between 1 and the 4 nodes that may be chosen"):
        select_graph_nodes(x, a, budget=5, n_classes=2, candidates=only)
    with pytest.raises(ParameterError, match="budget"):
        select_graph_nodes(x, a, budget=9, n_classes=2)
    with pytest.raises(ParameterError, match="unknown strategy"):
        select_graph_nodes(x, a, budget=2, n_classes=2, strategy="age")


def test_label_diversity_loss_by_hand():
    loss = label_diversity_loss([0, 0, 0, 1, 2, 2])
    h = _h(3, 1, 2)
    np.testing.assert_allclose(loss[[0, 4]], [h - _h(2, 1, 2), h - _h(3, 1, 1)])
    assert loss[3] == np.inf  # the only 1: never removed
    assert loss[0] < 0 < loss[4]  # removing a 0 (most frequent) raises the entropy


def test_post_filter_removes_low_confidence_then_frequent_labels_never_a_last_example():
    # balanced labels: the diversity term ties, the least confident goes
    assert post_filter([0, 0, 1, 1], [0.9, 0.2, 0.8, 0.7], ratio=0.25).tolist() == [True, False, True, True]
    # equal confidence: the most frequent label loses an example
    assert post_filter([0, 0, 0, 1, 1], [0.5] * 5, ratio=0.2).tolist().count(False) == 1
    assert post_filter([0, 0, 0, 1, 1], [0.5] * 5, ratio=0.2)[:3].sum() == 2
    # the least confident annotation is its label's only one: kept; the next least confident goes instead
    keep = post_filter([0, 0, 0, 0, 1], [0.9, 0.8, 0.3, 0.7, 0.1], ratio=0.2)
    assert keep.tolist() == [True, True, False, True, True]
    # no answer (-1): never kept, and counted in the budget (floor(0.5 * 4 usable) = 2 removed)
    keep = post_filter([-1, 0, 0, 1, 1], [0.99, 0.1, 0.9, 0.2, 0.8], ratio=0.5)
    assert keep.tolist() == [False, False, True, False, True]
    assert post_filter([0, 1, -1], [0.1, 0.2, 0.3], strategy="none").tolist() == [True, True, False]
    assert post_filter([0, 0, 1], [0.1, 0.2, 0.3], ratio=0.4, strategy="conf").tolist() == [False, True, True]
    with pytest.raises(ParameterError, match="ratio"):
        post_filter([0, 1], [0.5, 0.5], ratio=1.0)
    # a NaN confidence would make every rank NaN and the filter drop the first answers, however confident
    with pytest.raises(ParameterError, match=r"confidence\[1\] is nan"):
        post_filter([0, 0, 1, 1, 0], [0.9, np.nan, 0.8, 0.7, 0.95], ratio=0.4)
    assert post_filter([0, 0, -1], [0.9, 0.8, np.nan], ratio=0.0).tolist() == [True, True, False]  # no answer: no conf


@pytest.mark.slow  # 14 label_graph runs: a few seconds
def test_claim_difficulty_aware_selection_and_filtering_beat_random_and_no_filter():
    """LLM-GNN's claim at a small budget (the full size is bench/llm_gnn.py): on a synthetic text graph (30% of nodes
    mix two topics), a zero-shot annotator on hashed words, B = 30 of 300 nodes, 2 seeds; GCN accuracy on the nodes
    not annotated, against the true classes. DA = PageRank + density (the paper's PS) + C-density."""
    from labelwise.features import HashingTextEncoder
    from labelwise.generate.graph_labels import label_graph
    from labelwise.testing.text_graph import make_text_graph

    runs = {"random": dict(strategy="random", filter="none"), "random+filter": dict(strategy="random"),
            "DA": dict(filter="none"), "DA+filter": dict()}
    annotation, kept_acc, gcn = ({k: [] for k in runs} for _ in range(3))
    for seed in range(2):
        g = make_text_graph(300, 5, random_state=seed)
        encoder = HashingTextEncoder(dim=256)
        x = encoder.encode(g.texts)
        for name, options in runs.items():
            r = label_graph(g.texts, g.edges, classes=g.class_names, budget=30, encoder=encoder, embeddings=x,
                            class_prompts=[[d] for d in g.descriptions], epochs=60, random_state=seed, **options)
            right = r.llm_labels == g.y[r.selected]
            rest = np.setdiff1d(np.arange(300), r.selected)
            annotation[name].append(right.mean())
            kept_acc[name].append(right[r.kept].mean())
            gcn[name].append((r.predicted[rest] == g.y[rest]).mean())
    mean = {k: {"annotation": np.mean(annotation[k]), "kept": np.mean(kept_acc[k]), "gcn": np.mean(gcn[k])}
            for k in runs}
    print(mean)
    assert mean["DA"]["annotation"] >= mean["random"]["annotation"] + 0.08  # annotations of easier nodes
    assert mean["random+filter"]["kept"] > mean["random"]["kept"]  # the filter drops more wrong answers than right
    assert mean["DA+filter"]["gcn"] >= max(mean["random"]["gcn"], mean["random+filter"]["gcn"]) + 0.02
    assert mean["random+filter"]["gcn"] > mean["random"]["gcn"]
    # Not reproduced at this budget: after DA the 30 annotations are ~97% right and the filter's 6 removals are mostly
    # right answers, so DA+filter is level with DA (0.952 against 0.959 here); at B = 60 of 1,000 nodes the filter
    # adds 2 points (bench/llm_gnn.py). Checked: it costs no more than 2 points.
    assert mean["DA+filter"]["gcn"] >= mean["DA"]["gcn"] - 0.02
