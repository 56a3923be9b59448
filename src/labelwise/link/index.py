"""Nearest-neighbour retrieval for linkage: the k most cosine-similar right rows for each left row.

LinkTransformer (Arora & Dell 2023) retrieves with an exact inner-product FAISS index over the right table.
labelwise uses its own numpy search (:func:`labelwise.audit.neighbours.knn`): exact blocked matrix products up to
``EXACT_MAX_ROWS`` right rows (12k), an inverted-file index (k-means cells, ``n_probe`` nearest cells searched)
above. Why not FAISS or usearch: measured on 2 CPU cores with 384-d unit vectors and planted matches
(an exploratory run, then ``bench/linkage.py --scale``; figures in ``docs/linkage.md``), at 2.6k x 2.6k all
take well under a second (embedding the texts takes ~40-90 s, so retrieval does not matter there). At 100k x
100k numpy IVF (4 probes) took 7.8 s with recall@1 0.98, FAISS IVFFlat 33 s (recall 1.0), FAISS flat 153 s, FAISS
HNSW 132 s (recall 0.79); usearch's HNSW build at 100k did not finish in the time that run allowed. With 8 probes
(the setting here) numpy IVF and FAISS IVFFlat took about the same time in ``--scale`` (49 s vs 53 s on a busy
machine), recall@1 0.989 vs 1.0. numpy is already a dependency, so none is added: faiss-cpu (MIT) and usearch
(Apache-2.0) stay out of labelwise.

Shapes: ``query: (m, d) float``, ``base: (n, d) float`` -> ``(indices (m, k) int64, scores (m, k) float32)``,
best first, padded with -1 / -inf where fewer than k rows exist.
"""

from __future__ import annotations

import numpy as np

from labelwise.audit.neighbours import EXACT_MAX_ROWS, knn

__all__ = ["search", "EXACT_MAX_ROWS", "N_PROBE"]

N_PROBE = 8


def search(
    query: np.ndarray, base: np.ndarray, k: int = 10, *, exact: bool | None = None, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` rows of ``base`` for each row of ``query`` by cosine similarity.

    exact: True / False forces exact / IVF search; None: exact up to EXACT_MAX_ROWS rows of ``base``.
    Returns ``(indices (m, k) int64, scores (m, k) float32)``.
    """
    q = np.asarray(query, dtype=np.float32)
    b = np.asarray(base, dtype=np.float32)
    m, n = q.shape[0], b.shape[0]
    if m == 0 or n == 0 or k < 1:
        return np.full((m, max(k, 0)), -1, np.int64), np.full((m, max(k, 0)), -np.inf, np.float32)
    return knn(b, k, query=q, exact=exact, n_probe=N_PROBE, random_state=random_state)
