"""A deterministic stand-in for a model, for tests and examples: you give the log-likelihood of a continuation
and the completion of a prompt as plain functions. It goes through the same cache and accounting as real
backends (``use_cache=False`` by default, so tests stay independent)."""

from __future__ import annotations

from typing import Callable, Optional

from labelwise.llm.backend import Backend, Completion

__all__ = ["FakeBackend"]


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
        super().__init__(model, use_cache=use_cache, **options)

    def _complete(self, prompt: str, **params) -> Completion:
        self.prompts.append(prompt)
        text = self._complete_fn(prompt)
        return Completion(text, len(prompt.split()), len(text.split()), "stop")

    def _score(self, prompt: str, continuations: list) -> tuple[list, list, int]:
        self.prompts.append(prompt)
        return ([float(self._score_fn(prompt, c)) for c in continuations], [max(1, len(c.split())) for c in continuations],
                len(prompt.split()))
