"""Outliers: rows far from every other row in embedding space (k-nearest-neighbour distance).

A row's raw score is its mean cosine distance to its k nearest neighbours. The reported score (0..1) is the rank
of that distance among all rows (its empirical percentile): scale-free, so it reads the same for any embedding
model or dataset. A row is flagged only when it is both in the top 1% and its distance lies beyond
Q3 + 3 * IQR of all distances (Tukey's far-out fence), so a homogeneous dataset flags few rows or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.stats import rankdata

from labelwise.neighbours import knn


@dataclass
class OutlierResult:
    """scores: (n,) float in [0, 1] (percentile of knn_distance); knn_distance: (n,) mean cosine distance to the
    k nearest rows; is_outlier: (n,) bool; threshold: the distance fence used; k: neighbours."""

    scores: np.ndarray
    knn_distance: np.ndarray
    is_outlier: np.ndarray
    threshold: float
    k: int

    @property
    def n_outliers(self) -> int:
        return int(self.is_outlier.sum())


def outlier_scores(
    embeddings, *, k: int = 10, top_share: float = 0.01, neighbours: Optional[tuple] = None, random_state=0
) -> OutlierResult:
    """Score every row by how far it lies from its k nearest neighbours.

    embeddings: (n, d) float. neighbours: precomputed ``(indices, similarities)`` from
    :func:`labelwise.neighbours.knn` (saves a second search when duplicates were just computed).
    """
    if neighbours is None:
        neighbours = knn(embeddings, k, random_state=random_state)
    _, sims = neighbours
    sims = sims[:, :k]
    valid = np.isfinite(sims)
    distance = np.where(valid, 1.0 - sims, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
    n = distance.shape[0]
    scores = (rankdata(distance, method="average") - 0.5) / max(n, 1)
    q1, q3 = np.percentile(distance, [25, 75]) if n else (0.0, 0.0)
    fence = float(q3 + 3.0 * (q3 - q1))
    is_outlier = (scores >= 1.0 - top_share) & (distance > fence)
    return OutlierResult(scores.astype(np.float64), distance.astype(np.float64), is_outlier, fence, int(k))
