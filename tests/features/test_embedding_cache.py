"""EmbeddingCache on its own, and TextEncoder's use of it (with a stub model and with the real one)."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest

from labelwise.errors import LabelwiseError
from labelwise.features import EmbeddingCache, TextEncoder
from labelwise.features.cache import default_cache_dir


def _vectors(n: int, d: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


# -- the cache ----------------------------------------------------------------------------------------------------


def test_roundtrip_exact(tmp_path):
    cache = EmbeddingCache(tmp_path / "c")
    texts = ["a", "b", "", "ünï 😀"]
    V = _vectors(4)
    assert cache.get_many("m", texts) == {}
    cache.put_many("m", texts, V)
    found = cache.get_many("m", ["b", "zzz", "a", "", "ünï 😀", "a"])
    assert sorted(found) == [0, 2, 3, 4, 5]
    np.testing.assert_array_equal(found[0], V[1])
    np.testing.assert_array_equal(found[2], V[0])
    np.testing.assert_array_equal(found[5], V[0])
    assert found[0].dtype == np.float32 and found[0].flags.writeable
    assert len(cache) == 4


def test_float64_stored_as_float32(tmp_path):
    cache = EmbeddingCache(tmp_path)
    V = np.array([[1 / 3, 2 / 3]], dtype=np.float64)
    cache.put_many("m", ["x"], V)
    np.testing.assert_array_equal(cache.get_many("m", ["x"])[0], V[0].astype(np.float32))


def test_models_do_not_share_vectors(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put_many("model-a", ["x"], _vectors(1, seed=1))
    assert cache.get_many("model-b", ["x"]) == {}
    cache.put_many("model-b", ["x"], _vectors(1, seed=2))
    assert not np.array_equal(cache.get_many("model-a", ["x"])[0], cache.get_many("model-b", ["x"])[0])


def test_rows_are_never_overwritten(tmp_path):
    cache = EmbeddingCache(tmp_path)
    first = _vectors(1, seed=1)
    cache.put_many("m", ["x"], first)
    cache.put_many("m", ["x"], _vectors(1, seed=2))
    np.testing.assert_array_equal(cache.get_many("m", ["x"])[0], first[0])


def test_deleting_the_directory_is_fine(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    cache.put_many("m", ["x"], _vectors(1))
    shutil.rmtree(tmp_path / "cache")
    assert cache.get_many("m", ["x"]) == {}
    assert len(cache) == 0
    cache.put_many("m", ["x"], _vectors(1))
    assert list(cache.get_many("m", ["x"])) == [0]


def test_many_keys_beyond_sqlite_parameter_limit(tmp_path):
    cache = EmbeddingCache(tmp_path)
    texts = [f"text {i}" for i in range(2500)]
    V = _vectors(2500, d=3)
    cache.put_many("m", texts, V)
    found = cache.get_many("m", texts)
    np.testing.assert_array_equal(np.stack([found[i] for i in range(2500)]), V)


def test_concurrent_writers_and_readers(tmp_path):
    errors: list[BaseException] = []
    texts = [f"t{i}" for i in range(200)]
    V = _vectors(200)

    def work(offset: int) -> None:
        try:
            cache = EmbeddingCache(tmp_path)  # separate instances, one file
            for start in range(offset, 200, 10):
                cache.put_many("m", texts[start : start + 10], V[start : start + 10])
                cache.get_many("m", texts)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k * 5,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    found = EmbeddingCache(tmp_path).get_many("m", texts)
    np.testing.assert_array_equal(np.stack([found[i] for i in range(200)]), V)


def test_corrupt_file_says_it_is_safe_to_delete(tmp_path):
    (tmp_path / "embeddings.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(LabelwiseError, match="safe to delete"):
        EmbeddingCache(tmp_path).get_many("m", ["x"])


def test_shape_mismatch_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        EmbeddingCache(tmp_path).put_many("m", ["a", "b"], _vectors(3))


def test_default_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LABELWISE_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("LABELWISE_CACHE_DIR")
    assert default_cache_dir().parts[-2:] == (".cache", "labelwise")


# -- TextEncoder with a stub model: fast, no onnxruntime --------------------------------------------------------


class _Stub:
    """Replaces the ONNX model: a text's vector is a function of the text alone; records every batch."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        out = np.array([[len(t), sum(map(ord, t)) % 97, 1.0] for t in texts], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    @property
    def embedded(self) -> list[str]:
        return [t for b in self.batches for t in b]


@pytest.fixture
def stubbed(monkeypatch):
    """TextEncoder whose model is a _Stub: yields a factory make(**kwargs) -> (encoder, stub)."""
    monkeypatch.setattr(TextEncoder, "_load", lambda self: None)
    monkeypatch.setattr(TextEncoder, "_token_lengths", lambda self, texts: np.array([len(t) for t in texts]))

    def make(**kwargs):
        enc = TextEncoder(**kwargs)
        stub = _Stub()
        enc._embed_batch = stub  # instance attribute shadows the method
        return enc, stub

    return make


def test_warm_cache_embeds_nothing(stubbed, tmp_path):
    texts = [f"text number {i}" for i in range(10)]
    enc, stub = stubbed(cache_dir=tmp_path, batch_size=3)
    X = enc.encode(texts)
    assert sorted(stub.embedded) == sorted(texts)
    enc2, stub2 = stubbed(cache_dir=tmp_path, batch_size=3)
    np.testing.assert_array_equal(enc2.encode(texts), X)
    assert stub2.batches == []


def test_partial_cache_embeds_only_misses(stubbed, tmp_path):
    enc, _ = stubbed(cache_dir=tmp_path)
    enc.encode(["a", "bb", "ccc"])
    enc2, stub2 = stubbed(cache_dir=tmp_path)
    X = enc2.encode(["ccc", "new one", "a", "another new"])
    assert sorted(stub2.embedded) == ["another new", "new one"]
    np.testing.assert_array_equal(X, _Stub()(["ccc", "new one", "a", "another new"]))


def test_interrupted_run_resumes(stubbed, tmp_path):
    texts = [f"text {i:02d}" for i in range(10)]
    enc, stub = stubbed(cache_dir=tmp_path, batch_size=2)
    calls = 0

    def failing(batch):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return stub(batch)

    enc._embed_batch = failing
    with pytest.raises(KeyboardInterrupt):
        enc.encode(texts)
    assert len(EmbeddingCache(tmp_path)) == 4  # two finished batches were kept
    enc2, stub2 = stubbed(cache_dir=tmp_path, batch_size=2)
    X = enc2.encode(texts)
    assert len(stub2.embedded) == 6
    np.testing.assert_array_equal(X, _Stub()(texts))


def test_cache_disabled_writes_nothing(stubbed, tmp_path, _isolated_cache_dir):
    enc, stub = stubbed(cache_dir=False)
    enc.encode(["a", "b"])
    enc.encode(["a", "b"])
    assert len(stub.batches) == 2
    assert not any(_isolated_cache_dir.iterdir())


def test_default_cache_dir_is_used(stubbed, _isolated_cache_dir):
    enc, _ = stubbed()
    enc.encode(["a"])
    assert len(EmbeddingCache(_isolated_cache_dir)) == 1


def test_progress_counts_cached_texts(stubbed, tmp_path):
    enc, _ = stubbed(cache_dir=tmp_path, batch_size=1)
    enc.encode(["a", "b"])
    calls = []
    enc2, _ = stubbed(cache_dir=tmp_path, batch_size=1)
    enc2.encode(["a", "b", "c", "a"], progress=lambda *a: calls.append(a))
    assert calls == [("embedding", 3, 4), ("embedding", 4, 4)]


# -- with the real model ------------------------------------------------------------------------------------------


@pytest.mark.model
def test_real_model_second_run_never_touches_the_session(tmp_path, monkeypatch):
    texts = ["How do I reset my password?", "Where is my card?", "", "exchange rates"]
    plain = TextEncoder(cache_dir=False).encode(texts)
    first = TextEncoder(cache_dir=tmp_path).encode(texts)
    np.testing.assert_array_equal(first, plain)

    second = TextEncoder(cache_dir=tmp_path)
    runs = 0
    second._load()
    real_session = second._session

    class Spy:
        def run(self, *args, **kwargs):
            nonlocal runs
            runs += 1
            return real_session.run(*args, **kwargs)

    second._session = Spy()
    np.testing.assert_array_equal(second.encode(texts), plain)
    assert runs == 0
    np.testing.assert_allclose(second.encode(texts + ["a new text"])[:4], plain)
    assert runs == 1

    cold = TextEncoder(cache_dir=tmp_path)
    cold.encode(texts)
    assert cold._session is None  # all cached: the model was never even loaded

    shutil.rmtree(tmp_path)
    np.testing.assert_allclose(TextEncoder(cache_dir=tmp_path).encode(texts), plain, atol=1e-6)
