"""LLMs that work offline: one small interface over in-process llama.cpp and any OpenAI-compatible server.

- :class:`LlamaCppBackend` loads a GGUF file in process (default: Gemma 3 270M, shipped inside a PyPI package);
- :class:`OpenAIBackend` talks to vLLM, Ollama, llama.cpp's server or a hosted API.

Both share a SQLite response cache (a rerun costs nothing; an interrupted run resumes), token accounting and
deterministic settings (temperature 0, a seed). Label scoring by log-likelihood (``scoring.py``), constrained
outputs (``constrained.py``) and calibration of label probabilities (``calibration.py``) build on them.
"""

from labelwise.llm.backend import Backend, Completion, LLMError, Usage
from labelwise.llm.cache import ResponseCache

__all__ = ["Backend", "Completion", "LLMError", "Usage", "ResponseCache", "LlamaCppBackend", "OpenAIBackend",
           "default_backend", "open_backend"]


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


def __getattr__(name):  # the backends import their optional dependencies only when asked for
    if name == "LlamaCppBackend":
        from labelwise.llm.llamacpp import LlamaCppBackend

        return LlamaCppBackend
    if name == "OpenAIBackend":
        from labelwise.llm.openai_http import OpenAIBackend

        return OpenAIBackend
    if name == "default_backend":
        from labelwise.llm.llamacpp import default_backend

        return default_backend
    raise AttributeError(name)
