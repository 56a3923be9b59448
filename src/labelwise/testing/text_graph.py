"""A synthetic text-attributed graph with known node classes (tests and the LLM-GNN benchmark).

Structure: a degree-corrected stochastic block model. Each node has a class (uniform over ``n_classes`` topics) and a
degree propensity ``theta ~ Pareto(2.5) + 1`` (a few hubs, many leaves). Each of the ``n_nodes * avg_degree / 2``
edges picks its first end with probability proportional to ``theta``, and its second end, again by ``theta``, from the
same class with probability ``homophily`` (else from another class); loops and repeats are dropped, so the edge
homophily is ``homophily`` up to sampling.

Text: a sentence of ``words`` words, a template ("Post: ...") around topic keywords (the topic's name among them)
mixed with distractor words.
A clear node draws its keywords from its own topic (one of them, with probability ``slip``, from another topic);
an ``ambiguous`` share of nodes draws half its keywords from a second topic, so that a zero-shot annotator is about
as often wrong as right on them, and their embeddings lie between two topics (low C-density): the annotator's
mistakes concentrate away from the cluster centres, as LLM-GNN observes of real LLMs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelwise.errors import ParameterError

TOPICS = {
    "sports": "sports football goal match team coach league stadium player score season tournament referee",
    "politics": "politics election vote parliament minister policy party senate campaign law government debate treaty",
    "science": "science experiment laboratory physics molecule theory research cell telescope quantum genome data study",
    "music": "music guitar album concert melody band singer song rhythm orchestra piano chorus lyrics",
    "cooking": "cooking recipe oven flour garlic kitchen bake sauce chef pasta spice dinner soup",
    "finance": "finance bank loan stock market investor interest bond credit budget profit dividend tax",
    "travel": "travel flight hotel beach passport airport journey tourist luggage island museum cruise map",
    "health": "health doctor hospital vaccine patient nurse therapy diet symptom clinic fever medicine surgery",
}
DISTRACTORS = ("today yesterday people really think new good great very much some many thing time week year way "
               "also just made said told saw found well again other more first last long little").split()


@dataclass
class TextGraph:
    """texts: (n,) sentences; edges: (m, 2) int (undirected, each once); y: (n,) int true classes; class_names: (k,);
    descriptions: (k,) one keyword sentence per class (a zero-shot prompt); ambiguous: (n,) bool."""

    texts: list
    edges: np.ndarray
    y: np.ndarray
    class_names: list
    descriptions: list
    ambiguous: np.ndarray

    def adjacency(self):
        """``(n, n)`` symmetric scipy CSR 0/1 adjacency."""
        from labelwise.generate.graph_labels import edges_to_adjacency

        return edges_to_adjacency(self.edges, len(self.y))

    def edge_homophily(self) -> float:
        return float((self.y[self.edges[:, 0]] == self.y[self.edges[:, 1]]).mean())


def make_text_graph(n_nodes: int = 1000, n_classes: int = 5, *, avg_degree: float = 6.0, homophily: float = 0.8,
                    ambiguous: float = 0.3, words: int = 8, keywords: int = 4, slip: float = 0.1,
                    random_state: int = 0) -> TextGraph:
    """A :class:`TextGraph` of ``n_nodes`` nodes in ``n_classes`` (2..8) topics; see the module docstring."""
    if not 2 <= n_classes <= len(TOPICS):
        raise ParameterError(f"n_classes={n_classes} must be between 2 and {len(TOPICS)}")
    if not (0 <= homophily <= 1 and 0 <= ambiguous <= 1 and 2 <= keywords <= words):
        raise ParameterError("homophily and ambiguous must be in [0, 1], and 2 <= keywords <= words")
    rng = np.random.default_rng(random_state)
    names = list(TOPICS)[:n_classes]
    vocab = [TOPICS[t].split() for t in names]
    y = rng.integers(n_classes, size=n_nodes)
    theta = rng.pareto(2.5, size=n_nodes) + 1.0
    members = [np.flatnonzero(y == c) for c in range(n_classes)]
    others = [np.flatnonzero(y != c) for c in range(n_classes)]

    def by_theta(pool: np.ndarray, size: int) -> np.ndarray:
        w = theta[pool]
        return pool[rng.choice(len(pool), size=size, p=w / w.sum())]

    m = int(n_nodes * avg_degree / 2)
    first = rng.choice(n_nodes, size=m, p=theta / theta.sum())
    same = rng.random(m) < homophily
    second = np.empty(m, dtype=np.int64)
    for c in range(n_classes):
        for flag, pools in ((True, members), (False, others)):
            idx = np.flatnonzero((y[first] == c) & (same == flag))
            if len(idx):
                second[idx] = by_theta(pools[c], len(idx))
    edges = np.sort(np.stack([first, second], axis=1), axis=1)
    edges = np.unique(edges[edges[:, 0] != edges[:, 1]], axis=0)

    is_ambiguous = rng.random(n_nodes) < ambiguous
    texts = []
    for i in range(n_nodes):
        other = (y[i] + rng.integers(1, n_classes)) % n_classes
        n_other = keywords // 2 if is_ambiguous[i] else int(rng.random() < slip)
        picked = list(rng.choice(vocab[y[i]], size=keywords - n_other, replace=False))
        picked += list(rng.choice(vocab[other], size=n_other, replace=False))
        picked += list(rng.choice(DISTRACTORS, size=words - keywords, replace=False))
        texts.append("Post: " + " ".join(rng.permutation(picked)) + ".")
    descriptions = [f"{name}: {' '.join(v)}" for name, v in zip(names, vocab)]
    return TextGraph(texts, edges.astype(np.int64), y.astype(np.int64), names, descriptions, is_ambiguous)
