"""The heavy stages on a Ray cluster, with the local results (:mod:`labelwise.scale.executor`).

- ``embed``: Ray Data ``map_batches`` over an actor pool. Each actor builds the encoder once from its class and
  constructor parameters (never a loaded model: the ONNX session is created on the actor) and embeds blocks of
  texts; the pool grows to one actor per CPU of the cluster. Rows carry their number through Ray Data, which may
  finish blocks out of order, and are put back in input order. Actors that die with their node are restarted and
  their blocks retried (Ray Data's actor defaults: ``max_restarts=-1``, ``max_task_retries=-1``), so a lost node
  costs time, not results. If the job fails anyway, the error says so, and the encoder's embedding cache (its
  ``cache_dir``, written batch by batch on every actor) lets a rerun skip what was already embedded.
- ``out_of_fold``: one Ray task per outer fold (:func:`labelwise.audit.out_of_fold.fit_fold`), with the same
  fold split (:func:`labelwise.audit.out_of_fold.fold_splits`); features and labels go into the object store once.
- ``knn``: one task per shard (:func:`labelwise.sharded_neighbours.search_shard`), the per-shard lists combined by a
  tree of :func:`labelwise.sharded_neighbours.merge_top_k` tasks as they finish; ``base`` and ``query`` are put
  into the object store once.
- ``confident_counts``: two map + merge passes, one task per chunk: :class:`ThresholdCounts`, merged, then
  :class:`JointCounts` with the merged thresholds, merged on the driver. An in-memory array is put once; a memmap,
  ``.npy`` or Parquet source is read chunk by chunk on the driver and each chunk is put once per pass (at most
  ``2 x CPUs`` chunks in flight).

Every result equals :class:`LocalExecutor`'s: embeddings within float tolerance, the rest identical (tests in
``tests/scale`` check each on a two-node cluster). Progress is reported as the local stages do, from the driver as
results arrive.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Optional

import numpy as np

from labelwise.errors import LabelwiseError
from labelwise.neighbours import N_PROBE
from labelwise.progress import ProgressCallback, report
from labelwise.scale.cluster import CONNECT_TIMEOUT_S, connect, import_ray
from labelwise.sharded_neighbours import QUERY_ROWS, SHARD_ROWS

__all__ = ["RayExecutor", "EMBED_BLOCK_ROWS"]

EMBED_BLOCK_ROWS = 512
"""Texts per Ray Data block (and per actor call) when embedding."""


def _labelwise_cause(error: BaseException) -> Optional[LabelwiseError]:
    """The LabelwiseError a task or actor raised, from the error Ray wraps it in, or None. A task's error is kept as
    ``cause``; Ray Data keeps only the text of an actor's (its last line ``labelwise.errors.NAME: message``)."""
    import labelwise.errors

    cause = getattr(error, "cause", None)
    if isinstance(cause, LabelwiseError):
        return cause
    found = re.search(r"^labelwise\.errors\.(\w+): (.+)$", str(error), re.MULTILINE)
    kind = getattr(labelwise.errors, found[1], None) if found else None
    if not (isinstance(kind, type) and issubclass(kind, LabelwiseError)):
        return None
    mistake = kind.__new__(kind)
    Exception.__init__(mistake, found[2])
    return mistake


@contextmanager
def _errors_said_here():
    """Re-raise a LabelwiseError from the cluster as itself, without Ray's wrapping (the user's to fix here)."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - Ray's errors; what is not ours passes unchanged
        mistake = _labelwise_cause(error)
        if mistake is None or mistake is error:
            raise
        raise mistake from None


class RayExecutor:
    """The heavy stages on the Ray cluster at ``address`` (see :func:`labelwise.scale.cluster.connect`; connected
    here, disconnected by :meth:`close` when this executor made the connection).

    embed_block_rows: texts per Ray Data block. max_actors: the embedding actor pool's largest size (default: the
    cluster's CPUs when the job starts).
    """

    def __init__(self, address: str = "auto", *, embed_block_rows: int = EMBED_BLOCK_ROWS,
                 max_actors: Optional[int] = None, timeout_s: float = CONNECT_TIMEOUT_S):
        self.connection = connect(address, timeout_s=timeout_s)
        self.address = self.connection.address
        self.embed_block_rows = int(embed_block_rows)
        self.max_actors = max_actors
        self._remotes: dict = {}

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def note(self) -> str:
        """What the user should be told about the connection (a local instance started for lack of a cluster)."""
        return self.connection.note

    def close(self) -> None:
        """Disconnect from Ray when this executor connected (see :class:`labelwise.scale.cluster.RayConnection`)."""
        self.connection.close()

    def __repr__(self) -> str:
        return f"RayExecutor({self.address!r})"

    def cpus(self) -> int:
        """CPUs of the cluster now (at least 1)."""
        return max(1, int(import_ray().cluster_resources().get("CPU", 1)))

    def _remote(self, function, **options):
        """``ray.remote(function)`` with ``options``, made once per executor."""
        key = (function, tuple(sorted(options.items())))
        if key not in self._remotes:
            self._remotes[key] = import_ray().remote(**options)(function) if options else import_ray().remote(function)
        return self._remotes[key]

    # -- embedding --------------------------------------------------------------------------------------------

    def embed(self, encoder, texts: Sequence[str], *, progress: Optional[ProgressCallback] = None) -> np.ndarray:
        import pyarrow as pa
        import ray.data

        from labelwise.features.base import embed

        texts = list(texts)
        n = len(texts)
        if n == 0:
            return embed(encoder, texts)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # progress goes through the callback
        context.enable_auto_log_stats = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        # its warning that the progress bars are off would reach the user on every run: ours replace them
        logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
        table = pa.table({"row": np.arange(n, dtype=np.int64), "text": pa.array(texts, pa.string())})
        blocks = [table.slice(lo, self.embed_block_rows) for lo in range(0, n, self.embed_block_rows)]
        actors = max(1, min(self.max_actors or self.cpus(), len(blocks)))
        dataset = ray.data.from_arrow(blocks).map_batches(
            _EmbedActor, fn_constructor_kwargs={"recipe": _encoder_recipe(encoder)}, batch_size=None,
            batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors), num_cpus=1)
        out: Optional[np.ndarray] = None
        done = 0
        report(progress, "embedding", 0, n)
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                rows, vectors = batch["row"], np.asarray(batch["vector"], dtype=np.float32)
                if out is None:
                    out = np.empty((n, vectors.shape[1]), dtype=np.float32)
                out[rows] = vectors
                done += len(rows)
                report(progress, "embedding", done, n)
        except Exception as error:  # noqa: BLE001 - Ray wraps what failed on the cluster in its own errors
            mistake = _labelwise_cause(error)
            if mistake is not None:  # the user's to fix (a bad parameter, a missing model): say it as we would here
                raise mistake from None
            resume = ("the texts each actor finished are in the embedding cache (the encoder's cache_dir), so "
                      "running the same command again resumes from there" if getattr(encoder, "cache_dir", False)
                      is not False else "the encoder has no cache (cache_dir=False): a rerun embeds every text again")
            raise LabelwiseError(f"embedding on the Ray cluster at {self.address} failed after {done} of {n} texts "
                                 f"({_first_line(error)}); {resume}.") from error
        if done != n or out is None:
            raise LabelwiseError(f"embedding on the Ray cluster at {self.address} returned {done} of {n} rows; "
                                 "run the command again.")
        return out

    # -- out-of-fold probabilities ----------------------------------------------------------------------------

    @_errors_said_here()
    def out_of_fold(self, features, labels, *, classifier=None, n_folds: int, random_state=0,
                    progress: Optional[ProgressCallback] = None) -> np.ndarray:
        from scipy import sparse

        from labelwise.audit.out_of_fold import check_fold_inputs, default_classifier, fit_fold, fold_splits

        ray = import_ray()
        labels = check_fold_inputs(features, labels, n_folds).astype(np.int64)
        n = labels.shape[0]
        if classifier is None:
            classifier = default_classifier("sparse" if sparse.issparse(features) else "dense", n_rows=n,
                                            random_state=random_state)
        k = int(labels.max()) + 1
        folds = fold_splits(labels, n_folds, n_classes=k, random_state=random_state)
        features_ref, labels_ref = ray.put(features), ray.put(labels)
        fold_task = self._remote(fit_fold, num_cpus=1)
        pending = {fold_task.remote(features_ref, labels_ref, train, test, classifier, k): test
                   for train, test in folds}
        probs = np.zeros((n, k), dtype=np.float64)
        report(progress, "cross-validation", 0, n_folds)
        done = 0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            test = pending.pop(ready[0])
            probs[test] = ray.get(ready[0])
            done += 1
            report(progress, "cross-validation", done, n_folds)
        return probs

    # -- nearest neighbours -----------------------------------------------------------------------------------

    @_errors_said_here()
    def knn(self, base, k: int, *, query=None, shard_rows: int = SHARD_ROWS, exact: Optional[bool] = None,
            n_probe: int = N_PROBE, random_state=0, progress: Optional[ProgressCallback] = None
            ) -> tuple[np.ndarray, np.ndarray]:
        from labelwise.sharded_neighbours import check_knn_inputs, merge_top_k, shard_bounds

        ray = import_ray()
        check_knn_inputs(base, k)
        shards = shard_bounds(base.shape[0], shard_rows)
        m = base.shape[0] if query is None else query.shape[0]
        if not shards or m == 0:
            return np.full((m, k), -1, np.int64), np.full((m, k), -np.inf, np.float32)
        base_ref = ray.put(np.asarray(base))
        query_ref = base_ref if query is None else ray.put(np.asarray(query))
        shard_task = self._remote(_search_shard, num_cpus=1, num_returns=2)
        merge_task = self._remote(merge_top_k, num_cpus=1, num_returns=2)
        in_flight = {}  # the indices ref of each task -> (its (indices, similarities) refs, is a shard search)
        for lo, hi in shards:
            pair = shard_task.remote(base_ref, lo, hi, query_ref, k, query is None, exact, n_probe, random_state)
            in_flight[pair[0]] = (tuple(pair), True)
        ready: list = []  # lists waiting for a partner to be merged with
        report(progress, "neighbours", 0, len(shards))
        done = 0
        while in_flight:
            finished, _ = ray.wait(list(in_flight), num_returns=1)
            pair, searched = in_flight.pop(finished[0])
            if searched:
                done += 1
                report(progress, "neighbours", done, len(shards))
            ready.append(pair)
            while len(ready) > 1:  # a tree of pairwise merges, fed as results arrive
                a, b = ready.pop(), ready.pop()
                merged = merge_task.remote(*a, *b, k)
                in_flight[merged[0]] = (tuple(merged), False)
        idx, sim = ray.get(list(ready[0]))
        return idx, sim

    # -- confident-learning counts ----------------------------------------------------------------------------

    @_errors_said_here()
    def confident_counts(self, labels, pred_probs, *, chunk_rows: Optional[int] = None):
        from labelwise.audit.confident_counts import JointCounts, ThresholdCounts
        from labelwise.audit.label_errors import open_chunked

        ray = import_ray()
        labels, source, rows = open_chunked(labels, pred_probs, chunk_rows)
        whole = ray.put(source.array) if source.in_memory else None  # once, for both passes
        first = self._map_merge(ThresholdCounts(source.shape[1]), labels, source, rows, whole)
        return self._map_merge(JointCounts(first.thresholds), labels, source, rows, whole)

    def _map_merge(self, total, labels: np.ndarray, source, rows: int, whole):
        """``total`` (an empty ThresholdCounts or JointCounts) merged with every chunk's own, counted by Ray tasks,
        at most ``2 x CPUs`` in flight. whole: the in-memory array in the object store, which each task
        slices ``[lo:hi]``; else each chunk is read here and put on its own."""
        ray = import_ray()
        task = self._remote(_count_chunk, num_cpus=1)
        window = 2 * self.cpus()
        empty = ray.put(total)  # the state to start each chunk from (thresholds included)
        n = source.shape[0]
        if whole is not None:
            chunks = ((start, whole, start, min(start + rows, n)) for start in range(0, n, rows))
        else:
            chunks = ((start, ray.put(np.ascontiguousarray(raw)), 0, raw.shape[0])
                      for start, raw in source.iter_chunks(rows, convert=False))
        pending: list = []
        for start, ref, lo, hi in chunks:
            pending.append(task.remote(empty, labels[start:start + hi - lo], ref, lo, hi))
            if len(pending) >= window:
                finished, pending = ray.wait(pending, num_returns=1)
                total.merge(ray.get(finished[0]))
        for part in ray.get(pending):
            total.merge(part)
        return total


# -- what runs on the cluster ---------------------------------------------------------------------------------


def _encoder_recipe(encoder):
    """How an actor builds its own copy of ``encoder``: (class, constructor parameters) for labelwise's encoders
    (each actor loads the model itself, with one onnxruntime thread per CPU it holds), else the encoder itself
    (pickled)."""
    if hasattr(encoder, "get_params"):
        params = dict(encoder.get_params())
        if "n_threads" in params and params["n_threads"] is None:
            params["n_threads"] = 1  # one CPU per actor
        return type(encoder), params
    return None, encoder


class _EmbedActor:
    """A Ray Data callable class: builds the encoder once, then embeds each block of ``{"row", "text"}``."""

    def __init__(self, recipe):
        make, params = recipe
        self.encoder = params if make is None else make(**params)

    def __call__(self, batch) -> dict:
        from labelwise.features.base import embed

        vectors = embed(self.encoder, batch.column("text").to_pylist())
        return {"row": batch.column("row").to_numpy(), "vector": vectors}


def _search_shard(base, lo: int, hi: int, query, k: int, self_search: bool, exact, n_probe: int, random_state):
    from labelwise.sharded_neighbours import search_shard

    return search_shard(base[lo:hi], lo, query, k, query_offset=0 if self_search else None, exact=exact,
                        n_probe=n_probe, random_state=random_state, query_rows=QUERY_ROWS)


def _count_chunk(empty, labels, array, lo: int, hi: int):
    """One chunk's ThresholdCounts or JointCounts, counted into a copy of ``empty`` (whose arrays, read from the
    object store, are read-only)."""
    import copy

    return copy.deepcopy(empty).update(labels, array[lo:hi])


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
