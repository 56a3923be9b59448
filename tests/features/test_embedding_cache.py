"""EmbeddingCache on its own, and TextEncoder's use of it (with a stub model and with the real one)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import warnings

import numpy as np
import pytest

from labelwise.errors import CacheWarning
from labelwise.features import EmbeddingCache, TextEncoder
from labelwise.features.cache import _checksum, cache_key, default_cache_dir
from tests.caches import deleted_without_pause, moved_aside, no_warnings, shared_folder, without_write_access


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


def test_writing_a_row_again_replaces_it(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put_many("m", ["x"], _vectors(1, seed=1))
    second = _vectors(1, seed=2)
    cache.put_many("m", ["x"], second)  # a key's vector is a pure function of it: replacing heals a bad row
    np.testing.assert_array_equal(cache.get_many("m", ["x"])[0], second[0])
    assert len(cache) == 1


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
    monkeypatch.setattr(TextEncoder, "_load", lambda self: setattr(self, "_dim", 3))  # the stub's size
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


# -- healing: each way a cache file can go wrong, and the run goes on ---------------------------------------------

TEXTS = [f"text number {i}" for i in range(300)]


def _fill(stubbed, folder, texts=TEXTS):
    """A cache in ``folder`` holding ``texts`` (connection closed: the file on disk has everything)."""
    enc, _ = stubbed(cache_dir=folder)
    enc.encode(texts)
    enc._cache.close()
    return EmbeddingCache(folder).path


def _heals(stubbed, folder, texts=TEXTS):
    """Encoding ``texts`` on a broken cache gives the fresh vectors, embeds every text (nothing from the broken
    file is used) and says so in one warning; the new file then holds them all. Returns the warning's text."""
    enc, stub = stubbed(cache_dir=folder)
    with pytest.warns(CacheWarning) as record:
        X = enc.encode(texts)
    messages = [str(w.message) for w in record if w.category is CacheWarning]
    assert len(messages) == 1 and "moved it to embeddings.sqlite3.broken-" in messages[0], messages
    assert "\n" not in messages[0]
    np.testing.assert_array_equal(X, _Stub()(texts))
    assert sorted(stub.embedded) == sorted(texts)
    enc2, stub2 = stubbed(cache_dir=folder)
    np.testing.assert_array_equal(no_warnings(lambda: enc2.encode(texts)), X)
    assert stub2.batches == []
    assert len(moved_aside(folder, "embeddings.sqlite3")) == 1
    return messages[0]


def test_a_file_that_is_not_a_database_is_moved_aside_and_rebuilt(stubbed, tmp_path):
    garbage = b"this is not a database" * 100
    (tmp_path / "embeddings.sqlite3").write_bytes(garbage)
    assert "file is not a database" in _heals(stubbed, tmp_path)
    assert moved_aside(tmp_path, "embeddings.sqlite3")[0].read_bytes() == garbage  # moved as it was, not deleted


@pytest.mark.parametrize("damage", ["truncated to half", "truncated to one page", "truncated to 100 bytes",
                                    "middle overwritten"])
def test_a_damaged_file_is_moved_aside_and_rebuilt(stubbed, tmp_path, damage):
    path = _fill(stubbed, tmp_path)
    data = bytearray(path.read_bytes())
    size = len(data)
    if damage == "truncated to half":
        data = data[: size // 2]
    elif damage == "truncated to one page":
        data = data[:4096]
    elif damage == "truncated to 100 bytes":
        data = data[:100]
    else:
        data[size // 4 : 3 * size // 4] = b"\xff" * (3 * size // 4 - size // 4)
    path.write_bytes(bytes(data))
    assert "malformed" in _heals(stubbed, tmp_path)
    assert moved_aside(tmp_path, "embeddings.sqlite3")[0].read_bytes() == bytes(data)


def test_damage_that_sqlite_reads_past_is_healed_by_the_next_write(stubbed, tmp_path):
    """Zeroed pages read as missing rows, not as an error: those texts are embedded again, and writing them
    finds the damage and rebuilds the file."""
    path = _fill(stubbed, tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 4 : 3 * len(data) // 4] = bytes(3 * len(data) // 4 - len(data) // 4)
    path.write_bytes(bytes(data))
    assert "malformed" in _heals(stubbed, tmp_path)


@pytest.mark.parametrize("schema", [
    # labelwise's own layout before vectors carried their model and checksum
    "CREATE TABLE embeddings (key BLOB PRIMARY KEY, dim INTEGER NOT NULL, vector BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",  # another program's database
])
def test_a_file_of_another_schema_is_moved_aside_and_rebuilt(stubbed, tmp_path, schema):
    con = sqlite3.connect(tmp_path / "embeddings.sqlite3")
    con.execute(schema)
    if "dim" in schema:  # a row under the very key the encoder will ask for: must not be used
        key = cache_key(stubbed(cache_dir=False)[0].model_id, TEXTS[0])
        con.execute("INSERT INTO embeddings VALUES (?, 3, ?)", (key, np.ones(3, "<f4").tobytes()))
    con.commit()
    con.close()
    assert "not written by labelwise, or by an older version" in _heals(stubbed, tmp_path)


def test_a_file_whose_table_was_altered_is_moved_aside_and_rebuilt(stubbed, tmp_path):
    path = _fill(stubbed, tmp_path)
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE embeddings RENAME COLUMN checksum TO crc")
    con.commit()
    con.close()
    assert "its tables were changed" in _heals(stubbed, tmp_path)


def test_an_empty_file_is_a_new_cache(stubbed, tmp_path):
    (tmp_path / "embeddings.sqlite3").touch()
    enc, _ = stubbed(cache_dir=tmp_path)
    no_warnings(lambda: enc.encode(TEXTS[:3]))
    assert len(EmbeddingCache(tmp_path)) == 3 and not moved_aside(tmp_path, "embeddings.sqlite3")


def test_rows_that_fail_a_check_are_embedded_again_and_replaced(stubbed, tmp_path):
    texts = TEXTS[:20]
    path = _fill(stubbed, tmp_path, texts)
    model = stubbed(cache_dir=False)[0].model_id
    con = sqlite3.connect(path)

    def set_row(text, vector, owner=model, checksum=None):
        key = cache_key(model, text)
        con.execute("UPDATE embeddings SET vector = ?, model = ?, checksum = ? WHERE key = ?",
                    (vector, owner, checksum or _checksum(key, owner, vector), key))

    # each row has a valid checksum, so only the check named fails
    set_row(texts[0], np.array([np.nan, 0, 1], "<f4").tobytes())
    set_row(texts[1], np.array([np.inf, 0, 1], "<f4").tobytes())
    set_row(texts[2], b"\x00" * 5)  # not a whole number of float32 values
    set_row(texts[3], np.array([0.6, 0.8, 0], "<f4").tobytes(), owner="another-model")  # copied from another model
    # well-formed, finite and of the right size, but changed without its checksum (bit rot, a foreign writer)
    set_row(texts[4], np.array([0.6, 0.8, 0], "<f4").tobytes(), checksum=b"\x00" * 8)
    set_row(texts[5], np.array([0.6, 0.8], "<f4").tobytes())  # a valid row of the wrong size: the model's is 3
    con.commit()
    con.close()

    enc, stub = stubbed(cache_dir=tmp_path)
    with pytest.warns(CacheWarning) as record:
        X = enc.encode(texts)
    messages = [str(w.message) for w in record if w.category is CacheWarning]
    assert len(messages) == 2
    assert any("5 cached vector(s)" in m and "wrong model, length or checksum" in m for m in messages)
    assert any("1 cached vector(s)" in m and "not the model's 3 values" in m for m in messages)
    np.testing.assert_array_equal(X, _Stub()(texts))
    assert sorted(stub.embedded) == sorted(texts[:6])
    enc2, stub2 = stubbed(cache_dir=tmp_path)
    np.testing.assert_array_equal(no_warnings(lambda: enc2.encode(texts)), X)
    assert stub2.batches == []  # the bad rows were replaced


def test_rows_with_values_that_are_not_finite_are_not_stored(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put_many("m", ["ok", "nan"], np.array([[1.0, 0.0], [np.nan, 1.0]]))
    assert list(cache.get_many("m", ["ok", "nan"])) == [0] and len(cache) == 1


def test_several_threads_meeting_one_corrupt_file_move_it_aside_once(tmp_path):
    (tmp_path / "embeddings.sqlite3").write_bytes(b"garbage" * 1000)
    errors: list[BaseException] = []
    V = _vectors(8)

    def work(k: int) -> None:
        try:
            cache = EmbeddingCache(tmp_path)
            cache.put_many("m", [f"t{k}"], V[k : k + 1])
            np.testing.assert_array_equal(cache.get_many("m", [f"t{k}"])[0], V[k])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert len(moved_aside(tmp_path, "embeddings.sqlite3")) == 1 and len(EmbeddingCache(tmp_path)) == 8


def test_a_read_only_cache_that_holds_everything_is_used(stubbed):
    with shared_folder() as folder:
        path = _fill(stubbed, folder, TEXTS[:50])
        before = path.read_bytes()
        enc, stub = stubbed(cache_dir=folder)
        (X, batches), messages = without_write_access(folder, lambda: (enc.encode(TEXTS[:50]), stub.batches))
        np.testing.assert_array_equal(X, _Stub()(TEXTS[:50]))
        assert batches == [] and messages == []  # read, nothing embedded, nothing to say
        assert path.read_bytes() == before and [p.name for p in folder.iterdir()] == ["embeddings.sqlite3"]


def test_a_read_only_cache_that_misses_texts_computes_them_without_saving(stubbed):
    with shared_folder() as folder:
        path = _fill(stubbed, folder, TEXTS[:30])
        before = path.read_bytes()
        enc, stub = stubbed(cache_dir=folder, batch_size=8)
        (X, embedded), messages = without_write_access(folder, lambda: (enc.encode(TEXTS[:50]), stub.embedded))
        np.testing.assert_array_equal(X, _Stub()(TEXTS[:50]))
        assert sorted(embedded) == sorted(TEXTS[30:50])
        assert len(messages) == 1 and "is not writable" in messages[0]  # one line for three batches
        assert path.read_bytes() == before and [p.name for p in folder.iterdir()] == ["embeddings.sqlite3"]


def test_a_broken_cache_that_cannot_be_moved_aside_is_left_alone_and_the_run_goes_on(stubbed):
    with shared_folder() as folder:
        (folder / "embeddings.sqlite3").write_bytes(b"this is not a database" * 100)
        enc, stub = stubbed(cache_dir=folder, batch_size=8)
        (X, embedded), messages = without_write_access(folder, lambda: (enc.encode(TEXTS[:20]), stub.embedded))
        np.testing.assert_array_equal(X, _Stub()(TEXTS[:20]))
        assert sorted(embedded) == sorted(TEXTS[:20])
        assert len(messages) == 1 and "cannot be moved aside" in messages[0] and "going on without it" in messages[0]
        assert (folder / "embeddings.sqlite3").read_bytes() == b"this is not a database" * 100


def test_a_cache_folder_that_cannot_be_created_computes_without_saving(stubbed):
    with shared_folder() as folder:
        enc, stub = stubbed(cache_dir=folder / "cache", batch_size=8)
        (X, embedded), messages = without_write_access(folder, lambda: (enc.encode(TEXTS[:20]), stub.embedded))
        np.testing.assert_array_equal(X, _Stub()(TEXTS[:20]))
        assert len(messages) == 1 and "is not writable" in messages[0]
        assert list(folder.iterdir()) == []


@pytest.mark.parametrize("what", ["file", "folder"])
def test_deleting_the_cache_between_batches_does_not_stop_the_run(stubbed, tmp_path, what):
    folder = tmp_path / "cache"
    texts = TEXTS[:40]
    enc, stub = stubbed(cache_dir=folder, batch_size=8)

    def embed(batch):
        if len(stub.batches) == 2:  # two batches written; the connection that wrote them is still open
            if what == "file":
                os.remove(folder / "embeddings.sqlite3")  # its -wal and -shm stay behind
            else:
                shutil.rmtree(folder)
        return stub(batch)

    enc._embed_batch = embed
    X = no_warnings(lambda: enc.encode(texts))
    np.testing.assert_array_equal(X, _Stub()(texts))
    assert len(stub.batches) == 5
    # the three batches after the deletion are in a new file; the two before it went with the old one
    assert len(EmbeddingCache(folder)) == 24
    enc2, stub2 = stubbed(cache_dir=folder)
    np.testing.assert_array_equal(enc2.encode(texts), X)
    assert sorted(stub2.embedded) == sorted(stub.batches[0] + stub.batches[1])


@pytest.mark.parametrize("what", ["file", "folder"])
def test_deleting_the_cache_at_any_moment_never_fails_a_call(tmp_path, what):
    """A thread deletes the cache without pause while calls write and read it (before: 'disk I/O error' in nearly
    every call); every vector read back is the one written."""
    folder = tmp_path / "cache"
    cache = EmbeddingCache(folder)
    texts, V = [f"t{i}" for i in range(50)], _vectors(50, d=8)
    cache.put_many("m", texts, V)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        with deleted_without_pause(folder if what == "folder" else cache.path) as deletions:
            for _ in range(100):
                cache.put_many("m", texts, V)
                for i, vector in cache.get_many("m", texts).items():
                    np.testing.assert_array_equal(vector, V[i])
    assert deletions[0] > 10


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


@pytest.mark.model
def test_the_command_line_shows_a_cache_moved_aside_as_one_warning_line(tmp_path, monkeypatch, capsys):
    import pandas as pd

    from labelwise.cli.main import main

    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "embeddings.sqlite3").write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("LABELWISE_CACHE_DIR", str(tmp_path / "cache"))
    names = [name for i in range(10) for name in (f"Acme Widgets shop {i}", f"ACME widgets shop {i}")]
    pd.DataFrame({"name": names}).to_csv(tmp_path / "shops.csv", index=False)
    assert main(["dedupe", str(tmp_path / "shops.csv"), "--on", "name", "--out", str(tmp_path / "c.csv"),
                 "--quiet"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "warning" in line.lower()]
    assert len(lines) == 1 and lines[0].startswith("warning: the embedding cache ")
    assert "(file is not a database); moved it to embeddings.sqlite3.broken-" in lines[0]
    clusters = pd.read_csv(tmp_path / "c.csv")["cluster_id"]
    assert clusters.nunique() == 10 and (clusters.groupby(clusters).size() == 2).all()  # the run went on
