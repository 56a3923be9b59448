"""The text-encoder interface.

Callers that need text embeddings take any :class:`TextEmbedder` and never branch on which one they hold:
:class:`~labelwise.features.text.TextEncoder` (the packaged MiniLM model, meaning), or
:class:`~labelwise.features.hashing.HashingTextEncoder` (shared words, no model).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["TextEmbedder"]


@runtime_checkable
class TextEmbedder(Protocol):
    """Anything that turns texts into an ``(n, dim) float32`` matrix."""

    @property
    def model_id(self) -> str:
        """Stable id of what produces the vectors (a cache key part)."""
        ...

    @property
    def dim(self) -> int:
        """Number of columns ``encode`` returns."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``texts: (n,) str`` -> ``(n, dim) float32``."""
        ...
