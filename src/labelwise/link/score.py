"""Candidate pairs and their match probabilities: the hybrid pair scorer shared by ``link`` and ``dedupe``.

Candidates (:func:`candidate_pairs`): the union of each row's ``k`` nearest rows by embedding cosine and its ``k``
nearest by character 3-gram TF-IDF cosine of the whole row, so that a pair the embedding misses (a product code, a
surname with a typo) is still compared. Scores (:func:`score_candidates`): lexical comparisons per column and the
embedding cosine, each in a few levels (:mod:`~labelwise.link.compare`), combined by a Fellegi-Sunter model fitted
by EM on the candidate pairs themselves, without labels (:mod:`~labelwise.link.fellegi_sunter`; Fellegi & Sunter
1969, Winkler 1988). EM is fitted on the per-column comparisons alone; the embedding's m and u (and the columns',
once more) are then estimated in one M-step against that model's posterior, with no further EM. The embedding
summarises the whole row, so it depends on every column, against the model's assumption of comparisons
independent given the class; left to EM, the joint model takes "rows that read alike" for the match class (on
RLdata10000, 10,000 people with 1,000 duplicates: lambda 0.06 or 0.10 depending on the candidates, the embedding's
top level as the class, pairwise F1 0.13-0.14, both from the default start and from the columns' posterior).
Agreement across separate columns is the classic Fellegi-Sunter evidence of one entity; the embedding only
weighs in on the class the columns define. Both functions work when the two sides are the same table
(``right_* = None``; self pairs are never candidates, and each unordered pair appears once).

Shapes: ``left_columns``: ``c`` sequences of ``(n_left,) str`` (one per compared column; empty string = missing);
``right_columns`` the same for the right side, or None; ``left_vectors: (n_left, d)`` unit-length embeddings;
``left, right: (p,) int`` pair positions -> :class:`PairScores` with ``probability: (p,) float``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from labelwise.errors import ShapeError
from labelwise.link.compare import Comparison, char_tfidf, compare_columns, compare_embeddings, normalise_text
from labelwise.link.fellegi_sunter import FellegiSunter
from labelwise.neighbours import knn

__all__ = ["PairScores", "score_candidates", "candidate_pairs", "tfidf_neighbours"]


@dataclass
class PairScores:
    """Match probability ``(p,)``, log odds ``(p,)``, the comparisons (levels per pair) and the fitted model."""

    probability: np.ndarray
    log_odds: np.ndarray
    comparisons: list[Comparison]
    model: FellegiSunter

    def describe(self) -> list[str]:
        """One line per comparison: its levels with their match weight ``log2(m/u)``."""
        lines = []
        for comp, m, u in zip(self.comparisons, self.model.m_, self.model.u_):
            weights = ", ".join(f"{name} {np.log2(a / b):+.1f}" for name, a, b in zip(comp.level_names, m, u))
            lines.append(f"{comp.name}: {weights}")
        return lines


def tfidf_neighbours(query: sparse.csr_matrix, base: sparse.csr_matrix | None, k: int,
                     chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``base`` with the highest cosine to each row of ``query`` (rows unit length): ``(n, k)``
    positions (``-1`` where there are fewer than ``k`` with a positive cosine) and cosines. ``base=None``: search
    ``query`` against itself, never returning a row as its own neighbour."""
    self_search = base is None
    base = query if base is None else base
    n, m = query.shape[0], base.shape[0]
    k = max(0, min(k, m - (1 if self_search else 0)))
    idx = np.full((n, k), -1, dtype=np.int64)
    sim = np.zeros((n, k), dtype=np.float64)
    if k == 0:
        return idx, sim
    base_t = base.T.tocsc()
    chunk = max(1, min(chunk, 20_000_000 // max(m, 1)))  # a dense block of at most 20M cosines (80 MB)
    for s in range(0, n, chunk):
        block = (query[s : s + chunk] @ base_t).toarray()
        if self_search:
            rows = np.arange(block.shape[0])
            block[rows, s + rows] = -1.0
        top = np.argpartition(-block, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        top, vals = np.take_along_axis(top, order, axis=1), np.take_along_axis(vals, order, axis=1)
        ok = vals > 0
        idx[s : s + chunk] = np.where(ok, top, -1)
        sim[s : s + chunk] = np.where(ok, vals, 0.0)
    return idx, sim


def _row_texts(columns: Sequence[Sequence[str]], n: int) -> list[str]:
    return [" ".join(normalise_text(col[i]) for col in columns) for i in range(n)]


def candidate_pairs(
    left_columns: Sequence[Sequence[str]],
    right_columns: Sequence[Sequence[str]] | None = None,
    *,
    left_vectors: np.ndarray | None = None,
    right_vectors: np.ndarray | None = None,
    k: int = 10,
    search: Callable[..., tuple[np.ndarray, np.ndarray]] = knn,
) -> tuple[np.ndarray, np.ndarray]:
    """Unique candidate pairs ``(left, right)``, each ``(p,) int``, sorted: embedding kNN union TF-IDF kNN.

    right_columns None (self-linkage): pairs ``a < b`` of the one table, no self pairs. search: the embedding
    kNN, ``search(base, k, query=None) -> (indices, similarities)`` as :func:`labelwise.neighbours.knn` (e.g. an
    executor's ``knn``, on a Ray cluster).
    """
    self_link = right_columns is None
    n_left = len(left_columns[0]) if left_columns else 0
    n_right = n_left if self_link else (len(right_columns[0]) if right_columns else 0)
    if n_left == 0 or n_right == 0 or (self_link and n_left < 2):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lt, rt = char_tfidf(_row_texts(left_columns, n_left), None if self_link else _row_texts(right_columns, n_right))
    parts = [tfidf_neighbours(lt, None if self_link else rt, k)[0]]
    if left_vectors is not None:
        kk = min(k, n_right - (1 if self_link else 0))
        parts.append(search(left_vectors, kk)[0] if self_link else search(right_vectors, kk, query=left_vectors)[0])
    a_all, b_all = [], []
    for idx in parts:
        rows = np.repeat(np.arange(n_left), idx.shape[1]).reshape(idx.shape)
        ok = idx >= 0
        a_all.append(rows[ok])
        b_all.append(idx[ok])
    a, b = np.concatenate(a_all).astype(np.int64), np.concatenate(b_all).astype(np.int64)
    if self_link:
        a, b = np.minimum(a, b), np.maximum(a, b)
        keep = a != b
        a, b = a[keep], b[keep]
    key = np.unique(a * n_right + b)
    return key // n_right, key % n_right


def score_candidates(
    left_columns: Sequence[Sequence[str]],
    right_columns: Sequence[Sequence[str]] | None,
    left: np.ndarray,
    right: np.ndarray,
    *,
    left_vectors: np.ndarray | None = None,
    right_vectors: np.ndarray | None = None,
    names: Sequence[str] | None = None,
) -> PairScores:
    """Match probability of each candidate pair ``(left[i], right[i])``; see the module docstring.

    left_columns / right_columns: the compared columns' values, in the same order on both sides (right None: the
    same table, as in de-duplication; ``left`` and ``right`` then both index it). left_vectors / right_vectors:
    row embeddings ``(n, d)``, unit length, or None to compare without them (right_vectors is ignored when
    right_columns is None). names: a name per column for :meth:`PairScores.describe`.
    """
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    if left.shape != right.shape or left.ndim != 1:
        raise ShapeError(f"left and right must be (p,) positions of the same length; got {left.shape} and "
                         f"{right.shape}.")
    if right_columns is not None and len(right_columns) != len(left_columns):
        raise ShapeError(f"{len(left_columns)} left columns but {len(right_columns)} right columns; give the compared "
                         "columns in the same order on both sides.")
    names = list(names) if names is not None else [f"column {i}" for i in range(len(left_columns))]
    comparisons: list[Comparison] = []
    for c, name in enumerate(names):
        comparisons += compare_columns(name, left_columns[c], None if right_columns is None else right_columns[c],
                                       left, right)
    start = None
    if left_vectors is not None:
        if comparisons:  # first the fields alone: see the module docstring
            fields = np.stack([c.levels for c in comparisons], axis=1)
            start = FellegiSunter([c.n_levels for c in comparisons]).fit_predict_proba(fields)
        rv = left_vectors if right_columns is None or right_vectors is None else right_vectors
        comparisons.append(compare_embeddings(left_vectors, rv, left, right))
    levels = np.stack([c.levels for c in comparisons], axis=1) if comparisons else np.zeros((left.size, 0), np.int64)
    # with the embedding: one M-step on the columns' posterior (m and u of every comparison, the embedding's
    # included, estimated against the class the columns found), no further EM: see the module docstring
    model = FellegiSunter([c.n_levels for c in comparisons], max_iter=200 if start is None else 0).fit(levels,
                                                                                                      start=start)
    log_odds = model.match_weight(levels)
    return PairScores(1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700))), log_odds, comparisons, model)
