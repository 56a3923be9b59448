"""The interface every LLM backend offers, and what they share: caching, token accounting, retries.

A backend does two things:

- ``complete(prompt, ...)``: generate text (temperature 0 and a fixed seed by default, so reruns agree), optionally
  constrained by a llama.cpp grammar or a JSON schema;
- ``score(prompt, continuations)``: the log-probability of each continuation after the prompt, summed over its
  tokens, with the token counts: shape (n_continuations,) each. This is what label scoring needs: the model
  is never asked to write a label, it is asked how likely each label is.

Subclasses implement ``_complete`` and ``_score``; the public methods add the response cache and the usage counts.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

from labelwise.errors import LabelwiseError, LLMError
from labelwise.llm.cache import ResponseCache


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = ""


@dataclass
class Usage:
    """Counts of one backend's work: calls made, answers served from the cache, tokens in and out, and the cost
    (tokens times the prices given to the backend, per 1,000 tokens; 0 for a local model)."""

    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    malformed: int = 0
    prompt_price: float = 0.0
    completion_price: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def cost(self) -> float:
        return (self.prompt_tokens * self.prompt_price + self.completion_tokens * self.completion_price) / 1000

    def add(self, prompt_tokens: int = 0, completion_tokens: int = 0, *, cached: bool = False) -> None:
        with self._lock:
            if cached:
                self.cached += 1
            else:
                self.calls += 1
                self.prompt_tokens += prompt_tokens
                self.completion_tokens += completion_tokens


@dataclass(frozen=True)
class BackendSpec:
    """How to build a backend somewhere else (another process, a Ray actor on another machine): ``factory(*args,
    **kwargs)``. ``factory`` is an importable callable (pickled by reference) or its ``"module:name"`` (imported only
    where the backend is built, so the driver needs no llama.cpp), ``args`` and ``kwargs`` picklable values
    (a backend's cache is never part of them: each place that builds one decides on its own cache).

    cpus: CPU cores one built backend keeps busy (llama.cpp's threads); concurrency: calls it serves at once (1 for
    an in-process model, which computes one call at a time; a server's request limit for an HTTP client).
    """

    factory: Union[Callable[..., Any], str]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    cpus: float = 1.0
    concurrency: int = 1

    def build(self, **overrides) -> "Backend":
        """A backend made from this spec; ``overrides`` replace keyword arguments (e.g. ``use_cache=False``)."""
        factory = self.factory
        if isinstance(factory, str):
            import importlib

            module, _, name = factory.partition(":")
            factory = getattr(importlib.import_module(module), name)
        return factory(*self.args, **{**self.kwargs, **overrides})


class Backend:
    """Base class. ``name`` and ``model`` identify the backend in the cache key.

    ``seed`` is the integer handed to the model's sampler (llama.cpp's ``seed``, the OpenAI API's ``seed`` field)
    and written into each response's cache key. It keeps that name, not the package's ``random_state``, because it
    is not a random state: it must be a plain int that survives a trip to a server and into a cache key, so None
    (fresh randomness) and numpy ``RandomState``/``Generator`` objects, which ``random_state`` accepts everywhere
    else, cannot be honoured here.
    """

    name = "backend"
    supports_grammar = False  # whether complete() honours a llama.cpp grammar (else it takes a JSON schema)

    def __init__(self, model: str, *, cache: Optional[ResponseCache] = None, use_cache: bool = True,
                 seed: int = 0, prompt_price: float = 0.0, completion_price: float = 0.0):
        self.model = model
        self.seed = seed
        self.cache = (cache if cache is not None else ResponseCache()) if use_cache else None
        self.usage = Usage(prompt_price=prompt_price, completion_price=completion_price)

    # ---- public, cached ---------------------------------------------------------------------------------------

    def complete(self, prompt: str, *, max_tokens: int = 64, temperature: float = 0.0, stop: Sequence[str] = (),
                 grammar: Optional[str] = None, json_schema: Optional[dict] = None, chat: bool = False,
                 seed: Optional[int] = None, frequency_penalty: float = 0.0) -> Completion:
        """Generate after ``prompt`` (as a chat message when ``chat``). Deterministic at temperature 0; ``seed``
        (default: the backend's) matters above it. ``frequency_penalty`` (OpenAI's meaning: subtracted from a token's
        logit once per earlier occurrence) keeps small models from repeating one line of a list forever."""
        params = {"max_tokens": max_tokens, "temperature": temperature, "stop": list(stop), "grammar": grammar,
                  "json_schema": json_schema, "chat": chat, "seed": self.seed if seed is None else seed}
        if frequency_penalty:  # only when set, so the cache keys of earlier answers stay valid
            params["frequency_penalty"] = float(frequency_penalty)
        key = [self.name, self.model, "complete", prompt, params]
        found = self.cache.get(key, model=self._answerer, valid=_is_completion) if self.cache is not None else None
        if found is not None:
            self.usage.add(cached=True)
            return Completion(**found)
        result = self._complete(prompt, **params)
        self.usage.add(result.prompt_tokens, result.completion_tokens)
        if self.cache is not None:
            self.cache.put(key, result.__dict__, model=self._answerer)
        return result

    def score(self, prompt: str, continuations: Sequence[str]) -> tuple[list[float], list[int]]:
        """(summed log-probabilities, token counts) of each continuation after ``prompt``; shapes (n,), (n,)."""
        key = [self.name, self.model, "score", prompt, list(continuations)]
        n = len(continuations)
        found = (self.cache.get(key, model=self._answerer, valid=lambda answer: _is_score(answer, n))
                 if self.cache is not None else None)
        if found is not None:
            self.usage.add(cached=True)
            return found[0], found[1]
        logprobs, counts, prompt_tokens = self._score(prompt, list(continuations))
        self.usage.add(prompt_tokens + sum(counts), 0)
        if self.cache is not None and _is_score([logprobs, counts], n):
            self.cache.put(key, [logprobs, counts], model=self._answerer)
        return logprobs, counts

    def spec(self) -> BackendSpec:
        """A :class:`BackendSpec` that builds this backend again elsewhere, answering exactly as this one does (the
        same ``name``, ``model`` and ``seed``, so the same cache keys). Backends that cannot be rebuilt elsewhere
        raise :class:`LLMError`."""
        raise LLMError(f"The {self.name} backend cannot be rebuilt in another process; give a GGUF model, a server "
                       "URL or a BackendSpec instead.")

    @property
    def _answerer(self) -> str:
        """Who answers, as stored beside each cached answer and checked when it is read."""
        return f"{self.name}/{self.model}"

    # ---- to implement -----------------------------------------------------------------------------------------

    def _complete(self, prompt: str, **params) -> Completion:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score(self, prompt: str, continuations: list[str]) -> tuple[list[float], list[int], int]:
        """(log-probabilities, token counts, prompt tokens)."""
        raise NotImplementedError  # pragma: no cover - abstract


def _is_completion(answer) -> bool:
    """Whether a cached answer has the fields of a :class:`Completion`."""
    return (isinstance(answer, dict) and set(answer) == {"text", "prompt_tokens", "completion_tokens", "finish_reason"}
            and isinstance(answer["text"], str) and isinstance(answer["finish_reason"], str)
            and all(_count(answer[k]) for k in ("prompt_tokens", "completion_tokens")))


def _is_score(answer, n: int) -> bool:
    """Whether a cached answer is ``[log-probabilities, token counts]`` of ``n`` continuations: finite numbers and
    positive integers."""
    if not (isinstance(answer, list) and len(answer) == 2 and all(isinstance(a, list) and len(a) == n for a in answer)):
        return False
    logprobs, counts = answer
    return (all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in logprobs)
            and all(_count(c) and c > 0 for c in counts))


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def with_retries(call: Callable[[], object], *, attempts: int = 5, base_delay: float = 0.5, max_delay: float = 20.0,
                 retryable: Callable[[Exception], bool], on_retry: Callable[[], None] = lambda: None,
                 sleep: Callable[[float], None] = time.sleep):
    """Run ``call``; on a retryable error wait ``base_delay * 2**attempt`` (capped, with full jitter) and try again,
    up to ``attempts`` times. The last error is raised as it is."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as err:  # noqa: BLE001 - the predicate decides
            if attempt == attempts - 1 or not retryable(err):
                raise
            on_retry()
            sleep(random.uniform(0, min(max_delay, base_delay * 2 ** attempt)))
    raise AssertionError("unreachable")  # pragma: no cover
