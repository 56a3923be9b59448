"""One-to-one matching: each record on either side keeps at most one partner.

Among candidate pairs (already above the threshold) the assignment maximising the total score is found with the
Hungarian algorithm (``scipy.optimize.linear_sum_assignment``), one connected component of the candidate graph
at a time, so the dense matrices stay small. A component larger than ``MAX_DENSE`` rows or columns falls back to
the greedy rule (best remaining pair first), which keeps every mutual-best pair. LinkTransformer (Arora & Dell
2023) has no one-to-one option; record-linkage practice (e.g. Fellegi-Sunter with a 1:1 constraint) does.

Shapes: ``left, right: (p,) int`` candidate positions, ``score: (p,) float`` -> ``keep: (p,) bool``.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components

__all__ = ["one_to_one"]

MAX_DENSE = 4000


def _greedy(left: np.ndarray, right: np.ndarray, score: np.ndarray) -> np.ndarray:
    keep = np.zeros(score.size, dtype=bool)
    used_l: set[int] = set()
    used_r: set[int] = set()
    for p in np.lexsort((right, left, -score)):
        a, b = int(left[p]), int(right[p])
        if a not in used_l and b not in used_r:
            keep[p] = True
            used_l.add(a)
            used_r.add(b)
    return keep


def one_to_one(left: np.ndarray, right: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Which candidate pairs form the maximum-score one-to-one matching: ``(p,) bool``."""
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    score = np.asarray(score, dtype=np.float64)
    p = score.size
    keep = np.zeros(p, dtype=bool)
    if p == 0:
        return keep
    lu, li = np.unique(left, return_inverse=True)
    ru, ri = np.unique(right, return_inverse=True)
    nl, nr = lu.size, ru.size
    graph = sparse.coo_matrix((np.ones(p), (li, nl + ri)), shape=(nl + nr, nl + nr))
    _, comp = connected_components(graph, directed=False)
    pair_comp = comp[li]
    order = np.argsort(pair_comp, kind="stable")
    bounds = np.flatnonzero(np.r_[True, pair_comp[order][1:] != pair_comp[order][:-1], True])
    for s, e in zip(bounds[:-1], bounds[1:]):
        sel = order[s:e]
        if sel.size == 1:
            keep[sel] = True
            continue
        rows, r_inv = np.unique(li[sel], return_inverse=True)
        cols, c_inv = np.unique(ri[sel], return_inverse=True)
        if rows.size > MAX_DENSE or cols.size > MAX_DENSE:
            keep[sel] = _greedy(li[sel], ri[sel], score[sel])
            continue
        # shift scores to be positive so that any real pair beats "no pair" (0)
        shift = 1.0 - min(0.0, float(score[sel].min()))
        dense = np.zeros((rows.size, cols.size))
        dense[r_inv, c_inv] = score[sel] + shift
        rr, cc = linear_sum_assignment(dense, maximize=True)
        chosen = {(int(a), int(b)) for a, b in zip(rr, cc) if dense[a, b] > 0}
        keep[sel] = [(int(a), int(b)) in chosen for a, b in zip(r_inv, c_inv)]
    return keep
