"""The synthetic catalogue of HyperPAVE's notes and its zero-shot split and metrics (labelwise.testing.catalog)."""

from __future__ import annotations

import re

import numpy as np

from labelwise.testing.catalog import make_catalog, zero_shot_metrics, zero_shot_split


def test_catalog_structure():
    cat = make_catalog(600, random_state=3)
    n = len(cat.texts)
    per_product = np.bincount(cat.edges[:, 0], minlength=n)
    assert per_product.min() >= 2 and per_product.max() <= 4
    # one value per attribute per product, and only the attributes of its category
    attrs = [cat.av[a][0] for a in cat.edges[:, 1]]
    assert len(set(zip(cat.edges[:, 0].tolist(), attrs))) == len(cat.edges)
    # a mentioned value is in the text as a word, an unmentioned one (usually) is not
    said = np.array([re.search(rf"\b{cat.av[a][1]}\b", cat.texts[p], re.I) is not None for p, a in cat.edges])
    assert said[cat.mentioned].all()
    assert abs(cat.mentioned.mean() - 0.6) < 0.04
    assert said[~cat.mentioned].mean() < 0.15
    # co-view lists share an AV with probability ~0.7 (+ chance)
    Y = cat.label_matrix()
    shares = [bool((Y[p] & Y[q]).any()) for p, lst in enumerate(cat.also_view) for q in lst]
    assert 0.65 < np.mean(shares) < 0.9
    assert cat.known()[0] == [f"{cat.av[a][0]}: {cat.av[a][1]}" for a in cat.edges[cat.edges[:, 0] == 0, 1]]
    assert sum(len(v) for v in cat.attributes.values()) == len(cat.av)
    again = make_catalog(600, random_state=3)
    assert again.texts == cat.texts and np.array_equal(again.edges, cat.edges)


def test_zero_shot_split_and_metrics():
    cat = make_catalog(600, random_state=0)
    split = zero_shot_split(cat.edges, random_state=0)
    unseen = np.union1d(split.val_avs, split.test_avs)
    assert unseen.size == 10
    assert not np.isin(split.train_edges[:, 1], unseen).any()
    assert not np.isin(split.train_edges[:, 0], split.query_products).any()
    Y = cat.label_matrix()
    assert Y[split.test_products][:, split.test_avs].any(axis=1).all()
    perfect = zero_shot_metrics(Y.astype(float), cat, split)
    assert perfect == {"map": 1.0, "hit5": 1.0, "macro_f1": 1.0}
    worst = zero_shot_metrics(-Y.astype(float), cat, split)
    assert worst["map"] < 0.2 and worst["hit5"] < 0.5
