"""LLMs that work offline: one small interface over in-process llama.cpp and any OpenAI-compatible server.

- :class:`LlamaCppBackend` loads a GGUF file in process (default: Gemma 3 270M, shipped inside a PyPI package);
- :class:`OpenAIBackend` talks to vLLM, Ollama, llama.cpp's server or a hosted API;
- :class:`LlamaCppEmbedder` turns texts into a GGUF model's pooled final-layer hidden states (LS-LLaMA's features).

Both share a SQLite response cache (a rerun costs nothing; an interrupted run resumes), token accounting and
deterministic settings (temperature 0, a seed). Label scoring by log-likelihood (``scoring.py``), constrained
outputs (``constrained.py``) and calibration of label probabilities (``calibration.py``) build on them.
A deterministic fake backend for tests and examples is ``labelwise.testing.FakeBackend``.

Names load on first use: the backends import their optional dependencies (llama-cpp-python, httpx) only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labelwise._lazy import lazy_exports

__getattr__, __dir__, _lazy_names = lazy_exports(__name__, {
    "Backend": "labelwise.llm.backend",
    "BackendSpec": "labelwise.llm.backend",
    "Completion": "labelwise.llm.backend",
    "Usage": "labelwise.llm.backend",
    "LLMError": "labelwise.errors",
    "ResponseCache": "labelwise.llm.cache",
    "LlamaCppBackend": "labelwise.llm.llamacpp",
    "default_backend": "labelwise.llm.llamacpp",
    "LlamaCppEmbedder": "labelwise.llm.embeddings",
    "OpenAIBackend": "labelwise.llm.openai_http",
})

__all__ = [*_lazy_names, "open_backend", "backend_spec"]

if TYPE_CHECKING:
    from labelwise.errors import LLMError
    from labelwise.llm.backend import Backend, BackendSpec, Completion, Usage
    from labelwise.llm.cache import ResponseCache
    from labelwise.llm.embeddings import LlamaCppEmbedder
    from labelwise.llm.llamacpp import LlamaCppBackend, default_backend
    from labelwise.llm.openai_http import OpenAIBackend


def open_backend(model=None, *, server=None, server_model=None, threads=None, n_ctx=None, **options) -> Backend:
    """The backend a user asked for: an OpenAI-compatible ``server`` URL (with ``server_model``), else a GGUF file
    ``model``, else the packaged local model (also when ``LABELWISE_LLM_BASE_URL`` is unset). ``threads`` and
    ``n_ctx`` (context length in tokens, default 2048) apply to local models only."""
    if server:
        from labelwise.llm.openai_http import OpenAIBackend

        return OpenAIBackend(server_model, base_url=server, **options)
    from labelwise.llm.llamacpp import LlamaCppBackend, default_backend

    if n_ctx:
        options["n_ctx"] = n_ctx
    if model:
        return LlamaCppBackend(model, n_threads=threads, **options)
    return default_backend(n_threads=threads, **options)


def backend_spec(model=None, *, server=None, server_model=None, threads=None, n_ctx=None, **options) -> BackendSpec:
    """What :func:`open_backend` would open, as a :class:`BackendSpec` to build elsewhere (each actor of a Ray pool),
    without loading anything here. A local model runs ``threads`` threads (default 1: a cluster runs one model per
    core); a server's API key is read here (``LABELWISE_LLM_API_KEY`` / ``OPENAI_API_KEY``) and travels with it."""
    import os

    from labelwise.llm.backend import BackendSpec

    if server:
        key = options.pop("api_key", None) or os.environ.get("LABELWISE_LLM_API_KEY") or os.environ.get(
            "OPENAI_API_KEY")
        limit = int(options.get("max_concurrency", 4))
        return BackendSpec("labelwise.llm.openai_http:OpenAIBackend", (server_model,),
                           {"base_url": server, "api_key": key, **options}, cpus=1, concurrency=limit)
    if n_ctx:
        options["n_ctx"] = n_ctx
    return BackendSpec("labelwise.llm.llamacpp:LlamaCppBackend", (str(model) if model else None,),
                       {"n_threads": threads or 1, **options}, cpus=threads or 1, concurrency=1)
