"""Any OpenAI-compatible HTTP server: vLLM, Ollama, llama.cpp's server, or a hosted API.

Base URL and API key come from the arguments, else ``LABELWISE_LLM_BASE_URL`` / ``LABELWISE_LLM_API_KEY``, else
``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``. Text generation uses ``/completions`` (or ``/chat/completions`` with
``chat=True``); constrained output passes a llama.cpp ``grammar`` or an OpenAI ``response_format`` JSON schema.
Label scoring uses ``/completions`` with ``echo`` and ``logprobs``: the server returns the log-probability of each
prompt token, and the continuation's tokens are summed (servers without prompt log-probabilities cannot score;
the error says so).

Timeouts, connection errors, 429 and 5xx are retried with exponential backoff and full jitter; a response that is
not the JSON the API promises is retried too, then reported as an :class:`LLMError`. At most ``max_concurrency``
requests are in flight at once, whatever the number of threads calling.
"""

from __future__ import annotations

import os
import threading
from typing import Optional

from labelwise.errors import MissingExtraError
from labelwise.llm.backend import Backend, BackendSpec, Completion, LLMError, Usage, with_retries

try:
    import httpx
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("httpx", "llm", "OpenAI-compatible servers") from err

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class _Retryable(Exception):
    pass


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, model: Optional[str] = None, *, base_url: Optional[str] = None, api_key: Optional[str] = None,
                 timeout: float = 60.0, max_concurrency: int = 4, attempts: int = 5, supports_grammar: bool = False,
                 **backend_options):
        self.base_url = (base_url or os.environ.get("LABELWISE_LLM_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
                         or "").rstrip("/")
        if not self.base_url:
            raise LLMError("No server given: pass base_url (e.g. http://127.0.0.1:8000/v1) or set "
                           "LABELWISE_LLM_BASE_URL.")
        key = api_key or os.environ.get("LABELWISE_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or ""
        self._options = {"base_url": self.base_url, "api_key": key or None, "timeout": timeout,
                         "max_concurrency": max_concurrency, "attempts": attempts, "supports_grammar": supports_grammar,
                         **{k: v for k, v in backend_options.items() if k not in ("cache", "use_cache")}}
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout,
                                    headers={"Authorization": f"Bearer {key}"} if key else {})
        self._slots = threading.Semaphore(max_concurrency)
        self.max_concurrency = max_concurrency  # rows that label_probabilities scores at once
        self.attempts = attempts
        self.supports_grammar = supports_grammar  # llama.cpp's servers take a GBNF "grammar"; others a JSON schema
        self.usage = Usage()  # counts the retries of the model lookup below (a server that does not answer)
        super().__init__(model or self._first_model(), **backend_options)

    def spec(self) -> BackendSpec:
        """A client of the same server and model elsewhere (the API key travels with it), serving
        ``max_concurrency`` requests at once."""
        return BackendSpec(OpenAIBackend, (self.model,), dict(self._options), cpus=1,
                           concurrency=self._options["max_concurrency"])

    def _first_model(self) -> str:
        body = self._post_or_get("GET", "/models")
        try:
            return str(body["data"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"{self.base_url}/models lists no model; pass model=... explicitly.") from None

    def _post_or_get(self, method: str, path: str, payload: Optional[dict] = None) -> dict:
        def once():
            with self._slots:
                try:
                    response = self._client.request(method, path, json=payload)
                except (httpx.TimeoutException, httpx.TransportError) as err:
                    raise _Retryable(f"{type(err).__name__}: {err}") from err
            if response.status_code in RETRY_STATUS:
                raise _Retryable(f"HTTP {response.status_code}: {response.text[:200]}")
            if response.status_code >= 400:
                raise LLMError(f"{self.base_url}{path} answered HTTP {response.status_code}: {response.text[:300]}")
            try:
                return response.json()
            except ValueError:
                self.usage.malformed += 1
                raise _Retryable(f"not JSON: {response.text[:200]}") from None

        try:
            return with_retries(once, attempts=self.attempts, retryable=lambda e: isinstance(e, _Retryable),
                                on_retry=self._count_retry)
        except _Retryable as err:
            raise LLMError(f"{self.base_url}{path} failed after {self.attempts} attempts: {err}") from None

    def _count_retry(self) -> None:
        self.usage.retries += 1

    def _complete(self, prompt: str, *, max_tokens, temperature, stop, grammar, json_schema, chat, seed,
                  frequency_penalty: float = 0.0) -> Completion:
        payload = {"model": self.model, "max_tokens": max_tokens, "temperature": temperature, "seed": seed}
        if frequency_penalty:
            payload["frequency_penalty"] = frequency_penalty
        if stop:
            payload["stop"] = stop
        if grammar:
            payload["grammar"] = grammar  # llama.cpp's servers; others ignore or refuse it
        if json_schema:
            payload["response_format"] = {"type": "json_schema",
                                          "json_schema": {"name": "answer", "schema": json_schema, "strict": True}}
        if chat:
            body = self._post_or_get("POST", "/chat/completions",
                                     {**payload, "messages": [{"role": "user", "content": prompt}]})
        else:
            body = self._post_or_get("POST", "/completions", {**payload, "prompt": prompt})
        try:
            choice = body["choices"][0]
            text = choice["message"]["content"] if chat else choice["text"]
        except (KeyError, IndexError, TypeError):
            self.usage.malformed += 1
            raise LLMError(f"unexpected answer from {self.base_url}: {str(body)[:300]}") from None
        usage = body.get("usage") or {}
        return Completion(text or "", int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                          str(choice.get("finish_reason") or ""))

    def _score(self, prompt: str, continuations: list[str]) -> tuple[list[float], list[int], int]:
        logprobs, counts, prompt_tokens = [], [], 0
        for continuation in continuations:
            body = self._post_or_get("POST", "/completions", {
                "model": self.model, "prompt": prompt + continuation, "max_tokens": 1, "temperature": 0.0,
                "echo": True, "logprobs": 1, "seed": self.seed})
            try:
                lp = body["choices"][0]["logprobs"]
                offsets, values = lp["text_offset"], lp["token_logprobs"]
            except (KeyError, IndexError, TypeError):
                raise LLMError(f"{self.base_url} does not return prompt log-probabilities (echo + logprobs), which "
                               "label scoring needs. llama.cpp's server: start it with --logits_all true; vLLM "
                               "supports it; chat-only APIs do not.") from None
            n_prompt_chars = len(prompt)
            # the echoed prompt's tokens, then the one generated token: keep the continuation's tokens only
            chosen = [v for off, v in zip(offsets[:-1], values[:-1]) if off >= n_prompt_chars and v is not None]
            if not chosen:
                raise LLMError(f"The server returned no tokens for the continuation {continuation!r}.")
            logprobs.append(float(sum(chosen)))
            counts.append(len(chosen))
            prompt_tokens = max(prompt_tokens, len(offsets) - 1 - len(chosen))
        return logprobs, counts, prompt_tokens
