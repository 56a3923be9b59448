"""The text-encoder interface, and a deterministic stand-in for tests.

Callers that need text embeddings take any :class:`TextEmbedder` and never branch on which one they hold:
:class:`~labelwise.features.text.TextEncoder` (the packaged MiniLM model) in real use, :class:`HashingTextEncoder`
in tests that need vectors fast and without a model.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from labelwise.neighbours import normalise

__all__ = ["TextEmbedder", "HashingTextEncoder"]


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


_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingTextEncoder:
    """Bag of lower-cased words hashed (sha1) into ``dim`` signed buckets, L2-normalised: ``(n, dim) float32``.

    Deterministic across processes and platforms, no model, no cache. Texts sharing words get positive cosine
    similarity, so it is a fair fake for tests of code that consumes embeddings; it knows no synonyms.
    Texts without words map to the zero vector.
    """

    def __init__(self, dim: int = 64):
        self._dim = int(dim)

    @property
    def model_id(self) -> str:
        return f"hashing-bow:{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _TOKEN.findall(str(text).lower()):
                h = int.from_bytes(hashlib.sha1(word.encode("utf-8")).digest()[:8], "little")
                out[row, h % self._dim] += 1.0 if (h >> 63) & 1 else -1.0
        return normalise(out)
