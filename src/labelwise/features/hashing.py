"""Text embeddings without a model: words hashed into a fixed number of signed buckets.

A real encoder, not only a test double: ``labelwise link --encoder hashing`` uses it, and it is the
:class:`~labelwise.features.base.TextEmbedder` to pick when texts that match share words (names, titles,
addresses) and no model may be loaded. It is also the fast deterministic encoder of the tests. It knows no
synonyms: "card not delivered" and "parcel missing" share nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Optional

import numpy as np

from labelwise.errors import ParameterError
from labelwise.features.base import Params
from labelwise.neighbours import normalise
from labelwise.progress import ProgressCallback, report
from labelwise.token_states import TokenStates

__all__ = ["HashingTextEncoder"]

_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingTextEncoder(Params):
    """Bag of lower-cased words hashed (sha1) into ``dim`` signed buckets, L2-normalised: ``(n, dim) float32``.

    Deterministic across processes and platforms, no model, no cache. Texts sharing words get positive cosine
    similarity, so it is a fair fake for tests of code that consumes embeddings; it knows no synonyms.
    Texts without words map to the zero vector. :meth:`encode_tokens` gives each word's own signed bucket, so a
    text's vector is its words' sum, normalised: token states and sentence vectors share one space, as MiniLM's do.
    """

    def __init__(self, dim: int = 64):
        self.dim = dim

    @property
    def model_id(self) -> str:
        return f"hashing-bow:{self.dim}"

    def encode(self, texts: Sequence[str], progress: Optional[ProgressCallback] = None) -> np.ndarray:
        """``texts: (n,) str`` -> ``(n, dim) float32``; ``progress("embedding", done, total)`` at the start and end."""
        dim = self._dim()
        report(progress, "embedding", 0, len(texts))
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _TOKEN.findall(str(text).lower()):
                bucket, sign = _bucket(word, dim)
                out[row, bucket] += sign
        report(progress, "embedding", len(texts), len(texts))
        return normalise(out)

    def encode_tokens(self, texts: Sequence[str], *, words: bool = True,
                      progress: Optional[ProgressCallback] = None) -> TokenStates:
        """``texts: (n,) str`` -> :class:`TokenStates` ``(n, L, dim)``: one row per word (lower-cased), its signed
        bucket (a +-1 at one position). ``words`` is accepted for :class:`TextEncoder`'s signature (words are all
        there is here). ``progress("token states", done, total)`` at the start and end."""
        dim = self._dim()
        report(progress, "token states", 0, len(texts))
        found = [_TOKEN.findall(str(text).lower()) for text in texts]
        width = max((len(w) for w in found), default=0)
        states = np.zeros((len(texts), width, dim), dtype=np.float32)
        mask = np.zeros((len(texts), width), dtype=bool)
        for row, row_words in enumerate(found):
            for k, word in enumerate(row_words):
                bucket, sign = _bucket(word, dim)
                states[row, k, bucket] = sign
            mask[row, : len(row_words)] = True
        report(progress, "token states", len(texts), len(texts))
        return TokenStates(states, mask, tuple(tuple(w) for w in found))

    def _dim(self) -> int:
        if not (isinstance(self.dim, (int, np.integer)) and self.dim >= 1):
            raise ParameterError(f"dim must be a positive integer, got {self.dim!r}.")
        return int(self.dim)


def _bucket(word: str, dim: int) -> tuple[int, float]:
    """A word's bucket in ``0..dim-1`` and its sign, from the first 8 bytes of its sha1."""
    h = int.from_bytes(hashlib.sha1(word.encode("utf-8")).digest()[:8], "little")
    return h % dim, 1.0 if (h >> 63) & 1 else -1.0
