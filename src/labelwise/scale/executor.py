"""Where the heavy stages run: one interface, a local implementation, and the way to choose a Ray cluster instead.

The audit, link and annotate workflows hand their four heavy stages to an :class:`Executor`:

- ``embed``: texts -> ``(n, d) float32`` embeddings;
- ``out_of_fold``: features and labels -> ``(n, k)`` out-of-fold predicted probabilities;
- ``knn``: the k nearest stored rows of every query (sharded search with a top-k merge);
- ``confident_counts``: the confident-learning counts (per-class thresholds, then the confident joint).

:class:`LocalExecutor` runs them in this process with the existing code; ``labelwise.scale.ray_executor.RayExecutor``
runs them on a Ray cluster with the same results (embeddings equal within float tolerance, everything else
identical). :func:`executor_for` picks one from the ``--ray`` option's value. Executors are context managers:
``with executor_for(address) as ex: ...`` disconnects what it connected.

This module imports no ray: the Ray executor is imported only when a Ray address is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional, Protocol

import numpy as np

from labelwise.errors import ParameterError
from labelwise.neighbours import N_PROBE
from labelwise.progress import ProgressCallback
from labelwise.sharded_neighbours import SHARD_ROWS

__all__ = ["Executor", "LocalExecutor", "executor_for"]


class Executor(Protocol):
    """The heavy stages of labelwise, wherever they run. Every method returns what its local counterpart returns."""

    def embed(self, encoder, texts: Sequence[str], *, progress: Optional[ProgressCallback] = None) -> np.ndarray:
        """``encoder.encode(texts)``: ``texts: (n,) str`` -> ``(n, d) float32``, in the order given.
        progress: ``progress("embedding", rows_done, n)``."""
        ...

    def out_of_fold(self, features, labels, *, classifier=None, n_folds: int, random_state=0,
                    progress: Optional[ProgressCallback] = None) -> np.ndarray:
        """:func:`labelwise.audit.out_of_fold.out_of_fold_probabilities`: features (n, d), labels (n,) int ->
        (n, k) float64. progress: ``progress("cross-validation", folds_done, n_folds)``."""
        ...

    def knn(self, base, k: int, *, query=None, shard_rows: int = SHARD_ROWS, exact: Optional[bool] = None,
            n_probe: int = N_PROBE, random_state=0, progress: Optional[ProgressCallback] = None
            ) -> tuple[np.ndarray, np.ndarray]:
        """:func:`labelwise.sharded_neighbours.knn_sharded`: base (n, d), query (m, d) or None (base against itself)
        -> (indices (m, k) int64, similarities (m, k) float32). progress: ``progress("neighbours", shards_done,
        n_shards)``."""
        ...

    def confident_counts(self, labels, pred_probs, *, chunk_rows: Optional[int] = None):
        """The confident-learning counts of ``labels: (n,) int`` and ``pred_probs: (n, k)``, read ``chunk_rows`` rows
        at a time: a ``labelwise.audit.confident_counts.JointCounts``."""
        ...

    def close(self) -> None:
        """Give back what the executor holds (a Ray connection it opened); it cannot be used afterwards."""
        ...


class _ContextManager:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to give back."""


class LocalExecutor(_ContextManager):
    """Every stage in this process, with the code the workflows have always used."""

    def embed(self, encoder, texts: Sequence[str], *, progress: Optional[ProgressCallback] = None) -> np.ndarray:
        from labelwise.features.base import embed

        return embed(encoder, texts, progress)

    def out_of_fold(self, features, labels, *, classifier=None, n_folds: int, random_state=0,
                    progress: Optional[ProgressCallback] = None) -> np.ndarray:
        from labelwise.audit.out_of_fold import out_of_fold_probabilities

        return out_of_fold_probabilities(features, labels, classifier=classifier, n_folds=n_folds,
                                         random_state=random_state, progress=progress)

    def knn(self, base, k: int, *, query=None, shard_rows: int = SHARD_ROWS, exact: Optional[bool] = None,
            n_probe: int = N_PROBE, random_state=0, progress: Optional[ProgressCallback] = None
            ) -> tuple[np.ndarray, np.ndarray]:
        from labelwise.sharded_neighbours import knn_sharded

        return knn_sharded(base, k, query=query, shard_rows=shard_rows, exact=exact, n_probe=n_probe,
                           random_state=random_state, progress=progress)

    def confident_counts(self, labels, pred_probs, *, chunk_rows: Optional[int] = None):
        from labelwise.audit.label_errors import confident_counts

        return confident_counts(labels, pred_probs, chunk_rows=chunk_rows)

    def __repr__(self) -> str:
        return "LocalExecutor()"


def executor_for(ray: Optional[str]) -> Executor:
    """The executor for the ``--ray`` option's value: ``None`` -> :class:`LocalExecutor`; ``"auto"``, ``"HOST:PORT"``
    or ``"ray://HOST:PORT"`` -> ``RayExecutor(address)`` (connected now; see :func:`labelwise.scale.cluster.connect`
    for what ``"auto"`` finds). Raises MissingExtraError without ray, LabelwiseError when the cluster cannot be
    reached."""
    if ray is None:
        return LocalExecutor()
    if not isinstance(ray, str) or not ray.strip():
        raise ParameterError(f"the Ray address must be 'auto', HOST:PORT or ray://HOST:PORT; got {ray!r}.")
    from labelwise.scale.ray_executor import RayExecutor

    return RayExecutor(ray.strip())
