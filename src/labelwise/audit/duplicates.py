"""Exact and near duplicates, duplicates whose labels disagree, and duplicates across splits (leakage).

Near duplicates are pairs of rows whose embeddings have cosine similarity >= a threshold, found through the
k-nearest-neighbour index in :mod:`labelwise.neighbours` (never all n^2 pairs). A duplicate pair with two
different labels is its own issue type: at least one of the two labels is wrong, or the classes overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from labelwise.neighbours import knn
from labelwise.errors import ShapeError


@dataclass
class DuplicateResult:
    """pairs: (m, 2) int, i < j; similarity: (m,) float (1.0 for exact duplicates); group: (n,) int, the
    connected component of each row in the duplicate graph, -1 for rows without a duplicate."""

    pairs: np.ndarray
    similarity: np.ndarray
    group: np.ndarray
    threshold: float

    @property
    def n_duplicate_rows(self) -> int:
        return int(np.count_nonzero(self.group >= 0))

    @property
    def n_groups(self) -> int:
        return int(np.unique(self.group[self.group >= 0]).size)


def find_near_duplicates(
    embeddings, *, threshold: float = 0.95, k: int = 10, exact_keys=None, random_state: Optional[int] = 0,
    neighbours: Optional[tuple] = None,
) -> DuplicateResult:
    """Pairs of rows that are (near) copies of each other.

    embeddings: (n, d) float. threshold: cosine similarity at or above which two rows are duplicates.
    k: neighbours examined per row (a group larger than k+1 is still joined through shared neighbours).
    exact_keys: optional (n,) hashable per row (e.g. normalised text); rows with equal keys are exact duplicates
    whatever their embeddings say. neighbours: precomputed ``(indices, similarities)`` from
    :func:`labelwise.neighbours.knn` (shared with the outlier check).
    """
    vectors = np.asarray(embeddings, dtype=np.float32)
    n = vectors.shape[0]
    idx, sim = neighbours if neighbours is not None else knn(vectors, k, random_state=random_state)
    rows = np.repeat(np.arange(n), idx.shape[1])
    cols, sims = idx.ravel(), sim.ravel()
    keep = (cols >= 0) & (sims >= threshold)
    a, b, s = rows[keep], cols[keep], sims[keep]
    if exact_keys is not None:
        if len(exact_keys) != n:
            raise ShapeError(f"exact_keys has {len(exact_keys)} entries but there are {n} rows of embeddings.")
        ea, eb = _equal_key_pairs(exact_keys)
        a, b, s = np.concatenate([a, ea]), np.concatenate([b, eb]), np.concatenate([s, np.ones(ea.size, np.float32)])
    # one entry per unordered pair; a pair found twice (from both ends, or also exact) keeps its highest similarity
    code = np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b)
    order = np.lexsort((-s, code))
    codes, starts = np.unique(code[order], return_index=True)
    similarity = np.minimum(s[order][starts], 1.0).astype(np.float32)
    pairs = np.stack([codes // n, codes % n], axis=1).astype(np.int64)
    return DuplicateResult(pairs, similarity, _groups(pairs, n), float(threshold))


def _equal_key_pairs(keys) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (first occurrence, later occurrence) of rows with equal keys; missing or empty keys never pair."""
    keys = np.asarray(keys, dtype=object)
    usable = np.array([not _blank(k) for k in keys], dtype=bool)
    index = np.flatnonzero(usable)
    if index.size < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    _, inverse = np.unique(keys[index].astype(str), return_inverse=True)
    first, later = _first_and_later(inverse)
    return index[first], index[later]


def _blank(key) -> bool:
    if key is None or (isinstance(key, float) and np.isnan(key)):
        return True
    return isinstance(key, str) and key.strip() == ""


def _first_and_later(inverse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For group ids (n,), pairs (first row of the group, each later row of the group)."""
    order = np.argsort(inverse, kind="stable")
    sorted_keys = inverse[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    first = np.repeat(order[starts], np.diff(np.r_[starts, len(order)]))
    later = first != order
    return first[later], order[later]


def _groups(pairs: np.ndarray, n: int) -> np.ndarray:
    group = np.full(n, -1, np.int64)
    if len(pairs) == 0:
        return group
    graph = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    in_pair = np.zeros(n, bool)
    in_pair[pairs.ravel()] = True
    _, relabelled = np.unique(component[in_pair], return_inverse=True)
    group[in_pair] = relabelled
    return group


def conflicting_duplicates(pairs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(m,) bool: the pair's two rows carry different labels. labels: (n,) int, or (n, k) bool (sets differ)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    labels = np.asarray(labels)
    left, right = labels[pairs[:, 0]], labels[pairs[:, 1]]
    if labels.ndim == 2:
        return np.any(left != right, axis=1)
    return left != right


def rows_in_pairs(pairs: np.ndarray, n: int, mask: Optional[np.ndarray] = None) -> np.ndarray:
    """(n,) bool: rows that appear in any (selected) pair."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if mask is not None:
        pairs = pairs[mask]
    out = np.zeros(n, bool)
    out[pairs.ravel()] = True
    return out


def cross_split_duplicates(embeddings_a, embeddings_b, *, threshold: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Rows of split b with a near-duplicate in split a (train/test leakage).

    Returns (pairs (m, 2) int as [row in a, row in b], similarity (m,)), each b row's most similar a row.
    """
    a, b = np.asarray(embeddings_a), np.asarray(embeddings_b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ShapeError(f"both splits need embeddings of one width; got shapes {a.shape} and {b.shape}.")
    idx, sim = knn(a, 1, query=b)
    hit = (idx[:, 0] >= 0) & (sim[:, 0] >= threshold)
    b_rows = np.flatnonzero(hit)
    return np.stack([idx[hit, 0], b_rows], axis=1).astype(np.int64), sim[hit, 0]
