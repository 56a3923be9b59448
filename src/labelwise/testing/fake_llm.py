"""A deterministic stand-in for a model, for tests and examples: you give the log-likelihood of a continuation
and the completion of a prompt as plain functions. It goes through the same cache and accounting as real
backends (``use_cache=False`` by default, so tests stay independent)."""

from __future__ import annotations

from typing import Callable, Optional

from labelwise.llm.backend import Backend, BackendSpec, Completion

__all__ = ["FakeBackend", "keyword_score"]


def keyword_score(prompt: str, continuation: str) -> float:
    """A deterministic log-likelihood for label scoring: how often the label's words occur in the prompt's last
    ``Text:`` (minus a little per character, so ties break the same way everywhere). Picklable by reference, so a
    :class:`FakeBackend` with it can be rebuilt on Ray workers."""
    text = prompt.rpartition("Text:")[2].lower()
    words = continuation.lower().split()
    return float(sum(text.count(w) for w in words)) - 0.01 * len(continuation)


class FakeBackend(Backend):
    """``score(prompt, continuation) -> log-likelihood`` and ``complete(prompt) -> text`` stand in for a model;
    ``prompts`` lists every prompt it was sent, in order."""

    name = "fake"

    def __init__(self, score: Callable[[str, str], float] = lambda prompt, continuation: 0.0,
                 complete: Optional[Callable[[str], str]] = None, *, model: str = "fake", use_cache: bool = False,
                 **options):
        self._score_fn = score
        self._complete_fn = complete or (lambda prompt: "")
        self.prompts: list = []  # every prompt seen, in order
        self._options = {k: v for k, v in options.items() if k != "cache"}
        super().__init__(model, use_cache=use_cache, **options)

    def spec(self) -> BackendSpec:
        """The same fake elsewhere (a Ray actor): its functions travel by value (cloudpickle), so define them where
        the workers can import them, or in this module, e.g. :func:`keyword_score`."""
        return BackendSpec(FakeBackend, (self._score_fn, self._complete_fn), {"model": self.model, **self._options},
                           cpus=0.5, concurrency=1)

    def _complete(self, prompt: str, **params) -> Completion:
        self.prompts.append(prompt)
        text = self._complete_fn(prompt)
        return Completion(text, len(prompt.split()), len(text.split()), "stop")

    def _score(self, prompt: str, continuations: list) -> tuple[list, list, int]:
        self.prompts.append(prompt)
        return ([float(self._score_fn(prompt, c)) for c in continuations], [max(1, len(c.split())) for c in continuations],
                len(prompt.split()))
