"""Simulated annotators with known accuracies and confusion matrices, from true labels (tests and benchmarks of
the many-annotator methods).

Noise model: annotator j has accuracy ``a_j`` drawn uniformly from ``accuracy``; it labels each example with
probability ``density`` (every example gets at least one label, every annotator at least one example); a label is
the true class with probability ``a_j``, else a wrong class drawn from the annotator's error distribution for that
true class: uniform over the other classes (``errors="uniform"``), or Dirichlet(0.3)-distributed over the other
classes, a different draw per annotator and class (``errors="confusion"``: each annotator confuses each class with
a few favourites).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from labelwise.errors import ParameterError


@dataclass
class SimulatedAnnotators:
    """labels: (n, m) float with NaN; accuracy: (m,) the drawn a_j; confusion: (m, K, K) the true
    ``P(j says l | true c)``."""

    labels: np.ndarray
    accuracy: np.ndarray
    confusion: np.ndarray


def simulate_annotators(truth: np.ndarray, n_annotators: int, *, n_classes: Optional[int] = None,
                        accuracy: tuple = (0.6, 0.95), density: float = 0.3, errors: str = "uniform",
                        random_state: int = 0) -> SimulatedAnnotators:
    """Labels from ``n_annotators`` simulated annotators for the examples whose true classes are ``truth`` (n,)."""
    rng = np.random.default_rng(random_state)
    truth = np.asarray(truth, dtype=np.int64)
    n, m = truth.shape[0], n_annotators
    k = int(truth.max()) + 1 if n_classes is None else n_classes
    if k < 2 or k <= truth.max() or truth.min() < 0:
        raise ParameterError(f"truth must hold classes 0..n_classes-1 with n_classes >= 2; got classes "
                             f"{truth.min()}..{truth.max()} and n_classes={k}.")
    acc = rng.uniform(accuracy[0], accuracy[1], m)
    off = ~np.eye(k, dtype=bool)
    if errors == "uniform":
        wrong = np.broadcast_to(off / (k - 1), (m, k, k)).copy()
    elif errors == "confusion":
        wrong = np.zeros((m, k, k))
        wrong[:, off] = rng.dirichlet(np.full(k - 1, 0.3), (m, k)).reshape(m, -1)
    else:
        raise ParameterError(f"errors must be 'uniform' or 'confusion'; got {errors!r}.")
    confusion = wrong * (1 - acc)[:, None, None] + np.eye(k)[None] * acc[:, None, None]
    draws = np.empty((n, m))
    for j in range(m):  # every annotator's label for every example (hidden below where not asked)
        cumulative = np.cumsum(confusion[j, truth, :], axis=1)
        draws[:, j] = np.minimum((rng.random((n, 1)) > cumulative).sum(axis=1), k - 1)
    asked = rng.random((n, m)) < density
    asked[np.flatnonzero(~asked.any(axis=1)), rng.integers(0, m, (~asked.any(axis=1)).sum())] = True
    for j in np.flatnonzero(~asked.any(axis=0)):
        asked[rng.integers(0, n), j] = True
    labels = np.where(asked, draws, np.nan)
    return SimulatedAnnotators(labels, acc, confusion)
