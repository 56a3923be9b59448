"""A synthetic product catalogue with known attribute values, for HyperPAVE (seed paper 30; notes section 4).

No offline product data set exists, so :func:`make_catalog` generates one with a known structure: categories x
attributes x values; each product draws 2-4 attribute values (AVs) from its category; its text is a templated
title and description that mentions each of its values with probability ``mention_prob`` (0.6: the text alone is
incomplete) plus distractor words; each product has an ``also_view`` and an ``also_buy`` list whose entries share at
least one of its AVs with probability ``link_prob`` (0.7) and are random products otherwise.

:func:`zero_shot_split` holds out AV nodes as unseen (HyperPAVE's ``data_sampling``): every product holding one
becomes a query product with no known labels, and every edge to an unseen AV leaves the training edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Catalog", "ZeroShotSplit", "make_catalog", "zero_shot_metrics", "zero_shot_split"]

CATEGORIES = ["shirt", "sofa", "backpack", "lamp", "mug", "boot", "jacket", "rug"]
VALUES = {
    "color": ["red", "blue", "teal", "olive", "black", "white", "beige", "navy", "maroon", "mustard", "grey",
              "pink", "lavender", "orange"],
    "material": ["cotton", "wool", "leather", "linen", "velvet", "denim", "bamboo", "ceramic", "steel", "oak",
                 "silk", "nylon", "suede", "glass"],
    "pattern": ["striped", "floral", "checked", "plain", "polka", "paisley", "camouflage", "herringbone",
                "geometric", "plaid", "leopard", "tartan"],
    "style": ["vintage", "modern", "rustic", "minimalist", "bohemian", "industrial", "classic", "sporty",
              "scandinavian", "retro", "elegant", "casual"],
    "finish": ["matte", "glossy", "brushed", "polished", "distressed", "satin", "waxed", "lacquered", "frosted",
               "textured"],
    "size": ["small", "medium", "large", "compact", "oversized", "petite", "tall", "wide", "slim", "mini"],
    "season": ["summer", "winter", "autumn", "spring", "holiday", "everyday", "festival", "travel"],
    "fit": ["loose", "tailored", "relaxed", "fitted", "stretch", "regular", "cropped", "boxy"],
}
MENTIONS = ["Comes in {v}.", "A {v} design.", "{V} {a}.", "Featuring a {v} look.", "Its {a} is {v}."]
FILLERS = ["durable", "everyday", "premium", "lightweight", "handmade", "comfortable", "practical", "gift", "new",
           "quality", "original", "essential", "favourite", "versatile", "soft", "sturdy", "easy care", "popular"]


@dataclass
class Catalog:
    """texts: ``(n,) str`` product title + description; category: ``(n,) int`` into ``category_names``;
    av: ``(m,)`` (attribute, value) pairs, the AV nodes; edges: ``(E, 2) int`` (product, av) true labels;
    mentioned: ``(E,) bool`` whether the text names the edge's value; also_view, also_buy: ``(n,)`` lists of
    product positions."""

    texts: list
    category: np.ndarray
    category_names: list
    av: list
    edges: np.ndarray
    mentioned: np.ndarray
    also_view: list
    also_buy: list

    @property
    def av_strings(self) -> list:
        """``(m,)`` ``"attr: value"`` strings, the workflow's label format."""
        return [f"{a}: {v}" for a, v in self.av]

    @property
    def attributes(self) -> dict:
        """The schema's ``attributes``: every attribute and its values, in AV order."""
        out: dict = {}
        for a, v in self.av:
            out.setdefault(a, []).append(v)
        return out

    def label_matrix(self, edges=None) -> np.ndarray:
        """``(n, m) bool`` products x AVs from ``edges`` (default: every true edge)."""
        edges = self.edges if edges is None else edges
        Y = np.zeros((len(self.texts), len(self.av)), dtype=bool)
        Y[edges[:, 0], edges[:, 1]] = True
        return Y

    def known(self, edges=None) -> list:
        """``(n,)`` per product its ``"attr: value"`` labels from ``edges`` (default: all), None where it has none."""
        names = self.av_strings
        out: list = [None] * len(self.texts)
        for p, a in (self.edges if edges is None else edges):
            out[p] = (out[p] or []) + [names[a]]
        return out


def make_catalog(n_products: int = 2000, *, n_categories: int = 6, n_attributes: int = 4,
                 values_per_attribute: tuple = (6, 10), avs_per_product: tuple = (2, 4), mention_prob: float = 0.6,
                 link_prob: float = 0.7, list_length: int = 5, random_state: int = 0) -> Catalog:
    """The notes' catalogue: ``n_categories`` (at most 8) x ``n_attributes`` per category (drawn from 8) x 6-10 values
    per (category, attribute) (drawn from the attribute's words; an AV node is an (attribute, value) pair, shared by
    the categories that draw it). Each product draws ``avs_per_product`` distinct attributes of its category and one
    value for each. Deterministic for a given ``random_state``."""
    rng = np.random.default_rng(random_state)
    n_categories = min(n_categories, len(CATEGORIES))
    attribute_names = list(VALUES)
    category_avs: list = []  # per category: {attribute: [av index]}
    av_index: dict = {}
    for _ in range(n_categories):
        chosen = rng.choice(len(attribute_names), size=min(n_attributes, len(attribute_names)), replace=False)
        table = {}
        for k in sorted(chosen):
            a = attribute_names[k]
            count = int(rng.integers(values_per_attribute[0], values_per_attribute[1] + 1))
            words = rng.choice(len(VALUES[a]), size=min(count, len(VALUES[a])), replace=False)
            table[a] = [av_index.setdefault((a, VALUES[a][w]), len(av_index)) for w in sorted(words)]
        category_avs.append(table)
    av = sorted(av_index, key=av_index.get)

    category = rng.integers(0, n_categories, size=n_products)
    texts, edges, mentioned = [], [], []
    for p in range(n_products):
        table = category_avs[category[p]]
        attrs = list(table)
        k = int(rng.integers(avs_per_product[0], min(avs_per_product[1], len(attrs)) + 1))
        sentences = []
        for a in rng.choice(attrs, size=k, replace=False):
            node = int(rng.choice(table[a]))
            said = bool(rng.random() < mention_prob)
            edges.append((p, node))
            mentioned.append(said)
            if said:
                template = MENTIONS[int(rng.integers(len(MENTIONS)))]
                value = av[node][1]
                sentences.append(template.format(v=value, V=value.capitalize(), a=a))
        fillers = rng.choice(FILLERS, size=3, replace=False)
        rng.shuffle(sentences)
        name = CATEGORIES[category[p]]
        texts.append(f"{fillers[0].capitalize()} {name}, {fillers[1]}. " + " ".join(sentences)
                     + f" A {fillers[2]} {name} for every home.")
    edges = np.asarray(edges, dtype=np.int64)
    holders: list = [[] for _ in av]
    for p, a in edges:
        holders[a].append(int(p))
    by_product: list = [[] for _ in range(n_products)]
    for p, a in edges:
        by_product[p].append(int(a))

    def lists() -> list:
        out = []
        for p in range(n_products):
            row = []
            for _ in range(list_length):
                if rng.random() < link_prob:
                    pool = holders[int(rng.choice(by_product[p]))]
                    q = int(rng.choice(pool))
                else:
                    q = int(rng.integers(n_products))
                if q != p and q not in row:
                    row.append(q)
            out.append(row)
        return out

    return Catalog(texts, category, CATEGORIES[:n_categories], av, edges, np.asarray(mentioned), lists(), lists())


@dataclass
class ZeroShotSplit:
    """val_avs, test_avs: ``(5,) int`` unseen AV nodes; train_edges: ``(E', 2)`` every edge of a product holding no
    unseen AV; val_products, test_products: products holding a validation / test unseen AV (the queries; a product
    holding both is in both); query_products: their union, the products with no known labels."""

    train_edges: np.ndarray
    val_avs: np.ndarray
    test_avs: np.ndarray
    val_products: np.ndarray
    test_products: np.ndarray

    @property
    def query_products(self) -> np.ndarray:
        return np.union1d(self.val_products, self.test_products)


def zero_shot_split(edges: np.ndarray, n_unseen_val: int = 5, n_unseen_test: int = 5, *, min_products: int = 5,
                    random_state: int = 0) -> ZeroShotSplit:
    """HyperPAVE's zero-shot protocol on ``edges: (E, 2) int`` (product, av): draw ``n_unseen_val`` + ``n_unseen_test``
    AV nodes with at least ``min_products`` products each as unseen; products holding one lose all their edges
    (they are new products to label); the remaining edges are the training edges (none touches an unseen AV)."""
    rng = np.random.default_rng(random_state)
    edges = np.asarray(edges, dtype=np.int64)
    counts = np.bincount(edges[:, 1])
    eligible = np.flatnonzero(counts >= min_products)
    if eligible.size < n_unseen_val + n_unseen_test:
        raise ValueError(f"only {eligible.size} AVs have {min_products}+ products; "
                         f"{n_unseen_val + n_unseen_test} unseen ones were asked for")
    drawn = rng.choice(eligible, size=n_unseen_val + n_unseen_test, replace=False)
    val_avs, test_avs = np.sort(drawn[:n_unseen_val]), np.sort(drawn[n_unseen_val:])
    val_products = np.unique(edges[np.isin(edges[:, 1], val_avs), 0])
    test_products = np.unique(edges[np.isin(edges[:, 1], test_avs), 0])
    query = np.union1d(val_products, test_products)
    return ZeroShotSplit(edges[~np.isin(edges[:, 0], query)], val_avs, test_avs, val_products, test_products)


def zero_shot_metrics(scores: np.ndarray, catalog: Catalog, split: ZeroShotSplit) -> dict:
    """The notes' metrics on unseen-AV queries from ``scores: (n, m)`` (higher = more likely).

    Per test query product, the candidates are every AV node except its own seen AVs (filtered ranking: its
    positives are its unseen test AVs, every other AV is a negative): ``map`` (mean AP) and ``hit5`` (share with an
    unseen positive in the top 5). ``macro_f1``: per unseen test AV, F1 of ``score > t`` over the test products,
    averaged; one threshold ``t`` tuned to the same macro-F1 on the validation AVs and products."""
    from sklearn.metrics import average_precision_score

    Y = catalog.label_matrix()
    m = Y.shape[1]
    unseen = np.zeros(m, dtype=bool)
    unseen[split.test_avs] = True
    aps, hits = [], []
    for p in split.test_products:
        positive = Y[p] & unseen
        candidates = ~(Y[p] & ~unseen)
        s, y = scores[p, candidates], positive[candidates]
        aps.append(average_precision_score(y, s))
        hits.append(bool(y[np.argsort(-s, kind="stable")[:5]].any()))

    def macro_f1(products: np.ndarray, avs: np.ndarray, t: float) -> float:
        truth, guess = Y[np.ix_(products, avs)], scores[np.ix_(products, avs)] > t
        tp, both = (truth & guess).sum(0), truth.sum(0) + guess.sum(0)
        return float(np.mean(np.divide(2 * tp, both, out=np.zeros(len(avs)), where=both > 0)))

    grid = np.unique(np.quantile(scores[split.val_products][:, split.val_avs], np.linspace(0.5, 0.999, 60)))
    t = max(grid, key=lambda g: macro_f1(split.val_products, split.val_avs, g))
    return {"map": float(np.mean(aps)), "hit5": float(np.mean(hits)),
            "macro_f1": macro_f1(split.test_products, split.test_avs, t)}
