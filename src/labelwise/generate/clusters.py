"""A taxonomy without an LLM: k-means on sentence embeddings, each cluster named by its most distinctive words.

This is the clustering baseline TnT-LLM (Wan et al. 2024) compares against, and the fallback of
:func:`labelwise.generate.taxonomy.induce_taxonomy` when a model never writes a usable taxonomy. Cluster names
come from class-based TF-IDF (c-TF-IDF, as in BERTopic): a word scores high in a cluster when it is frequent
there and rare across clusters. The description quotes the text closest to the cluster's centre.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from labelwise.generate.taxonomy_categories import Category
from labelwise.generate.taxonomy_yaml import Taxonomy
from labelwise.neighbours import normalise


def cluster_texts(vectors: np.ndarray, n_clusters: int, *, random_state: int = 0) -> tuple:
    """k-means on (n, d) embeddings (rows L2-normalised first): (assignments (n,) int, centres (k, d))."""
    from sklearn.cluster import KMeans

    x = normalise(vectors).astype(np.float64)
    k = max(1, min(int(n_clusters), len(x)))
    model = KMeans(n_clusters=k, n_init=4, random_state=random_state).fit(x)
    return model.labels_.astype(int), model.cluster_centers_


def distinctive_words(texts: Sequence[str], assignments: np.ndarray, n_clusters: int, top: int = 3) -> list:
    """c-TF-IDF: for each cluster (0..n_clusters-1) its ``top`` most distinctive words (list of lists)."""
    from sklearn.feature_extraction.text import CountVectorizer

    docs = [" ".join(t for t, a in zip(texts, assignments) if a == c) for c in range(n_clusters)]
    vectorizer = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{3,}\b")
    try:
        counts = vectorizer.fit_transform(docs).toarray().astype(np.float64)
    except ValueError:  # no word survived (numbers only, or an unusual script)
        return [[] for _ in range(n_clusters)]
    words = vectorizer.get_feature_names_out()
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    mean_words = counts.sum() / max(n_clusters, 1)
    idf = np.log1p(mean_words / np.maximum(counts.sum(axis=0), 1.0))
    scores = tf * idf
    return [[str(words[j]) for j in np.argsort(-row)[:top] if row[j] > 0] for row in scores]


def cluster_taxonomy(texts: Sequence[str], *, n_labels: int, encoder=None, random_state: int = 0) -> Taxonomy:
    """A :class:`~labelwise.generate.taxonomy_yaml.Taxonomy` of ``n_labels`` clusters of ``texts``."""
    if encoder is None:
        from labelwise.features import TextEncoder

        encoder = TextEncoder()
    texts = [str(t) for t in texts]
    vectors = np.asarray(encoder.encode(texts), dtype=np.float64)
    assignments, centres = cluster_texts(vectors, n_labels, random_state=random_state)
    k = len(centres)
    names = distinctive_words(texts, assignments, k)
    unit = normalise(vectors)
    categories, used = [], set()
    for c in range(k):
        members = np.flatnonzero(assignments == c)
        central = members[np.argmax(unit[members] @ centres[c])] if len(members) else None
        name = " ".join(names[c]) or f"cluster {c + 1}"
        if name.casefold() in used:
            name = f"{name} {c + 1}"
        used.add(name.casefold())
        example = " ".join(texts[central].split()[:25]) if central is not None else ""
        categories.append(Category(name, f"Texts like: {example}" if example else ""))
    return Taxonomy(categories, "", {"method": "k-means on sentence embeddings, named by c-TF-IDF",
                                      "random_state": random_state})
