"""The model's input space for an audited table: text embeddings, TF-IDF, tabular features or given vectors,
stacked into one matrix, with the fitted encoders kept so another split can be put in the same space.

Shared by the audit workflow (out-of-fold model) and its checks (duplicates, outliers, shift).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from labelwise.data import LabelledTable
from labelwise.errors import LabelwiseError

ENCODERS = ("minilm", "tfidf", "hashing")
#: Buckets of the ``hashing`` encoder (:class:`~labelwise.features.hashing.HashingTextEncoder`) in an audit.
HASHING_DIM = 256


@dataclass
class FeatureSpace:
    """The model's input for a table: X (n, d) dense or sparse, the kind of default classifier it suits, what was
    used, and the fitted encoders so another split can be put in the same space."""

    X: object
    kind: str
    settings: dict
    encoders: list = field(default_factory=list)  # (role, encoder) pairs, applied in order

    @property
    def dense(self) -> Optional[np.ndarray]:
        """Dense vectors for neighbour search (None for sparse TF-IDF)."""
        from scipy import sparse

        return None if sparse.issparse(self.X) else np.asarray(self.X, dtype=np.float32)

    def transform(self, table) -> object:
        """X for another table with the same columns."""
        return _stack([_encode(role, enc, table, fit=False) for role, enc in self.encoders])


def _encode(role: str, encoder, table, fit: bool, progress=None, executor=None):
    if role == "text":
        texts = table.texts()
        if hasattr(encoder, "fit_transform"):
            return encoder.fit_transform(texts) if fit else encoder.transform(texts)
        if executor is not None:  # e.g. on a Ray cluster (labelwise.scale.executor)
            return executor.embed(encoder, texts, progress=progress)
        from labelwise.features.base import embed

        return embed(encoder, texts, progress)
    if role == "embeddings":
        return table.embeddings()
    frame = table.frame[table.feature_columns]
    return encoder.fit_transform(frame) if fit else encoder.transform(frame)


def _stack(parts):
    from scipy import sparse

    if len(parts) == 1:
        return parts[0]
    if any(sparse.issparse(p) for p in parts):
        return sparse.hstack([sparse.csr_matrix(p) for p in parts]).tocsr()
    return np.hstack(parts)


def text_encoder(name: str):
    """The dense text encoder called ``name``: ``minilm`` (the packaged sentence model) or ``hashing`` (words hashed
    into :data:`HASHING_DIM` buckets: no model, fast, knows no synonyms)."""
    if name == "hashing":
        from labelwise.features.hashing import HashingTextEncoder

        return HashingTextEncoder(HASHING_DIM)
    from labelwise.features import TextEncoder

    return TextEncoder()


def features_for(table: LabelledTable, encoder, progress, *, executor=None) -> FeatureSpace:
    """Feature matrix for the out-of-fold model, the kind of default classifier it suits, and what was used.
    executor: embeds the texts (a :class:`labelwise.scale.executor.Executor`; default: this process)."""
    from labelwise.features import TabularEncoder

    encoders, kinds, settings = [], [], {}
    if table.text_columns:
        if isinstance(encoder, str):  # one of ENCODERS: the workflow checked it before reading the table
            if encoder == "tfidf":
                from labelwise.features import TfidfEncoder

                encoders.append(("text", TfidfEncoder()))
                kinds.append("sparse")
            else:
                encoders.append(("text", text_encoder(encoder)))
                kinds.append("dense")
            settings["encoder"] = encoder
        else:
            encoders.append(("text", encoder))
            kinds.append("dense")
            settings["encoder"] = type(encoder).__name__
        settings["text_columns"] = list(table.text_columns)
    if table.embedding_column is not None:
        encoders.append(("embeddings", None))
        kinds.append("dense")
        settings["embedding_column"] = table.embedding_column
    if table.feature_columns:
        encoders.append(("tabular", TabularEncoder()))
        kinds.append("tabular")
        settings["feature_columns"] = list(table.feature_columns)
    if not encoders:
        raise LabelwiseError("Nothing to learn from: name --text, --features or --embeddings columns, or give "
                             "--pred-probs.")
    X = _stack([_encode(role, enc, table, fit=True, progress=progress, executor=executor) for role, enc in encoders])
    kind = kinds[0] if len(kinds) == 1 else "sparse" if "sparse" in kinds else "tabular" if "tabular" in kinds else "dense"
    return FeatureSpace(X, kind, settings, encoders)
