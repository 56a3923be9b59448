"""LLM annotation on a pool of Ray actors (labelwise.scale.ray_llm) against the local path, on the two-node test
cluster: the same probabilities, the same response-cache keys both ways (a rerun is free wherever it runs), and
answers kept as they arrive when a run stops half way."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from labelwise.errors import LLMError, ParameterError
from labelwise.generate.annotate import annotate
from labelwise.llm.backend import BackendSpec
from labelwise.llm.cache import ResponseCache
from labelwise.scale.ray_llm import pool_shape
from labelwise.testing.fake_llm import FakeBackend, keyword_score

LABELS = ["card", "refund", "pin"]
TEXTS = [f"{a} {b} number {i}" for i, (a, b) in enumerate(
    [("my card has not arrived", "yet"), ("I want a refund", "please"), ("I forgot my pin", "code"),
     ("card refund", "pin"), ("where is my new card", "today"), ("refund the refund", "now")] * 4)]


def failing_score(prompt: str, continuation: str) -> float:
    """keyword_score, but the model fails on the text that says boom (defined here: sent to the workers by value)."""
    if "boom" in prompt.rpartition("Text:")[2]:
        raise LLMError("the model failed on purpose")
    return keyword_score(prompt, continuation)


def _fake(cache, score=keyword_score) -> FakeBackend:
    return FakeBackend(score=score, use_cache=True, cache=cache)


def test_pool_shape_from_the_cluster_cpus_or_the_options():
    llama = BackendSpec("labelwise.llm.llamacpp:LlamaCppBackend", (None,), {"n_threads": 2}, cpus=2, concurrency=1)
    assert pool_shape(llama, 9.0) == (4, 1)  # one model per 2 CPUs
    assert pool_shape(llama, 1.0) == (1, 1)  # at least one
    server = BackendSpec("labelwise.llm.openai_http:OpenAIBackend", (None,), {}, cpus=1, concurrency=4)
    assert pool_shape(server, 3.0) == (3, 4)
    assert pool_shape(server, 3.0, pool_size=2, concurrency=8) == (2, 8)
    with pytest.raises(ParameterError, match="pool_size"):
        pool_shape(server, 3.0, pool_size=0)


def test_a_backend_spec_builds_the_same_backend_here():
    spec = FakeBackend(score=keyword_score, model="m", seed=7).spec()
    built = spec.build(use_cache=False)
    assert (built.name, built.model, built.seed, built.cache) == ("fake", "m", 7, None)
    assert built.score("Text: my card\nLabel:", [" card", " pin"]) == ([keyword_score("Text: my card\nLabel:", " card"),
                                                                        keyword_score("Text: my card\nLabel:", " pin")],
                                                                       [1, 1])


def test_annotate_on_ray_equals_local_and_shares_the_response_cache(ray_session, tmp_path):
    cache = ResponseCache(tmp_path / "local-first.sqlite")
    local = annotate(TEXTS, labels=LABELS, backend=_fake(cache))
    assert local.usage.calls > 0
    on_ray = annotate(TEXTS, labels=LABELS, backend=_fake(cache), ray=ray_session.address, actors=2)
    assert on_ray.usage.calls == 0  # every answer came from the local run's cache
    assert on_ray.usage.cached == local.usage.calls + local.usage.cached
    np.testing.assert_array_equal(on_ray.probabilities, local.probabilities)
    assert on_ray.predicted == local.predicted and on_ray.settings == local.settings

    other = ResponseCache(tmp_path / "ray-first.sqlite")
    first = annotate(TEXTS, labels=LABELS, backend=_fake(other), ray=ray_session.address, actors=2)
    assert first.usage.calls == local.usage.calls  # the misses went to the actors, each once
    np.testing.assert_array_equal(first.probabilities, local.probabilities)
    again = annotate(TEXTS, labels=LABELS, backend=_fake(other))
    assert again.usage.calls == 0  # the Ray run's answers serve a local run
    np.testing.assert_array_equal(again.probabilities, local.probabilities)


def test_answers_that_arrived_are_kept_when_a_ray_run_fails(ray_session, tmp_path):
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # failing_score travels to the workers
    texts = TEXTS + ["and then boom"]
    cache = ResponseCache(tmp_path / "llm.sqlite")
    with pytest.raises(LLMError, match="failed on purpose"):  # the actor's own error, not Ray's wrapper
        annotate(texts, labels=LABELS, backend=_fake(cache, failing_score), calibration="none",
                 ray=ray_session.address, actors=2)
    kept = len(cache)
    assert kept >= 1
    rerun = annotate(texts, labels=LABELS, backend=_fake(cache), calibration="none", ray=ray_session.address,
                     actors=2)
    assert (rerun.usage.cached, rerun.usage.calls) == (kept, len(texts) - kept)  # only what was never answered


def test_a_model_missing_on_the_workers_is_one_clear_error(ray_session):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: pip install 'labelwise[llm]'")
    from labelwise.llm import backend_spec

    with pytest.raises(LLMError, match="No GGUF model at /nonexistent/model.gguf"):
        annotate(["my card"], labels=LABELS, backend=backend_spec("/nonexistent/model.gguf"), ray=ray_session.address,
                 actors=1)


@pytest.mark.model  # the packaged Gemma 3 270M through llama.cpp: here, and in one actor on the cluster
@pytest.mark.slow
def test_the_packaged_model_in_an_actor_scores_as_it_does_here(ray_session, tmp_path, monkeypatch):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: pip install 'labelwise[llm]'")
    from labelwise.llm import backend_spec, open_backend

    texts = TEXTS[:4]
    here = annotate(texts, labels=LABELS, backend=open_backend(threads=1, cache=ResponseCache(tmp_path / "a.sqlite")),
                    calibration="none")
    monkeypatch.setenv("LABELWISE_LLM_CACHE", str(tmp_path / "b.sqlite"))  # the pool's cache (the default one)
    spec = backend_spec()
    there = annotate(texts, labels=LABELS, backend=spec, calibration="none", ray=ray_session.address, actors=1)
    assert (spec.cpus, spec.concurrency, there.settings["model"]) == (1, 1, here.settings["model"])
    assert here.usage.calls == there.usage.calls == len(texts)  # both asked their model
    np.testing.assert_allclose(there.probabilities, here.probabilities, rtol=0, atol=1e-9)
