"""LLM calls on a Ray cluster: a concurrency-limited pool of actors, each holding one backend.

Each actor builds one backend from a picklable :class:`~labelwise.llm.backend.BackendSpec` (one llama.cpp model
per actor from a GGUF path, or a client of an OpenAI-compatible server) and serves ``spec.concurrency`` calls at
once; the pool has one actor per ``spec.cpus`` CPUs of the cluster unless told otherwise.

The driver sees the pool as one :class:`PooledBackend`, an ordinary :class:`~labelwise.llm.backend.Backend` whose
``name``, ``model`` and ``seed`` are those of the backends in the actors. So the local code runs unchanged on top
of it: :func:`labelwise.llm.scoring.label_probabilities` keeps ``max_concurrency`` calls in flight and returns the
rows in input order, and every call first looks up the driver's response cache under the same key a local run
uses (a local run's answers serve a Ray run and the other way round), only misses reach the actors, and each answer
is written to the cache as soon as it arrives (a run stopped half way keeps what was answered and resumes there).
The actors never touch a cache of their own.

An actor lost with its node is restarted elsewhere and its call retried (``max_restarts``, ``max_task_retries``).
"""

from __future__ import annotations

import queue
from typing import Optional

from labelwise.errors import LabelwiseError, LLMError, ParameterError
from labelwise.llm.backend import Backend, BackendSpec, Completion
from labelwise.llm.cache import ResponseCache

__all__ = ["PooledBackend", "pool_shape"]

RESTARTS = 3  # an actor lost with its node is started again this many times; its calls are retried as often


class _LLMActor:
    """Runs on a worker: one backend built from a spec, no cache (the driver keeps it)."""

    def __init__(self, spec: BackendSpec):
        # a backend that cannot be built (no model at that path) is reported by identity(), as itself: an error
        # raised here would kill the actor, and Ray would restart it to fail again
        self.backend, self.error = None, None
        try:
            self.backend = spec.build(use_cache=False)
        except LabelwiseError as err:
            self.error = err

    def identity(self) -> dict:
        if self.error is not None:
            raise self.error
        b = self.backend
        return {"name": b.name, "model": b.model, "seed": b.seed, "supports_grammar": b.supports_grammar,
                "prompt_price": b.usage.prompt_price, "completion_price": b.usage.completion_price}

    def score(self, prompt: str, continuations: list) -> tuple:
        return self.backend._score(prompt, list(continuations))

    def complete(self, prompt: str, params: dict) -> Completion:
        return self.backend._complete(prompt, **params)


def pool_shape(spec: BackendSpec, cluster_cpus: float, *, pool_size: Optional[int] = None,
               concurrency: Optional[int] = None) -> tuple[int, int]:
    """(actors, calls each actor serves at once): ``pool_size`` or one actor per ``spec.cpus`` of the cluster's
    ``cluster_cpus`` (at least one), and ``concurrency`` or ``spec.concurrency``."""
    for name, value in (("pool_size", pool_size), ("concurrency", concurrency)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ParameterError(f"{name} must be a whole number of at least 1; got {value!r}.")
    actors = pool_size or max(1, int(cluster_cpus // max(spec.cpus, 1e-9)))
    return actors, concurrency or max(1, int(spec.concurrency))


class PooledBackend(Backend):
    """A backend whose calls run on a pool of Ray actors (see the module docstring).

    spec: what each actor builds. address: the cluster (``"auto"`` or ``"HOST:PORT"``), connected through
    :func:`labelwise.scale.cluster.connect`. pool_size / concurrency: see :func:`pool_shape`. cache / use_cache: the
    driver's response cache, as for any backend. ``close()`` (or ``with``) ends the actors.
    """

    def __init__(self, spec: BackendSpec, *, address: str = "auto", pool_size: Optional[int] = None,
                 concurrency: Optional[int] = None, cache: Optional[ResponseCache] = None, use_cache: bool = True):
        if not isinstance(spec, BackendSpec):
            raise ParameterError(f"PooledBackend needs a BackendSpec (backend.spec()); got {type(spec).__name__}.")
        from labelwise.scale.cluster import connect, import_ray

        pool_shape(spec, 1.0, pool_size=pool_size, concurrency=concurrency)  # wrong options fail before connecting
        self.actors: list = []
        self._ray = ray = import_ray()
        self.connection = connect(address)  # .note: what to tell the user (a local instance was started)
        try:
            actors, per_actor = pool_shape(spec, ray.cluster_resources().get("CPU", 1.0), pool_size=pool_size,
                                           concurrency=concurrency)
            remote = ray.remote(_LLMActor).options(num_cpus=spec.cpus, max_concurrency=per_actor,
                                                   max_restarts=RESTARTS, max_task_retries=RESTARTS)
            self.actors = [remote.remote(spec) for _ in range(actors)]
            identities = self._get([a.identity.remote() for a in self.actors])
        except BaseException:
            self.close()
            raise
        first = identities[0]
        self.name = first["name"]
        self.supports_grammar = first["supports_grammar"]
        super().__init__(first["model"], cache=cache, use_cache=use_cache, seed=first["seed"],
                         prompt_price=first["prompt_price"], completion_price=first["completion_price"])
        self.max_concurrency = actors * per_actor  # rows label_probabilities keeps in flight
        self._free: queue.Queue = queue.Queue()
        for _ in range(per_actor):
            for actor in self.actors:
                self._free.put(actor)

    def _get(self, refs):
        """``ray.get`` that raises a labelwise error from an actor as itself (not wrapped in Ray's traceback)."""
        try:
            return self._ray.get(refs)
        except self._ray.exceptions.RayTaskError as err:
            cause = getattr(err, "cause", None)
            if isinstance(cause, LabelwiseError):
                raise cause from None
            raise
        except self._ray.exceptions.RayActorError as err:
            raise LLMError(f"An LLM actor on the Ray cluster stopped and could not be restarted: "
                           f"{str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}") from None

    def _call(self, method: str, *args):
        actor = self._free.get()  # a free slot: at most max_concurrency calls in flight
        try:
            return self._get(getattr(actor, method).remote(*args))
        finally:
            self._free.put(actor)

    def _score(self, prompt: str, continuations: list[str]) -> tuple[list[float], list[int], int]:
        logprobs, counts, prompt_tokens = self._call("score", prompt, list(continuations))
        return list(logprobs), list(counts), int(prompt_tokens)

    def _complete(self, prompt: str, **params) -> Completion:
        return self._call("complete", prompt, params)

    def spec(self) -> BackendSpec:
        raise LLMError("A pooled backend is already on the cluster; give its BackendSpec instead.")

    def close(self) -> None:
        """End the actors (their models are freed) and the Ray session if it was opened here; the backend cannot be
        used afterwards."""
        for actor in self.actors:
            try:
                self._ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone with its node
                pass
        self.actors = []
        self.connection.close()

    def __enter__(self) -> "PooledBackend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
