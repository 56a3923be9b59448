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

import numpy as np

__all__ = ["HashingTextEncoder"]

_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingTextEncoder:
    """Bag of lower-cased words hashed (sha1) into ``dim`` signed buckets, L2-normalised: ``(n, dim) float32``.

    Deterministic across processes and platforms, no model, no cache. Texts sharing words get positive cosine
    similarity; it knows no synonyms. Texts without words map to the zero vector.
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
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)
