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

__all__ = ["HashingTextEncoder"]

_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingTextEncoder(Params):
    """Bag of lower-cased words hashed (sha1) into ``dim`` signed buckets, L2-normalised: ``(n, dim) float32``.

    Deterministic across processes and platforms, no model, no cache. Texts sharing words get positive cosine
    similarity, so it is a fair fake for tests of code that consumes embeddings; it knows no synonyms.
    Texts without words map to the zero vector.
    """

    def __init__(self, dim: int = 64):
        self.dim = dim

    @property
    def model_id(self) -> str:
        return f"hashing-bow:{self.dim}"

    def encode(self, texts: Sequence[str], progress: Optional[ProgressCallback] = None) -> np.ndarray:
        """``texts: (n,) str`` -> ``(n, dim) float32``; ``progress("embedding", done, total)`` at the start and end."""
        if not (isinstance(self.dim, (int, np.integer)) and self.dim >= 1):
            raise ParameterError(f"dim must be a positive integer, got {self.dim!r}.")
        dim = int(self.dim)
        report(progress, "embedding", 0, len(texts))
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _TOKEN.findall(str(text).lower()):
                h = int.from_bytes(hashlib.sha1(word.encode("utf-8")).digest()[:8], "little")
                out[row, h % dim] += 1.0 if (h >> 63) & 1 else -1.0
        report(progress, "embedding", len(texts), len(texts))
        return normalise(out)
